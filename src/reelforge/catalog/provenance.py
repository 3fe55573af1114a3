"""Provenance embedded in output files, and its verification against the catalog.

PNG outputs carry the full record as a ``reelforge:provenance`` text chunk plus an XMP packet with
IPTC's DigitalSourceType (``trainedAlgorithmicMedia`` for generated media), so the file speaks for
itself outside the studio. ``verify`` hashes the file and checks the record against the catalog.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape

from sqlalchemy import select

from reelforge.db.engine import session_scope
from reelforge.db.models import AssetRow, JobRow
from reelforge.errors import InvalidInput, LimitExceeded, ReelforgeError

if TYPE_CHECKING:
    from PIL import Image

    from reelforge.media.limits import MediaLimits
    from reelforge.studio import Studio

SCHEMA = "reelforge.provenance/1"
TEXT_KEY = "reelforge:provenance"
IPTC_SOURCE = "http://cv.iptc.org/newscodes/digitalsourcetype/"
SOURCE_TYPES = {"trainedAlgorithmicMedia", "algorithmicMedia", "composite", "compositeSynthetic"}


def pixel_sha256(img: Image.Image) -> str:
    """Hash of decoded RGBA pixels + size: survives lossless re-encoding, catches pixel edits."""
    rgba = img.convert("RGBA")
    h = hashlib.sha256(f"{rgba.width}x{rgba.height}:".encode())
    # Row bands, not one tobytes(): the same bytes in order without a second full-size copy.
    for top in range(0, rgba.height, 512):
        h.update(rgba.crop((0, top, rgba.width, min(rgba.height, top + 512))).tobytes())
    return h.hexdigest()


def xmp_packet(record: dict[str, Any], source_type: str | None) -> bytes:
    rows = []
    if source_type:
        rows.append(f"<Iptc4xmpExt:DigitalSourceType>{IPTC_SOURCE}{source_type}</Iptc4xmpExt:DigitalSourceType>")
    rows.append("<xmp:CreatorTool>reelforge</xmp:CreatorTool>")
    for key in ("asset_id", "job_id", "task", "seed"):
        if record.get(key) is not None:
            rows.append(f"<reelforge:{key}>{escape(str(record[key]))}</reelforge:{key}>")
    body = "\n    ".join(rows)
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">\n'
        ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
        '  <rdf:Description rdf:about=""\n'
        '    xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"\n'
        '    xmlns:xmp="http://ns.adobe.com/xap/1.0/"\n'
        '    xmlns:reelforge="https://reelforge.dev/ns/provenance/1.0/">\n'
        f"    {body}\n"
        "  </rdf:Description>\n"
        " </rdf:RDF>\n"
        "</x:xmpmeta>\n"
        '<?xpacket end="w"?>'
    ).encode()


def write_png(img: Image.Image, dst: Path, record: dict[str, Any], source_type: str | None) -> dict[str, Any]:
    from reelforge.media import save_png_with_text

    if source_type is not None and source_type not in SOURCE_TYPES:
        raise InvalidInput(f"unknown IPTC digital source type {source_type!r}")
    record = {**record, "schema": SCHEMA, "digital_source_type": source_type, "pixel_sha256": pixel_sha256(img)}
    save_png_with_text(img, dst, {TEXT_KEY: json.dumps(record, sort_keys=True)}, xmp=xmp_packet(record, source_type))
    return record


def read_record(path: Path, limits: MediaLimits | None = None) -> dict[str, Any] | None:
    """The embedded record, or None (not a PNG, no or unreadable record). A PNG over ``limits``
    (checked from its header) raises LimitExceeded: such a file is refused, not read."""
    from reelforge.media import MediaLimits, read_png_text

    try:
        text = read_png_text(path, limits or MediaLimits())
    except LimitExceeded:
        raise
    except (ReelforgeError, OSError):
        return None
    raw = text.get(TEXT_KEY)
    if not raw:
        return None
    try:
        data = json.loads(raw)
    except json.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None


@dataclass
class Verification:
    path: str
    sha256: str
    record: dict[str, Any] | None
    asset_id: str | None = None
    verified: bool = False
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return vars(self).copy()


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1024 * 1024):
            h.update(chunk)
    return h.hexdigest()


def verify(studio: Studio, path: str | Path, limits: MediaLimits | None = None) -> Verification:
    """Check a file's embedded record against the catalog (by content hash, then by pixels).

    ``limits`` (default: the studio's) are checked from the PNG header before any pixel is decoded;
    a file over them raises LimitExceeded.
    """
    from reelforge.media.images import decoding, open_image

    path = Path(path)
    if not path.is_file():
        raise InvalidInput(f"{path}: no such file")
    sha = file_sha256(path)
    limits = limits or studio.settings.limits
    record = read_record(path, limits)
    v = Verification(str(path), sha, record)
    with session_scope(studio.ReadSession) as s:
        asset = s.scalar(select(AssetRow).where(AssetRow.sha256 == sha).order_by(AssetRow.id))
        if record is None:
            v.problems.append("no reelforge provenance record in this file")
            if asset is not None:
                v.asset_id = asset.id
                v.notes.append(f"the file's bytes are catalogued as {asset.id} ({asset.name})")
            return v
        if record.get("schema") != SCHEMA:
            v.problems.append(f"unknown provenance schema {record.get('schema')!r}")
        try:
            # Header checked against the limits first; decoder errors become MediaError.
            with open_image(path, limits) as img, decoding(path.name):
                if record.get("pixel_sha256") and pixel_sha256(img) != record["pixel_sha256"]:
                    v.problems.append("pixels differ from the ones the record was made for (edited?)")
        except LimitExceeded:
            raise
        except (ReelforgeError, OSError):
            v.problems.append("file does not decode as an image")
        if asset is None:
            named = s.get(AssetRow, record.get("asset_id") or "")
            if named is None:
                v.problems.append("no asset in this studio has these bytes or the recorded asset id")
            else:
                v.asset_id = named.id
                v.problems.append(f"bytes differ from catalogued asset {named.id} (re-encoded or altered copy)")
        else:
            v.asset_id = asset.id
            if record.get("asset_id") != asset.id:
                v.problems.append(f"record names asset {record.get('asset_id')}, catalog has {asset.id}")
            if record.get("job_id") != asset.created_by_job:
                v.problems.append(f"record names job {record.get('job_id')}, catalog has {asset.created_by_job}")
        job = s.get(JobRow, record.get("job_id") or "")
        if job is None:
            v.problems.append(f"job {record.get('job_id')} is not in this studio")
        else:
            for key in ("task", "seed"):
                if record.get(key) != getattr(job, key):
                    v.problems.append(f"record {key}={record.get(key)!r} but job has {getattr(job, key)!r}")
            if record.get("params") != job.params:
                v.problems.append("record params differ from the job's")
    v.verified = not v.problems
    return v
