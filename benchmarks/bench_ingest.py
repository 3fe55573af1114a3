"""How fast is ``reelforge add`` compared with just copying and hashing the same files?

Builds a realistic corpus in a temporary folder: noisy PNG and JPEG stills made from
scikit-image's sample photographs (0.5-2 MB each; the noise makes every file unique, so nothing
deduplicates) and a few high-bit-rate 720p H.264 clips written with ``reelforge.media.write_video``.
Then, in one run:

* baseline: ``cp`` of the files into another folder, then ``sha256sum`` of the copies (two
  subprocesses, timed separately; ``sync`` after ``cp`` is timed too but not counted, see below);
* reelforge: ``Studio.assets.add`` of the images folder, then of the videos folder, into one fresh
  studio: stream to staging while hashing, fsync, sniff + limits + full validating decode, thumbnail
  or poster frame, commit blobs, write rows;
* where the time goes: on a sample of the files, the ingest steps (stage = copy + hash + fsync,
  probe, thumbnail) timed one by one.

Both sides run warm-cache: the corpus was just written (and is read once before timing), and nothing
is dropped from the page cache (that needs root and would penalise the first contestant). ``cp``
leaves its writes in the page cache while reelforge fsyncs every staged file, which is why the
``sync`` after ``cp`` is reported next to it.

    .venv/bin/python benchmarks/bench_ingest.py --scale 1.0

``--scale`` multiplies the corpus (1.0: 300 images and 3 videos, about 0.6 GB). MB are 10^6 bytes.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import machine_description, table, write_section

SAMPLES = ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry", "hubble_deep_field", "retina", "cat")
VIDEO_SIZE = (1280, 720)
VIDEO_FPS = 24
# Clip lengths (seconds) cycled through; at ~30 Mbit/s they come out at roughly 20, 35 and 50 MB.
VIDEO_SECONDS = (5.0, 9.0, 13.0)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------------------- corpus


def _sample(name: str) -> np.ndarray:
    import skimage.data

    arr = getattr(skimage.data, name)()
    if arr.ndim == 2:
        arr = np.stack([arr] * 3, axis=-1)
    return arr[..., :3]


def make_image(args: tuple[int, Path]) -> int:
    """One noisy still: even indices PNG (~1 MP), odd indices camera-size JPEG (~5 MP, q95)."""
    from PIL import Image

    index, folder = args
    rng = np.random.default_rng(1000 + index)
    base = Image.fromarray(_sample(SAMPLES[index % len(SAMPLES)]))
    as_png = index % 2 == 0
    long_side = int(rng.integers(850, 1151) if as_png else rng.integers(2000, 2801))
    scale = long_side / max(base.size)
    im = base.resize((round(base.width * scale), round(base.height * scale)), Image.Resampling.BICUBIC)
    amp = int(rng.integers(4, 9))
    arr = np.asarray(im, dtype=np.int16) + rng.integers(-amp, amp + 1, (im.height, im.width, 3), dtype=np.int16)
    im = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    path = folder / (f"still_{index:04d}.png" if as_png else f"still_{index:04d}.jpg")
    if as_png:
        im.save(path, "PNG", compress_level=6)
    else:
        im.save(path, "JPEG", quality=95)
    return path.stat().st_size


def make_video(args: tuple[int, Path]) -> int:
    """A panning shot across an upscaled sample photo with film-grain-like noise (~30 Mbit/s)."""
    from PIL import Image

    from reelforge.media import write_video

    index, folder = args
    rng = np.random.default_rng(5000 + index)
    w, h = VIDEO_SIZE
    base = np.asarray(Image.fromarray(_sample(SAMPLES[(index * 3) % len(SAMPLES)])).resize(
        (3000, 2000), Image.Resampling.BICUBIC), dtype=np.int16)
    grain = rng.integers(-8, 9, (8, h, w, 3), dtype=np.int16)
    n = round(VIDEO_SECONDS[index % len(VIDEO_SECONDS)] * VIDEO_FPS)

    def frames():  # type: ignore[no-untyped-def]
        for i in range(n):
            x, y = (i * 4) % (base.shape[1] - w), (i * 2) % (base.shape[0] - h)
            yield np.clip(base[y : y + h, x : x + w] + grain[i % len(grain)], 0, 255).astype(np.uint8)

    path = folder / f"clip_{index:02d}.mp4"
    write_video(frames(), path, fps=VIDEO_FPS, crf=14)
    return path.stat().st_size


def build_corpus(root: Path, n_images: int, n_videos: int, jobs: int) -> tuple[list[Path], list[Path]]:
    images, videos = root / "images", root / "videos"
    images.mkdir(parents=True, exist_ok=True)
    videos.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        list(pool.map(make_video, [(i, videos) for i in range(n_videos)]))
        list(pool.map(make_image, [(i, images) for i in range(n_images)], chunksize=4))
    log(f"corpus built in {time.perf_counter() - t:.0f} s")
    return sorted(images.iterdir()), sorted(videos.iterdir())


def warm(files: list[Path]) -> None:
    """Read every file once so both contestants start from the same (warm) page cache."""
    for f in files:
        with open(f, "rb") as fh:
            while fh.read(1 << 22):
                pass


# -------------------------------------------------------------------------------------- measure


@dataclass
class Baseline:
    cp: float
    sync: float
    sha: float

    @property
    def total(self) -> float:
        return self.cp + self.sha


def baseline(files: list[Path], dest: Path) -> Baseline:
    dest.mkdir(parents=True)
    t0 = time.perf_counter()
    subprocess.run(["cp", "-t", str(dest), "--", *map(str, files)], check=True)
    t1 = time.perf_counter()
    subprocess.run(["sync"], check=True)
    t2 = time.perf_counter()
    copies = [str(dest / f.name) for f in files]
    subprocess.run(["sha256sum", "--", *copies], check=True, stdout=subprocess.DEVNULL)
    t3 = time.perf_counter()
    return Baseline(t1 - t0, t2 - t1, t3 - t2)


@dataclass
class Steps:
    """Per-step seconds of ingest's staging phase, summed over a sample of files."""

    files: int = 0
    bytes: int = 0
    stage: float = 0.0
    probe: float = 0.0
    thumb: float = 0.0
    per_file: list[float] = field(default_factory=list)

    @property
    def total(self) -> float:
        return self.stage + self.probe + self.thumb


def profile_steps(studio, files: list[Path], kind: str) -> Steps:  # type: ignore[no-untyped-def]
    from reelforge.media import poster_frame_bytes, probe, thumbnail_bytes

    limits = studio.settings.limits
    out = Steps()
    for f in files:
        t0 = time.perf_counter()
        staged = studio.blobs.stage_file(f, max_bytes=limits.max_bytes)
        try:
            t1 = time.perf_counter()
            probe(staged.path, limits)
            t2 = time.perf_counter()
            if kind == "image":
                thumbnail_bytes(staged.path, 256, limits)
            else:
                poster_frame_bytes(staged.path, 256, limits)
            t3 = time.perf_counter()
        finally:
            staged.discard()
        out.files += 1
        out.bytes += staged.size
        out.stage += t1 - t0
        out.probe += t2 - t1
        out.thumb += t3 - t2
        out.per_file.append(t3 - t0)
    return out


def mb(n: float) -> float:
    return n / 1e6


def fmt(x: float, digits: int = 1) -> str:
    return f"{x:,.{digits}f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=float, default=1.0, help="corpus size multiplier (1.0: 300 images, 3 videos)")
    ap.add_argument("--workdir", type=Path, default=None, help="where to build the corpus (default: a temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep the work folder (corpus, copies, studio)")
    ap.add_argument("--gen-jobs", type=int, default=2, help="processes that build the corpus (not timed)")
    ap.add_argument("--profile-every", type=int, default=10,
                    help="time the ingest steps one by one on every Nth PNG and JPEG and the first video")
    ap.add_argument("--no-write", action="store_true", help="print the section, do not update docs/benchmarks.md")
    args = ap.parse_args(argv)
    if args.scale <= 0:
        ap.error("--scale must be positive")
    n_images = max(2, round(300 * args.scale))
    n_videos = max(1, round(3 * args.scale))

    from reelforge.studio import Studio

    work = Path(tempfile.mkdtemp(prefix="rf-bench-ingest-", dir=args.workdir))
    load_before = os.getloadavg()
    try:
        log(f"building {n_images} images and {n_videos} videos in {work}")
        images, videos = build_corpus(work / "corpus", n_images, n_videos, args.gen_jobs)
        sets = {"images": images, "videos": videos}
        sizes = {name: [f.stat().st_size for f in files] for name, files in sets.items()}
        warm(images + videos)

        base: dict[str, Baseline] = {}
        for name, files in sets.items():
            base[name] = baseline(files, work / "copies" / name)
            log(f"baseline {name}: cp {base[name].cp:.2f} s, sync {base[name].sync:.2f} s, "
                f"sha256sum {base[name].sha:.2f} s")

        studio = Studio.init(work / "studio")
        rf: dict[str, float] = {}
        for name, files in sets.items():
            folder = files[0].parent
            t0 = time.perf_counter()
            report = studio.assets.add([folder], tags=["bench"])
            rf[name] = time.perf_counter() - t0
            if len(report.added) != len(files) or report.duplicates or report.rejected:
                raise SystemExit(f"{name}: expected {len(files)} new assets, got {len(report.added)} added, "
                                 f"{len(report.duplicates)} duplicates, {len(report.rejected)} rejected")
            log(f"reelforge add {name}: {rf[name]:.2f} s")

        pngs = [f for f in images if f.suffix == ".png"]
        jpegs = [f for f in images if f.suffix == ".jpg"]
        steps = {
            "PNG stills": profile_steps(studio, pngs[:: args.profile_every], "image"),
            "JPEG stills": profile_steps(studio, jpegs[:: args.profile_every], "image"),
            "H.264 clip": profile_steps(studio, videos[:1], "video"),
        }
        studio.close()
        load_after = os.getloadavg()
    finally:
        if args.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    # -- report ---------------------------------------------------------------------------------
    rows = []
    totals = {"files": 0, "bytes": 0, "base": 0.0, "sync": 0.0, "rf": 0.0}
    for name, files in sets.items():
        nbytes = sum(sizes[name])
        rows.append(_row(name, len(files), nbytes, base[name].total, base[name].sync, rf[name]))
        totals["files"] += len(files)
        totals["bytes"] += nbytes
        totals["base"] += base[name].total
        totals["sync"] += base[name].sync
        totals["rf"] += rf[name]
    rows.append(_row("all", totals["files"], totals["bytes"], totals["base"], totals["sync"], totals["rf"]))

    step_rows = []
    for name, s in steps.items():
        if not s.files:
            continue
        step_rows.append([
            name, s.files, fmt(mb(s.bytes)),
            f"{fmt(s.stage, 2)} ({s.stage / s.total:.0%})",
            f"{fmt(s.probe, 2)} ({s.probe / s.total:.0%})",
            f"{fmt(s.thumb, 2)} ({s.thumb / s.total:.0%})",
            fmt(mb(s.bytes) / s.stage, 0),
            fmt(1000 * statistics.median(s.per_file), 0),
        ])

    cmd = "python benchmarks/bench_ingest.py" + (f" --scale {args.scale:g}" if args.scale != 1.0 else "")
    img_mb = [s / 1e6 for s in sizes["images"]]
    vid_mb = [s / 1e6 for s in sizes["videos"]]
    md = f"""## Ingest: `reelforge add` against `cp` + `sha256sum`

Command: `{cmd}` &nbsp;·&nbsp; {machine_description()} &nbsp;·&nbsp;
load average {load_before[0]:.1f} before, {load_after[0]:.1f} after (the 2 cores are shared).

Corpus: {len(images)} noisy stills from scikit-image's sample photographs (half PNG ~1 MP, half
JPEG q95 2000-2800 px; {min(img_mb):.1f}-{max(img_mb):.1f} MB, median {statistics.median(img_mb):.1f} MB)
and {len(videos)} H.264 clips, 1280x720 24 fps ~30 Mbit/s ({", ".join(f"{v:.0f}" for v in vid_mb)} MB),
{fmt(mb(totals["bytes"]), 0)} MB in all; every file is unique, nothing deduplicates. The clips keep x264's
default keyframe interval (250 frames), so probe's validating decode from the last keyframe to the
end covers most of each clip; camera files with 1-2 s keyframe intervals probe faster.
Baseline: `cp` of the files into another folder, then `sha256sum` of the copies. reelforge:
`studio.assets.add(folder)` once for the images folder and once for the videos folder into a fresh
SQLite studio (stream into staging while hashing, fsync, sniff and limits, full validating decode,
thumbnail or poster frame, commit blobs, write rows); "all" sums the two calls. Both run
warm-cache (files just written and read once; nothing is dropped from the page cache). `cp`
leaves its data in the page cache while reelforge fsyncs each file: the `sync` column is the
flush after `cp`, shown for reference and not counted in the baseline. MB = 10^6 bytes.

{table(["set", "files", "MB", "baseline s", "baseline MB/s", "baseline files/s", "(sync s)",
        "reelforge s", "reelforge MB/s", "reelforge files/s", "reelforge / baseline time"], rows)}

Where the time of ingest's staging step goes, on a sample (every {args.profile_every}th PNG and
JPEG still, the first clip), each step timed on its own (seconds summed over the sample, share of the sample's
staging time; the commit of blobs and rows is not in this table):

{table(["set", "files", "MB", "stage: copy + sha256 + fsync s", "probe: sniff + decode s",
        "thumbnail s", "stage MB/s", "median ms/file"], step_rows)}
"""
    print(md)
    if not args.no_write:
        log(f"wrote {write_section('ingest', md)}")
    return 0


def _row(name: str, files: int, nbytes: int, base_s: float, sync_s: float, rf_s: float) -> list[object]:
    return [
        name, files, fmt(mb(nbytes), 0),
        fmt(base_s, 2), fmt(mb(nbytes) / base_s, 0), fmt(files / base_s, 0), fmt(sync_s, 2),
        fmt(rf_s, 2), fmt(mb(nbytes) / rf_s, 0), fmt(files / rf_s, 1), f"{rf_s / base_s:.1f}×",
    ]


if __name__ == "__main__":
    raise SystemExit(main())
