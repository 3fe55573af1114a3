"""Subtitle events from timed words, by the usual broadcast rules, and a validator for those rules.

Rules (``SubtitleRules``): English at most 42 characters a line, 2 lines, 17 characters a second;
Chinese at most 16 characters a line and 9 a second; every event on screen from 5/6 s to 7 s; at
least 2 frames between events; never across a shot change. Characters are counted as a viewer
reads them: every character of the text, spaces and punctuation included, line breaks not.

Segmentation works one speech turn (a script line, or an utterance of a transcript) at a time, so
an event never mixes two speakers. Its words are split into events by dynamic programming over the
break points: hard limits (what fits in two lines, 7 s, no shot change inside) and costs that
prefer breaks at the end of a sentence, then of a clause, and events that can be read in time.
Each event is then timed from its words, lengthened into the pauses around it when it is too
short or too fast to read (never past a shot change or into the next event), moved to whole
frames, and broken into lines at the most balanced sensible point.

Files are written with pysubs2 (SRT and WebVTT) and read back the same way, so ``check_file``
validates any subtitle file, ours or not.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from reelforge.editorial.speech import is_cjk

_EPS = 0.0015  # files hold milliseconds: a rule is broken only beyond rounding
_SENTENCE_END = re.compile(r"[.?!。？！…]['\"”’)）」』]*$")
_CLAUSE_END = re.compile(r"[,;:，；：、—–-]['\"”’)）」』]*$")
# English words a line should not end on (they belong with what follows)
_CLINGY = {"a", "an", "the", "to", "of", "in", "on", "at", "by", "for", "with", "from", "and", "or", "but",
           "my", "your", "his", "her", "its", "our", "their", "this", "that", "i", "i'm", "you", "we", "if",
           "as", "so", "not", "no", "is", "are", "was", "were", "be", "will", "would", "can", "could"}


class SubtitleError(ValueError):
    """Subtitles cannot be made or read (no words, an unreadable file)."""


@dataclass(frozen=True)
class SubtitleRules:
    max_chars_per_line: int = 42
    max_lines: int = 2
    max_cps: float = 17.0
    min_duration: float = 5 / 6
    max_duration: float = 7.0
    min_gap_frames: int = 2
    fps: float = 25.0

    @property
    def min_gap(self) -> float:
        return self.min_gap_frames / self.fps

    def to_dict(self) -> dict:
        return asdict(self)


ENGLISH = SubtitleRules()
CHINESE = SubtitleRules(max_chars_per_line=16, max_cps=9.0)


def rules_for(language: str, fps: float | None = None) -> SubtitleRules:
    """The rules of a language (``zh``/``cmn``/``chinese``: Chinese; anything else: English)."""
    base = CHINESE if language.lower().split("-")[0] in ("zh", "cmn", "chinese", "mandarin") else ENGLISH
    if fps is None:
        return base
    if not 1.0 <= fps <= 240.0:
        raise SubtitleError(f"frame rate {fps} is out of range")
    return SubtitleRules(**{**asdict(base), "fps": float(fps)})


@dataclass(frozen=True)
class TimedWord:
    text: str
    start: float
    end: float


@dataclass
class Turn:
    """One speech turn to subtitle: its words with times, and who speaks."""

    words: list[TimedWord]
    speaker: str | None = None
    line_index: int | None = None  # the script line it came from


@dataclass
class SubtitleEvent:
    start: float
    end: float
    lines: list[str]
    speaker: str | None = None
    line_index: int | None = None

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    @property
    def duration(self) -> float:
        return self.end - self.start

    def chars(self) -> int:
        return sum(display_len(ln) for ln in self.lines)

    def to_dict(self) -> dict:
        return {"start": round(self.start, 3), "end": round(self.end, 3), "lines": self.lines,
                "speaker": self.speaker, "line": self.line_index}


@dataclass(frozen=True)
class Violation:
    event: int  # index in the event list (0-based)
    rule: str
    message: str

    def to_dict(self) -> dict:
        return asdict(self)


def display_len(text: str) -> int:
    """Characters a viewer reads: combining marks do not count, everything else does once."""
    return sum(1 for ch in text if not unicodedata.combining(ch) and ch not in "\r\n")


def _joiner(words: Sequence[str]) -> str:
    return "" if any(is_cjk(w) for w in words) else " "


def join_words(words: Sequence[str]) -> str:
    """English words with spaces; Chinese characters without (a space only between Latin words)."""
    if _joiner(words) == " ":
        return " ".join(words)
    out = ""
    for w in words:
        if out and not is_cjk(out[-1]) and not is_cjk(w[0]) and out[-1].isalnum() and w[0].isalnum():
            out += " "
        out += w
    return out


# -- line breaking --------------------------------------------------------------------------------
def break_lines(words: Sequence[str], rules: SubtitleRules) -> list[str] | None:
    """One or two lines for these words, or None when they do not fit.

    Among the break points that fit, the one with the most even lines wins, with a bonus after
    punctuation and a penalty for ending the top line on a word that belongs to the next
    (articles, prepositions...); a bottom line a little longer than the top is preferred.
    """
    text = join_words(words)
    if display_len(text) <= rules.max_chars_per_line:
        return [text]
    if rules.max_lines < 2:
        return None
    best: tuple[float, list[str]] | None = None
    for k in range(1, len(words)):
        top, bottom = join_words(words[:k]), join_words(words[k:])
        lt, lb = display_len(top), display_len(bottom)
        if lt > rules.max_chars_per_line or lb > rules.max_chars_per_line:
            continue
        cost = abs(lt - lb) / rules.max_chars_per_line
        if lt > lb:
            cost += 0.05  # a pyramid (short top, longer bottom) reads better
        last = words[k - 1]
        if _SENTENCE_END.search(last):
            cost -= 0.5
        elif _CLAUSE_END.search(last):
            cost -= 0.3
        elif last.lower().strip("\"'“”‘’") in _CLINGY:
            cost += 0.4
        if best is None or cost < best[0]:
            best = (cost, [top, bottom])
    return None if best is None else best[1]


# -- segmentation ---------------------------------------------------------------------------------
def _cuts_inside(cuts: Sequence[float], a: float, b: float) -> bool:
    """Whether a shot change lies strictly inside (a, b)."""
    import bisect

    i = bisect.bisect_right(cuts, a + _EPS)
    return i < len(cuts) and cuts[i] < b - _EPS


def _chunk_cost(words: list[TimedWord], i: int, j: int, rules: SubtitleRules, cuts: Sequence[float],
                last: bool) -> float | None:
    """Cost of one event made of words[i:j], or None when it breaks a hard limit."""
    ws = words[i:j]
    texts = [w.text for w in ws]
    lines = break_lines(texts, rules)
    single = j - i == 1
    if lines is None and not single:
        return None
    start, end = ws[0].start, ws[-1].end
    if end - start > rules.max_duration and not single:
        return None
    if not single and _cuts_inside(cuts, ws[0].end, ws[-1].start):
        return None  # a shot change between two of its words
    cost = 1.0  # per event: fewer, fuller events
    tail = texts[-1]
    if not last:
        cost += 0.0 if _SENTENCE_END.search(tail) else 0.4 if _CLAUSE_END.search(tail) else 1.2
        if tail.lower().strip("\"'“”‘’") in _CLINGY:
            cost += 0.5
    chars = display_len(join_words(texts))
    dur = max(end - start, 1e-3)
    if chars / dur > rules.max_cps:
        cost += 4.0 * (chars / dur / rules.max_cps - 1.0) + 1.0  # too fast: may need pauses to borrow
    if dur < rules.min_duration:
        cost += 0.5
    return cost


def _split_turn(words: list[TimedWord], rules: SubtitleRules, cuts: Sequence[float]) -> list[tuple[int, int]]:
    """Best split of a turn's words into events: dynamic programming over where events end.

    Candidate events grow backwards from each end word and stop once they could no longer fit on
    screen or in time, so the work is linear in the turn's length.
    """
    n = len(words)
    best = [math.inf] * (n + 1)
    back = [0] * (n + 1)
    best[0] = 0.0
    room = rules.max_lines * (rules.max_chars_per_line + 1)
    for j in range(1, n + 1):
        chars = -1
        for i in range(j - 1, -1, -1):
            chars += display_len(words[i].text) + (0 if is_cjk(words[i].text) else 1)  # a space between
            if i < j - 1 and (chars > room or words[j - 1].end - words[i].start > rules.max_duration):
                break
            if best[i] == math.inf:
                continue
            c = _chunk_cost(words, i, j, rules, cuts, last=j == n)
            if c is not None and best[i] + c < best[j]:
                best[j], back[j] = best[i] + c, i
    spans: list[tuple[int, int]] = []
    j = n
    while j > 0:
        spans.append((back[j], j))
        j = back[j]
    return spans[::-1]


def segment(turns: Sequence[Turn], rules: SubtitleRules = ENGLISH, shot_changes: Sequence[float] = ()) -> list[SubtitleEvent]:
    """Subtitle events for speech turns (each with timed words), in time order."""
    cuts = sorted(float(c) for c in shot_changes)
    raw: list[tuple[float, float, list[str], str | None, int | None]] = []
    for turn in turns:
        words = [w for w in turn.words if w.text.strip() and w.end > w.start]
        if not words:
            continue
        words.sort(key=lambda w: w.start)
        for i, j in _split_turn(words, rules, cuts):
            texts = [w.text for w in words[i:j]]
            lines = break_lines(texts, rules) or _force_lines(texts, rules)
            raw.append((words[i].start, words[j - 1].end, lines, turn.speaker, turn.line_index))
    raw.sort(key=lambda r: r[0])
    events = [SubtitleEvent(a, b, lines, spk, idx) for a, b, lines, spk, idx in raw]
    _time_events(events, rules, cuts)
    return events


def _force_lines(words: list[str], rules: SubtitleRules) -> list[str]:
    """A single word longer than a line: cut it, so the file still has lines (the validator will say)."""
    text = join_words(words)
    n = rules.max_chars_per_line
    return [text[k:k + n] for k in range(0, len(text), n)][: max(rules.max_lines, 1)]


def _need(ev: SubtitleEvent, rules: SubtitleRules) -> float:
    """How long an event must stay up: the minimum duration, or long enough to read at max_cps,
    plus a frame so that moving both ends to whole frames cannot take it below."""
    t = max(rules.min_duration, ev.chars() / rules.max_cps)
    return min(math.ceil(t * rules.fps - 1e-6) / rules.fps + 1 / rules.fps, rules.max_duration)


def _bounds(events: list[SubtitleEvent], k: int, rules: SubtitleRules, cuts: Sequence[float]) -> tuple[float, float]:
    """How far event k may reach: after the previous event (plus the gap) and the last shot change
    before it; before the next event (less the gap) and the next shot change."""
    import bisect

    ev = events[k]
    gap = rules.min_gap
    j = bisect.bisect_right(cuts, ev.start + _EPS) - 1
    lo = max(events[k - 1].end + gap if k > 0 else 0.0, cuts[j] if j >= 0 else 0.0)
    j = bisect.bisect_right(cuts, ev.start + _EPS)
    hi = min(events[k + 1].start - gap if k + 1 < len(events) else math.inf, cuts[j] if j < len(cuts) else math.inf)
    return lo, hi


def _extend(events: list[SubtitleEvent], rules: SubtitleRules, cuts: Sequence[float]) -> None:
    for k, ev in enumerate(events):
        need = _need(ev, rules)
        if ev.duration >= need:
            continue
        lo, hi = _bounds(events, k, rules, cuts)
        ev.end = max(ev.end, min(hi, ev.start + need))  # the eye keeps reading after the voice stops
        if ev.duration < need:
            ev.start = min(ev.start, max(lo, ev.end - need))


def _rebalance(events: list[SubtitleEvent], rules: SubtitleRules, cuts: Sequence[float]) -> None:
    """Between two events that touch, move the boundary toward the one with time to spare.

    Speech faster than the reading limit cannot be read in time from its own words; when the
    neighbouring event (usually the rest of the same sentence) is slower, the text may change a
    little before or after the voice. No boundary moves across a shot change.
    """
    gap = rules.min_gap
    for k in range(len(events) - 1):
        a, b = events[k], events[k + 1]
        if b.start - a.end > gap + 0.05 or _cuts_inside(cuts, a.end - 1.0, b.start + 1.0):
            continue
        short_a = _need(a, rules) - a.duration
        short_b = _need(b, rules) - b.duration
        if short_a > 0 and short_b < 0:
            d = min(short_a, -short_b)
            a.end += d
            b.start += d
        elif short_b > 0 and short_a < 0:
            d = min(short_b, -short_a)
            a.end -= d
            b.start -= d


def _time_events(events: list[SubtitleEvent], rules: SubtitleRules, cuts: Sequence[float]) -> None:
    """Lengthen short or fast events into the pauses around them, keep the gaps, snap to frames.

    An event may start no earlier than the previous event's end plus the gap, or the last shot
    change before it, and end no later than the next event's start less the gap, or the next shot
    change. Ends move first (the eye keeps reading after the voice stops), then starts; touching
    events then share time (``_rebalance``); finally both ends go to whole frames, inward.
    """
    import bisect

    gap = rules.min_gap
    fps = rules.fps
    for ev in events:
        # words straddling a shot change by a little: the event keeps to the side it mostly lies on
        i = bisect.bisect_right(cuts, ev.start + _EPS)
        if i < len(cuts) and cuts[i] < ev.end - _EPS:
            c = cuts[i]
            if c - ev.start < ev.end - c:
                ev.start = c
            else:
                ev.end = c
    for k in range(len(events) - 1):  # turns that overlap: the earlier gives way
        a, b = events[k], events[k + 1]
        if b.start - a.end < gap:
            a.end = max(a.start + 1 / fps, b.start - gap)
    for _ in range(3):  # extending one event can make it touch the next: settle in a few rounds
        _extend(events, rules, cuts)
        _rebalance(events, rules, cuts)
    _extend(events, rules, cuts)
    for k, ev in enumerate(events):
        if ev.duration > rules.max_duration:
            ev.end = ev.start + rules.max_duration
        # whole frames, outward where there is room (time to read is what the rules protect)
        lo, hi = _bounds(events, k, rules, cuts)
        s0, s1 = math.floor(ev.start * fps + 1e-6) / fps, math.ceil(ev.start * fps - 1e-6) / fps
        e0, e1 = math.floor(ev.end * fps + 1e-6) / fps, math.ceil(ev.end * fps - 1e-6) / fps
        start = s0 if s0 >= lo - _EPS else s1
        end = e1 if e1 <= hi + _EPS else e0
        if end - start > rules.max_duration + _EPS:
            end -= 1 / fps
        ev.start, ev.end = round(start, 3), round(end, 3)
    # a gap lost to rounding: take it from the earlier event
    for k in range(len(events) - 1):
        a, b = events[k], events[k + 1]
        if b.start - a.end < gap - _EPS:
            a.end = round(math.floor((b.start - gap) * fps + 1e-6) / fps, 3)


# -- validation -----------------------------------------------------------------------------------
def check_rules(events: Sequence[SubtitleEvent], rules: SubtitleRules = ENGLISH,
                shot_changes: Sequence[float] = ()) -> list[Violation]:
    """Every broken rule of every event (an empty list means the subtitles pass)."""
    cuts = sorted(float(c) for c in shot_changes)
    out: list[Violation] = []
    for k, ev in enumerate(events):
        lines = [ln for ln in ev.lines]
        if not any(ln.strip() for ln in lines):
            out.append(Violation(k, "empty", "event has no text"))
        if len(lines) > rules.max_lines:
            out.append(Violation(k, "max_lines", f"{len(lines)} lines (at most {rules.max_lines})"))
        for ln in lines:
            if display_len(ln) > rules.max_chars_per_line:
                out.append(Violation(k, "max_chars_per_line",
                                     f"line of {display_len(ln)} characters (at most {rules.max_chars_per_line}): {ln!r}"))
        dur = ev.end - ev.start
        if dur <= 0:
            out.append(Violation(k, "duration", f"ends at {ev.end:.3f} s, not after its start {ev.start:.3f} s"))
            continue
        if dur < rules.min_duration - _EPS:
            out.append(Violation(k, "min_duration", f"on screen {dur:.3f} s (at least {rules.min_duration:.3f} s)"))
        if dur > rules.max_duration + _EPS:
            out.append(Violation(k, "max_duration", f"on screen {dur:.3f} s (at most {rules.max_duration:.3f} s)"))
        cps = ev.chars() / dur
        if cps > rules.max_cps * (1 + 1e-9) and ev.chars() / (dur + _EPS) > rules.max_cps:
            out.append(Violation(k, "max_cps", f"{cps:.1f} characters a second (at most {rules.max_cps:g})"))
        if _cuts_inside(cuts, ev.start, ev.end):
            c = next(c for c in cuts if ev.start + _EPS < c < ev.end - _EPS)
            out.append(Violation(k, "shot_change", f"runs across the shot change at {c:.3f} s"))
        if k + 1 < len(events):
            nxt = events[k + 1]
            g = nxt.start - ev.end
            if g < rules.min_gap - _EPS:
                what = "overlaps the next event" if g < 0 else f"{g * 1000:.0f} ms before the next event"
                out.append(Violation(k, "min_gap", f"{what} (at least {rules.min_gap_frames} frames, "
                                                   f"{rules.min_gap * 1000:.0f} ms at {rules.fps:g} fps)"))
    return out


# -- files ----------------------------------------------------------------------------------------
def _escape(text: str, fmt: str) -> str:
    # SSA override blocks are braces: keep them out of the text pysubs2 carries
    text = text.replace("{", "(").replace("}", ")")
    if fmt == "vtt":
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("<", "‹").replace(">", "›")  # SRT players read <...> as markup


def to_ssa(events: Sequence[SubtitleEvent], fmt: str = "srt"):  # type: ignore[no-untyped-def]
    import pysubs2

    subs = pysubs2.SSAFile()
    for ev in events:
        e = pysubs2.SSAEvent(start=round(ev.start * 1000), end=round(ev.end * 1000))
        e.plaintext = _escape(ev.text, fmt)
        if ev.speaker:
            e.name = ev.speaker
        subs.append(e)
    return subs


def write_subtitles(events: Sequence[SubtitleEvent], path: Path | str, fmt: str | None = None) -> Path:
    """Write SRT or WebVTT (by ``fmt`` or the suffix) through pysubs2."""
    path = Path(path)
    fmt = (fmt or path.suffix.lstrip(".")).lower()
    if fmt not in ("srt", "vtt"):
        raise SubtitleError(f"subtitle format must be srt or vtt, not {fmt!r}")
    path.write_text(subtitles_text(events, fmt), encoding="utf-8")
    return path


def subtitles_text(events: Sequence[SubtitleEvent], fmt: str) -> str:
    return to_ssa(events, fmt).to_string(fmt)


def read_subtitles(path: Path | str) -> list[SubtitleEvent]:
    """Events of an SRT/WebVTT (any format pysubs2 reads), times in seconds."""
    import pysubs2

    try:
        subs = pysubs2.load(str(path), encoding="utf-8")
    except (pysubs2.exceptions.Pysubs2Error, UnicodeDecodeError, ValueError, OSError) as err:
        raise SubtitleError(f"{Path(path).name}: not a readable subtitle file ({err})") from None
    return [SubtitleEvent(e.start / 1000, e.end / 1000, e.plaintext.split("\n"), e.name or None)
            for e in subs if not e.is_comment]


def check_file(path: Path | str, rules: SubtitleRules = ENGLISH, shot_changes: Sequence[float] = ()) -> list[Violation]:
    return check_rules(read_subtitles(path), rules, shot_changes)


# -- inputs ---------------------------------------------------------------------------------------
def shot_changes_from_shots(doc: dict) -> tuple[list[float], float | None]:
    """Shot-change times (the start of every shot after the first) and the fps of a shot list JSON."""
    if not isinstance(doc, dict) or not isinstance(doc.get("shots"), list):
        raise SubtitleError("not a shot list: no 'shots' array")
    times: list[float] = []
    for shot in doc["shots"][1:]:
        try:
            times.append(float(shot["start"]))
        except (KeyError, TypeError, ValueError):
            raise SubtitleError("shot list entry without a numeric 'start'") from None
    fps = doc.get("fps")
    return sorted(t for t in times if math.isfinite(t)), (float(fps) if isinstance(fps, int | float) and fps > 0 else None)


def turns_from_words(words: Sequence[TimedWord], max_pause: float = 0.7) -> list[Turn]:
    """Group a transcript's words into turns at pauses longer than ``max_pause`` seconds."""
    turns: list[Turn] = []
    cur: list[TimedWord] = []
    for w in sorted(words, key=lambda w: w.start):
        pause = w.start - cur[-1].end if cur else 0.0
        if cur and (pause > max_pause or (pause > 0.3 and _SENTENCE_END.search(cur[-1].text))):
            turns.append(Turn(cur))
            cur = []
        cur.append(w)
    if cur:
        turns.append(Turn(cur))
    return turns
