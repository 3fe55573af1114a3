"""A small synthetic "dailies" set made from a screenplay: slate-named takes with spoken dialogue.

For a few dialogue scenes of a screenplay (the bundled *The Last Reel* by default, read with the
project's parser) it writes, per scene, one set-up of two or three takes. Each take is a short
H.264 + AAC MP4 (PyAV): the picture is a slowly panning crop of one of scikit-image's sample photos
(a textured "scene card"; each scene its own photo) with a slate drawn on the first frames (title,
scene and set-up, take, "CIRCLED" on the circled take); the sound is the scene's first dialogue
turns spoken by espeak-ng, one voice per character, over a faint room tone.

Some takes carry a deliberate flaw, so take selection has something to find:

- ``blurred``: the whole picture soft (Gaussian blur, as a missed focus pull);
- ``overexposed``: the picture pushed up two stops, large areas clipped to white;
- ``missing_line``: one of the set-up's lines is not spoken;
- ``clipped_audio``: the dialogue recorded too hot, hard-clipped at full scale.

``generate_dailies`` returns the truth: for every clip its scene, set-up, take, circled flag, frame
rate, frames, flaws, and where each spoken line starts and ends; for every scene the take that should
be chosen and why (the circled take when there is one, else the clean take).

Naming (what ``parse_clip_name`` reads, and what the rough cut's matcher is meant to read):

    <scene number><set-up letters> <separator> <take> [<circled mark>] .<ext>

- scene number: digits (the screenplay's scene number, ``#12#``), set-up: letters, possibly none
  (``12``, ``12A``, ``12AB``);
- separator then take: ``_T03`` / ``-T3`` / ``_t3`` (a ``T``, with ``_`` or ``-``), or a bare
  ``-3`` / ``_3``;
- circled mark: ``_C`` or ``-C`` or ``_CIRCLED`` right after the take;
- case does not matter; anything else is not a slate name (``None``).

This set uses both spellings (``1A_T01.mp4``, ``5A-2.mp4``) and ``_C`` on the circled take.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import wave
import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from reelforge.errors import InvalidInput

SAMPLE_RATE = 48000
NTSC_FILM = Fraction(24000, 1001)
FLAWS = ("blurred", "overexposed", "missing_line", "clipped_audio")

SLATE_RE = re.compile(
    r"^(?P<scene>\d+)(?P<setup>[A-Z]*)(?:[_-]T|[_-])(?P<take>\d{1,3})(?P<circled>[_-]C(?:IRCLED)?)?$",
    re.IGNORECASE,
)

# espeak-ng voices, one per character (variants give age and sex); others get one by name hash.
VOICES = {
    "MARGOT": ("en-gb+f3", 42),
    "THEO": ("en-us+m1", 62),
    "LENA": ("en-us+f2", 55),
    "GUS": ("en-gb-scotland+m7", 35),
    "DESMOND": ("en-gb-x-rp+m2", 40),
    "HENRY": ("en+m4", 38),
}
_SPARE_VOICES = (("en-us+m3", 50), ("en-gb+f4", 55), ("en-029+m5", 45), ("en-us+f5", 60))
_PHOTOS = ("coffee", "chelsea", "rocket", "astronaut", "immunohistochemistry", "hubble_deep_field")

# One set-up per scene: each take's flaws and circled flag, in take order. The truth's choice follows
# from them: the circled take first, else the one clean take. Scenes past the fourth reuse the plans.
PLANS: tuple[tuple[tuple[tuple[str, ...], bool], ...], ...] = (
    ((("blurred",), False), ((), False), ((), True)),  # circled T3 chosen over an equally clean T2
    ((("overexposed",), False), ((), False)),
    ((("missing_line",), False), ((), False), (("clipped_audio",), False)),
    (((), False), (("blurred",), False)),
)


# ------------------------------------------------------------------------------------------ names
@dataclass(frozen=True)
class SlateName:
    scene: str  # the screenplay's scene number, as written ("12")
    setup: str  # letters after it, upper case ("A"; "" when none)
    take: int
    circled: bool

    @property
    def slate(self) -> str:
        return f"{self.scene}{self.setup}"


def parse_clip_name(name: str) -> SlateName | None:
    """Scene, set-up, take and circled mark from a file name (rule in the module docstring)."""
    stem = Path(name).name
    stem = stem[: stem.rfind(".")] if "." in stem else stem
    m = SLATE_RE.match(stem.strip())
    if m is None:
        return None
    return SlateName(str(int(m["scene"])), m["setup"].upper(), int(m["take"]), bool(m["circled"]))


def clip_name(scene: str, setup: str, take: int, circled: bool, style: str) -> str:
    """``1A_T03_C.mp4`` (style "T") or ``1A-3.mp4`` (style "dash")."""
    base = f"{scene}{setup}_T{take:02d}" if style == "T" else f"{scene}{setup}-{take}"
    return base + ("_C" if circled else "") + ".mp4"


# ------------------------------------------------------------------------------------------ truth
@dataclass
class LineTruth:
    index: int  # position in Screenplay.dialogue_lines()
    character: str
    text: str
    start: float | None  # seconds in the clip; None when the take does not have the line
    end: float | None
    voice: str | None = None

    @property
    def spoken(self) -> bool:
        return self.start is not None


@dataclass
class ClipTruth:
    file: str
    scene: str
    scene_index: int
    heading: str
    setup: str
    take: int
    circled: bool
    flaws: list[str]
    fps: tuple[int, int]
    frames: int
    width: int
    height: int
    duration: float
    slate_frames: int
    lines: list[LineTruth]
    photo: str
    audio_gain_db: float
    clipped_fraction: float  # share of audio samples at full scale

    @property
    def spoken_lines(self) -> list[LineTruth]:
        return [ln for ln in self.lines if ln.spoken]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["fps"] = list(self.fps)
        d["missing_lines"] = [ln.index for ln in self.lines if not ln.spoken]
        return d


@dataclass
class SceneTruth:
    scene: str
    scene_index: int
    heading: str
    setup: str
    takes: list[str]  # file names, in take order
    best: str
    why: str
    lines: list[int]  # dialogue line indices the set-up covers

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class DailiesSet:
    folder: Path
    screenplay: str
    clips: list[ClipTruth] = field(default_factory=list)
    scenes: list[SceneTruth] = field(default_factory=list)
    seconds: float = 0.0  # wall time of the generation

    def clip(self, name: str) -> ClipTruth:
        for c in self.clips:
            if c.file == name:
                return c
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": 1,
            "screenplay": self.screenplay,
            "naming": "<scene><setup>(_T<take>|-<take>)[_C].mp4 (see reelforge.editorial.dailies)",
            "scenes": [s.to_dict() for s in self.scenes],
            "clips": [c.to_dict() for c in self.clips],
        }


# ----------------------------------------------------------------------------------------- speech
def espeak_available() -> bool:
    return shutil.which("espeak-ng") is not None


def speak(text: str, voice: str = "en-us", speed: int = 175, pitch: int = 50,
          sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """``text`` spoken by espeak-ng as mono float32 at ``sample_rate``, leading and trailing
    silence trimmed (so a line's start and end are where its sound is)."""
    from scipy.signal import resample_poly

    exe = shutil.which("espeak-ng")
    if exe is None:
        raise InvalidInput("espeak-ng is not installed (apt install espeak-ng)")
    if not text.strip():
        raise InvalidInput("nothing to speak")
    # "--" ends options: a line starting with "-" is text, not a flag.
    cmd = [exe, "-v", voice, "-s", str(int(speed)), "-p", str(int(pitch)), "--stdout", "--", text]
    try:
        out = subprocess.run(cmd, capture_output=True, check=True, timeout=60).stdout
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as err:
        raise InvalidInput(f"espeak-ng failed for voice {voice!r}: {err}") from None
    with wave.open(io.BytesIO(out)) as w:
        rate = w.getframerate()
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768.0
    loud = np.flatnonzero(np.abs(pcm) > 1e-3)
    if loud.size == 0:
        raise InvalidInput(f"espeak-ng produced no sound for {text[:40]!r}")
    pcm = pcm[loud[0]:loud[-1] + 1]
    if rate != sample_rate:
        ratio = Fraction(sample_rate, rate)
        pcm = resample_poly(pcm, ratio.numerator, ratio.denominator).astype(np.float32)
    return pcm


def voice_for(character: str) -> tuple[str, int]:
    """(espeak-ng voice, pitch) for a character: fixed for the sample's cast, else by name hash."""
    key = character.upper().strip()
    if key in VOICES:
        return VOICES[key]
    return _SPARE_VOICES[zlib.crc32(key.encode()) % len(_SPARE_VOICES)]


# ------------------------------------------------------------------------------------------ scenes
def pick_scenes(screenplay: Any, count: int = 4, lines_per_setup: int = 2) -> list[Any]:
    """The ``count`` dialogue scenes whose first ``lines_per_setup`` turns are shortest (in words),
    in script order: short clips, and every pick has at least that many turns."""
    turns: dict[int, list[Any]] = {}
    for ln in screenplay.dialogue_lines():
        turns.setdefault(ln.scene_index, []).append(ln)
    scenes = [s for s in screenplay.scenes() if len(turns.get(s.index, [])) >= lines_per_setup]
    if len(scenes) < count:
        raise InvalidInput(f"the screenplay has {len(scenes)} scenes with {lines_per_setup}+ dialogue turns; "
                           f"{count} needed")
    words = {s.index: sum(len(t.text.split()) for t in turns[s.index][:lines_per_setup]) for s in scenes}
    chosen = sorted(scenes, key=lambda s: (words[s.index], s.index))[:count]
    return sorted(chosen, key=lambda s: s.index)


# ----------------------------------------------------------------------------------------- picture
def _font(size: int) -> Any:
    from PIL import ImageFont

    try:
        return ImageFont.truetype("DejaVuSans-Bold.ttf", size)
    except OSError:
        return ImageFont.load_default(size=size)


def _photo(name: str) -> np.ndarray:
    import skimage.data

    img = getattr(skimage.data, name)()
    if img.ndim == 2:
        img = np.stack([img] * 3, axis=-1)
    return np.ascontiguousarray(img[:, :, :3])


def _slate(frame: Any, lines: list[str]) -> None:
    """Draw the slate (a dark board with white text) over the left part of a PIL frame."""
    from PIL import ImageDraw

    w, h = frame.size
    draw = ImageDraw.Draw(frame)
    size = max(9, h // 9)
    font = _font(size)
    pad = max(3, h // 30)
    box_w = int(w * 0.72)
    box_h = pad * 2 + len(lines) * (size + 3)
    top = (h - box_h) // 2
    draw.rectangle([pad, top, pad + box_w, top + box_h], fill=(18, 18, 18), outline=(235, 235, 235))
    # Clapper stripes on top of the board.
    stripe = max(4, size // 2)
    for i in range(0, box_w, stripe * 2):
        draw.rectangle([pad + i, top - stripe, pad + min(box_w, i + stripe), top], fill=(235, 235, 235))
    y = top + pad
    for text in lines:
        colour = (255, 90, 70) if text == "CIRCLED" else (245, 245, 245)
        draw.text((pad * 2, y), text, fill=colour, font=font)
        y += size + 3


def _frames(photo: np.ndarray, count: int, width: int, height: int, slate: list[str], slate_frames: int,
            flaws: tuple[str, ...], seed: int) -> list[np.ndarray]:
    """A slow diagonal pan across the photo (so frames differ) with the slate on the first frames."""
    from PIL import Image, ImageFilter

    rng = np.random.default_rng(seed)
    ph, pw = photo.shape[:2]
    # Crop windows 1.5x the frame's aspect-correct size of the photo, panning corner to corner.
    crop_h = min(ph, int(pw * height / width)) * 2 // 3
    crop_w = int(crop_h * width / height)
    x0, y0 = rng.integers(0, pw - crop_w + 1), rng.integers(0, ph - crop_h + 1)
    x1, y1 = rng.integers(0, pw - crop_w + 1), rng.integers(0, ph - crop_h + 1)
    src = Image.fromarray(photo)
    out: list[np.ndarray] = []
    for i in range(count):
        t = i / max(1, count - 1)
        x, y = x0 + (x1 - x0) * t, y0 + (y1 - y0) * t
        frame = src.resize((width, height), Image.Resampling.BILINEAR,
                           box=(float(x), float(y), float(x + crop_w), float(y + crop_h)))
        if i < slate_frames:
            _slate(frame, slate)
        if "blurred" in flaws:
            frame = frame.filter(ImageFilter.GaussianBlur(radius=max(2.0, height / 45)))
        arr = np.asarray(frame, dtype=np.float32)
        if "overexposed" in flaws:
            arr = arr * 2.3 + 40.0  # about two stops up, highlights clipped
        out.append(np.clip(arr, 0, 255).astype(np.uint8))
    return out


# ------------------------------------------------------------------------------------------ writing
def write_clip(frames: list[np.ndarray], fps: Fraction, audio: np.ndarray, sample_rate: int, dst: Path) -> int:
    """H.264 (yuv420p) + AAC (mono) MP4 with audio and video interleaved; returns the frames written."""
    import av

    from reelforge.media._io import atomic_path
    from reelforge.media.video import pick_video_encoder

    height, width = frames[0].shape[:2]
    encoder = pick_video_encoder("h264")
    with atomic_path(dst) as tmp, av.open(str(tmp), "w", format="mp4", options={"movflags": "+faststart"}) as out:
        options = {"crf": "20", "preset": "veryfast"} if encoder == "libx264" else {}
        vs = out.add_stream(encoder, rate=fps, options=options)
        vs.width, vs.height, vs.pix_fmt = width, height, "yuv420p"
        aus = out.add_stream("aac", rate=sample_rate, layout="mono")
        aus.bit_rate = 96_000
        chunk = 1024
        sent = 0
        samples = np.ascontiguousarray(audio, dtype=np.float32)[None, :]

        def audio_until(t: float) -> None:
            nonlocal sent
            while sent < samples.shape[1] and sent / sample_rate < t:
                block = np.ascontiguousarray(samples[:, sent:sent + chunk])
                frame = av.AudioFrame.from_ndarray(block, format="fltp", layout="mono")
                frame.sample_rate, frame.pts, frame.time_base = sample_rate, sent, Fraction(1, sample_rate)
                out.mux(aus.encode(frame))
                sent += block.shape[1]

        for i, arr in enumerate(frames):
            audio_until((i + 1) / fps)
            vf = av.VideoFrame.from_ndarray(arr, format="rgb24")
            vf.pts, vf.time_base = i, 1 / fps
            out.mux(vs.encode(vf))
        audio_until(float("inf"))
        out.mux(vs.encode(None))
        out.mux(aus.encode(None))
    return len(frames)


# --------------------------------------------------------------------------------------- generate
def generate_dailies(
    folder: Path | str,
    screenplay: Any = None,
    *,
    scenes: list[str] | None = None,
    count: int = 4,
    lines_per_setup: int = 2,
    height: int = 136,
    seed: int = 0,
    progress: Callable[[int, int, str], None] | None = None,
) -> DailiesSet:
    """Write the dailies into ``folder`` and return their truth.

    ``screenplay``: a ``Screenplay`` (default: the bundled sample); ``scenes``: scene numbers to
    use (default: ``pick_scenes``); ``height``: frame height in pixels (64-160; width 16:9).
    """
    import time

    from reelforge.script import load_sample

    if not 64 <= height <= 160:
        raise InvalidInput(f"height must be 64-160 px, got {height}")
    started = time.monotonic()
    sp = screenplay if screenplay is not None else load_sample()
    name = "the_last_reel.fountain" if screenplay is None else (sp.title or "screenplay")
    if scenes:
        by_number = {s.number: s for s in sp.scenes()}
        missing = [n for n in scenes if n not in by_number]
        if missing:
            raise InvalidInput(f"no scene numbered {', '.join(missing)} in the screenplay")
        chosen = [by_number[n] for n in scenes]
    else:
        chosen = pick_scenes(sp, count, lines_per_setup)
    all_lines = sp.dialogue_lines()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    height -= height % 2
    width = round(height * 16 / 9 / 8) * 8  # 16:9, a multiple of 8 (136 px high: 240 wide)
    result = DailiesSet(folder, name)
    total = sum(len(PLANS[i % len(PLANS)]) for i in range(len(chosen)))
    done = 0
    rng = np.random.default_rng(seed)
    for k, scene in enumerate(chosen):
        plan = PLANS[k % len(PLANS)]
        setup = "A"
        style = "T" if k % 2 == 0 else "dash"
        fps = NTSC_FILM  # one rate for the whole shoot, as on set: the rough cut refuses mixed rates
        lines = [(i, ln) for i, ln in enumerate(all_lines) if ln.scene_index == scene.index][:lines_per_setup]
        if len(lines) < lines_per_setup:
            raise InvalidInput(f"scene {scene.number} has fewer than {lines_per_setup} dialogue turns")
        photo_name = _PHOTOS[k % len(_PHOTOS)]
        photo = _photo(photo_name)
        files: list[str] = []
        for take_no, (flaws, circled) in enumerate(plan, start=1):
            fname = clip_name(scene.number, setup, take_no, circled, style)
            files.append(fname)
            take_rng = np.random.default_rng([seed, k, take_no])
            # Sound: head (over the slate), the lines with pauses, a tail; room tone underneath.
            speed = int(175 + take_rng.integers(-8, 9))
            gain_db = float(take_rng.uniform(-2.0, 2.0))
            head = 0.7 + float(take_rng.uniform(0, 0.3))
            pieces: list[np.ndarray] = [np.zeros(int(head * SAMPLE_RATE), np.float32)]
            t = len(pieces[0]) / SAMPLE_RATE
            truth_lines: list[LineTruth] = []
            skip = lines[-1][0] if "missing_line" in flaws else None
            for j, (idx, ln) in enumerate(lines):
                voice, pitch = voice_for(ln.character)
                if idx == skip:
                    truth_lines.append(LineTruth(idx, ln.character, ln.text, None, None, voice))
                    continue
                if j and pieces:
                    gap = np.zeros(int((0.45 + float(take_rng.uniform(0, 0.3))) * SAMPLE_RATE), np.float32)
                    pieces.append(gap)
                    t += len(gap) / SAMPLE_RATE
                speech = speak(ln.text, voice, speed, pitch + int(take_rng.integers(-3, 4)))
                # Dialogue at about -22 dBFS RMS, its peaks held 3 dB under full scale.
                level = 10 ** ((-22.0 + gain_db) / 20) / max(1e-6, float(np.sqrt(np.mean(speech**2))))
                speech *= min(level, 10 ** (-3 / 20) / max(1e-6, float(np.abs(speech).max())))
                truth_lines.append(LineTruth(idx, ln.character, ln.text, round(t, 4),
                                             round(t + len(speech) / SAMPLE_RATE, 4), voice))
                pieces.append(speech.astype(np.float32))
                t += len(speech) / SAMPLE_RATE
            pieces.append(np.zeros(int(0.6 * SAMPLE_RATE), np.float32))
            audio = np.concatenate(pieces)
            audio += (rng.standard_normal(audio.size) * 10 ** (-62 / 20)).astype(np.float32)
            if "clipped_audio" in flaws:
                audio = np.clip(audio * 10 ** (16 / 20), -1.0, 1.0)
            clipped = float(np.mean(np.abs(audio) >= 0.999))
            frames_n = int(np.ceil(len(audio) / SAMPLE_RATE * fps))
            audio = np.pad(audio, (0, max(0, int(frames_n / fps * SAMPLE_RATE) - len(audio))))
            slate = ["THE LAST REEL" if screenplay is None else (sp.title or "DAILIES")[:24].upper(),
                     f"SC {scene.number}{setup}  TK {take_no}", f"{float(fps):.3f} FPS"]
            if circled:
                slate.append("CIRCLED")
            slate_frames = round(float(fps) * 0.5)
            frames = _frames(photo, frames_n, width, height, slate, slate_frames, flaws,
                             seed=zlib.crc32(f"{seed}:{fname}".encode()))
            write_clip(frames, fps, audio, SAMPLE_RATE, folder / fname)
            result.clips.append(ClipTruth(
                file=fname, scene=scene.number, scene_index=scene.index, heading=scene.heading_text,
                setup=setup, take=take_no, circled=circled, flaws=list(flaws),
                fps=(fps.numerator, fps.denominator), frames=frames_n, width=width, height=height,
                duration=round(float(frames_n / fps), 4), slate_frames=slate_frames, lines=truth_lines,
                photo=photo_name, audio_gain_db=round(gain_db, 2), clipped_fraction=round(clipped, 5),
            ))
            done += 1
            if progress is not None:
                progress(done, total, fname)
        best, why = _choose(plan, files)
        result.scenes.append(SceneTruth(scene.number, scene.index, scene.heading_text, f"{scene.number}{setup}",
                                        files, best, why, [i for i, _ in lines]))
    result.seconds = round(time.monotonic() - started, 2)
    return result


def _choose(plan: tuple[tuple[tuple[str, ...], bool], ...], files: list[str]) -> tuple[str, str]:
    """The take the truth says to use, and why."""
    for (_, circled), f in zip(plan, files, strict=True):
        if circled:
            others = [g for (fl, _), g in zip(plan, files, strict=True) if g != f and not fl]
            extra = f" (over the equally clean {', '.join(others)})" if others else ""
            return f, "circled on set" + extra
    clean = [f for (flaws, _), f in zip(plan, files, strict=True) if not flaws]
    faults = [f"{f}: {', '.join(fl).replace('_', ' ')}" for (fl, _), f in zip(plan, files, strict=True) if fl]
    return clean[0], "the only clean take; " + "; ".join(faults)
