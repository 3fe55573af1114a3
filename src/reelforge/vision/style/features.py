"""Feature networks for the perceptual losses of style transfer, behind one small interface.

Two networks, picked by a spec string:

- ``"random"`` (default): a multi-scale conv net with fixed-seed random weights. Random filters
  carry texture statistics well enough for Gram-matrix style losses (Ustyuzhaninov et al. 2016;
  He et al. 2016) and need no download, so style transfer works on a fresh install.
- a path to a local ``.safetensors`` VGG-19 (torchvision's ``vgg19`` keys, ``features.N.weight``;
  the ``classifier.*`` head may be in the file and is ignored): the network of Gatys et al.
  Nothing is ever fetched: the user gives the file.

Both take images as float ``(N, 3, H, W)`` in ``0..1`` and return a dict of named activations;
``content_layers`` and ``style_layers`` say which names the losses read.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from reelforge.errors import InvalidInput

__all__ = ["RANDOM", "FeatureNet", "RandomFeatures", "VGG19Features", "build_features", "features_label"]

RANDOM = "random"

# torchvision's vgg19 "features" layout: channel widths with "M" for a 2x2 pool.
_VGG19 = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M")
_VGG_MEAN = (0.485, 0.456, 0.406)
_VGG_STD = (0.229, 0.224, 0.225)


class FeatureNet(nn.Module):
    """A frozen feature extractor: ``forward(x)`` gives ``{layer name: activation}``."""

    content_layers: tuple[str, ...] = ()
    style_layers: tuple[str, ...] = ()
    label: str = ""

    def freeze(self) -> FeatureNet:
        self.eval()
        for p in self.parameters():
            p.requires_grad_(False)
        return self


def _vgg_names() -> list[tuple[int, str]]:
    """(index in ``features``, Gatys name) of every ReLU: relu1_1, relu1_2, ..., relu5_4."""
    out, block, conv, i = [], 1, 0, 0
    for v in _VGG19:
        if v == "M":
            block, conv = block + 1, 0
            i += 1
            continue
        conv += 1
        out.append((i + 1, f"relu{block}_{conv}"))
        i += 2
    return out


class VGG19Features(FeatureNet):
    """VGG-19's convolutional trunk with torchvision's module indices (so its state dict loads as is).

    Max pooling is replaced by average pooling by default, as Gatys et al. recommend for synthesis
    (smoother gradients); the weights are the same either way.
    """

    content_layers = ("relu4_2",)
    style_layers = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")

    def __init__(self, pool: str = "avg") -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c = 3
        for v in _VGG19:
            if v == "M":
                layers.append(nn.AvgPool2d(2) if pool == "avg" else nn.MaxPool2d(2))
            else:
                layers += [nn.Conv2d(c, int(v), kernel_size=3, padding=1), nn.ReLU()]
                c = int(v)
        self.features = nn.Sequential(*layers)
        self.register_buffer("mean", torch.tensor(_VGG_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_VGG_STD).view(1, 3, 1, 1), persistent=False)
        self._names = dict(_vgg_names())
        wanted = set(self.content_layers) | set(self.style_layers)
        self._last = max(i for i, n in self._names.items() if n in wanted)
        self.label = "vgg19"

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        h = (x - self.mean) / self.std
        out: dict[str, torch.Tensor] = {}
        for i, layer in enumerate(self.features):
            h = layer(h)
            if i in self._names:
                out[self._names[i]] = h
            if i == self._last:  # nothing past relu5_1 is read: stop early
                break
        return out

    @classmethod
    def from_safetensors(cls, path: str | Path) -> VGG19Features:
        """Load a local VGG-19 file strictly: every conv of the trunk must be there with its shape."""
        from reelforge.training.weights import load_weights, read_safetensors

        p = Path(path).expanduser()
        if not p.is_file():
            raise InvalidInput(f"VGG-19 weights file not found: {p}")
        if p.suffix.lower() != ".safetensors":
            raise InvalidInput(f"VGG-19 weights must be a .safetensors file, got {p.name}")
        tensors = read_safetensors(p)
        trunk = {k: v for k, v in tensors.items() if k.startswith("features.")}
        if not trunk:  # a bare Sequential's keys ("0.weight"): accept them as the trunk
            trunk = {f"features.{k}": v for k, v in tensors.items() if k.split(".")[0].isdigit()}
        other = sorted(k for k in tensors if not k.startswith(("features.", "classifier.")) and
                       not k.split(".")[0].isdigit())
        if other:
            raise InvalidInput(f"{p.name} is not a VGG-19: unexpected keys {other[:3]}"
                               f"{f' (+{len(other) - 3} more)' if len(other) > 3 else ''}")
        net = cls()
        load_weights(net, trunk, strict=True, where=f"{p.name} (VGG-19)")
        net.label = f"vgg19({p.name})"
        return net.freeze()


class RandomFeatures(FeatureNet):
    """Five stages at scales 1, 1/2 ... 1/16 (3x3 conv + ReLU each, average pooling between), with
    Kaiming-normal weights from a fixed seed: the same network in every process for a given seed."""

    content_layers = ("s2",)
    style_layers = ("s0", "s1", "s2", "s3", "s4")

    def __init__(self, seed: int = 0, widths: tuple[int, ...] = (32, 64, 128, 256, 256)) -> None:
        super().__init__()
        convs, c = [], 3
        for w in widths:
            convs.append(nn.Conv2d(c, w, kernel_size=3, padding=1, padding_mode="reflect"))
            c = w
        self.convs = nn.ModuleList(convs)
        g = torch.Generator().manual_seed(int(seed))
        for conv in self.convs:
            assert isinstance(conv, nn.Conv2d)
            nn.init.kaiming_normal_(conv.weight, nonlinearity="relu", generator=g)
            nn.init.uniform_(conv.bias, -0.05, 0.05, generator=g)  # type: ignore[arg-type]
        self.style_layers = tuple(f"s{i}" for i in range(len(widths)))
        self.content_layers = (f"s{min(2, len(widths) - 1)}",)
        self.label = f"random(seed={seed})"

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        h = (x - 0.45) / 0.25  # roughly centred, unit-scale input for the random filters
        out: dict[str, torch.Tensor] = {}
        for i, conv in enumerate(self.convs):
            if i:
                h = F.avg_pool2d(h, 2)
            h = F.relu(conv(h))
            out[f"s{i}"] = h
        return out


def features_label(spec: str | Path | None, seed: int = 0) -> str:
    """How a spec is recorded in lineage: ``random(seed=0)`` or ``vgg19(<file name>)``."""
    if spec is None or str(spec) == RANDOM:
        return f"random(seed={seed})"
    return f"vgg19({Path(str(spec)).name})"


def build_features(spec: str | Path | None = RANDOM, *, seed: int = 0, device: str | torch.device = "cpu") -> FeatureNet:
    """The feature network for ``spec``: ``"random"`` (or None), or a path to a VGG-19 safetensors file."""
    if spec is None or str(spec) == RANDOM:
        net: FeatureNet = RandomFeatures(seed).freeze()
    else:
        net = VGG19Features.from_safetensors(spec)
    return net.to(device)
