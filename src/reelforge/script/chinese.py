"""Reader for the common plain-text Chinese screenplay layout.

Typical shapes it accepts (order of the heading parts is free)::

    1. 日 内 客厅          第1场 夜 外 街道          1、客厅 日 内          场景三：天台 夜 外
    人物：张三、李四         (cast list -> note element + ``cast_listed`` on the scene heading)
    △张三推门进来。          (action; a plain line is action too)
    张三：（低声）你来了。    (dialogue; full-width or ASCII colon; parentheticals before or inside)
    李四（画外音）：我在这儿。 (an extension such as 画外音/旁白/V.O. between name and colon)

Heading ``int_ext`` uses the English canonical values (INT, EXT, INT/EXT) so breakdowns and
stripboards treat both languages alike; ``time_of_day`` keeps the Chinese word (``日``, ``夜``...).
"""

from __future__ import annotations

import re

from reelforge.errors import ScriptParseError

from .model import Element, Screenplay, TitleField

__all__ = ["parse_chinese"]

_CN_NUM = "0-9０-９一二三四五六七八九十百千零〇两"
_HEAD_NUM = re.compile(
    rf"^\s*(?:第\s*(?P<a>[{_CN_NUM}]+)\s*[场幕集]|场景\s*(?P<b>[{_CN_NUM}]+)"
    rf"|(?P<c>[0-9０-９]+(?:[-－.][0-9０-９]+)*[A-Za-z]?)(?=\s*[.．、:：\s]))\s*[.．、:：]?\s*(?P<rest>.*)$"
)
_TIME_WORDS = (
    "白天",
    "夜晚",
    "晚上",
    "早晨",
    "清晨",
    "凌晨",
    "傍晚",
    "黄昏",
    "深夜",
    "中午",
    "上午",
    "下午",
    "午后",
    "日",
    "夜",
    "晨",
    "昏",
    "午",
    "晚",
    "早",
)
_INT_EXT = {
    "内": "INT",
    "内景": "INT",
    "室内": "INT",
    "外": "EXT",
    "外景": "EXT",
    "室外": "EXT",
    "内外": "INT/EXT",
    "内/外": "INT/EXT",
    "外/内": "INT/EXT",
    "内外景": "INT/EXT",
}
_TOKEN_SPLIT = re.compile(r"[\s,，/／·・|｜\-－—]+")
_SENTENCE_PUNCT = re.compile(r"[。！？!?；;]")
_CAST = re.compile(r"^\s*(?:人物|出场人物|登场人物|角色)\s*[:：]\s*(?P<names>.*)$")
# The space after an extension sits inside its optional group: two \s* side by side split a long
# run of spaces every possible way (quadratic) before failing.
_DIALOGUE = re.compile(
    r"^\s*(?P<name>[^\s:：△▲（）()]{1,12}?)\s*(?:[（(](?P<ext>[^）)]{1,12})[）)]\s*)?[:：]\s*(?P<text>.*)$"
)
_PAREN = re.compile(r"[（(][^（）()]*[）)]")
_TITLE_KEYS = {
    "编剧": "Author",
    "作者": "Author",
    "原著": "Source",
    "导演": "Director",
    "日期": "Draft date",
    "版本": "Draft date",
    "联系": "Contact",
    "联系方式": "Contact",
}
_EXTENSIONS = {
    "画外音": "V.O.",
    "旁白": "V.O.",
    "画外": "O.S.",
    "内心": "V.O.",
    "内心独白": "V.O.",
    "OS": "O.S.",
    "O.S.": "O.S.",
    "VO": "V.O.",
    "V.O.": "V.O.",
    "电话": "FILTERED",
    "续": "CONT'D",
    "接上": "CONT'D",
    "CONT'D": "CONT'D",
}
_NOT_NAMES = {"时间", "地点", "场景", "备注", "注", "字幕", "画面", "镜头", "音效", "音乐", "内容", "提示"}
_SPEECH_VERBS = ("说", "道", "问", "喊", "叫", "答", "想")


def _heading_parts(rest: str) -> tuple[str | None, str | None, str | None]:
    """Pull int/ext and time tokens out of a heading; what is left is the location."""
    int_ext = tod = None
    loc_tokens: list[str] = []
    rest = re.sub(r"内\s*[/／]\s*外|外\s*[/／]\s*内", "内外", rest)
    for tok in (t for t in _TOKEN_SPLIT.split(rest.strip()) if t):
        if tok in _INT_EXT and int_ext is None:
            int_ext = _INT_EXT[tok]
        elif tod is None and tok in _TIME_WORDS:
            tod = tok
        elif int_ext is None and len(tok) <= 3 and tok[-1] in "内外" and tok[:-1] in _TIME_WORDS:
            tod, int_ext = tok[:-1], _INT_EXT[tok[-1]]  # "日内" / "夜外"
        elif tod is None and len(tok) <= 3 and tok[0] in "内外" and tok[1:] in _TIME_WORDS:
            int_ext, tod = _INT_EXT[tok[0]], tok[1:]  # "内日"
        else:
            loc_tokens.append(tok)
    location = " ".join(loc_tokens) or None
    return int_ext, location, tod


def _match_heading(line: str) -> tuple[str | None, str | None, str | None, str | None] | None:
    """Return (scene_number, int_ext, location, time_of_day) if ``line`` is a scene heading."""
    s = line.strip()
    if not s or len(s) > 60 or _SENTENCE_PUNCT.search(s):
        return None
    m = _HEAD_NUM.match(s)
    if m:
        number = m.group("a") or m.group("b") or m.group("c")
        explicit = bool(m.group("a") or m.group("b"))
        rest = m.group("rest")
        if "：" in rest or ":" in rest:
            return None
        int_ext, location, tod = _heading_parts(rest)
        if explicit or int_ext or tod:
            return number, int_ext, location, tod
        return None
    if "：" in s or ":" in s:
        return None
    int_ext, location, tod = _heading_parts(s)
    if int_ext and tod and location and len(location) <= 20:
        return None, int_ext, location, tod
    return None


def _split_names(names: str) -> list[str]:
    return [n.strip() for n in re.split(r"[、，,;；/\s]+", names) if n.strip()]


def _dialogue_elements(text: str, line: int) -> list[Element]:
    """Split ``（笑）你好（停顿）再见`` into parenthetical/dialogue elements."""
    out: list[Element] = []
    pos = 0
    for m in _PAREN.finditer(text):
        before = text[pos : m.start()].strip()
        if before:
            out.append(Element("dialogue", before, line))
        inner = m.group()[1:-1].strip()
        out.append(Element("parenthetical", f"({inner})", line))
        pos = m.end()
    tail = text[pos:].strip()
    if tail:
        out.append(Element("dialogue", tail, line))
    return out


def parse_chinese(text: str) -> Screenplay:
    """Parse a Chinese plain-text screenplay (``language="zh"``)."""
    if not isinstance(text, str):
        raise ScriptParseError(f"Chinese screenplay input must be text (str), got {type(text).__name__}")
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    cast_names: set[str] = set()
    for ln in lines:
        m = _CAST.match(ln)
        if m:
            cast_names.update(_split_names(m.group("names")))

    title: list[TitleField] = []
    els: list[Element] = []
    heading: Element | None = None
    pending_speaker = False  # a cue line "张三：" with the speech on the next line
    for no, raw in enumerate(lines, start=1):
        s = raw.strip().replace("\u3000", " ").strip()
        if not s:
            continue
        if heading is None and not els:
            tm = re.match(r"^《(.+)》$", s)
            if tm and not title:
                title.append(TitleField("Title", tm.group(1).strip()))
                continue
            km = re.match(r"^(\S{1,4})\s*[:：]\s*(.+)$", s)
            if km and km.group(1) in _TITLE_KEYS:
                title.append(TitleField(_TITLE_KEYS[km.group(1)], km.group(2).strip()))
                continue
        hm = _match_heading(s)
        if hm is not None:
            pending_speaker = False
            number, int_ext, location, tod = hm
            heading = Element(
                "scene_heading",
                s,
                no,
                int_ext=int_ext,
                location=location,
                time_of_day=tod,
                scene_number=number,
            )
            els.append(heading)
            continue
        cm = _CAST.match(s)
        if cm:
            names = _split_names(cm.group("names"))
            note = Element("note", s, no, attrs={"cast_listed": names})
            els.append(note)
            if heading is not None:
                listed = heading.attrs.setdefault("cast_listed", [])
                have = set(listed)  # a set: a giant cast line must not cost names x names
                for n in names:
                    if n not in have:
                        have.add(n)
                        listed.append(n)
            continue
        if s[0] in "△▲※●":
            pending_speaker = False
            els.append(Element("action", s[1:].strip(), no))
            continue
        if pending_speaker and not _DIALOGUE.match(s):
            pending_speaker = False
            els.extend(_dialogue_elements(s, no))
            continue
        pending_speaker = False
        if s.startswith(("【", "[")) and s.endswith(("】", "]")):
            els.append(Element("note", s[1:-1].strip(), no))
            continue
        dm = _DIALOGUE.match(s)
        if dm:
            name = dm.group("name")
            is_name = name not in _NOT_NAMES and (
                name in cast_names or not (len(name) > 2 and name.endswith(_SPEECH_VERBS))
            )
            if is_name:
                ext = (dm.group("ext") or "").strip()
                cue = Element("character", name + (f"（{ext}）" if ext else ""), no, name=name)
                parts = _dialogue_elements(dm.group("text"), no)
                if ext:
                    norm = _EXTENSIONS.get(ext.upper(), _EXTENSIONS.get(ext))
                    if norm:
                        cue.extensions = [norm]
                    else:
                        # An acting note between name and colon is a parenthetical, not an extension.
                        cue.text = name
                        parts.insert(0, Element("parenthetical", f"({ext})", no))
                els.append(cue)
                els.extend(parts)
                pending_speaker = not dm.group("text").strip()
                continue
        if s.startswith(("字幕：", "字幕:")):
            els.append(Element("centered", s[3:].strip(), no))
            continue
        els.append(Element("action", s, no))
    return Screenplay(title_page=title, elements=els, language="zh")
