"""Frame interpolation: quality of in-between frames on held-out footage, and speed.

Footage: camera moves over scikit-image photographs (pans, zooms, a disc cut from another photograph
crossing a panning background), written as H.264 MP4 with PyAV and decoded back, so the frames carry
real codec artefacts. Training clips use astronaut, coffee and chelsea; evaluation clips use rocket,
hubble_deep_field and immunohistochemistry, none of which the refinement network saw. Each triplet
(i, i + 1, i + 2) is scored: frame i + 1 predicted from i and i + 2 by

- repeat: frame i again (what a frame-rate converter without interpolation does);
- blend: the average of i and i + 2;
- flow: reelforge.video.interpolate (DIS flows, time-t flows, occlusion-aware blend);
- flow + refine: the same plus the refinement CNN trained on the training clips.

PSNR and SSIM against the true middle frame, and the gain of each method over the blend measured in the
same run. Speed: in-between frames per second on one CPU thread (and on the GPU when there is one).

    .venv/bin/python benchmarks/bench_interpolate.py [--steps 600] [--no-write]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._report import machine_description, table, write_section

TRAIN = ("astronaut", "coffee", "chelsea")
HELD_OUT = ("rocket", "hubble_deep_field", "immunohistochemistry")
OTHER = {"astronaut": "coffee", "coffee": "chelsea", "chelsea": "astronaut", "rocket": "chelsea",
         "hubble_deep_field": "coffee", "immunohistochemistry": "astronaut"}
SIZE = (160, 96)


def clips(names: tuple[str, ...], seed: int) -> dict[str, list[list[np.ndarray]]]:
    """Per motion kind, one clip per picture: moderate and fast pans, a zoom, a moving object."""
    from tests.video import motion_clips as mc

    out: dict[str, list[list[np.ndarray]]] = {"pan": [], "fast pan": [], "zoom": [], "moving object": []}
    for i, n in enumerate(names):
        s = seed + 10 * i
        out["pan"].append(mc.pan(n, frames=11, size=SIZE, speed=(3.0 + i, 1.0 - i), seed=s))
        out["fast pan"].append(mc.pan(n, frames=11, size=SIZE, speed=(8.0 + 2 * i, 2.0 * i - 2), seed=s + 1))
        out["zoom"].append(mc.zoom(n, frames=11, size=SIZE, rate=0.04 + 0.01 * i, seed=s + 2))
        out["moving object"].append(mc.moving_object(n, OTHER[n], frames=11, size=SIZE, velocity=(7.0 + i, 1.5),
                                                     radius=20, start=(40.0, 45.0), seed=s + 3)[0])
    return out


def through_codec(frames: list[np.ndarray], work: Path, name: str) -> list[np.ndarray]:
    from tests.video import motion_clips as mc

    from reelforge.video.interpolate import read_video

    path = mc.write(frames, work / f"{name}.mp4", 24, crf=14)
    return read_video(path)[0]


def ssim(x: np.ndarray, y: np.ndarray) -> float:
    from skimage.metrics import structural_similarity

    return float(structural_similarity(x, y, channel_axis=2, data_range=255))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--strip", default="/tmp/interp/bench_strip.png")
    args = ap.parse_args()

    import tempfile

    import cv2
    import torch
    from PIL import Image
    from tests.video import motion_clips as mc

    from reelforge.video.interpolate import InterpSettings, interpolate_detail, is_cut, pair_flows
    from reelforge.video.refine import make_triplets, train_refiner

    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    settings = InterpSettings()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        train = {k: [through_codec(c, work, f"train-{k}-{i}") for i, c in enumerate(v)]
                 for k, v in clips(TRAIN, 0).items()}
        held = {k: [through_codec(c, work, f"held-{k}-{i}") for i, c in enumerate(v)]
                for k, v in clips(HELD_OUT, 100).items()}

    t0 = time.perf_counter()
    triplets = make_triplets([c for v in train.values() for c in v], settings)
    t_feat = time.perf_counter() - t0
    t0 = time.perf_counter()
    refiner = train_refiner(triplets, steps=args.steps, batch_size=8, crop=48, lr=3e-3, seed=0)
    t_train = time.perf_counter() - t0
    on_train = refiner.evaluate(triplets)

    methods = ("repeat", "blend", "flow", "flow + refine")
    scores: dict[str, dict[str, list[tuple[float, float]]]] = {k: {m: [] for m in methods} for k in held}
    strip_rows = []
    cut_false = 0
    pairs = 0
    for kind, group in held.items():
        for ci, clip in enumerate(group):
            for i in range(0, len(clip) - 2):
                a, truth, b = clip[i], clip[i + 1], clip[i + 2]
                fl = pair_flows(a, b, settings.preset)
                pairs += 1
                cut_false += is_cut(a, b, fl, settings)
                d = interpolate_detail(a, b, 0.5, settings=settings, flows=fl)
                refined = np.clip(np.rint(refiner(d)), 0, 255).astype(np.uint8)
                blend = np.rint((a.astype(np.float32) + b) / 2).astype(np.uint8)
                made = {"repeat": a, "blend": blend, "flow": d.frame, "flow + refine": refined}
                for m, img in made.items():
                    scores[kind][m].append((mc.psnr(img, truth), ssim(img, truth)))
                if i == 4 and ci == 0:
                    strip_rows.append([a, truth, blend, d.frame, refined, b])
    Path(args.strip).parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(mc.strip(strip_rows)).save(args.strip)

    def mean(kind: str | None, m: str, j: int) -> float:
        vals = [v[j] for k, g in scores.items() if kind in (None, k) for v in g[m]]
        return float(np.mean(vals))

    rows = []
    for kind in [*held, None]:
        label = kind or "all held-out"
        n = sum(len(scores[k]["flow"]) for k in scores if kind in (None, k))
        base = mean(kind, "blend", 0)
        row: list[object] = [label, n]
        for m in methods:
            row.append(f"{mean(kind, m, 0):.2f}")
        row += [f"{mean(kind, 'flow', 0) - base:+.2f}", f"{mean(kind, 'flow + refine', 0) - base:+.2f}",
                f"{mean(kind, 'flow', 0) - mean(kind, 'repeat', 0):+.2f}"]
        rows.append(row)
    ssim_rows = [[kind or "all held-out", *(f"{mean(kind, m, 1):.4f}" for m in methods)] for kind in [*held, None]]

    # Speed: in-between frames per second, one CPU thread.
    def fps(size: tuple[int, int], preset: str, refine: bool, device: str = "cpu") -> float:
        pic = mc.pan("astronaut", frames=2, size=size, speed=(6.0, 2.0))
        s = InterpSettings(preset=preset)  # type: ignore[arg-type]
        r = refiner
        if refine and device != "cpu":
            r = type(refiner).load(refiner.save(Path(tempfile.mkdtemp()) / "m"), device=device)
        n, start = 0, time.perf_counter()
        while n < 3 or time.perf_counter() - start < 2.0:
            interpolate_detail(pic[0], pic[1], 0.5, settings=s, refiner=r if refine else None)
            n += 1
        return n / (time.perf_counter() - start)

    speed_rows = []
    for size in ((160, 96), (640, 360), (1280, 720)):
        for preset in ("fast", "medium"):
            speed_rows.append([f"{size[0]}x{size[1]}", preset, f"{fps(size, preset, False):.1f}",
                               f"{fps(size, preset, True):.1f}"])
    gpu_line = "no GPU here: GPU frames/s not measured."
    if torch.cuda.is_available():
        g = [f"{s[0]}x{s[1]}: {fps(s, 'medium', True, 'cuda'):.1f}" for s in ((640, 360), (1280, 720))]
        gpu_line = f"GPU ({torch.cuda.get_device_name(0)}), medium + refine, frames/s: {', '.join(g)}."

    md = f"""## Frame interpolation (`video.interpolate`)

Middle frames of held-out triplets (frame i + 1 predicted from frames i and i + 2) of H.264 clips
({SIZE[0]}x{SIZE[1]}, crf 14) made from scikit-image photographs the refinement network never saw
({", ".join(HELD_OUT)}); the network trained on clips of {", ".join(TRAIN)} ({len(triplets)} triplets,
{args.steps} steps, {t_train:.0f} s on one CPU thread; flows for the triplets {t_feat:.1f} s).
Pans move 3-5 px per frame (6-10 px across a triplet), fast pans 8-12 px (16-24), zooms 4-6 % per frame,
the disc 7-9 px per frame over a pan. PSNR in dB (higher is better); the gains are against the blend
(and the repeated frame) measured on the same triplets.

{table(["clips", "triplets", "repeat", "blend", "flow", "flow + refine", "flow vs blend", "refine vs blend",
        "flow vs repeat"], rows)}

SSIM (1 is identical):

{table(["clips", *methods], ssim_rows)}

On the training triplets the network moves PSNR from {on_train['psnr_blend']:.2f} to
{on_train['psnr_refined']:.2f} dB. Scene-cut test on these {pairs} held-out pairs (all one shot): {cut_false}
false cut(s).

In-between frames per second on one CPU thread (flows both ways, time-t flows, warps, blend; "+ refine" adds
the CNN):

{table(["frame size", "flow preset", "frames/s", "frames/s + refine"], speed_rows)}

{gpu_line}

Command: `.venv/bin/python benchmarks/bench_interpolate.py --steps {args.steps}`; machine: {machine_description()}.
"""
    print(md)
    if not args.no_write:
        write_section("interpolate", md)


if __name__ == "__main__":
    main()
