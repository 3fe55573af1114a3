"""Synthetic edited videos with known ground truth: cuts, dissolves, fades, flashes, fast motion.

Shots are camera moves over scikit-image's bundled photographs (textured, coloured, nothing to
download): a crop window pans, zooms or whips across the picture, with film grain, so that every
frame differs from the last as real footage does. Joins between shots are hard cuts, dissolves,
and fades through black or white; camera flashes (one or two near-white frames) and fast pans with
motion blur are the traps a detector must not report as cuts. The truth says where each of them is,
frame by frame, in the shot-list contract's terms (``kind``, ``frame``, ``length``).

Conventions (shared by the detectors and the scorer): a cut's ``frame`` is the first frame of the
new shot; a gradual transition's ``frame`` is its first mixed frame and ``length`` its mixed frames;
a fade-out ends where the hold (black or white) begins and the fade-in starts after it.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

import numpy as np
from PIL import Image

from reelforge.errors import InvalidInput

# scikit-image pictures that ship with the package (no pooch download).
IMAGES = ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field", "immunohistochemistry", "retina",
          "camera", "coins", "brick", "gravel", "moon", "clock", "colorwheel")
GRAY_TINTS = {"camera": (1.0, 0.9, 0.75), "coins": (0.8, 0.9, 1.1), "brick": (1.1, 0.85, 0.7),
              "gravel": (0.85, 1.0, 0.85), "moon": (0.9, 0.95, 1.1), "clock": (1.05, 1.0, 0.8)}

Motion = Literal["pan", "zoom", "fast", "still", "handheld"]
JoinKind = Literal["cut", "dissolve", "fade", "fade_white"]


@dataclass(frozen=True)
class ShotSpec:
    """One shot: a camera move over a picture for ``frames`` frames of its own (joins add more)."""

    image: str
    frames: int
    motion: Motion = "pan"
    region: int = 0  # another part of the same picture: a second angle of the same place
    flashes: tuple[tuple[int, int], ...] = ()  # (frame within the shot, length 1 or 2)


@dataclass(frozen=True)
class JoinSpec:
    """How one shot gives way to the next: ``length`` mixed frames, ``hold`` frames of black/white."""

    kind: JoinKind = "cut"
    length: int = 0
    hold: int = 0


@dataclass
class TruthTransition:
    kind: str  # cut | dissolve | fade_out | fade_in
    frame: int
    length: int

    @property
    def end(self) -> int:
        return self.frame + max(self.length, 1)


@dataclass
class SyntheticTruth:
    """Where everything is, in frames of the written file."""

    path: str
    fps: Fraction
    frames: int
    width: int
    height: int
    transitions: list[TruthTransition]
    shot_starts: list[int]  # first frame of each shot (boundaries in the shot-list convention)
    flashes: list[int]  # every flash frame
    fast_motion: list[tuple[int, int]]  # [start, end) of fast pans
    plan: list[dict[str, Any]] = field(default_factory=list)

    @property
    def cuts(self) -> list[int]:
        return [t.frame for t in self.transitions if t.kind == "cut"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path, "fps": float(self.fps), "fps_rational": [self.fps.numerator, self.fps.denominator],
            "frames": self.frames, "width": self.width, "height": self.height,
            "transitions": [asdict(t) for t in self.transitions], "shot_starts": self.shot_starts,
            "flashes": self.flashes, "fast_motion": [list(s) for s in self.fast_motion], "plan": self.plan,
        }


@functools.lru_cache(maxsize=32)
def _picture(name: str) -> np.ndarray:
    from skimage import data

    if name not in IMAGES:
        raise InvalidInput(f"unknown picture {name!r}; choose from {', '.join(IMAGES)}")
    arr = np.asarray(getattr(data, name)())
    if arr.dtype == bool:
        arr = arr.astype(np.uint8) * 255
    if arr.ndim == 2:
        tint = np.asarray(GRAY_TINTS.get(name, (1.0, 1.0, 1.0)), np.float32)
        arr = np.clip(arr[:, :, None].astype(np.float32) * tint, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(arr[:, :, :3])


class _Camera:
    """A crop window moving over a picture; ``frame(k)`` renders local frame k (any k >= 0)."""

    def __init__(self, spec: ShotSpec, size: tuple[int, int], rng: np.random.Generator) -> None:
        self.picture = Image.fromarray(_picture(spec.image))
        self.size = size
        self.spec = spec
        pw, ph = self.picture.size
        aspect = size[0] / size[1]
        ch = min(ph * 0.55, pw * 0.75 / aspect)
        self.cw, self.ch = ch * aspect, ch
        # Start in one of four corners-ish regions; region picks a different one (another angle).
        corners = [(0.1, 0.1), (0.9, 0.9), (0.9, 0.1), (0.1, 0.9)]
        fx, fy = corners[(spec.region + int(rng.integers(0, 4)) * (spec.region == 0)) % 4]
        self.x0 = fx * (pw - self.cw)
        self.y0 = fy * (ph - ch)
        # Speeds as a fraction of the crop width per frame.
        speed = {"pan": 0.006, "zoom": 0.002, "fast": 0.07, "still": 0.0, "handheld": 0.002}[spec.motion]
        angle = rng.uniform(0, 2 * np.pi)
        self.vx, self.vy = speed * self.cw * np.cos(angle), speed * self.cw * np.sin(angle) * 0.6
        self.zoom = 0.004 if spec.motion == "zoom" else 0.0
        self.jitter = rng.normal(0, 0.01 * self.cw, (4096, 2)) if spec.motion == "handheld" else None
        self.blur = 5 if spec.motion == "fast" else 1

    @staticmethod
    def _bounce(value: float, limit: float) -> float:
        """Ping-pong inside [0, limit] so a long pan never leaves the picture."""
        if limit <= 0:
            return 0.0
        period = 2 * limit
        v = value % period
        return v if v <= limit else period - v

    def _box(self, t: float) -> tuple[float, float, float, float]:
        pw, ph = self.picture.size
        scale = 1.0 / (1.0 + self.zoom * t)
        cw, ch = self.cw * scale, self.ch * scale
        x = self._bounce(self.x0 + self.vx * t + (self.cw - cw) / 2, pw - cw)
        y = self._bounce(self.y0 + self.vy * t + (self.ch - ch) / 2, ph - ch)
        if self.jitter is not None:
            jx, jy = self.jitter[int(t) % len(self.jitter)]
            x = min(max(x + jx, 0.0), pw - cw)
            y = min(max(y + jy, 0.0), ph - ch)
        return (x, y, x + cw, y + ch)

    def frame(self, k: int) -> np.ndarray:
        if self.blur == 1:
            img = self.picture.resize(self.size, Image.Resampling.BILINEAR, box=self._box(k))
            return np.asarray(img, np.float32)
        # Motion blur: the shutter is open across the frame interval.
        acc = np.zeros((self.size[1], self.size[0], 3), np.float32)
        for j in range(self.blur):
            t = k + (j / self.blur) - 0.5
            acc += np.asarray(self.picture.resize(self.size, Image.Resampling.BILINEAR, box=self._box(t)), np.float32)
        return acc / self.blur


def _flash(frame: np.ndarray) -> np.ndarray:
    """A camera flash: the frame lifted towards white, a trace of its texture left."""
    return 255.0 - (255.0 - frame) * 0.22


def render(
    plan: Sequence[ShotSpec | JoinSpec], size: tuple[int, int] = (128, 72), seed: int = 0
) -> tuple[Iterator[np.ndarray], SyntheticTruth]:
    """Frames (RGB uint8) of a plan ``[shot, join, shot, join, shot, ...]`` and its truth.

    The truth is complete before the first frame is made (``path`` empty, ``fps`` 0 until written).
    """
    shots = [p for p in plan if isinstance(p, ShotSpec)]
    joins = [p for p in plan if isinstance(p, JoinSpec)]
    if not shots or len(joins) != len(shots) - 1:
        raise InvalidInput("a plan alternates shots and joins, starting and ending with a shot")
    for i, item in enumerate(plan):
        if isinstance(item, ShotSpec) != (i % 2 == 0):
            raise InvalidInput("a plan alternates shots and joins, starting and ending with a shot")
    if size[0] < 16 or size[1] < 16:
        raise InvalidInput(f"frame size {size} is too small")
    rng = np.random.default_rng(seed)
    cameras = [_Camera(s, size, rng) for s in shots]

    # The timeline: per output frame, a recipe of (shot, local frame, gain) layers.
    Recipe = tuple[list[tuple[int, int, float]], float, str]  # layers, hold level, effect
    recipes: list[Recipe] = []
    transitions: list[TruthTransition] = []
    flashes: list[int] = []
    fast: list[tuple[int, int]] = []
    starts: list[int] = [0]
    local = [0] * len(shots)  # next local frame of each shot

    def emit(i: int, n: int, gain: float = 1.0) -> None:
        for _ in range(n):
            recipes.append(([(i, local[i], gain)], 0.0, ""))
            local[i] += 1

    for i, shot in enumerate(shots):
        if shot.frames < 1:
            raise InvalidInput("every shot needs at least one frame of its own")
        begin = len(recipes)
        flash_at = {off + j for off, n in shot.flashes for j in range(n) if 0 <= off + j < shot.frames}
        for k in range(shot.frames):
            recipes.append(([(i, local[i], 1.0)], 0.0, "flash" if k in flash_at else ""))
            local[i] += 1
        flashes.extend(begin + k for k in sorted(flash_at))
        if shot.motion == "fast":
            fast.append((begin, len(recipes)))
        if i == len(joins):
            break
        join = joins[i]
        here = len(recipes)
        if join.kind == "cut":
            transitions.append(TruthTransition("cut", here, 0))
        elif join.kind == "dissolve":
            n = max(2, join.length)
            for k in range(n):
                a = (k + 1) / (n + 1)
                recipes.append(([(i, local[i], 1 - a), (i + 1, local[i + 1], a)], 0.0, ""))
                local[i] += 1
                local[i + 1] += 1
            transitions.append(TruthTransition("dissolve", here, n))
            starts.append(here + n // 2)
            continue
        else:
            n = max(2, join.length)
            level = 255.0 if join.kind == "fade_white" else 0.0
            for k in range(n):
                recipes.append(([(i, local[i], 1 - (k + 1) / (n + 1))], level, ""))
                local[i] += 1
            transitions.append(TruthTransition("fade_out", here, n))
            for _ in range(join.hold):
                recipes.append(([], level, ""))
            fade_in = len(recipes)
            for k in range(n):
                recipes.append(([(i + 1, local[i + 1], (k + 1) / (n + 1))], level, ""))
                local[i + 1] += 1
            transitions.append(TruthTransition("fade_in", fade_in, n))
            starts.append(fade_in)
            continue
        starts.append(len(recipes))

    truth = SyntheticTruth(
        path="", fps=Fraction(0), frames=len(recipes), width=size[0], height=size[1],
        transitions=transitions, shot_starts=starts, flashes=flashes, fast_motion=fast,
        plan=[{"type": "shot" if isinstance(p, ShotSpec) else "join", **asdict(p)} for p in plan],
    )

    def frames() -> Iterator[np.ndarray]:
        grain = np.random.default_rng(seed + 1)
        for layers, level, effect in recipes:
            out = np.zeros((size[1], size[0], 3), np.float32)
            total = 0.0
            for shot_index, k, gain in layers:
                out += cameras[shot_index].frame(k) * gain
                total += gain
            if level and total < 1.0:
                out += level * (1.0 - total)
            if effect == "flash":
                out = _flash(out)
            out += grain.normal(0.0, 1.5, out.shape).astype(np.float32)
            yield np.clip(np.rint(out), 0, 255).astype(np.uint8)

    return frames(), truth


def write(
    dst: Path | str,
    plan: Sequence[ShotSpec | JoinSpec] | None = None,
    size: tuple[int, int] = (128, 72),
    fps: Fraction | float = Fraction(24),
    seed: int = 0,
    crf: int = 18,
) -> SyntheticTruth:
    """Render ``plan`` (default: :func:`default_plan`) to an H.264 MP4 at ``dst``; returns the truth."""
    from reelforge.media.video import write_video

    frames, truth = render(plan if plan is not None else default_plan(), size, seed)
    rate = Fraction(fps).limit_denominator(1001) if isinstance(fps, float) else Fraction(fps)
    write_video(frames, dst, fps=float(rate), crf=crf)
    truth.path, truth.fps = str(dst), rate
    return truth


def default_plan() -> list[ShotSpec | JoinSpec]:
    """Eight shots, ~11 s at 24 fps: every kind of join, two flashes, a fast pan, a cut between two
    angles of the same place, a dark shot."""
    return [
        ShotSpec("hubble_deep_field", 30, "handheld"),
        JoinSpec("cut"),
        ShotSpec("coffee", 28, "pan", flashes=((12, 2),)),
        JoinSpec("dissolve", 12),
        ShotSpec("rocket", 30, "fast"),
        JoinSpec("cut"),
        ShotSpec("chelsea", 26, "zoom", flashes=((9, 1),)),
        JoinSpec("fade", 10, hold=4),
        ShotSpec("astronaut", 30, "handheld", region=1),
        JoinSpec("cut"),
        ShotSpec("astronaut", 24, "pan", region=2),
        JoinSpec("dissolve", 8),
        ShotSpec("immunohistochemistry", 26, "pan"),
        JoinSpec("fade_white", 8, hold=2),
        ShotSpec("coins", 24, "pan"),
    ]


def random_plan(seconds: float, fps: float = 24.0, seed: int = 0) -> list[ShotSpec | JoinSpec]:
    """A plausible edit of about ``seconds``: mostly cuts, some dissolves and fades, flashes in about
    one shot in five, fast pans in one in six, now and then a cut to another angle of the same place."""
    rng = np.random.default_rng(seed)
    target = int(seconds * fps)
    plan: list[ShotSpec | JoinSpec] = []
    total = 0
    previous = ""
    while True:
        frames = int(rng.integers(int(0.8 * fps), int(4.0 * fps)))
        same_place = previous and rng.random() < 0.12
        image = previous if same_place else str(rng.choice([n for n in IMAGES if n != previous]))
        motion = str(rng.choice(["pan", "pan", "zoom", "handheld", "still", "fast"],
                                p=[0.3, 0.15, 0.15, 0.15, 0.08, 0.17]))
        flashes: tuple[tuple[int, int], ...] = ()
        if rng.random() < 0.2 and frames > 10:
            flashes = ((int(rng.integers(3, frames - 4)), int(rng.integers(1, 3))),)
        plan.append(ShotSpec(image, frames, motion, region=int(rng.integers(1, 4)) if same_place else 0,
                             flashes=flashes))  # type: ignore[arg-type]
        total += frames
        previous = image
        if total >= target:
            return plan
        roll = rng.random()
        if roll < 0.68:
            join = JoinSpec("cut")
        elif roll < 0.86:
            join = JoinSpec("dissolve", int(rng.integers(6, 25)))
        elif roll < 0.96:
            join = JoinSpec("fade", int(rng.integers(6, 20)), hold=int(rng.integers(0, 12)))
        else:
            join = JoinSpec("fade_white", int(rng.integers(6, 16)), hold=int(rng.integers(0, 6)))
        total += join.length * (2 if join.kind.startswith("fade") else 1) + join.hold
        plan.append(join)


def write_at_times(frames: Sequence[np.ndarray], times: Sequence[float], dst: Path | str) -> int:
    """H.264 MP4 whose frames are shown at ``times`` (seconds): a variable-frame-rate file."""
    import av

    from reelforge.media._io import atomic_path

    if len(frames) != len(times) or not frames:
        raise InvalidInput("one time per frame, and at least one frame")
    if any(b <= a for a, b in itertools.pairwise(times)):
        raise InvalidInput("frame times must increase")
    tb = Fraction(1, 90000)
    h, w = frames[0].shape[:2]
    with atomic_path(Path(dst)) as tmp, av.open(str(tmp), "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=30, options={"crf": "18", "preset": "veryfast"})
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.codec_context.time_base = tb
        for arr, t in zip(frames, times, strict=True):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(arr), format="rgb24")
            frame.pts, frame.time_base = round(t / tb), tb
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return len(frames)
