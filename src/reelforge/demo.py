"""The embedded demo studio: data that ships with installed packages, run through real jobs.

Each capability adds its steps to ``STEPS``; ``reelforge demo`` runs them in order through the
queue and prints where the results are.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from reelforge.compute.jobs import JobHandle
    from reelforge.studio import Studio

Follow = Callable[["JobHandle"], Any]
DEMO_SAMPLE_EVERY = 300  # sample grid (and health check) every this many steps of the preset's run


@dataclass
class DemoResult:
    home: Path
    assets: int = 0
    datasets: list[str] = field(default_factory=list)
    jobs: list[str] = field(default_factory=list)
    highlights: list[tuple[str, str]] = field(default_factory=list)  # (what, where)


def hubble_crops(dest: Path, n: int = 96, size: int = 128, seed: int = 0) -> list[Path]:
    """Random crops of scikit-image's Hubble deep field: a small 'nebula plates' set."""
    import numpy as np
    from PIL import Image
    from skimage import data

    field_img = data.hubble_deep_field()
    h, w = field_img.shape[:2]
    rng = np.random.default_rng(seed)
    dest.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        y, x = int(rng.integers(0, h - size)), int(rng.integers(0, w - size))
        crop = field_img[y : y + size, x : x + size]
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        p = dest / f"plate_{i:03d}.png"
        Image.fromarray(np.ascontiguousarray(crop)).save(p)
        out.append(p)
    return out


def sample_stills(dest: Path) -> list[Path]:
    from PIL import Image
    from skimage import data

    dest.mkdir(parents=True, exist_ok=True)
    out = []
    for name in ("astronaut", "coffee", "chelsea", "rocket", "camera", "immunohistochemistry"):
        arr = getattr(data, name)()
        p = dest / f"{name}.png"
        Image.fromarray(arr).save(p)
        out.append(p)
    return out


def pan_video(dest: Path, frames: int = 48, size: int = 256, fps: float = 24.0) -> Path:
    """A slow camera pan across the Hubble field: a real H.264 clip for the video paths."""
    from skimage import data

    from reelforge.media import write_video

    field_img = data.hubble_deep_field()
    path = dest / "hubble_pan.mp4"
    dest.mkdir(parents=True, exist_ok=True)

    def gen():  # type: ignore[no-untyped-def]
        for i in range(frames):
            x = i * 8
            yield field_img[100 : 100 + size, x : x + size].copy()

    write_video(gen(), path, fps=fps)
    return path


def build(studio: Studio, follow: Follow, workdir: Path) -> DemoResult:
    res = DemoResult(studio.home)
    plates = hubble_crops(workdir / "nebula-plates")
    stills = sample_stills(workdir / "stills")
    video = pan_video(workdir / "footage")
    report = studio.assets.add([workdir / "nebula-plates"], tags=["nebula", "plate"])
    studio.assets.add(stills, tags=["still"])
    studio.assets.add([video], tags=["footage"])
    res.assets = len(studio.assets.list())
    nebula = studio.datasets.create("nebula-plates", assets=[a.id for a in report.assets], seed=0)
    res.datasets.append(nebula.ref)
    stills_ds = studio.datasets.create("stills", tags=["still"])
    res.datasets.append(stills_ds.ref)
    assert len(plates) == nebula.n_items

    for h in (
        studio.jobs.submit("media.contact_sheet", {"dataset": nebula.ref, "columns": 12, "cell": 96}),
        studio.jobs.submit("media.contact_sheet", {"dataset": stills_ds.ref, "label": "name"}),
        studio.jobs.submit("media.fingerprint", {"dataset": nebula.ref}),
        studio.jobs.submit("media.proxy", {"asset": "hubble_pan.mp4", "height": 144}),
        studio.jobs.submit("media.proxy", {"asset": "astronaut.png", "max_side": 256}),
    ):
        job = follow(h)
        res.jobs.append(job.id)
        for out in job.result.get("outputs", []):
            if out.startswith("ast_"):
                a = studio.assets.get(out)
                res.highlights.append((f"{job.task} → {a.name}", str(_export(studio, a, studio.home / "outputs"))))
    screenplay = _screenplay_steps(studio, follow, res)
    _editing_steps(studio, follow, workdir, screenplay, res)
    _gan_steps(studio, follow, nebula.ref, res)
    _vfx_steps(studio, follow, workdir, res)
    for extra in EXTRA_STEPS:
        extra(studio, follow, workdir, res)
    return res


def _record(studio: Studio, res: DemoResult, job: Any, keys: tuple[str, ...]) -> None:
    res.jobs.append(job.id)
    for key in keys:
        ref = job.result.get(key)
        if isinstance(ref, str) and ref.startswith("ast_"):
            a = studio.assets.get(ref)
            res.highlights.append((f"{job.task} → {key}", str(_export(studio, a, studio.home / "outputs"))))


def _screenplay_steps(studio: Studio, follow: Follow, res: DemoResult) -> str:
    """The bundled sample screenplay: breakdown/stripboard and the analysis report; its asset id."""
    from reelforge.script import sample_path

    sp = studio.assets.add([sample_path()], tags=["screenplay"]).assets[0]
    studio.assets.add([sample_path("chinese_sample.txt")], tags=["screenplay"])
    _record(studio, res, follow(studio.jobs.submit("script.breakdown", {"screenplay": sp.id})),
            ("stripboard_html",))
    _record(studio, res, follow(studio.jobs.submit("script.analyze", {"screenplay": sp.id})), ("report",))
    return sp.id


def _editing_steps(studio: Studio, follow: Follow, workdir: Path, screenplay: str, res: DemoResult) -> None:
    """Shots of a generated edit; then 'dailies' for the sample screenplay (slate-named takes with
    spoken lines and flaws) cut into a rough cut in script order with the takes chosen and explained
    and subtitles of the cut; subtitles of one take on its own, and the loudness of that take. The dailies need espeak-ng: without it the demo says so and goes on."""
    from reelforge.editorial.dailies import espeak_available, generate_dailies
    from reelforge.video.synthetic import write as write_edit

    edit = workdir / "footage" / "generated_edit.mp4"
    write_edit(edit)
    studio.assets.add([edit], tags=["footage"])
    _record(studio, res, follow(studio.jobs.submit("video.shots", {"video": "generated_edit.mp4",
                                                                    "detector": "content"})),
            ("contact_sheet", "shot_list"))
    if not espeak_available():
        res.highlights.append(("dailies and rough cut", "skipped: espeak-ng is not installed (it speaks the lines)"))
        return
    dailies = generate_dailies(workdir / "dailies")
    studio.assets.add([workdir / "dailies"], tags=["dailies"])
    _record(studio, res, follow(studio.jobs.submit("edit.roughcut", {"screenplay": screenplay, "tag": "dailies"})),
            ("report_md", "edl", "otio", "srt"))
    best = dailies.scenes[0]  # subtitles for the best take of the first scene, aligned to its lines
    _record(studio, res, follow(studio.jobs.submit("subtitles.align", {
        "media": Path(best.best).name, "screenplay": screenplay, "scenes": [best.scene]})), ("srt", "vtt"))
    _record(studio, res, follow(studio.jobs.submit("audio.loudness", {"asset": Path(best.best).name})), ("plot",))


def _gan_steps(studio: Studio, follow: Follow, dataset: str, res: DemoResult) -> None:
    """A small 'nebula plates' generator trained on the Hubble crops, then samples and a walk.

    32 px: in the few CPU minutes a demo has, the 32 px stationary preset passes every health check
    against held-out crops and draws scattered sources like the plates', where 64 px runs of the same
    budget drew streaks and filaments (docs/benchmarks.md, gan_fewshot). The preset picks everything
    else (the stationary few-shot architecture, sized for the CPU);
    REELFORGE_DEMO_GAN_STEPS overrides only the number of steps (the CLI test runs a dozen)."""
    params: dict[str, Any] = {"dataset": dataset, "name": "nebula-plates", "split": "all", "resolution": 32,
                              "preset": "auto", "sample_every": DEMO_SAMPLE_EVERY, "checkpoint_every": 150}
    if "REELFORGE_DEMO_GAN_STEPS" in os.environ:
        steps = int(os.environ["REELFORGE_DEMO_GAN_STEPS"])
        params.update(steps=steps, sample_every=max(1, steps // 3), checkpoint_every=max(1, steps // 6))
    train = follow(studio.jobs.submit("gan.train", params, seed=2026))
    res.jobs.append(train.id)
    _record(studio, res, follow(studio.jobs.submit("gan.sample", {"model": "nebula-plates", "n": 24},
                                                   seed=1)), ("contact_sheet",))
    _record(studio, res, follow(studio.jobs.submit("gan.walk", {
        "model": "nebula-plates", "duration": 4, "fps": 12, "size": 128}, seed=10)), ("gif", "video"))


def _vfx_steps(studio: Studio, follow: Follow, workdir: Path, res: DemoResult) -> None:
    """Style transfer of a still in the colours and texture of a stained slide (optimisation on the
    random-weight feature network: no downloads); then film restoration: a small restorer trained on
    the stills with synthetic damage restores a dusty, scratched, flickering reel, and a damaged scan is
    restored classically with its defect mask. One thread each: tiny convolutions run faster on one
    than on two cores of a busy 2-core machine."""
    from PIL import Image
    from skimage import data

    from reelforge.media import write_video
    from reelforge.vision.restore.degrade import Damage, degrade, degrade_sequence, rgb

    _record(studio, res, follow(studio.jobs.submit("style.transfer", {
        "content": "astronaut.png", "style": "immunohistochemistry.png", "steps": 60, "size": 128,
        "threads": 1}, seed=3)), ("image",))

    dest = workdir / "damaged"
    dest.mkdir(parents=True, exist_ok=True)
    scan = dest / "moon_scan.png"  # not in the stills dataset the restorer learns from
    Image.fromarray(degrade(rgb(data.moon()), 7).image).save(scan)
    field_img = data.hubble_deep_field()
    clean = [field_img[300 + i : 492 + i, 200 + 3 * i : 456 + 3 * i].copy() for i in range(24)]
    reel = dest / "hubble_reel.mp4"
    write_video((d.image for d in degrade_sequence(clean, 7, Damage(flicker_gain=0.1, flicker_offset=0.03))),
                reel, fps=24)
    studio.assets.add([scan, reel], tags=["damaged"])
    train = follow(studio.jobs.submit("restore.train", {
        "dataset": "stills", "name": "film-restorer", "split": "all", "steps": 80, "batch_size": 4, "crop": 48,
        "base_channels": 8, "depth": 2, "threads": 1}, seed=1))
    res.jobs.append(train.id)
    _record(studio, res, follow(studio.jobs.submit("restore.apply", {"asset": "hubble_reel.mp4",
                                                                      "model": "film-restorer"})), ("video",))
    _record(studio, res, follow(studio.jobs.submit("restore.apply", {"asset": "moon_scan.png", "masks": True})),
            ("image", "mask"))


def _export(studio: Studio, asset: Any, dest: Path) -> Path:
    return studio.assets.export([asset.id], dest, overwrite=True)[0]


# Capabilities append callables (studio, follow, workdir, result) here.
EXTRA_STEPS: list[Callable[[Studio, Follow, Path, DemoResult], None]] = []
