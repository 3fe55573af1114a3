"""Shot detection: our detectors against PySceneDetect on generated edits with known truth.

    python benchmarks/bench_shots.py [--videos 4] [--seconds 45] [--threads 2] [--no-transnet] [--no-write]

Every video is made by ``reelforge.video.synthetic.random_plan`` (camera moves over scikit-image's
bundled photographs, film grain, H.264): mostly hard cuts, dissolves of 6-24 frames, fades through
black or white with holds, camera flashes of 1-2 frames in about one shot in five, fast pans with
motion blur in about one in six, and now and then a cut between two angles of the same picture.
Seeds 101.. were never used while the detectors were tuned (that was the default plan and seeds
10-12), so these videos are held out.

Scoring (``reelforge.video.scoring``): a cut counts when detected within ±1 frame; a dissolve or
fade when a detection overlaps it; each truth event and detection is matched once. All detectors
run on the same files in one run. Frames/s is end to end per file: decoding included (ours: PyAV
threaded decode at 96x54; PySceneDetect: its default OpenCV backend and automatic downscale).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

from _report import machine_description, table, write_section

from reelforge.video import synthetic
from reelforge.video.scoring import Evaluation, Event, Score, evaluate
from reelforge.video.shots import ShotSettings, detect_shots

FORMATS = [((320, 180), Fraction(24)), ((320, 180), Fraction(30000, 1001)), ((256, 144), Fraction(25)),
           ((384, 216), Fraction(24000, 1001)), ((320, 180), Fraction(50)), ((256, 144), Fraction(24))]


def pyscenedetect(path: str, kind: str) -> list[Event]:
    from scenedetect import AdaptiveDetector, ContentDetector, SceneManager, open_video

    video = open_video(path)
    manager = SceneManager()
    manager.add_detector(ContentDetector() if kind == "content" else AdaptiveDetector())
    manager.detect_scenes(video)
    return [Event("cut", start.frame_num, 0) for start, _ in manager.get_scene_list()[1:]]


class Tally:
    def __init__(self) -> None:
        self.cuts, self.gradual, self.overall = Score(), Score(), Score()
        self.kind_correct = self.kind_total = self.on_flash = self.in_fast = 0
        self.frames = 0
        self.seconds = 0.0

    def add(self, ev: Evaluation, frames: int, seconds: float) -> None:
        for mine, theirs in ((self.cuts, ev.cuts), (self.gradual, ev.gradual), (self.overall, ev.overall)):
            mine.tp, mine.fp, mine.fn = mine.tp + theirs.tp, mine.fp + theirs.fp, mine.fn + theirs.fn
        self.kind_correct += ev.kind_correct
        self.kind_total += ev.kind_total
        self.on_flash += ev.on_flash
        self.in_fast += ev.in_fast_motion
        self.frames += frames
        self.seconds += seconds

    def row(self, name: str, kinds: bool = True) -> list[object]:
        def prf(sc: Score) -> str:
            return f"{sc.precision:.3f} / {sc.recall:.3f} / {sc.f1:.3f}"

        kind = f"{self.kind_correct}/{self.kind_total}" if kinds and self.kind_total else "–"
        speed = f"{self.frames / self.seconds:,.0f}" if self.seconds else "–"
        return [name, prf(self.cuts), prf(self.gradual), prf(self.overall), self.on_flash, self.in_fast, kind,
                speed]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--videos", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=45.0, help="length of each video")
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads for TransNetV2")
    ap.add_argument("--device", default="cpu", help="TransNetV2 device (cpu or cuda)")
    ap.add_argument("--no-transnet", action="store_true", help="skip TransNetV2 (slow on a CPU)")
    ap.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = ap.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    names = ["ours: content", "ours: TransNetV2", "ours: both (content + TransNetV2)",
             "TransNetV2 alone, no flash suppression", "PySceneDetect ContentDetector", "PySceneDetect AdaptiveDetector"]
    tallies = {n: Tally() for n in names}
    totals = {"frames": 0, "cuts": 0, "gradual": 0, "flash_frames": 0, "fast_frames": 0}
    with tempfile.TemporaryDirectory(prefix="bench-shots-") as tmp:
        for k in range(args.videos):
            size, fps = FORMATS[k % len(FORMATS)]
            plan = synthetic.random_plan(args.seconds, float(fps), seed=101 + k)
            truth = synthetic.write(Path(tmp) / f"edit_{k}.mp4", plan, size=size, fps=fps, seed=101 + k)
            t_events = truth.transitions
            totals["frames"] += truth.frames
            totals["cuts"] += len(truth.cuts)
            totals["gradual"] += len(t_events) - len(truth.cuts)
            totals["flash_frames"] += len(truth.flashes)
            totals["fast_frames"] += sum(b - a for a, b in truth.fast_motion)

            def score(events: list, truth: synthetic.SyntheticTruth = truth) -> Evaluation:
                return evaluate(events, truth.transitions, flashes=truth.flashes, fast_motion=truth.fast_motion)

            t0 = time.perf_counter()
            content = detect_shots(truth.path, ShotSettings(detector="content"))
            tallies["ours: content"].add(score(content.shot_list.transitions), truth.frames,
                                         time.perf_counter() - t0)
            if not args.no_transnet:
                t0 = time.perf_counter()
                both = detect_shots(truth.path, ShotSettings(detector="both", device=args.device))
                spent = time.perf_counter() - t0
                tallies["ours: both (content + TransNetV2)"].add(score(both.shot_list.transitions), truth.frames,
                                                                  spent)
                tallies["ours: TransNetV2"].add(score(both.transitions_of(["transnet"])), truth.frames, spent)
                tallies["TransNetV2 alone, no flash suppression"].add(
                    score(both.detections["transnet"].transitions), truth.frames, spent)
            for kind, name in (("content", "PySceneDetect ContentDetector"),
                               ("adaptive", "PySceneDetect AdaptiveDetector")):
                t0 = time.perf_counter()
                events = pyscenedetect(truth.path, kind)
                tallies[name].add(score(events), truth.frames, time.perf_counter() - t0)
            for label, found in (("content", content.shot_list.transitions),
                                 *((("transnet", both.transitions_of(["transnet"])),
                                    ("both", both.shot_list.transitions)) if not args.no_transnet else ())):
                ev = score(found)
                print(f"  {label} missed {[(e.kind, e.frame, e.length) for e in ev.missed]}, "
                      f"false {[(e.kind, e.frame, e.length) for e in ev.false]}", flush=True)
            print(f"video {k + 1}/{args.videos}: {truth.frames} frames {size[0]}x{size[1]} at {float(fps):.3f} fps, "
                  f"{len(truth.cuts)} cuts, {len(t_events) - len(truth.cuts)} gradual, {len(truth.flashes)} flash "
                  f"frames", flush=True)

    headers = ["detector", "cuts P / R / F1", "dissolves+fades P / R / F1", "all P / R / F1",
               "false on flash", "false in fast motion", "gradual kind right", "frames/s"]
    rows = []
    for name in names:
        tally = tallies[name]
        if not tally.frames:
            continue
        # PySceneDetect and the raw network do not say what kind a transition is.
        rows.append(tally.row(name, kinds=name.startswith("ours")))
    body = table(headers, rows)
    print(body)
    command = "python benchmarks/bench_shots.py " + " ".join(sys.argv[1:])
    md = f"""## Shot detection: ours against PySceneDetect on generated edits

Command: `{command.strip()}`. {machine_description()}; torch threads {args.threads}, TransNetV2 on
{args.device}.

{args.videos} generated edits of about {args.seconds:.0f} s each ({totals['frames']:,} frames at 24, 23.976, 25,
29.97 and 50 fps; 256 to 384 px wide H.264), with {totals['cuts']} hard cuts, {totals['gradual']} dissolves and
fades (a fade through black or white counts twice, its fade-out and its fade-in), {totals['flash_frames']}
flash frames and {totals['fast_frames']:,} frames of fast pans. The seeds are held out: the detectors were
tuned on others. A cut counts when found within ±1 frame, a gradual transition when a detection
overlaps it. PySceneDetect 0.7 runs with its defaults; it reports scene starts, so each of its
detections is a cut, and one that falls inside a dissolve or fade counts as finding it. "False on
flash" and "false in fast motion" count detections that match nothing and sit on a flash frame or
inside a fast pan; "gradual kind right" counts found dissolves and fades whose kind (dissolve,
fade-out, fade-in) is right.

{body}

Reading it: the videos are generated by this project and the detectors were designed for the
transitions they contain, while PySceneDetect's defaults were not tuned for them, so the gap is
larger here than it would be on broadcast footage. What the content detector misses (listed per
video on the command's output) are cuts between two framings of the same photograph (colour and
layout barely change; TransNetV2 misses those too) and dissolves into or out of fast pans.
TransNetV2 alone misses fades, most of them through white, and cuts next to fast pans; combined with
the content detector it adds the few transitions the latter misses. TransNetV2's rows share one timing: the
content features always run beside the network (flashes and kinds come from them), so their
frames/s is that of `both`, on 2 CPU cores shared with other work (a GPU runs the network far
faster). Scores are deterministic; frames/s move between runs.
"""
    if not args.no_write:
        print(f"wrote {write_section('shots', md)}")


if __name__ == "__main__":
    main()
