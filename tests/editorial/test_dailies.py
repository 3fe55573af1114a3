"""The demo's generated dailies: slate-named H.264 + AAC takes of the sample screenplay, with truth."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from reelforge.editorial.dailies import (
    DailiesSet,
    LineTruth,
    espeak_available,
    generate_dailies,
    parse_clip_name,
)
from reelforge.editorial.silence import detect_silence
from reelforge.errors import InvalidInput
from reelforge.media import load_audio
from reelforge.script import load_sample

pytestmark = pytest.mark.skipif(not espeak_available(), reason="espeak-ng is not installed")


@pytest.fixture(scope="module")
def dailies(tmp_path_factory: pytest.TempPathFactory) -> DailiesSet:
    return generate_dailies(tmp_path_factory.mktemp("dailies"))


@pytest.mark.parametrize(("name", "parsed"), [
    ("12A_T03.mp4", ("12", "A", 3, False)),
    ("12A-3.mov", ("12", "A", 3, False)),
    ("12a_t3_c.MP4", ("12", "A", 3, True)),
    ("12A_T03_CIRCLED.mp4", ("12", "A", 3, True)),
    ("12-2.mp4", ("12", "", 2, False)),
    ("012AB-10-C.mxf", ("12", "AB", 10, True)),
    ("7_4", ("7", "", 4, False)),
])
def test_slate_names_parse(name: str, parsed: tuple[str, str, int, bool]) -> None:
    s = parse_clip_name(name)
    assert s is not None and (s.scene, s.setup, s.take, s.circled) == parsed


@pytest.mark.parametrize("name", ["holiday.mp4", "A12_T3.mp4", "12A.mp4", "12A_T.mp4", "12A_T03_X.mp4",
                                  "12A T03.mp4", "scene12A_T03.mp4", ""])
def test_other_names_are_not_slates(name: str) -> None:
    assert parse_clip_name(name) is None


def test_the_set_follows_the_screenplay(dailies: DailiesSet) -> None:
    sp = load_sample()
    lines = sp.dialogue_lines()
    numbers = {s.number: s for s in sp.scenes()}
    assert 3 <= len(dailies.scenes) <= 4 and len(dailies.clips) == 10
    files = sorted(p.name for p in dailies.folder.glob("*.mp4"))
    assert files == sorted(c.file for c in dailies.clips)
    for c in dailies.clips:
        slate = parse_clip_name(c.file)
        assert slate is not None and (slate.scene, slate.setup, slate.take, slate.circled) == \
               (c.scene, c.setup, c.take, c.circled)
        assert numbers[c.scene].index == c.scene_index and numbers[c.scene].heading_text == c.heading
        for ln in c.lines:
            assert lines[ln.index].text == ln.text and lines[ln.index].scene_index == c.scene_index
        assert 64 <= c.height <= 160 and Fraction(*c.fps) in (Fraction(24), Fraction(24000, 1001))
        assert 3.0 < c.duration < 12.0
    assert sum(c.circled for c in dailies.clips) == 1
    assert {f for c in dailies.clips for f in c.flaws} == {"blurred", "overexposed", "missing_line", "clipped_audio"}
    assert any("_T" in c.file for c in dailies.clips) and any("-" in c.file for c in dailies.clips)
    # The truth's choice per scene: the circled take, else the one clean take.
    for s in dailies.scenes:
        best = dailies.clip(s.best)
        assert best.circled or not best.flaws
        assert best.circled == any(dailies.clip(f).circled for f in s.takes)
        assert s.why
    data = dailies.to_dict()
    assert data["clips"][0]["fps"] in ([24000, 1001], [24, 1])


def _decode(path: Path) -> tuple[list[np.ndarray], Fraction, dict[str, object]]:
    with av.open(str(path)) as c:
        v, a = c.streams.video[0], c.streams.audio[0]
        info = {"vcodec": v.codec_context.name, "acodec": a.codec_context.name, "rate": a.codec_context.sample_rate,
                "channels": a.codec_context.layout.nb_channels}
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(v)]
        return frames, Fraction(v.average_rate), info


def test_the_rough_cuts_slate_reader_agrees(dailies: DailiesSet) -> None:
    slates = pytest.importorskip("reelforge.editorial.slates")  # the rough cut's reader (another module)
    for c in dailies.clips:
        s = slates.parse_slate(c.file)
        assert s is not None and (s.scene, s.take, s.circled) == (f"{c.scene}{c.setup}", c.take, c.circled)


def test_clips_decode_with_the_declared_format(dailies: DailiesSet) -> None:
    for c in dailies.clips:
        frames, rate, info = _decode(dailies.folder / c.file)
        assert info == {"vcodec": "h264", "acodec": "aac", "rate": 48000, "channels": 1}, c.file
        assert len(frames) == c.frames and rate == Fraction(*c.fps), c.file
        assert frames[0].shape == (c.height, c.width, 3)


def speech_where_truth_says(path: Path, lines: list[LineTruth], duration: float) -> bool:
    """Sound covers most of each spoken line, and little of the time outside them."""
    audio, sr = load_audio(path, sample_rate=16000)
    rep = detect_silence(audio, sr)
    t = (np.arange(int(duration * 100)) + 0.5) / 100
    silent = np.zeros(t.size, bool)
    for r in rep.regions:
        silent |= (t >= r.start) & (t < r.end)
    inside = np.zeros(t.size, bool)
    for ln in lines:
        if ln.spoken:
            assert ln.start is not None and ln.end is not None
            span = (t >= ln.start) & (t < ln.end)
            if (~silent[span]).mean() < 0.7:
                return False
            inside |= (t >= ln.start - 0.05) & (t < ln.end + 0.05)
    return bool((~silent[~inside]).mean() < 0.05)


def test_audio_has_speech_where_the_truth_says(dailies: DailiesSet) -> None:
    for c in dailies.clips:
        assert speech_where_truth_says(dailies.folder / c.file, c.lines, c.duration), c.file
    missing = next(c for c in dailies.clips if "missing_line" in c.flaws)
    assert [ln.spoken for ln in missing.lines] == [True, False]
    # The check fails on a wrong truth: lines shifted by a second, or a missing line said to be there.
    c = dailies.clips[0]
    shifted = [LineTruth(ln.index, ln.character, ln.text, ln.start + 1.0, ln.end + 1.0) for ln in c.spoken_lines]
    assert not speech_where_truth_says(dailies.folder / c.file, shifted, c.duration)
    spoken = missing.spoken_lines[0]
    ghost = [spoken, LineTruth(0, "X", "ghost", spoken.end + 0.5, spoken.end + 2.0)]
    assert not speech_where_truth_says(dailies.folder / missing.file, ghost, missing.duration)


def _sharpness(frame: np.ndarray) -> float:
    g = frame.astype(np.float64).mean(axis=2)
    lap = g[1:-1, 1:-1] * 4 - g[:-2, 1:-1] - g[2:, 1:-1] - g[1:-1, :-2] - g[1:-1, 2:]
    return float(lap.var())


def test_flaws_are_measurable(dailies: DailiesSet) -> None:
    for s in dailies.scenes:
        clean = next(dailies.clip(f) for f in s.takes if not dailies.clip(f).flaws)
        cf, _, _ = _decode(dailies.folder / clean.file)
        ref = cf[len(cf) // 2]
        clean_audio, _ = load_audio(dailies.folder / clean.file, sample_rate=48000)
        for f in s.takes:
            take = dailies.clip(f)
            frames, _, _ = _decode(dailies.folder / f)
            mid = frames[len(frames) // 2]
            if "blurred" in take.flaws:
                assert _sharpness(mid) < 0.3 * _sharpness(ref), f
            if "overexposed" in take.flaws:
                # Most pixels have a channel clipped at white; the clean take has next to none.
                assert (mid.max(axis=2) >= 250).mean() > 0.5 > 10 * (ref.max(axis=2) >= 250).mean(), f
            if "clipped_audio" in take.flaws:
                audio, _ = load_audio(dailies.folder / f, sample_rate=48000)
                assert (np.abs(audio) > 0.95).mean() > 0.01 > (np.abs(clean_audio) > 0.95).mean() * 10, f
            # The slate: a dark board on the first frames, gone later.
            first, later = frames[1], frames[take.slate_frames + 2]
            dark_first = (first.max(axis=2) < 40).mean()
            assert dark_first > (later.max(axis=2) < 40).mean() + 0.05 or "overexposed" in take.flaws, f


def test_bad_requests() -> None:
    with pytest.raises(InvalidInput, match="height"):
        generate_dailies("/nonexistent/never", height=400)
    with pytest.raises(InvalidInput, match="no scene numbered 99"):
        generate_dailies("/nonexistent/never", scenes=["99"])
