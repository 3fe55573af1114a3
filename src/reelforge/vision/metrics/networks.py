"""Feature networks: a tiny conv net (random-feature KID, test stand-in) and the InceptionV3 trunk.

Architectures only; weights come from a local ``.safetensors`` file or a fixed-seed init
(see :mod:`reelforge.vision.metrics.features`). Nothing here downloads anything.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from reelforge.errors import InvalidInput

__all__ = ["InceptionV3Features", "TinyConvNet"]


class TinyConvNet(nn.Module):
    """A small conv net (3x3 convs, stride 2 after the first, ReLU) with global average pooling.

    Used as the fixed-seed random feature extractor and as a cheap stand-in for Inception in tests.
    Keys: ``convs.{i}.weight`` / ``convs.{i}.bias``; widths are inferred from the shapes on load.
    """

    def __init__(self, widths: tuple[int, ...] = (32, 64, 128, 256), in_channels: int = 3) -> None:
        super().__init__()
        if not widths:
            raise InvalidInput("TinyConvNet needs at least one layer")
        layers = []
        c = in_channels
        for i, w in enumerate(widths):
            layers.append(nn.Conv2d(c, w, kernel_size=3, stride=1 if i == 0 else 2, padding=1))
            c = w
        self.convs = nn.ModuleList(layers)
        self.dim = c

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv in self.convs:
            x = F.relu(conv(x))
        return x.mean(dim=(2, 3))

    def init_random(self, seed: int) -> None:
        g = torch.Generator().manual_seed(int(seed))
        for conv in self.convs:
            assert isinstance(conv, nn.Conv2d)
            nn.init.kaiming_normal_(conv.weight, nonlinearity="relu", generator=g)
            nn.init.zeros_(conv.bias)  # type: ignore[arg-type]

    @classmethod
    def from_shapes(cls, shapes: dict[str, tuple[int, ...]]) -> TinyConvNet:
        n = 0
        while f"convs.{n}.weight" in shapes:
            n += 1
        if n == 0:
            raise InvalidInput("weights are not a tiny conv net (no convs.0.weight)")
        widths = tuple(int(shapes[f"convs.{i}.weight"][0]) for i in range(n))
        first = shapes["convs.0.weight"]
        if len(first) == 4 and int(first[1]) != 3:
            raise InvalidInput(f"tiny conv net must take 3 input channels, weights expect {first[1]}")
        return cls(widths)


class _BasicConv(nn.Module):
    def __init__(
        self,
        c_in: int,
        c_out: int,
        kernel_size: int | tuple[int, int],
        stride: int = 1,
        padding: int | tuple[int, int] = 0,
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel_size, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(c_out, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


def _avg3(x: torch.Tensor, tf_pool: bool) -> torch.Tensor:
    # TensorFlow's average pool (the FID reference graph) ignores padded zeros.
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=not tf_pool)


class _InceptionA(nn.Module):
    def __init__(self, c_in: int, pool_features: int, tf_pool: bool) -> None:
        super().__init__()
        self.tf_pool = tf_pool
        self.branch1x1 = _BasicConv(c_in, 64, 1)
        self.branch5x5_1 = _BasicConv(c_in, 48, 1)
        self.branch5x5_2 = _BasicConv(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = _BasicConv(c_in, 64, 1)
        self.branch3x3dbl_2 = _BasicConv(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = _BasicConv(96, 96, 3, padding=1)
        self.branch_pool = _BasicConv(c_in, pool_features, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        bp = self.branch_pool(_avg3(x, self.tf_pool))
        return torch.cat([self.branch1x1(x), b5, b3, bp], 1)


class _InceptionB(nn.Module):
    def __init__(self, c_in: int) -> None:
        super().__init__()
        self.branch3x3 = _BasicConv(c_in, 384, 3, stride=2)
        self.branch3x3dbl_1 = _BasicConv(c_in, 64, 1)
        self.branch3x3dbl_2 = _BasicConv(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = _BasicConv(96, 96, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([self.branch3x3(x), b3, F.max_pool2d(x, kernel_size=3, stride=2)], 1)


class _InceptionC(nn.Module):
    def __init__(self, c_in: int, c7: int, tf_pool: bool) -> None:
        super().__init__()
        self.tf_pool = tf_pool
        self.branch1x1 = _BasicConv(c_in, 192, 1)
        self.branch7x7_1 = _BasicConv(c_in, c7, 1)
        self.branch7x7_2 = _BasicConv(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7_3 = _BasicConv(c7, 192, (7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = _BasicConv(c_in, c7, 1)
        self.branch7x7dbl_2 = _BasicConv(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = _BasicConv(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = _BasicConv(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = _BasicConv(c7, 192, (1, 7), padding=(0, 3))
        self.branch_pool = _BasicConv(c_in, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        bd = self.branch7x7dbl_1(x)
        for layer in (self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4, self.branch7x7dbl_5):
            bd = layer(bd)
        bp = self.branch_pool(_avg3(x, self.tf_pool))
        return torch.cat([self.branch1x1(x), b7, bd, bp], 1)


class _InceptionD(nn.Module):
    def __init__(self, c_in: int) -> None:
        super().__init__()
        self.branch3x3_1 = _BasicConv(c_in, 192, 1)
        self.branch3x3_2 = _BasicConv(192, 320, 3, stride=2)
        self.branch7x7x3_1 = _BasicConv(c_in, 192, 1)
        self.branch7x7x3_2 = _BasicConv(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = _BasicConv(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = _BasicConv(192, 192, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3_2(self.branch3x3_1(x))
        b7 = self.branch7x7x3_1(x)
        for layer in (self.branch7x7x3_2, self.branch7x7x3_3, self.branch7x7x3_4):
            b7 = layer(b7)
        return torch.cat([b3, b7, F.max_pool2d(x, kernel_size=3, stride=2)], 1)


class _InceptionE(nn.Module):
    def __init__(self, c_in: int, pool: str) -> None:
        super().__init__()
        self.pool = pool  # "avg" (torchvision), "avg_tf" (TF graph) or "max" (TF graph's last block)
        self.branch1x1 = _BasicConv(c_in, 320, 1)
        self.branch3x3_1 = _BasicConv(c_in, 384, 1)
        self.branch3x3_2a = _BasicConv(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3_2b = _BasicConv(384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = _BasicConv(c_in, 448, 1)
        self.branch3x3dbl_2 = _BasicConv(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = _BasicConv(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = _BasicConv(384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = _BasicConv(c_in, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
        bd = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        bd = torch.cat([self.branch3x3dbl_3a(bd), self.branch3x3dbl_3b(bd)], 1)
        if self.pool == "max":
            pooled = F.max_pool2d(x, kernel_size=3, stride=1, padding=1)
        else:
            pooled = _avg3(x, self.pool == "avg_tf")
        return torch.cat([self.branch1x1(x), b3, bd, self.branch_pool(pooled)], 1)


class InceptionV3Features(nn.Module):
    """InceptionV3 trunk up to pool3 (2048-d), parameter names as in torchvision's ``Inception3``.

    ``fid_variant=True`` reproduces the pooling quirks of the TensorFlow FID graph (as ported by
    pytorch-fid): average pools ignore padding and the last block max-pools. Input: float (N,3,299,299)
    in [-1, 1].
    """

    def __init__(self, fid_variant: bool = False) -> None:
        super().__init__()
        tf = fid_variant
        self.Conv2d_1a_3x3 = _BasicConv(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = _BasicConv(32, 32, 3)
        self.Conv2d_2b_3x3 = _BasicConv(32, 64, 3, padding=1)
        self.Conv2d_3b_1x1 = _BasicConv(64, 80, 1)
        self.Conv2d_4a_3x3 = _BasicConv(80, 192, 3)
        self.Mixed_5b = _InceptionA(192, 32, tf)
        self.Mixed_5c = _InceptionA(256, 64, tf)
        self.Mixed_5d = _InceptionA(288, 64, tf)
        self.Mixed_6a = _InceptionB(288)
        self.Mixed_6b = _InceptionC(768, 128, tf)
        self.Mixed_6c = _InceptionC(768, 160, tf)
        self.Mixed_6d = _InceptionC(768, 160, tf)
        self.Mixed_6e = _InceptionC(768, 192, tf)
        self.Mixed_7a = _InceptionD(768)
        self.Mixed_7b = _InceptionE(1280, "avg_tf" if tf else "avg")
        self.Mixed_7c = _InceptionE(2048, "max" if tf else "avg")
        self.dim = 2048

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        for block in (
            self.Mixed_5b,
            self.Mixed_5c,
            self.Mixed_5d,
            self.Mixed_6a,
            self.Mixed_6b,
            self.Mixed_6c,
            self.Mixed_6d,
            self.Mixed_6e,
            self.Mixed_7a,
            self.Mixed_7b,
            self.Mixed_7c,
        ):
            x = block(x)
        return x.mean(dim=(2, 3))

