"""OpenTimelineIO timelines from shot lists or clips, exported through OTIO's adapters.

One small plain-data description (``ClipSpec`` / ``TrackSpec``) becomes an ``otio.schema.Timeline``;
the files editors import come from OTIO's own adapters: ``.otio`` (otio_json), CMX 3600 EDL
(``cmx_3600``), FCP 7 XML (``fcp_xml``, what Premiere and Resolve read) and FCPXML
(``fcpx_xml``). Where an adapter falls short of what an edit suite needs, a few documented
touches are made around it (``to_edl``: an FCM line, non-drop labels at 29.97 when asked, the
record start and "B" channels for clips with sound; ``to_fcpxml``: NTSC frame durations).

Rates are exact rationals (``Fraction(24000, 1001)``); OTIO stores them as floats, which its
timecode code recognises as the NTSC rates. 29.97 and 59.94 default to drop-frame timecode.
"""

from __future__ import annotations

import copy
import math
import re
import urllib.parse
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import opentimelineio as otio

from reelforge.errors import InvalidInput

RT = otio.opentime.RationalTime
TR = otio.opentime.TimeRange

#: Timeline file formats by suffix → OTIO adapter name.
FORMATS = {".otio": "otio_json", ".edl": "cmx_3600", ".xml": "fcp_xml", ".fcpxml": "fcpx_xml"}
_NTSC = {24: Fraction(24000, 1001), 30: Fraction(30000, 1001), 48: Fraction(48000, 1001),
         60: Fraction(60000, 1001), 120: Fraction(120000, 1001)}
_DROP_FRAME_RATES = (Fraction(30000, 1001), Fraction(60000, 1001))
_TC = re.compile(r"^(\d{2}):(\d{2}):(\d{2})([:;.,])(\d{2,3})$")
REEL_LEN = 8  # CMX 3600 reel field


class TimelineError(InvalidInput, ValueError):
    """A timeline that cannot be built or written (bad rate, timecode, range)."""


# -- rates and timecode ----------------------------------------------------------------------------
def parse_rate(value: Fraction | float | int | str | Sequence[int]) -> Fraction:
    """An exact frame rate from ``24000/1001``, ``[24000, 1001]``, ``23.976``, ``25``...

    Floats within 0.01 of an NTSC rate snap to it (23.976 → 24000/1001), since a float cannot
    carry the rational and every NTSC file means exactly n·1000/1001.
    """
    try:
        if isinstance(value, Fraction):
            rate = value
        elif isinstance(value, str):
            text = value.strip()
            rate = Fraction(text) if "/" in text else _snap(float(text))
        elif isinstance(value, (list, tuple)):
            num, den = value
            rate = Fraction(int(num), int(den))
        elif isinstance(value, bool):
            raise TypeError("bool")
        elif isinstance(value, int):
            rate = Fraction(value)
        else:
            rate = _snap(float(value))
    except (TypeError, ValueError, ZeroDivisionError) as exc:
        raise TimelineError(f"bad frame rate {value!r}: {exc}") from None
    if not 1 <= rate <= 1000:
        raise TimelineError(f"frame rate {value!r} is out of range (1 to 1000 fps)")
    return rate


def _snap(x: float) -> Fraction:
    if not math.isfinite(x):
        raise ValueError("not a finite number")
    for nominal, ntsc in _NTSC.items():
        if abs(x - float(ntsc)) < 0.01 and abs(x - nominal) > 0.01:
            return ntsc
    return Fraction(x).limit_denominator(1001)


def default_drop_frame(rate: Fraction) -> bool:
    """29.97 and 59.94 are shot and delivered with drop-frame timecode unless said otherwise."""
    return rate in _DROP_FRAME_RATES


def nominal_fps(rate: Fraction) -> int:
    """Frames a timecode second counts (30 for 29.97)."""
    return round(rate)


def tc_to_frames(tc: str, rate: Fraction, drop_frame: bool | None = None) -> int:
    """Frame number of ``HH:MM:SS:FF`` (``;`` before FF, or ``drop_frame``, means drop-frame)."""
    m = _TC.match(tc.strip()) if isinstance(tc, str) else None
    if not m:
        raise TimelineError(f"bad timecode {tc!r}: expected HH:MM:SS:FF")
    hh, mm, ss, sep, ff = int(m[1]), int(m[2]), int(m[3]), m[4], int(m[5])
    fps = nominal_fps(rate)
    if mm > 59 or ss > 59 or ff >= fps:
        raise TimelineError(f"bad timecode {tc!r} at {float(rate):.3f} fps")
    df = (sep in ";,") if drop_frame is None else drop_frame
    if df and rate not in _DROP_FRAME_RATES:
        raise TimelineError(f"drop-frame timecode {tc!r} needs 29.97 or 59.94 fps, not {float(rate):.3f}")
    if not df:
        return (hh * 3600 + mm * 60 + ss) * fps + ff
    drop = 2 * fps // 30  # 2 frame numbers a minute at 29.97, 4 at 59.94
    if ss == 0 and ff < drop and mm % 10:
        raise TimelineError(f"timecode {tc!r} does not exist in drop-frame (frames {ff} are skipped)")
    minutes = hh * 60 + mm
    return (hh * 3600 + mm * 60 + ss) * fps + ff - drop * (minutes - minutes // 10)


def frames_to_tc(frames: int, rate: Fraction, drop_frame: bool | None = None) -> str:
    """``HH:MM:SS:FF`` (``;`` before FF in drop-frame) of a frame number; wraps at 24 hours."""
    df = default_drop_frame(rate) if drop_frame is None else drop_frame
    if df and rate not in _DROP_FRAME_RATES:
        raise TimelineError(f"drop-frame timecode needs 29.97 or 59.94 fps, not {float(rate):.3f}")
    fps = nominal_fps(rate)
    n = int(frames)
    if df:
        drop = 2 * fps // 30
        per_10min = fps * 600 - drop * 9
        per_min = fps * 60 - drop
        n %= per_10min * 144  # 24 hours
        tens, rest = divmod(n, per_10min)
        # The first minute of ten keeps every label; the others skip ``drop`` at their start.
        n += drop * 9 * tens + (drop * ((rest - drop) // per_min) if rest > drop else 0)
    else:
        n %= fps * 86400
    ff = n % fps
    s_total = n // fps
    sep = ";" if df else ":"
    return f"{s_total // 3600:02d}:{s_total // 60 % 60:02d}:{s_total % 60:02d}{sep}{ff:02d}"


def _start_frames(tc: str | None, rate: Fraction, drop_frame: bool) -> int:
    """A start timecode's frame number: ``;`` always means drop-frame; with ``:`` the clip's or
    timeline's ``drop_frame`` decides (metadata often writes drop-frame with colons)."""
    if not tc:
        return 0
    return tc_to_frames(tc, rate, True if re.search("[;,]", tc) else drop_frame)


# -- names -----------------------------------------------------------------------------------------
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def clean_name(name: str) -> str:
    """A clip name safe on one EDL comment line: no control characters, trimmed."""
    return " ".join(_CONTROL.sub(" ", str(name)).split())[:200] or "clip"


def reel_name(text: str) -> str:
    """A CMX 3600 reel name: at most 8 characters of A-Z, 0-9 and underscore.

    ``A001_C003.mov`` → ``A001_C00``; anything else becomes ``_`` runs; empty becomes ``AX``
    (the EDL name for an unnamed source).
    """
    stem = re.sub(r"\.[A-Za-z0-9]{1,5}$", "", Path(str(text)).name)
    reel = re.sub(r"[^A-Z0-9_]+", "_", stem.upper()).strip("_")
    return reel[:REEL_LEN].rstrip("_") or "AX"


def assign_reels(wanted: Iterable[tuple[str, str | None]]) -> dict[str, str]:
    """Reel name per media key from ``(media, requested reel or None)``: sanitised, and unique.

    Two sources truncated to the same eight characters would conform to the same tape, so a
    later one gets a numbered tail (``SCENE12A`` → ``SCENE1_2``).
    """
    out: dict[str, str] = {}
    used: set[str] = set()
    for media, reel in wanted:
        if media in out:
            continue
        base = reel_name(reel or media)
        name, n = base, 1
        while name in used:
            n += 1
            tail = f"_{n}"
            name = base[: REEL_LEN - len(tail)] + tail
        used.add(name)
        out[media] = name
    return out


# -- the plain description of a timeline -----------------------------------------------------------
@dataclass
class Marker:
    """A named point (or span) on a clip: ``frame`` counts from the clip's first frame in the cut."""

    name: str
    frame: int = 0
    duration: int = 0
    color: str = "RED"
    note: str = ""


@dataclass
class ClipSpec:
    """One source clip placed on a track.

    ``media`` is the target URL (a file name or path); ``media_frames`` its length in frames,
    ``start_tc`` the timecode of its first frame; ``source_in``/``source_out`` (exclusive) the
    frames used, counted from the media's first frame.
    """

    name: str
    media: str
    rate: Fraction
    media_frames: int
    source_in: int = 0
    source_out: int | None = None
    start_tc: str | None = None
    drop_frame: bool | None = None
    reel: str | None = None
    has_audio: bool = False
    markers: list[Marker] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def out(self) -> int:
        return self.media_frames if self.source_out is None else self.source_out

    @property
    def frames(self) -> int:
        return self.out - self.source_in


@dataclass
class TrackSpec:
    """A video track: clips and gaps (an ``int`` is a gap of that many frames), end to end."""

    name: str
    items: list[ClipSpec | int] = field(default_factory=list)

    @property
    def clips(self) -> list[ClipSpec]:
        return [c for c in self.items if isinstance(c, ClipSpec)]


@dataclass
class ClipSource:
    """What a media file says about itself: exact rate, length, start timecode, reel, sound."""

    rate: Fraction
    frames: int
    start_tc: str | None = None
    drop_frame: bool | None = None
    reel: str | None = None
    has_audio: bool = False
    sample_rate: int | None = None
    width: int | None = None
    height: int | None = None


def probe_clip(path: Path | str, limits: Any = None) -> ClipSource:
    """Read a video file's exact rate, frame count, start timecode (``timecode`` tag or a
    QuickTime ``tmcd`` track) and reel name (``reel_name``) from its headers; nothing is decoded."""
    from reelforge.media._av import audio_stream, check_video_header, open_input, video_stream
    from reelforge.media.limits import MediaLimits
    from reelforge.media.sniff import sniff

    path = Path(path)
    limits = limits or MediaLimits()
    sniffed = sniff(path, limits)
    if sniffed.kind != "video":
        raise TimelineError(f"{path.name}: not a video (content is {sniffed.format} {sniffed.kind})")
    with open_input(path) as container:
        stream = video_stream(container)
        if stream is None:
            raise TimelineError(f"{path.name}: no video stream")
        width, height, duration = check_video_header(stream, container, path.name, limits)
        raw = stream.average_rate or stream.guessed_rate or stream.base_rate
        if not raw:
            raise TimelineError(f"{path.name}: the video stream declares no frame rate")
        nominal = stream.base_rate
        if nominal and stream.average_rate and abs(float(nominal) / float(stream.average_rate) - 1) > 0.02:
            # Frames at uneven intervals have no frame numbers an EDL could count.
            raise TimelineError(f"{path.name}: variable frame rate ({float(stream.average_rate):.3f} fps on average, "
                                f"{float(nominal):.3f} nominal); conform it to a constant rate first")
        rate = parse_rate(Fraction(raw)) if Fraction(raw).denominator in (1, 1001) else parse_rate(float(raw))
        frames = int(stream.frames or 0)
        if frames <= 0 and duration:
            frames = round(duration * rate)
        tags: dict[str, str] = {**dict(container.metadata), **dict(stream.metadata)}
        for s in container.streams:
            if s.type == "data":
                tags = {**dict(s.metadata), **tags}
        tc = tags.get("timecode")
        astream = audio_stream(container, decodable=True)
        source = ClipSource(
            rate=rate, frames=frames, has_audio=astream is not None,
            sample_rate=astream.codec_context.sample_rate if astream is not None else None,
            reel=tags.get("reel_name") or tags.get("reel") or None, width=width, height=height,
        )
    if tc:
        try:
            tc_to_frames(tc, rate)
            source.start_tc, source.drop_frame = tc.strip(), ";" in tc or "," in tc
        except TimelineError:
            pass  # a tag we cannot read is left out rather than guessed
    if source.frames <= 0:
        raise TimelineError(f"{path.name}: the video has no frames")
    return source


# -- building --------------------------------------------------------------------------------------
def build_timeline(
    name: str,
    tracks: Sequence[TrackSpec],
    *,
    rate: Fraction | None = None,
    start_tc: str = "01:00:00:00",
    drop_frame: bool | None = None,
    audio: bool = True,
    metadata: dict[str, Any] | None = None,
) -> otio.schema.Timeline:
    """An OTIO timeline: one video track per ``TrackSpec`` and, with ``audio``, an ``A1`` track
    carrying the sound of the first track's clips that have any.

    Every clip must share the timeline's rate (an EDL has one rate; mixed-rate conforms are
    refused rather than silently retimed).
    """
    clips = [c for t in tracks for c in t.clips]
    if not clips:
        raise TimelineError("nothing to put on a timeline: no clips")
    rate = parse_rate(rate) if rate is not None else clips[0].rate
    df = default_drop_frame(rate) if drop_frame is None else drop_frame
    if df and rate not in _DROP_FRAME_RATES:
        raise TimelineError(f"drop-frame timecode needs 29.97 or 59.94 fps, not {float(rate):.3f}")
    fr = float(rate)
    reels = assign_reels((c.media, c.reel) for c in clips)
    tl = otio.schema.Timeline(name=clean_name(name))
    tl.global_start_time = RT(_start_frames(start_tc, rate, df), fr)
    tl.metadata["reelforge"] = {**(metadata or {}), "rate": [rate.numerator, rate.denominator],
                                "drop_frame": df, "start_tc": frames_to_tc(int(tl.global_start_time.value), rate, df)}
    a1 = otio.schema.Track(name="A1", kind=otio.schema.TrackKind.Audio)
    for ti, spec in enumerate(tracks):
        track = otio.schema.Track(name=spec.name or f"V{ti + 1}", kind=otio.schema.TrackKind.Video)
        for item in spec.items:
            if isinstance(item, int):
                if item < 0:
                    raise TimelineError(f"negative gap of {item} frames on {spec.name}")
                if item:
                    track.append(otio.schema.Gap(source_range=TR(RT(0, fr), RT(item, fr))))
                    if ti == 0:
                        a1.append(otio.schema.Gap(source_range=TR(RT(0, fr), RT(item, fr))))
                continue
            clip = _otio_clip(item, rate, df, reels[item.media])
            track.append(clip)
            if ti == 0:
                if item.has_audio:
                    sound = clip.clone()
                    sound.markers.clear()  # markers live on the picture
                    a1.append(sound)
                else:
                    a1.append(otio.schema.Gap(source_range=TR(RT(0, fr), RT(item.frames, fr))))
        tl.tracks.append(track)
    if audio and any(isinstance(i, otio.schema.Clip) for i in a1):
        tl.tracks.append(a1)
    return tl


def _otio_clip(c: ClipSpec, rate: Fraction, df: bool, reel: str) -> otio.schema.Clip:
    if c.rate != rate:
        raise TimelineError(f"{c.name}: {float(c.rate):.3f} fps on a {float(rate):.3f} fps timeline; "
                            "mixed frame rates are not conformed")
    if c.media_frames <= 0:
        raise TimelineError(f"{c.name}: the media has no frames")
    if not 0 <= c.source_in < c.out <= c.media_frames:
        raise TimelineError(f"{c.name}: range {c.source_in}-{c.out} is outside its {c.media_frames} frames")
    fr = float(rate)
    cdf = df if c.drop_frame is None else c.drop_frame
    if c.start_tc and re.search("[;,]", c.start_tc):
        cdf = True
    if cdf and rate not in _DROP_FRAME_RATES:
        cdf = False
    start = _start_frames(c.start_tc, rate, cdf)
    ref = otio.schema.ExternalReference(target_url=c.media, available_range=TR(RT(start, fr), RT(c.media_frames, fr)))
    ref.metadata["fcp_xml"] = {"timecode": {"displayformat": "DF" if cdf else "NDF", "reel": {"name": reel}}}
    clip = otio.schema.Clip(name=clean_name(c.name), media_reference=ref,
                            source_range=TR(RT(start + c.source_in, fr), RT(c.frames, fr)))
    clip.metadata["cmx_3600"] = {"reel": reel}
    clip.metadata["reelforge"] = {**c.metadata, "reel": reel, "has_audio": c.has_audio,
                                  "start_tc": frames_to_tc(start, rate, cdf), "drop_frame": cdf}
    for m in c.markers:
        if not 0 <= m.frame < c.frames:
            raise TimelineError(f"{c.name}: marker {m.name!r} at frame {m.frame} is outside the clip")
        marker = otio.schema.Marker(name=clean_name(m.name),
                                    marked_range=TR(RT(start + c.source_in + m.frame, fr), RT(m.duration, fr)),
                                    color=m.color.upper())
        if m.note:
            marker.metadata["reelforge"] = {"note": m.note}
        clip.markers.append(marker)
    return clip


def timeline_from_clips(
    name: str, clips: Sequence[ClipSpec], *, start_tc: str = "01:00:00:00", audio: bool = True,
    rate: Fraction | None = None, drop_frame: bool | None = None,
) -> otio.schema.Timeline:
    """Clips end to end on ``V1`` (and their sound on ``A1``), in the order given."""
    return build_timeline(name, [TrackSpec("V1", list(clips))], start_tc=start_tc, audio=audio, rate=rate,
                          drop_frame=drop_frame)


def timeline_from_shots(
    shotlist: dict[str, Any],
    media: str,
    *,
    name: str | None = None,
    reel: str | None = None,
    start_tc: str = "01:00:00:00",
    source_tc: str | None = None,
    has_audio: bool = False,
    markers: dict[int, str] | None = None,
) -> otio.schema.Timeline:
    """One clip per detected shot of ``media``, cut to cut (a conform of the source video).

    Dissolves and fades are baked into the source's pixels, so every shot is placed as a cut and
    its detected ``transition_in`` is kept in the clip's metadata. ``markers`` names shots
    (by index) that should carry a marker. The shot list follows the ``video.shots`` contract.
    """
    try:
        rate = parse_rate(shotlist.get("fps_rational") or shotlist["fps"])
        frames = int(shotlist["frames"])
        shots = list(shotlist["shots"])
        df = bool(shotlist.get("drop_frame", default_drop_frame(rate)))
    except (KeyError, TypeError, ValueError) as exc:
        raise TimelineError(f"not a shot list: {exc}") from None
    if not shots:
        raise TimelineError("the shot list has no shots")
    if df and rate not in _DROP_FRAME_RATES:
        df = False
    stem = Path(media).stem
    specs: list[ClipSpec | int] = []
    prev_end = 0
    for s in shots:
        try:
            i, a, b = int(s["index"]), int(s["start_frame"]), int(s["end_frame"])
        except (KeyError, TypeError, ValueError) as exc:
            raise TimelineError(f"bad shot entry {s!r}: {exc}") from None
        if not 0 <= a < b <= frames or a < prev_end:
            raise TimelineError(f"shot {i}: frames {a}-{b} are out of order or outside the {frames} frames")
        prev_end = b
        mk = [Marker(markers[i])] if markers and i in markers else []
        specs.append(ClipSpec(
            name=f"{stem} shot {i + 1:03d}", media=media, rate=rate, media_frames=frames, source_in=a,
            source_out=b, start_tc=source_tc, drop_frame=df, reel=reel, has_audio=has_audio, markers=mk,
            metadata={"shot": i, "transition_in": s.get("transition_in", "cut"),
                      "transition_frames": int(s.get("transition_frames", 0) or 0)},
        ))
    return build_timeline(name or stem, [TrackSpec("V1", specs)], rate=rate, start_tc=start_tc, drop_frame=df,
                          metadata={"source": shotlist.get("source"), "shots": len(shots)})


# -- writing ---------------------------------------------------------------------------------------
def _rate_of(tl: otio.schema.Timeline) -> tuple[Fraction, bool]:
    meta = tl.metadata.get("reelforge", {})
    if "rate" in meta:
        num, den = meta["rate"]
        rate = Fraction(int(num), int(den))
        return rate, bool(meta.get("drop_frame", default_drop_frame(rate)))
    for clip in tl.find_clips():
        rate = parse_rate(clip.source_range.duration.rate)
        return rate, default_drop_frame(rate)
    raise TimelineError("the timeline has no clips")


def to_otio_json(tl: otio.schema.Timeline) -> str:
    return str(otio.adapters.write_to_string(tl, "otio_json"))


_EVENT = re.compile(r"^(\d{3,6})(\s+)(\S+)(\s+)(V)(\s+)(C|D \d{3})(\s+)(\S+) (\S+) (\S+) (\S+)\s*$")


def to_edl(tl: otio.schema.Timeline, track: int = 0) -> str:
    """CMX 3600 of the ``track``-th video track (an EDL holds one picture track).

    Written by OTIO's ``cmx_3600`` adapter, then: ``FCM:`` (DROP FRAME / NON-DROP FRAME) after
    the title, record times from the timeline's start timecode (the adapter counts from zero),
    29.97 non-drop labels when the timeline is non-drop (the adapter infers drop from the rate),
    and channel ``B`` (picture and sound) for clips that have sound.
    """
    rate, df = _rate_of(tl)
    video = [t for t in tl.tracks if t.kind == otio.schema.TrackKind.Video]
    if not 0 <= track < len(video):
        raise TimelineError(f"no video track {track + 1} to write as an EDL")
    one = otio.schema.Timeline(name=tl.name)
    pic = copy.deepcopy(video[track])
    clips = [c for c in pic if isinstance(c, otio.schema.Clip)]
    if not clips:
        raise TimelineError(f"video track {pic.name} has no clips to write as an EDL")
    one.tracks.append(pic)
    try:
        text = str(otio.adapters.write_to_string(one, "cmx_3600", rate=float(rate)))
    except (otio.exceptions.OTIOError, ValueError) as exc:  # ValueError: not a SMPTE timecode rate
        raise TimelineError(f"EDL: {exc}") from None
    start = round(tl.global_start_time.value) if tl.global_start_time is not None else 0
    fr = float(rate)

    def relabel(tc: str, offset: int = 0) -> str:
        frames = round(otio.opentime.from_timecode(tc, fr).value) + offset
        return frames_to_tc(frames, rate, df)

    out: list[str] = []
    events = 0
    for line in text.splitlines():
        m = _EVENT.match(line)
        if m:
            if events >= len(clips):
                raise TimelineError(f"EDL: the adapter wrote more events than the {len(clips)} clips")
            clip = clips[events]
            events += 1
            channel = "B" if clip.metadata.get("reelforge", {}).get("has_audio") else "V"
            g = list(m.groups())
            g[4] = channel
            g[8], g[9] = relabel(g[8]), relabel(g[9])
            g[10], g[11] = relabel(g[10], start), relabel(g[11], start)
            line = "".join(g[:8]) + " ".join(g[8:12])
        elif line.startswith("* LOC: "):
            tc, rest = line[7:].split(" ", 1)
            line = f"* LOC: {relabel(tc)} {rest}"
        out.append(line)
        if line.startswith("TITLE:"):
            out.append(f"FCM: {'DROP FRAME' if df else 'NON-DROP FRAME'}")
    if events != len(clips):
        raise TimelineError(f"EDL: wrote {events} events for {len(clips)} clips")
    if not text.startswith("TITLE:"):
        out.insert(0, f"FCM: {'DROP FRAME' if df else 'NON-DROP FRAME'}")
    return "\n".join(out) + "\n"


def to_fcp_xml(tl: otio.schema.Timeline) -> str:
    """FCP 7 XML (xmeml) through OTIO's ``fcp_xml`` adapter: every track, clip and sequence
    markers, reels and source timecode in each file's ``<timecode>``."""
    try:
        return str(otio.adapters.write_to_string(tl, "fcp_xml"))
    except (otio.exceptions.OTIOError, ValueError) as exc:
        raise TimelineError(f"FCP XML: {exc}") from None


def _teach_fcpx_ntsc() -> None:
    """The ``fcpx_xml`` adapter looks frame durations up by ``int(rate)`` or the rounded float
    (29.97); an exact 30000/1001 is neither. Add the exact NTSC floats to its table."""
    # The adapter runs from the module OTIO's plugin system loaded, not the package import.
    table = otio.adapters.from_name("fcpx_xml").module().FRAMERATE_FRAMEDURATION
    for ntsc in _NTSC.values():
        table.setdefault(float(ntsc), f"{ntsc.denominator}/{ntsc.numerator}s")
    for rate in (24, 25, 30, 48, 50, 60):
        table.setdefault(rate, f"1/{rate}s")


def to_fcpxml(tl: otio.schema.Timeline, track: int = 0) -> str:
    """FCPXML of the ``track``-th video track through OTIO's ``fcpx_xml`` adapter.

    One picture track, like the EDL: the adapter places connected-clip lanes by whole-frame
    rates (wrong at 23.976/29.97) and cannot place separate audio lanes, while an FCPX
    asset-clip carries its own sound. Around the adapter: names and URLs are escaped for its
    XPath look-ups (a ``'`` would break them); afterwards each spine ``clip`` of one ``video``
    becomes an ``asset-clip`` (picture and sound), assets with sound get ``hasAudio``, the
    sequence its ``tcStart`` and ``tcFormat`` (DF/NDF), and times their plain form (``4s``).
    """
    import xml.etree.ElementTree as ET

    _teach_fcpx_ntsc()
    rate, df = _rate_of(tl)
    if rate.denominator not in (1, 1001) or round(rate) not in (24, 25, 30, 48, 50, 60, 120):
        raise TimelineError(f"FCPXML: {float(rate):.3f} fps is not a Final Cut Pro frame rate")
    video = [t for t in tl.tracks if t.kind == otio.schema.TrackKind.Video]
    if not 0 <= track < len(video):
        raise TimelineError(f"no video track {track + 1} to write as FCPXML")
    pic = otio.schema.Timeline(name=tl.name.replace("'", "\u2019"))
    one = copy.deepcopy(video[track])
    sound: set[str] = set()
    for c in one.find_clips():
        c.name = c.name.replace("'", "\u2019")
        if isinstance(c.media_reference, otio.schema.ExternalReference):
            c.media_reference.target_url = urllib.parse.quote(c.media_reference.target_url, safe="/:")
            if c.metadata.get("reelforge", {}).get("has_audio"):
                sound.add(c.media_reference.target_url)
    if not one.find_clips():
        raise TimelineError(f"video track {one.name} has no clips to write as FCPXML")
    pic.tracks.append(one)
    try:
        text = str(otio.adapters.write_to_string(pic, "fcpx_xml"))
    except (otio.exceptions.OTIOError, AttributeError, ValueError, SyntaxError) as exc:
        raise TimelineError(f"FCPXML: {exc}") from None
    root = ET.fromstring(text)
    for asset in root.iter("asset"):
        if asset.get("src") in sound:
            asset.set("hasAudio", "1")
            asset.set("audioSources", "1")
    start = round(tl.global_start_time.value) if tl.global_start_time is not None else 0
    for seq in root.iter("sequence"):
        seq.set("tcStart", _seconds(Fraction(start) / rate))
        seq.set("tcFormat", "DF" if df else "NDF")
    for spine in root.iter("spine"):
        for i, el in enumerate(list(spine)):
            video = el.find("video") if el.tag == "clip" else None
            if video is None or video.get("ref") is None or len(el) != 1 + len(el.findall("marker")):
                continue
            # A spine <clip> wrapping one <video> plays picture only; an <asset-clip> of the same
            # asset plays its picture and its sound, as FCP's own exports do.
            ac = ET.Element("asset-clip", {k: v for k, v in el.attrib.items() if k in ("name", "offset", "start",
                                                                                       "duration")})
            ac.set("ref", video.get("ref", ""))
            ac.set("tcFormat", "DF" if df else "NDF")
            ac.extend(el.findall("marker"))
            spine.remove(el)
            spine.insert(i, ac)
    for el in root.iter():
        for key in ("offset", "start", "duration"):
            if el.get(key):  # the adapter writes "4/1s"; FCPXML's own form is "4s"
                el.set(key, _seconds(parse_fcpxml_time(el.get(key))))
    ET.indent(root, space="    ")
    body = ET.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE fcpxml>\n{body}\n'


def _seconds(t: Fraction) -> str:
    """An FCPXML time: a rational number of seconds (``1001/30000s``), ``0s`` for zero."""
    if t == 0:
        return "0s"
    return f"{t.numerator}s" if t.denominator == 1 else f"{t.numerator}/{t.denominator}s"


def parse_fcpxml_time(value: str | None) -> Fraction:
    """An FCPXML time attribute (``1001/750s``, ``3600s``, ``0s``) as exact seconds."""
    if not value:
        return Fraction(0)
    text = value.strip().removesuffix("s")
    try:
        return Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise TimelineError(f"bad FCPXML time {value!r}") from None


def fcpxml_spine(text: str) -> list[dict[str, Any]]:
    """The clips of an FCPXML file's first sequence spine with exact times (seconds as
    ``Fraction``): ``name``, ``src``, ``offset``, ``start``, ``duration``, ``markers``. OTIO's
    reader rounds NTSC rates to whole frames, so checks of our files read them this way."""
    import xml.etree.ElementTree as ET

    try:
        root = ET.fromstring(text.split("<!DOCTYPE fcpxml>", 1)[-1].strip())
    except ET.ParseError as exc:
        raise TimelineError(f"FCPXML does not parse: {exc}") from None
    assets = {a.get("id"): a for a in root.iter("asset")}
    seq = next(root.iter("sequence"), None)
    spine = seq.find("spine") if seq is not None else None
    if spine is None:
        raise TimelineError("FCPXML has no sequence spine")
    rows = []
    for el in spine:
        if el.tag not in ("clip", "asset-clip"):
            continue
        ref = el.get("ref") or (el.find("video").get("ref") if el.find("video") is not None else None)
        asset = assets.get(ref)
        rows.append({
            "name": el.get("name"), "src": asset.get("src") if asset is not None else None,
            "asset_start": parse_fcpxml_time(asset.get("start")) if asset is not None else None,
            "has_audio": asset is not None and asset.get("hasAudio") == "1",
            "offset": parse_fcpxml_time(el.get("offset")), "start": parse_fcpxml_time(el.get("start")),
            "duration": parse_fcpxml_time(el.get("duration")),
            "markers": [(m.get("value"), parse_fcpxml_time(m.get("start"))) for m in el.iter("marker")],
        })
    return rows


WRITERS = {".otio": to_otio_json, ".edl": to_edl, ".xml": to_fcp_xml, ".fcpxml": to_fcpxml}


def write_timeline(tl: otio.schema.Timeline, path: Path | str) -> Path:
    """Write ``tl`` in the format its suffix names (``.otio``, ``.edl``, ``.xml``, ``.fcpxml``)."""
    path = Path(path)
    writer = WRITERS.get(path.suffix.lower())
    if writer is None:
        raise TimelineError(f"{path.name}: unknown timeline format (use {', '.join(WRITERS)})")
    path.write_text(writer(tl), encoding="utf-8")
    return path


def read_timeline(text: str, fmt: str, rate: Fraction | None = None) -> otio.schema.Timeline:
    """Read a timeline file's text back through OTIO (``fmt``: a suffix or an adapter name);
    an EDL needs its ``rate``, which the file does not state."""
    adapter = FORMATS.get(fmt if fmt.startswith(".") else "." + fmt, fmt)
    kw: dict[str, Any] = {}
    if adapter == "cmx_3600":
        kw["rate"] = float(rate) if rate is not None else 24.0
    try:
        result = otio.adapters.read_from_string(text, adapter, **kw)
    except Exception as exc:  # adapters raise their own zoo of errors on bad files
        raise TimelineError(f"cannot read the {adapter} timeline: {type(exc).__name__}: {exc}") from None
    if not isinstance(result, otio.schema.Timeline):
        timelines = list(result.find_children(descended_from_type=otio.schema.Timeline)) \
            if hasattr(result, "find_children") else []
        if not timelines:
            raise TimelineError(f"the {adapter} file holds no timeline")
        result = timelines[0]
    return result


def clip_table(tl: otio.schema.Timeline, rate: Fraction | None = None,
               drop_frame: bool | None = None) -> list[dict[str, Any]]:
    """Per clip of each video track: track, name, reel, source in/out and record in/out as
    timecodes (record from the timeline's start): what a conform checks, in any format."""
    if rate is None:
        rate, df = _rate_of(tl)
    else:
        df = default_drop_frame(rate) if drop_frame is None else drop_frame
    fr = float(rate)
    start = round(tl.global_start_time.rescaled_to(fr).value) if tl.global_start_time is not None else 0
    rows = []
    for t in tl.tracks:
        if t.kind != otio.schema.TrackKind.Video:
            continue
        offset = start
        if tl.global_start_time is None and t.source_range is not None:
            # The EDL reader keeps the first record time as the track's negative start.
            offset = -round(t.source_range.start_time.rescaled_to(fr).value)
        for c in t.find_clips():
            sr = c.source_range or c.available_range()
            rec = c.range_in_parent()
            s_in = round(sr.start_time.rescaled_to(fr).value)
            n = round(sr.duration.rescaled_to(fr).value)
            r_in = round(rec.start_time.rescaled_to(fr).value) + offset
            reel = (c.metadata.get("cmx_3600") or {}).get("reel")
            if reel is None and c.media_reference is not None:
                # FCP XML keeps it in the file's <timecode><reel><name> (OTIO AnyDictionaries).
                tc = (c.media_reference.metadata.get("fcp_xml") or {}).get("timecode") or {}
                reel = (tc.get("reel") or {}).get("name") if hasattr(tc, "get") else None
            rows.append({
                "track": t.name, "name": c.name, "reel": reel,
                "src_in": frames_to_tc(s_in, rate, df), "src_out": frames_to_tc(s_in + n, rate, df),
                "rec_in": frames_to_tc(r_in, rate, df), "rec_out": frames_to_tc(r_in + n, rate, df),
                "frames": n,
            })
    return rows
