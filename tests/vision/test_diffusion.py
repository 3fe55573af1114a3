"""Text to image from local diffusion weights: a tiny random Stable Diffusion pipeline built and saved
here, run through the job system; reproducible pixels, provenance, and refusals of what must not load."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from reelforge.catalog.provenance import read_record, verify
from reelforge.config import load_settings
from reelforge.errors import Cancelled, InvalidInput, LimitExceeded
from reelforge.studio import Studio

PROMPT = "a red fox in deep snow"


def _tiny_pipeline(folder: Path) -> Path:
    """A randomly initialised Stable Diffusion pipeline small enough to run in a second on CPU."""
    pytest.importorskip("diffusers")
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    # A word-piece-free CLIP tokenizer: single characters (with and without the end-of-word mark), no merges.
    chars = "abcdefghijklmnopqrstuvwxyz0123456789"
    vocab = {c: i for i, c in enumerate(chars)}
    vocab.update({c + "</w>": len(chars) + i for i, c in enumerate(chars)})
    bos, eos = len(vocab), len(vocab) + 1
    vocab.update({"<|startoftext|>": bos, "<|endoftext|>": eos})
    tokenizer = CLIPTokenizer(vocab=vocab, merges=[], model_max_length=77)
    torch.manual_seed(0)
    text_encoder = CLIPTextModel(CLIPTextConfig(
        vocab_size=len(vocab), bos_token_id=bos, eos_token_id=eos, pad_token_id=eos, hidden_size=16,
        intermediate_size=32, num_attention_heads=2, num_hidden_layers=2, max_position_embeddings=77,
        projection_dim=16))
    unet = UNet2DConditionModel(
        sample_size=8, in_channels=4, out_channels=4, block_out_channels=(8, 16), layers_per_block=1,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=16, attention_head_dim=2, norm_num_groups=4)
    vae = AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(8, 16), norm_num_groups=4,
        down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2, sample_size=16)
    scheduler = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
                              set_alpha_to_one=False, steps_offset=1)
    pipe = StableDiffusionPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
                                   scheduler=scheduler, safety_checker=None, feature_extractor=None,
                                   requires_safety_checker=False)
    pipe.save_pretrained(folder, safe_serialization=True)
    return folder


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _tiny_pipeline(tmp_path_factory.mktemp("diffusion") / "tiny-sd")


@pytest.fixture
def studio(tmp_path: Path, weights: Path) -> Iterator[Studio]:
    s = Studio.init(tmp_path / "studio", diffusion_models={"tiny": str(weights)}, worker_concurrency=1)
    yield s
    s.close()


def _pixels(s: Studio, asset_id: str) -> np.ndarray:
    return np.asarray(Image.open(s.assets.local_path(s.assets.get(asset_id))).convert("RGB"))


def test_generate_records_provenance_and_regenerates_the_same_pixels(studio: Studio, weights: Path,
                                                                     tmp_path: Path) -> None:
    from reelforge.vision.diffusion import inspect_weights

    s = studio
    params = {"model": "tiny", "prompt": PROMPT, "negative_prompt": "blurry", "n": 2, "steps": 3,
              "guidance": 4.0, "width": 48, "height": 32}
    job = s.jobs.submit("diffusion.generate", params, seed=5).run()
    assert job.status == "succeeded", job.error
    assert job.progress_message == "image 2/2, step 3/3"
    first, second = job.result["images"]
    assert job.result["model_sha256"] == inspect_weights(weights).sha256
    path = s.assets.export([second], tmp_path / "out")[0]
    with Image.open(path) as im:
        assert im.size == (48, 32)
    rec = read_record(path)
    assert rec is not None and rec["digital_source_type"] == "trainedAlgorithmicMedia"
    assert rec["prompt"] == PROMPT and rec["negative_prompt"] == "blurry"
    assert rec["seed"] == 5 and rec["image_seed"] == 6 and rec["index"] == 1
    assert rec["steps"] == 3 and rec["guidance"] == 4.0 and rec["scheduler"] == "DDIMScheduler"
    assert rec["model"] == "tiny" and rec["model_folder"] == str(weights.resolve())
    assert rec["model_sha256"] == job.result["model_sha256"] and rec["pipeline"] == "StableDiffusionPipeline"
    assert rec["dtype"] == "float32" and rec["device"] == "cpu"
    assert verify(s, path).verified

    a, b = _pixels(s, first), _pixels(s, second)
    assert a.shape == (32, 48, 3) and a.std() > 1, "an image, not a flat field"
    assert np.abs(a.astype(int) - b.astype(int)).mean() > 1, "a different seed gives different pixels"
    # The recorded image seed regenerates that image exactly (here through the folder's path, not its name).
    again = s.jobs.submit("diffusion.generate", {**params, "model": str(weights), "n": 1},
                          seed=rec["image_seed"]).run()
    assert again.status == "succeeded", again.error
    assert _pixels(s, again.result["images"][0]).tobytes() == b.tobytes()


def test_pickled_weights_are_refused_before_anything_is_stored(studio: Studio, weights: Path,
                                                               tmp_path: Path) -> None:
    import torch
    from safetensors.torch import load_file

    from reelforge.vision.diffusion import inspect_weights

    s = studio
    pickled = tmp_path / "pickled"
    shutil.copytree(weights, pickled)
    unet = pickled / "unet" / "diffusion_pytorch_model.safetensors"
    torch.save(load_file(unet), unet.with_suffix(".bin"))
    unet.unlink()
    job = s.jobs.submit("diffusion.generate", {"model": str(pickled), "prompt": PROMPT, "steps": 1}).run()
    assert job.status == "failed" and job.attempt == 1
    assert "diffusion_pytorch_model.bin is a pickled weight file" in (job.error or ""), job.error
    assert "\n" not in (job.error or "")
    assert s.assets.list() == [] and job.result.get("images") is None

    # A pickle renamed to .safetensors is caught by its header, not by its name.
    torch.save({"w": torch.zeros(2)}, unet)
    with pytest.raises(InvalidInput, match="pickle"):
        inspect_weights(pickled)
    # Pickles beside safetensors weights are never read, and not part of the identity.
    shutil.copy(weights / "unet" / unet.name, unet)
    assert inspect_weights(pickled).sha256 == inspect_weights(weights).sha256


def test_missing_or_foreign_folders_are_clear_errors(studio: Studio, weights: Path, tmp_path: Path) -> None:
    from reelforge.vision.diffusion import inspect_weights

    s = studio
    missing = s.jobs.submit("diffusion.generate", {"model": str(tmp_path / "nowhere"), "prompt": PROMPT}).run()
    assert missing.status == "failed" and missing.error == f"no diffusion weights folder at {tmp_path / 'nowhere'}"
    unknown = s.jobs.submit("diffusion.generate", {"model": "sdxl", "prompt": PROMPT}).run()
    assert unknown.status == "failed" and "configured: tiny" in (unknown.error or ""), unknown.error
    assert s.assets.list() == []

    (tmp_path / "single").mkdir()
    torch_ckpt = tmp_path / "single" / "model.ckpt"
    torch_ckpt.write_bytes(b"\x80\x04K\x01.")  # a pickle: refused by name, never opened
    with pytest.raises(InvalidInput, match=r"model\.ckpt is a pickled checkpoint"):
        inspect_weights(tmp_path / "single")
    custom = tmp_path / "custom"
    shutil.copytree(weights, custom)
    index = json.loads((custom / "model_index.json").read_text())
    # Stable Diffusion 1.x folders name their safety checker by diffusers' pipeline module: accepted.
    index["safety_checker"] = ["stable_diffusion", "StableDiffusionSafetyChecker"]
    (custom / "safety_checker").mkdir()
    (custom / "model_index.json").write_text(json.dumps(index))
    assert "safety_checker" in inspect_weights(custom).components
    index["unet"] = ["my_pipeline", "EvilUNet"]
    (custom / "model_index.json").write_text(json.dumps(index))
    with pytest.raises(InvalidInput, match="only diffusers and transformers components"):
        inspect_weights(custom)


def test_sizes_are_checked_against_the_studio_limits(tmp_path: Path, weights: Path) -> None:
    with Studio.init(tmp_path / "small", limits={"max_pixels": 1000}) as s:
        job = s.jobs.submit("diffusion.generate", {"model": str(weights), "prompt": PROMPT,
                                                   "width": 48, "height": 32}).run()
        assert job.status == "failed" and "over the studio's image limits" in (job.error or ""), job.error
        with pytest.raises(InvalidInput, match="multiple of 8"):
            s.jobs.submit("diffusion.generate", {"model": str(weights), "prompt": PROMPT, "width": 50})
    assert issubclass(LimitExceeded, InvalidInput)


def test_generation_stops_between_steps(weights: Path) -> None:
    from reelforge.vision.diffusion import TextToImage, inspect_weights

    t2i = TextToImage(inspect_weights(weights))
    steps: list[tuple[int, int]] = []
    with pytest.raises(Cancelled):
        t2i.generate(PROMPT, seed=0, steps=5, on_step=lambda d, t: steps.append((d, t)),
                     should_stop=lambda: len(steps) >= 2)
    assert steps == [(1, 5), (2, 5)]
    assert t2i.native_size() == (16, 16) and t2i.scheduler == "DDIMScheduler"
    assert TextToImage(inspect_weights(weights), scheduler="euler").scheduler == "EulerDiscreteScheduler"


def test_diffusion_models_setting_from_toml_and_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "reelforge.toml").write_text('[diffusion_models]\nsd15 = "/models/sd15"\n')
    assert load_settings(tmp_path).diffusion_models == {"sd15": "/models/sd15"}
    monkeypatch.setenv("REELFORGE_DIFFUSION_MODELS", "a=/m/a, b=weights/b")
    assert load_settings(tmp_path).diffusion_models == {"a": "/m/a", "b": "weights/b"}
    monkeypatch.setenv("REELFORGE_DIFFUSION_MODELS", '{"c": "/m/c"}')
    assert load_settings(tmp_path).diffusion_models == {"c": "/m/c"}
    monkeypatch.setenv("REELFORGE_DIFFUSION_MODELS", "no-path-here")
    with pytest.raises(InvalidInput, match="name=/path"):
        load_settings(tmp_path)
    monkeypatch.delenv("REELFORGE_DIFFUSION_MODELS")
    # A studio keeps the table in reelforge.toml; relative folders are from the studio home.
    with Studio.init(tmp_path / "studio", diffusion_models={"rel": "weights/rel"}) as s:
        assert load_settings(s.home).diffusion_models == {"rel": "weights/rel"}
        job = s.jobs.submit("diffusion.generate", {"model": "rel", "prompt": PROMPT}).run()
        assert job.status == "failed" and job.error == f"no diffusion weights folder at {s.home / 'weights' / 'rel'}"
