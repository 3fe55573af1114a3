"""The feature networks: VGG-19 from a local safetensors file (random weights written here: nothing
is downloaded), refused in one line when the file is missing, pickled or holds another network."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from reelforge.errors import InvalidInput
from reelforge.vision.style.features import RandomFeatures, VGG19Features, build_features
from reelforge.vision.style.optimize import TransferSettings, stylize_image


@pytest.fixture(scope="module")
def vgg_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, torch.Tensor]]:
    """A torchvision-layout VGG-19 file (trunk + a small classifier head) with random weights."""
    torch.manual_seed(0)
    net = VGG19Features()
    tensors = {k: v.clone() for k, v in net.state_dict().items()}
    tensors["classifier.0.weight"] = torch.randn(4, 8)  # the head of a full vgg19 file is ignored
    path = tmp_path_factory.mktemp("vgg") / "vgg19.safetensors"
    save_file(tensors, str(path))
    return path, tensors


def test_vgg19_loads_from_safetensors_and_drives_a_transfer(vgg_file, astronaut: np.ndarray,
                                                            hubble: np.ndarray) -> None:  # type: ignore[no-untyped-def]
    path, tensors = vgg_file
    net = build_features(str(path))
    assert isinstance(net, VGG19Features) and net.label == "vgg19(vgg19.safetensors)"
    assert torch.equal(net.features[28].weight, tensors["features.28.weight"])
    assert not any(p.requires_grad for p in net.parameters())
    feats = net(torch.rand(1, 3, 32, 32))
    assert set(net.style_layers) | set(net.content_layers) <= set(feats)
    assert feats["relu5_1"].shape == (1, 512, 2, 2)
    history: list[dict[str, float]] = []
    small = astronaut[:32, :32]
    out = stylize_image(small, hubble, net, TransferSettings(steps=3, size=32), history=history)
    assert out.shape == small.shape and history[-1]["style"] < history[0]["style"]


def test_a_file_of_another_network_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "random.safetensors"
    save_file(RandomFeatures().state_dict(), str(path))
    with pytest.raises(InvalidInput, match="not a VGG-19: unexpected keys") as err:
        build_features(str(path))
    assert "\n" not in str(err.value)


def test_a_trunk_with_missing_or_misshapen_keys_is_refused(vgg_file, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, tensors = vgg_file
    partial = {k: v for k, v in tensors.items() if not k.startswith("features.34.")}
    save_file(partial, str(tmp_path / "partial.safetensors"))
    with pytest.raises(InvalidInput, match=r"missing \[features.34.bias, features.34.weight\]") as err:
        build_features(str(tmp_path / "partial.safetensors"))
    assert "\n" not in str(err.value)
    wrong = {**tensors, "features.0.weight": torch.zeros(64, 1, 3, 3)}
    save_file(wrong, str(tmp_path / "wrong.safetensors"))
    with pytest.raises(InvalidInput, match=r"features\.0\.weight has shape"):
        build_features(str(tmp_path / "wrong.safetensors"))


def test_missing_and_pickled_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="not found"):
        build_features(str(tmp_path / "nope.safetensors"))
    pickled = tmp_path / "vgg19.pth"
    torch.save({"features.0.weight": torch.zeros(1)}, pickled)
    with pytest.raises(InvalidInput, match=r"must be a \.safetensors file"):
        build_features(str(pickled))
    disguised = tmp_path / "vgg19.safetensors"
    disguised.write_bytes(pickled.read_bytes())
    with pytest.raises(InvalidInput, match="pickle"):
        build_features(str(disguised))


def test_random_features_are_the_same_for_a_seed_and_differ_across_seeds() -> None:
    x = torch.rand(1, 3, 32, 32)
    a, b, c = RandomFeatures(0)(x), RandomFeatures(0)(x), RandomFeatures(1)(x)
    assert torch.equal(a["s2"], b["s2"]) and not torch.equal(a["s2"], c["s2"])
