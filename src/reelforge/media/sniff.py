"""Decide what a file is from its content (magic bytes), never from its name.

The extension is only used to tell plain text from Fountain, and to choose the friendlier error for a
file that claims to be text. Sniffing reads a small head of the file plus, for MP4/QuickTime, the box
headers needed to find the track handlers (so an audio-only MP4 is "audio"), and never decodes media.
"""

from __future__ import annotations

import codecs
import re
import stat
import struct
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, BinaryIO

from reelforge.errors import LimitExceeded, MediaError, NotFound
from reelforge.media.limits import MediaLimits

HEAD_BYTES = 64 * 1024

KINDS = ("image", "video", "audio", "screenplay")

MIME_TYPES: dict[tuple[str, str], str] = {
    ("image", "png"): "image/png",
    ("image", "jpeg"): "image/jpeg",
    ("image", "gif"): "image/gif",
    ("image", "webp"): "image/webp",
    ("image", "tiff"): "image/tiff",
    ("image", "bmp"): "image/bmp",
    ("image", "avif"): "image/avif",
    ("video", "mp4"): "video/mp4",
    ("video", "mov"): "video/quicktime",
    ("video", "mkv"): "video/x-matroska",
    ("video", "webm"): "video/webm",
    ("video", "avi"): "video/x-msvideo",
    ("video", "ogg"): "video/ogg",
    ("video", "ts"): "video/mp2t",
    ("audio", "wav"): "audio/wav",
    ("audio", "aiff"): "audio/aiff",
    ("audio", "flac"): "audio/flac",
    ("audio", "mp3"): "audio/mpeg",
    ("audio", "aac"): "audio/aac",
    ("audio", "ogg"): "audio/ogg",
    ("audio", "m4a"): "audio/mp4",
    ("audio", "mkv"): "audio/x-matroska",
    ("audio", "webm"): "audio/webm",
    ("screenplay", "fountain"): "text/x-fountain",
    ("screenplay", "fdx"): "application/xml",
    ("screenplay", "text"): "text/plain",
}

# Extensions whose owner clearly meant "text": a bad one gets a text-specific error message.
TEXT_EXTENSIONS = {".txt", ".text", ".fountain", ".spmd", ".fdx", ".md", ".xml"}
FOUNTAIN_EXTENSIONS = {".fountain", ".spmd"}

# Extensions that name a binary type: what the name promises, and which sniffed formats keep it.
# Text content under one of these names is refused (it is not a screenplay); other binary content
# is kept under the content's kind, with a note (see ``name_mismatch``).
_ISO_BMFF = frozenset({"mp4", "mov", "m4a"})
_MATROSKA = frozenset({"mkv", "webm"})
BINARY_EXTENSIONS: dict[str, tuple[str, frozenset[str]]] = {
    ".png": ("PNG image", frozenset({"png"})),
    ".apng": ("PNG image", frozenset({"png"})),
    ".jpg": ("JPEG image", frozenset({"jpeg"})),
    ".jpeg": ("JPEG image", frozenset({"jpeg"})),
    ".jpe": ("JPEG image", frozenset({"jpeg"})),
    ".jfif": ("JPEG image", frozenset({"jpeg"})),
    ".gif": ("GIF image", frozenset({"gif"})),
    ".webp": ("WebP image", frozenset({"webp"})),
    ".tif": ("TIFF image", frozenset({"tiff"})),
    ".tiff": ("TIFF image", frozenset({"tiff"})),
    ".bmp": ("BMP image", frozenset({"bmp"})),
    ".avif": ("AVIF image", frozenset({"avif"})),
    ".heic": ("HEIF image", frozenset()),
    ".heif": ("HEIF image", frozenset()),
    ".mp4": ("MP4 video", _ISO_BMFF),
    ".m4v": ("MP4 video", _ISO_BMFF),
    ".mov": ("QuickTime video", _ISO_BMFF),
    ".m4a": ("MP4 audio", _ISO_BMFF),
    ".mkv": ("Matroska video", _MATROSKA),
    ".mka": ("Matroska audio", _MATROSKA),
    ".webm": ("WebM video", _MATROSKA),
    ".avi": ("AVI video", frozenset({"avi"})),
    ".ts": ("MPEG-TS video", frozenset({"ts"})),
    ".mts": ("MPEG-TS video", frozenset({"ts"})),
    ".m2ts": ("MPEG-TS video", frozenset({"ts"})),
    ".ogv": ("Ogg video", frozenset({"ogg"})),
    ".ogg": ("Ogg audio", frozenset({"ogg"})),
    ".oga": ("Ogg audio", frozenset({"ogg"})),
    ".opus": ("Opus audio", frozenset({"ogg"})),
    ".wav": ("WAV audio", frozenset({"wav"})),
    ".aif": ("AIFF audio", frozenset({"aiff"})),
    ".aiff": ("AIFF audio", frozenset({"aiff"})),
    ".flac": ("FLAC audio", frozenset({"flac"})),
    ".mp3": ("MP3 audio", frozenset({"mp3"})),
    ".aac": ("AAC audio", frozenset({"aac"})),
    ".pdf": ("PDF document", frozenset()),
    ".doc": ("Word document", frozenset()),
    ".docx": ("Word document", frozenset()),
    ".odt": ("OpenDocument text", frozenset()),
    ".zip": ("ZIP archive", frozenset()),
}


@dataclass(frozen=True)
class Sniffed:
    kind: str
    format: str
    mime: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Sniffed:
        return cls(kind=data["kind"], format=data["format"], mime=data["mime"])


def _make(kind: str, fmt: str) -> Sniffed:
    return Sniffed(kind=kind, format=fmt, mime=MIME_TYPES[(kind, fmt)])


def check_file(path: Path, limits: MediaLimits) -> int:
    """Existence, regular file, non-empty, within max_bytes; returns the size."""
    name = path.name
    try:
        st = path.stat()
    except FileNotFoundError:
        raise NotFound(f"{name}: file not found") from None
    except OSError as err:
        raise MediaError(f"{name}: cannot read file ({err.strerror or err})") from None
    if not stat.S_ISREG(st.st_mode):
        raise MediaError(f"{name}: not a regular file")
    if st.st_size == 0:
        raise MediaError(f"{name}: empty file")
    if st.st_size > limits.max_bytes:
        raise LimitExceeded(f"{name}: file is {st.st_size} bytes, over the limit of {limits.max_bytes}")
    return st.st_size


def sniff(path: Path, limits: MediaLimits = MediaLimits()) -> Sniffed:
    """Identify ``path`` by content. Raises MediaError (unknown/invalid) or LimitExceeded (too big)."""
    path = Path(path)
    size = check_file(path, limits)
    try:
        with open(path, "rb") as f:
            head = f.read(HEAD_BYTES)
            found = _binary_format(head, f, size, path)
    except OSError as err:
        raise MediaError(f"{path.name}: cannot read file ({err.strerror or err})") from None
    if found is not None:
        return _make(*found)
    return _sniff_text(path, head, complete=size <= len(head))


def sniff_bytes(data: bytes, name: str, limits: MediaLimits = MediaLimits()) -> Sniffed | None:
    """``sniff`` of a file's bytes already in memory, for the types its first bytes alone decide
    (PNG, JPEG, GIF: what ingest reads whole, by the thousand); None for anything else, which the
    file's own ``sniff`` identifies. The same limits, the same messages."""
    if not data:
        raise MediaError(f"{name}: empty file")
    if len(data) > limits.max_bytes:
        raise LimitExceeded(f"{name}: file is {len(data)} bytes, over the limit of {limits.max_bytes}")
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return _make("image", "png")
    if data.startswith(b"\xff\xd8\xff"):
        return _make("image", "jpeg")
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return _make("image", "gif")
    return None


# ---------------------------------------------------------------------------------------------- binary


def _binary_format(head: bytes, f: BinaryIO, size: int, path: Path) -> tuple[str, str] | None:
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image", "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image", "jpeg"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image", "gif"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "image", "tiff"
    if (
        head[:2] == b"BM"
        and len(head) >= 18
        and struct.unpack("<I", head[14:18])[0]
        in {
            12,
            40,
            52,
            56,
            64,
            108,
            124,
        }
    ):
        return "image", "bmp"
    if head[:4] in (b"RIFF", b"RF64") and len(head) >= 12:
        sub = head[8:12]
        if sub == b"WEBP":
            return "image", "webp"
        if sub == b"WAVE":
            return "audio", "wav"
        if sub == b"AVI ":
            return "video", "avi"
        return None
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "audio", "aiff"
    if len(head) >= 12 and head[4:8] == b"ftyp":
        return _iso_bmff_format(head, f, size, path)
    if len(head) >= 8 and head[4:8] in (b"moov", b"mdat", b"wide") and struct.unpack(">I", head[:4])[0] >= 8:
        return "video", "mov"  # QuickTime files from before the ftyp box existed
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        fmt = "webm" if b"webm" in head[:64] else "mkv"
        return _av_kind(path, default="video"), fmt
    if head.startswith(b"OggS"):
        page = head[:4096]
        return ("video" if b"\x80theora" in page or b"OVP80" in page else "audio"), "ogg"
    if head.startswith(b"fLaC"):
        return "audio", "flac"
    if len(head) >= 3 * 188 and head[0] == head[188] == head[376] == 0x47:
        return "video", "ts"
    return _elementary_audio(head)


def _elementary_audio(head: bytes) -> tuple[str, str] | None:
    """MP3 / ADTS-AAC streams: an optional ID3v2 tag, then two consecutive valid frame headers."""
    offset = 0
    if head.startswith(b"ID3") and len(head) >= 10:
        tag_size = (head[6] << 21) | (head[7] << 14) | (head[8] << 7) | head[9]
        offset = 10 + tag_size + (10 if head[5] & 0x10 else 0)
        if offset + 4 > len(head):
            return "audio", "mp3"  # a huge ID3 tag (cover art): the tag itself identifies it
        if head[offset : offset + 4] == b"fLaC":
            return "audio", "flac"
    for parse, fmt in ((_mp3_frame_length, "mp3"), (_adts_frame_length, "aac")):
        length = parse(head[offset : offset + 7])
        if length is None:
            continue
        following = head[offset + length : offset + length + 7]
        if len(following) < 4 or parse(following) is not None:
            return "audio", fmt
    return None


_MP3_BITRATES = {
    3: (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),  # MPEG-1 layer III
    2: (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),  # MPEG-2 layer III
    0: (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),  # MPEG-2.5 layer III
}
_MP3_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def _mp3_frame_length(h: bytes) -> int | None:
    if len(h) < 4 or h[0] != 0xFF or (h[1] & 0xE0) != 0xE0:
        return None
    version, layer = (h[1] >> 3) & 3, (h[1] >> 1) & 3
    if version == 1 or layer != 1:  # reserved version; only layer III is "mp3"
        return None
    bitrate_index, rate_index, padding = h[2] >> 4, (h[2] >> 2) & 3, (h[2] >> 1) & 1
    if bitrate_index in (0, 15) or rate_index == 3:
        return None
    bitrate = _MP3_BITRATES[version][bitrate_index] * 1000
    rate = _MP3_RATES[version][rate_index]
    return (144 if version == 3 else 72) * bitrate // rate + padding


def _adts_frame_length(h: bytes) -> int | None:
    if len(h) < 7 or h[0] != 0xFF or (h[1] & 0xF6) != 0xF0:
        return None
    if ((h[2] >> 2) & 0xF) > 12:  # sampling frequency index
        return None
    length = ((h[3] & 0x03) << 11) | (h[4] << 3) | (h[5] >> 5)
    return length if length >= 7 else None


def _boxes(f: BinaryIO, start: int, end: int, budget: list[int]) -> Any:
    """Yield (type, payload_start, payload_end) of the ISO-BMFF boxes in [start, end)."""
    pos = start
    while pos + 8 <= end and budget[0] > 0:
        budget[0] -= 1
        f.seek(pos)
        header = f.read(8)
        if len(header) < 8:
            return
        box_size, box_type = struct.unpack(">I4s", header)
        header_len = 8
        if box_size == 1:
            large = f.read(8)
            if len(large) < 8:
                return
            box_size, header_len = struct.unpack(">Q", large)[0], 16
        elif box_size == 0:
            box_size = end - pos
        if box_size < header_len:
            return
        yield box_type, pos + header_len, min(pos + box_size, end)
        pos += box_size


def _iso_bmff_format(head: bytes, f: BinaryIO, size: int, path: Path) -> tuple[str, str] | None:
    ftyp_size = struct.unpack(">I", head[:4])[0]
    ftyp = head[8 : max(8, min(ftyp_size, len(head)))]
    major = ftyp[:4]
    brands = {major} | {ftyp[i : i + 4] for i in range(8, len(ftyp) - 3, 4)}
    if major in (b"avif", b"avis") or (b"avif" in brands and major in (b"mif1", b"msf1")):
        return "image", "avif"
    if major in (b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1", b"crx "):
        return None  # HEIF stills and camera raw: not decodable here
    handlers: set[bytes] = set()
    budget = [20_000]
    for box_type, start, end in _boxes(f, 0, size, budget):
        if box_type != b"moov":
            continue
        for trak_type, t_start, t_end in _boxes(f, start, end, budget):
            if trak_type != b"trak":
                continue
            for mdia_type, m_start, m_end in _boxes(f, t_start, t_end, budget):
                if mdia_type != b"mdia":
                    continue
                for h_type, h_start, h_end in _boxes(f, m_start, m_end, budget):
                    if h_type == b"hdlr" and h_end - h_start >= 12:
                        f.seek(h_start + 8)
                        handlers.add(f.read(4))
        break
    quicktime = major == b"qt  "
    if b"vide" in handlers:
        return "video", "mov" if quicktime else "mp4"
    if b"soun" in handlers:
        return "audio", "m4a"
    if handlers:
        raise MediaError(f"{path.name}: MP4 container has no audio or video track")
    # No readable moov (e.g. truncated): trust the brand; probing will report the damage.
    if major in (b"M4A ", b"M4B ", b"M4P ", b"F4A "):
        return "audio", "m4a"
    return "video", "mov" if quicktime else "mp4"


def _av_kind(path: Path, default: str) -> str:
    """For Matroska/WebM, whose track list is deep in EBML: ask the demuxer whether video exists."""
    import av

    try:
        with av.open(str(path)) as container:
            has_video = any(
                not (s.disposition & av.stream.Disposition.attached_pic) for s in container.streams.video
            )
            if has_video:
                return "video"
            return "audio" if container.streams.audio else default
    except (av.FFmpegError, OSError, ValueError):
        return default  # probing will report why it cannot be opened


# ------------------------------------------------------------------------------------------------ text


def text_problem(data: bytes, complete: bool) -> str | None:
    """Why ``data`` is not acceptable UTF-8 text, or None. ``complete`` is False for a file's head."""
    if b"\x00" in data:
        return "contains binary data (NUL bytes)"
    decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="strict")
    try:
        text = decoder.decode(data, final=complete)
    except UnicodeDecodeError as err:
        return f"is not UTF-8 text (invalid byte 0x{data[err.start]:02x} at offset {err.start})"
    if text:
        bad = sum(1 for c in text if not (c.isprintable() or c in "\t\n\r\f\v"))
        if bad > 0.05 * len(text):
            return "contains binary data (mostly control characters)"
    return None


_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef]")


def screenplay_encoding(data: bytes, complete: bool) -> str | None:
    """The encoding of screenplay text, or None when it is not text: UTF-8 (with or without a BOM),
    UTF-16 with a BOM (Final Draft and Word exports), or GB18030 (common for Chinese scripts; only
    when the text is largely CJK, so binary that happens to decode is not taken for a script)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        enc = "utf-16"
    elif text_problem(data, complete) is None:
        return "utf-8-sig" if data.startswith(b"\xef\xbb\xbf") else "utf-8"
    elif b"\x00" in data:
        return None
    else:
        enc = "gb18030"
    try:
        text = codecs.getincrementaldecoder(enc)(errors="strict").decode(data, final=complete)
    except UnicodeDecodeError:
        return None
    if not text or "\x00" in text:
        return None
    bad = sum(1 for c in text if not (c.isprintable() or c in "\t\n\r\f\v\ufeff"))
    if bad > 0.05 * len(text):
        return None
    if enc == "gb18030":
        visible = sum(1 for c in text if not c.isspace())
        if len(_CJK.findall(text)) < 0.2 * max(visible, 1) or not _mostly_gb2312(data):
            return None
    return enc


def _mostly_gb2312(data: bytes) -> bool:
    """Chinese text in GB18030 is mostly GB2312 characters (both bytes >= 0xA1). Latin-1 or CP1252
    text also decodes as GB18030 (an accented letter + an ASCII letter form a valid pair), but its
    pairs have a low second byte, so this tells the two apart."""
    pairs = gb2312 = 0
    i, n = 0, len(data)
    while i < n:
        b = data[i]
        if b < 0x80:
            i += 1
        elif i + 1 < n and 0x30 <= data[i + 1] <= 0x39:
            i += 4  # a four-byte GB18030 sequence
        else:
            pairs += 1
            if i + 1 < n and b >= 0xA1 and data[i + 1] >= 0xA1:
                gb2312 += 1
            i += 2
    return pairs > 0 and gb2312 >= 0.9 * pairs


_XML_PROLOGUE = re.compile(r"\s*+(<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^>\[]*+(\[.*?\])?\s*+>)", re.DOTALL)


def is_fdx(head: bytes) -> bool:
    """True if the XML's root element is <FinalDraft> (skipping declaration, comments, doctype)."""
    text = head.decode("utf-8-sig", errors="replace")
    pos = 0
    while True:
        m = _XML_PROLOGUE.match(text, pos)
        if not m:
            break
        pos = m.end()
    return re.match(r"\s*<FinalDraft[\s>/]", text[pos:]) is not None


def describe_content(sniffed: Sniffed) -> str:
    """"JPEG image", "MP4 video", "text": for messages."""
    if sniffed.kind == "screenplay":
        return "text"
    return f"{sniffed.format.upper()} {sniffed.kind}"


def name_mismatch(path: Path, sniffed: Sniffed) -> str | None:
    """A note when the file's extension promises another binary type than its content (None if not).

    Such a file is kept under its content's kind: the content decides, the name only misleads.
    """
    claimed = BINARY_EXTENSIONS.get(path.suffix.lower())
    if claimed is None or sniffed.format in claimed[1]:
        return None
    return f"name says {claimed[0]} but the content is {describe_content(sniffed)}"


def _sniff_text(path: Path, head: bytes, complete: bool) -> Sniffed:
    ext = path.suffix.lower()
    problem = text_problem(head, complete)
    if problem is not None and screenplay_encoding(head, complete) is not None:
        problem = None  # UTF-16 or GB18030 screenplay text
    if problem is not None:
        if ext in TEXT_EXTENSIONS:
            raise MediaError(f"{path.name} {problem}")
        raise MediaError(f"{path.name}: unsupported file type")
    if ext in BINARY_EXTENSIONS:
        # A text file called .png or .mp4 is a mistake or a disguise, never a screenplay.
        raise MediaError(f"{path.name}: name says {BINARY_EXTENSIONS[ext][0]} but the content is text")
    if is_fdx(head):
        return _make("screenplay", "fdx")
    if ext == ".fdx":
        raise MediaError(f"{path.name}: not a Final Draft file (the XML root is not <FinalDraft>)")
    if ext in FOUNTAIN_EXTENSIONS:
        return _make("screenplay", "fountain")
    return _make("screenplay", "text")
