"""Image-quality metrics on real images (scikit-image's bundled photographs), real networks and real files."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
import torch
from safetensors.torch import save_file
from skimage import data

from reelforge.errors import Cancelled, InvalidInput
from reelforge.vision.metrics import (
    FeatureNet,
    FIDResult,
    InceptionV3Features,
    KIDResult,
    SWDResult,
    TinyConvNet,
    _pyr_up,
    fid,
    fid_and_kid,
    fid_from_features,
    kid,
    kid_images,
    kid_random_features,
    laplacian_pyramid,
    random_feature_extractor,
    sliced_wasserstein,
    swd,
)

torch.set_num_threads(1)

# Fewer projections than the paper's default keep the file fast; the statistics are the same kind.
FAST = {"n_projections": 128, "n_repeats": 2}


def _crops(img: np.ndarray, n: int, size: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    h, w = img.shape[:2]
    ys = rng.integers(0, h - size + 1, n)
    xs = rng.integers(0, w - size + 1, n)
    return np.stack([img[y : y + size, x : x + size] for y, x in zip(ys, xs, strict=True)])


@pytest.fixture(scope="module")
def sets() -> dict[str, np.ndarray]:
    hubble = data.hubble_deep_field()
    return {
        "a": _crops(hubble, 48, 64, seed=0),
        "a2": _crops(hubble, 48, 64, seed=1),
        "astro": _crops(data.astronaut(), 48, 64, seed=2),
        "noise": np.random.default_rng(3).integers(0, 256, size=(48, 64, 64, 3), dtype=np.uint8),
    }


# --- SWD -----------------------------------------------------------------------------------------


def test_swd_small_for_same_source_large_for_other_images_and_noise(sets: dict[str, np.ndarray]) -> None:
    same = swd(sets["a"], sets["a2"], seed=0, **FAST)
    astro = swd(sets["a"], sets["astro"], seed=0, **FAST)
    noise = swd(sets["a"], sets["noise"], seed=0, **FAST)
    for r in (same, astro, noise):
        assert list(r.levels) == [64, 32, 16]
        assert r.mean == pytest.approx(np.mean(list(r.levels.values())))
    assert same.mean * 3 < astro.mean
    assert same.mean * 3 < noise.mean
    for res in (64, 32, 16):
        assert same.levels[res] < noise.levels[res]
        assert same.levels[res] < astro.levels[res]
    assert SWDResult.from_dict(same.to_dict()) == same


def test_swd_is_deterministic_by_seed_and_accepts_generator_tensors(sets: dict[str, np.ndarray]) -> None:
    a, b = sets["a"][:16], sets["astro"][:16]
    r1 = swd(a, b, seed=7, **FAST)
    r2 = swd(a, b, seed=7, **FAST)
    r3 = swd(a, b, seed=8, **FAST)
    assert r1.levels == r2.levels
    assert r1.levels != r3.levels
    # Same images as float NCHW in [-1, 1] (generator output convention) give the same numbers.
    ta = torch.from_numpy(a).permute(0, 3, 1, 2).float() / 127.5 - 1.0
    r4 = swd(ta, b, seed=7, **FAST)
    for res in r1.levels:
        assert r4.levels[res] == pytest.approx(r1.levels[res], rel=1e-5)
    # Batch size must not change the descriptors drawn.
    r5 = swd(a, b, seed=7, batch_size=5, **FAST)
    for res in r1.levels:
        assert r5.levels[res] == pytest.approx(r1.levels[res], rel=1e-6)


def test_swd_levels_follow_resolution_and_min_res(sets: dict[str, np.ndarray]) -> None:
    big = _crops(data.hubble_deep_field(), 4, 128, seed=5)
    r = swd(big, big[::-1].copy(), seed=0, n_descriptors=16, n_projections=16, n_repeats=1)
    assert list(r.levels) == [128, 64, 32, 16]
    r = swd(
        sets["a"][:4], sets["a2"][:4], seed=0, min_res=32, n_descriptors=16, n_projections=16, n_repeats=1
    )
    assert list(r.levels) == [64, 32]
    odd = _crops(data.astronaut(), 4, 50, seed=1)
    r = swd(odd, odd, seed=0, n_descriptors=16, n_projections=16, n_repeats=1)
    assert list(r.levels) == [50, 25]


def test_swd_reports_progress_and_honours_cancel(sets: dict[str, np.ndarray]) -> None:
    seen: list[tuple[int, int]] = []
    swd(sets["a"][:4], sets["a2"][:4], progress=lambda d, t, _m: seen.append((d, t)), n_descriptors=8, **FAST)
    assert seen[-1][0] == seen[-1][1] == 5
    with pytest.raises(Cancelled):
        swd(sets["a"][:4], sets["a2"][:4], should_stop=lambda: True)


def test_laplacian_pyramid_reconstructs_and_ignores_flat_regions() -> None:
    x = torch.from_numpy(_crops(data.astronaut(), 2, 64, seed=4)).permute(0, 3, 1, 2).double() / 255
    pyr = laplacian_pyramid(x, 3)
    assert [p.shape[-1] for p in pyr] == [64, 32, 16]
    rebuilt = pyr[-1]
    for band in reversed(pyr[:-1]):
        rebuilt = band + _pyr_up(rebuilt, band.shape[-2:])
    assert torch.allclose(rebuilt, x, atol=1e-12)
    flat = laplacian_pyramid(torch.full((1, 3, 32, 32), 0.25, dtype=torch.float64), 2)
    assert flat[0].abs().max() < 1e-12  # a band-pass level of a flat image is empty
    assert torch.allclose(flat[1], torch.full_like(flat[1], 0.25))


def test_sliced_wasserstein_is_exact_in_one_dimension_for_unequal_counts() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(0.0, 1.0, size=(50, 1))
    b = rng.normal(0.7, 1.5, size=(73, 1))
    # In 1-D every unit direction is +-1, so the sliced distance is the exact W1.
    got = sliced_wasserstein(a, b, n_projections=8, n_repeats=2, rng=np.random.default_rng(1))
    assert got == pytest.approx(scipy.stats.wasserstein_distance(a[:, 0], b[:, 0]), rel=1e-5)
    same = sliced_wasserstein(a[:40], a[10:50], n_projections=4, n_repeats=1)
    assert same == pytest.approx(scipy.stats.wasserstein_distance(a[:40, 0], a[10:50, 0]), rel=1e-5)


def test_swd_rejects_bad_input(sets: dict[str, np.ndarray]) -> None:
    a = sets["a"][:4]
    with pytest.raises(InvalidInput, match="same size"):
        swd(a, a[:, :32, :32])
    with pytest.raises(InvalidInput, match="smaller than min_res"):
        swd(a[:, :12, :12], a[:, :12, :12])
    with pytest.raises(InvalidInput, match="at least one image"):
        swd(a[:0], a)
    with pytest.raises(InvalidInput, match="uint8"):
        swd(a.astype(np.float32), a)
    with pytest.raises(InvalidInput, match="min_res"):
        swd(a, a, min_res=4)


# --- KID / FID on features -----------------------------------------------------------------------


def _brute_force_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    d = x.shape[1]

    def k(u: np.ndarray, v: np.ndarray) -> float:
        return float((u @ v / d + 1.0) ** 3)

    m = len(x)
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / (m * m)
    return xx + yy - 2 * xy


def test_kid_matches_the_unbiased_mmd_definition_and_separates_distributions() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(6, 4)), rng.normal(size=(6, 4)) + 0.5
    mean, std = kid(x, y, subsets=1, subset_size=6)
    assert mean == pytest.approx(_brute_force_mmd2(x, y), rel=1e-10)
    assert std == 0.0

    real = rng.normal(size=(400, 16))
    same = rng.normal(size=(400, 16))
    shifted = rng.normal(size=(400, 16)) + 0.5
    m_same, s_same = kid(real, same, subsets=10, subset_size=200)
    m_diff, _ = kid(real, shifted, subsets=10, subset_size=200)
    assert abs(m_same) < 3 * s_same + 0.01
    assert m_diff > 10 * abs(m_same)
    assert kid(real, same, seed=1) == kid(real, same, seed=1)


def test_fid_from_features_is_zero_for_identical_sets_and_exact_for_a_shift() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 8)) @ rng.normal(size=(8, 8))
    assert fid_from_features(x, x.copy()) == pytest.approx(0.0, abs=1e-6)
    delta = np.arange(8) / 4.0
    # Same covariance: the trace term cancels, FID is the squared mean shift.
    assert fid_from_features(x, x + delta) == pytest.approx(float(delta @ delta), rel=1e-6)


def test_frechet_sqrtm_and_eigh_agree_even_with_fewer_samples_than_dimensions() -> None:
    rng = np.random.default_rng(1)
    for n, d in ((200, 16), (40, 96)):  # the second has singular covariances
        x = np.abs(rng.normal(size=(n, d))) @ rng.normal(size=(d, d))
        y = np.abs(rng.normal(size=(n, d))) @ rng.normal(size=(d, d))
        a = fid_from_features(x, y, method="sqrtm")
        b = fid_from_features(x, y, method="eigh")
        assert np.isfinite(a) and a > 0
        assert a == pytest.approx(b, rel=1e-4)
    with pytest.raises(InvalidInput, match="unknown Frechet method"):
        fid_from_features(x, y, method="svd")


def test_feature_distances_reject_bad_input() -> None:
    x = np.zeros((10, 4))
    with pytest.raises(InvalidInput, match="dimensions differ"):
        kid(x, np.zeros((10, 5)))
    with pytest.raises(InvalidInput, match="at least 2"):
        fid_from_features(x[:1], x)
    with pytest.raises(InvalidInput, match="subset_size"):
        kid(x, x, subset_size=20)
    with pytest.raises(InvalidInput, match="2-D"):
        kid(np.zeros(10), x)


def test_kid_random_features_near_zero_for_same_source_and_labelled(sets: dict[str, np.ndarray]) -> None:
    same = kid_random_features(sets["a"], sets["a2"], subset_size=24)
    astro = kid_random_features(sets["a"], sets["astro"], subset_size=24)
    noise = kid_random_features(sets["a"], sets["noise"], subset_size=24)
    assert same.feature_extractor == "random-conv(seed=0)"
    assert abs(same.mean) < 0.01
    assert astro.mean > 0.05 and noise.mean > 0.05
    assert astro.mean > 20 * abs(same.mean)
    assert KIDResult.from_dict(same.to_dict()) == same
    # The random extractor is a pure function of its seed.
    f1 = random_feature_extractor(seed=3).features(sets["a"][:4])
    f2 = random_feature_extractor(seed=3).features(sets["a"][:4])
    f3 = random_feature_extractor(seed=4).features(sets["a"][:4])
    assert np.array_equal(f1, f2) and not np.allclose(f1, f3)
    assert f1.shape == (4, 256)


# --- FeatureNet loaded from safetensors ------------------------------------------------------------


def test_tiny_feature_net_roundtrips_through_safetensors_and_scores_fid_kid(
    sets: dict[str, np.ndarray], tmp_path
) -> None:
    net = TinyConvNet((8, 16, 32))
    net.init_random(11)
    path = FeatureNet(net, arch="tiny", label="x", input_size=None, antialias=True).save_safetensors(
        tmp_path / "tiny.safetensors"
    )
    loaded = FeatureNet.from_safetensors(path, arch="tiny")
    assert loaded.dim == 32
    assert loaded.label.startswith("tiny-conv(sha256=")
    for k, v in net.state_dict().items():
        assert torch.equal(loaded.net.state_dict()[k], v)

    seen: list[int] = []
    same_fid, same_kid = fid_and_kid(
        sets["a"], sets["a"].copy(), loaded, subset_size=24, progress=lambda d, _t, _m: seen.append(d)
    )
    assert seen[-1] == 96
    assert same_fid.fid == pytest.approx(0.0, abs=1e-6)
    assert abs(same_kid.mean) < 1e-3
    half = fid(sets["a"], sets["a2"], loaded)
    noise = fid(sets["a"], sets["noise"], loaded)
    assert noise.fid > 5 * half.fid
    assert FIDResult.from_dict(noise.to_dict()) == noise
    k_half = kid_images(sets["a"], sets["a2"], loaded, subset_size=24)
    k_noise = kid_images(sets["a"], sets["noise"], loaded, subset_size=24)
    assert k_noise.mean > 10 * abs(k_half.mean)
    assert k_noise.feature_extractor == loaded.label
    with pytest.raises(InvalidInput, match="at least 2"):
        fid(sets["a"][:1], sets["a"], loaded)


def test_loader_rejects_missing_bad_and_mismatched_files(tmp_path) -> None:
    with pytest.raises(InvalidInput, match="not found"):
        FeatureNet.from_safetensors(tmp_path / "missing.safetensors")
    pt = tmp_path / "weights.pt"
    pt.write_bytes(b"\x80\x04not a safetensors file")
    with pytest.raises(InvalidInput, match=r"\.safetensors"):
        FeatureNet.from_safetensors(pt)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x00" * 64)
    with pytest.raises(InvalidInput, match="not a valid safetensors"):
        FeatureNet.from_safetensors(junk)

    net = TinyConvNet((4, 8))
    tensors = {k: v.contiguous() for k, v in net.state_dict().items()}
    tiny = tmp_path / "tiny.safetensors"
    save_file(tensors, str(tiny))
    with pytest.raises(InvalidInput, match="does not match arch inception_v3"):
        FeatureNet.from_safetensors(tiny, arch="inception_v3")
    extra = tmp_path / "extra.safetensors"
    save_file({**tensors, "head.weight": torch.zeros(2, 2)}, str(extra))
    with pytest.raises(InvalidInput, match="unexpected"):
        FeatureNet.from_safetensors(extra, arch="tiny")
    with pytest.raises(InvalidInput, match="unknown feature arch"):
        FeatureNet.from_safetensors(tiny, arch="resnet50")


def test_inception_v3_random_weights_roundtrip_and_2048_features(tmp_path) -> None:
    torch.manual_seed(0)
    net = InceptionV3Features()
    n_params = sum(p.numel() for p in net.parameters())
    assert n_params == 21_785_568  # torchvision Inception3 minus its fc and AuxLogits heads
    state = {k: v.contiguous() for k, v in net.state_dict().items()}
    # A converted torchvision checkpoint also carries the classifier heads: accepted and ignored.
    heads = {"fc.weight": torch.zeros(3, 2048), "fc.bias": torch.zeros(3)}
    path = tmp_path / "inception.safetensors"
    save_file({**state, **heads}, str(path))

    loaded = FeatureNet.from_safetensors(path, arch="inception_v3")
    got = loaded.net.state_dict()
    assert set(got) == set(state)
    for k, v in state.items():
        assert got[k].shape == v.shape and torch.equal(got[k], v), k
    assert loaded.input_size == 299 and loaded.dim == 2048
    assert loaded.label.startswith("inception_v3(sha256=")

    images = _crops(data.astronaut(), 2, 96, seed=0)  # resized to 299 inside
    feats = loaded.features(images)
    assert feats.shape == (2, 2048)
    assert np.isfinite(feats).all()
    # The FID-graph variant has the same parameters, only different pooling.
    fid_variant = FeatureNet.from_safetensors(path, arch="inception_v3_fid")
    assert set(fid_variant.net.state_dict()) == set(state)

    shaped = tmp_path / "bad_shape.safetensors"
    state["Conv2d_1a_3x3.conv.weight"] = torch.zeros(16, 3, 3, 3)
    save_file(state, str(shaped))
    with pytest.raises(InvalidInput, match=r"Conv2d_1a_3x3\.conv\.weight has shape"):
        FeatureNet.from_safetensors(shaped)
