"""Provenance embedded in output files, and its verification against the catalog.

PNG outputs carry the full record as a ``reelforge:provenance`` text chunk plus an XMP packet with
IPTC's DigitalSourceType (``trainedAlgorithmicMedia`` for generated media), so the file speaks for
itself outside the studio. Generated outputs (those with a source type) also get an invisible
watermark (``media/watermark.py``, keyed by the studio; its payload is in the record and in the
asset's ``meta.provenance.watermark``) and a C2PA manifest signed with the studio's certificate
(``signing.py``) that carries the same record. ``verify`` runs three checks, offline: the C2PA
signature, the watermark, and the catalog (by file hash, by pixel hash via the record, or by the
watermark's payload for a copy that lost its metadata).
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
from reelforge.db.models import AssetRow, JobInputRow, JobRow
from reelforge.errors import InvalidInput, LimitExceeded, ReelforgeError

if TYPE_CHECKING:
    from PIL import Image

    from reelforge.catalog.signing import Identity
    from reelforge.media.limits import MediaLimits
    from reelforge.studio import Studio

SCHEMA = "reelforge.provenance/1"
TEXT_KEY = "reelforge:provenance"
IPTC_SOURCE = "http://cv.iptc.org/newscodes/digitalsourcetype/"
# IPTC NewsCodes digital source types reelforge writes (compositeWithTrainedAlgorithmicMedia: a real
# image changed by a trained model, e.g. style transfer or restoration)
SOURCE_TYPES = {"trainedAlgorithmicMedia", "algorithmicMedia", "composite", "compositeSynthetic",
                "compositeWithTrainedAlgorithmicMedia"}


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


def write_output_png(
    img: Image.Image, dst: Path, record: dict[str, Any], source_type: str | None, identity: Identity,
) -> tuple[dict[str, Any], bool]:
    """A generated PNG: watermarked (before the pixel hash), the record embedded, then C2PA-signed.
    Returns the record and whether it was signed. Outputs without a source type (frames taken from
    user media) keep only the record: they were not made here."""
    from reelforge.catalog.signing import manifest, sign_file
    from reelforge.media import watermark

    record = dict(record)
    if source_type is not None and identity.watermark_key and min(img.size) >= watermark.MIN_SIDE:
        payload = identity.watermark_payload(pixel_sha256(img))
        marked = watermark.embed(img, payload, identity.watermark_key)
        # Recorded only when it reads back: a small or mostly flat (clipped) picture may not hold one.
        if watermark.detect(marked, identity.watermark_key).payload == payload:
            img = marked
            record["watermark"] = f"{payload:016x}"
    full = write_png(img, dst, record, source_type)
    signed = source_type is not None and sign_file(dst, identity, manifest(full, source_type, dst.name))
    return full, signed


def sign_output(path: Path, record: dict[str, Any], source_type: str, identity: Identity) -> bool:
    """C2PA-sign a generated non-PNG output (MP4, GIF, ...) in place with its record; False when
    the format or the installation cannot carry a manifest."""
    from reelforge.catalog.signing import manifest, sign_file

    if source_type not in SOURCE_TYPES:
        raise InvalidInput(f"unknown IPTC digital source type {source_type!r}")
    rec = {**record, "schema": SCHEMA, "digital_source_type": source_type}
    return sign_file(path, identity, manifest(rec, source_type, path.name))


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
    # The three checks: the C2PA signature (signing.SignatureCheck as a dict), the watermark
    # (watermark.Detection as a dict, or None when not looked for), and the catalog match.
    signature: dict[str, Any] | None = None
    watermark: dict[str, Any] | None = None
    matched_by: str | None = None  # "file hash", "record" or "watermark"
    catalog: dict[str, Any] | None = None  # the matched asset: name, job, task, seed, params, inputs

    def to_dict(self) -> dict[str, Any]:
        d = vars(self).copy()
        if self.asset_id is None:  # a match hidden from the caller (access.Guard) stays hidden here too
            d["matched_by"] = d["catalog"] = None
        return d


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1024 * 1024):
            h.update(chunk)
    return h.hexdigest()


def _catalog_entry(s: Any, asset: AssetRow) -> dict[str, Any]:
    """What the catalog says about a matched asset: the job that made it and that job's inputs."""
    entry: dict[str, Any] = {"asset_id": asset.id, "name": asset.name, "job_id": asset.created_by_job}
    job = s.get(JobRow, asset.created_by_job) if asset.created_by_job else None
    if job is not None:
        inputs = s.scalars(select(JobInputRow).where(JobInputRow.job_id == job.id).order_by(JobInputRow.ref_id))
        entry.update(task=job.task, seed=job.seed, params=job.params, code_version=job.code_version,
                     inputs=[{"id": r.ref_id, "kind": r.ref_kind, "role": r.role} for r in inputs])
    return entry


def _by_watermark(s: Any, payload: str) -> list[AssetRow]:
    """Assets whose recorded watermark is ``payload``: a JSON-path match on ``meta``, oldest first
    (several only when an output was regenerated bit for bit from its seed)."""
    q = (select(AssetRow).where(AssetRow.meta[("provenance", "watermark")].as_string() == payload)
         .order_by(AssetRow.created_at, AssetRow.id).limit(10))
    return list(s.scalars(q))


def verify(studio: Studio, path: str | Path, limits: MediaLimits | None = None, *,
           check_watermark: bool = True) -> Verification:
    """Check a file offline: its C2PA signature, its watermark, and the catalog (by content hash, by
    the embedded record and its pixel hash, or by the watermark's payload).

    ``verified`` when something identifies a catalogued asset and every check that applies holds:
    a present signature must be valid and the studio's, a found watermark must name a catalogued
    asset (the record's, when there is one), a present record must match its pixels and the catalog.
    ``limits`` (default: the studio's) are checked from the image header before any pixel is decoded;
    a file over them raises LimitExceeded. The watermark search costs about a second of CPU per
    megapixel: ``check_watermark=False`` skips it where the file is a catalogued original anyway.
    """
    from reelforge.catalog.signing import load_identity, verify_signature
    from reelforge.media import watermark as wm
    from reelforge.media.images import decoding, open_image

    path = Path(path)
    if not path.is_file():
        raise InvalidInput(f"{path}: no such file")
    sha = file_sha256(path)
    limits = limits or studio.settings.limits
    record = read_record(path, limits)
    v = Verification(str(path), sha, record)
    identity = load_identity(studio.settings, create=False)

    # 1. The C2PA signature (the file alone, and the studio's trust anchor).
    sig = verify_signature(path, identity)
    v.signature = sig.to_dict()
    if sig.status == "invalid":
        v.problems.append(f"C2PA signature does not verify (content changed after signing?): {sig.detail}")
    elif sig.status == "untrusted":
        v.problems.append(f"C2PA: {sig.detail}")

    # 2. Pixels: the record's pixel hash and the watermark (both need a decoded image).
    pixels_match: bool | None = None
    decoded = False
    try:
        # Header checked against the limits first; decoder errors become MediaError.
        with open_image(path, limits) as img, decoding(path.name):
            img.load()
            decoded = True
            if record is not None and record.get("pixel_sha256"):
                pixels_match = pixel_sha256(img) == record["pixel_sha256"]
            if identity.watermark_key and check_watermark:
                v.watermark = wm.detect(img, identity.watermark_key).to_dict()
    except LimitExceeded:
        raise
    except (ReelforgeError, OSError):
        if record is not None:
            v.problems.append("file does not decode as an image")
    if pixels_match is False:
        v.problems.append("pixels differ from the ones the record was made for (edited?)")
    mark = v.watermark["payload"] if v.watermark and v.watermark["found"] else None
    if record is not None and record.get("watermark") and pixels_match and v.watermark is not None and not mark:
        # The pixel hash already proves these are the marked pixels: a detector miss, not an edit.
        v.notes.append(f"record names watermark {record['watermark']}, which could not be read back")
    if record is not None and mark and record.get("watermark") and mark != record["watermark"]:
        v.problems.append(f"watermark {mark} differs from the record's {record['watermark']}")

    # 3. The catalog.
    with session_scope(studio.ReadSession) as s:
        asset = s.scalar(select(AssetRow).where(AssetRow.sha256 == sha).order_by(AssetRow.id))
        marked = _by_watermark(s, mark) if mark else []
        if mark and not marked:
            v.problems.append(f"watermark {mark} matches no asset in this studio")
        if record is None:
            if asset is not None:
                v.asset_id, v.matched_by = asset.id, "file hash"
                v.catalog = _catalog_entry(s, asset)
                v.notes.append(f"the file's bytes are catalogued as {asset.id} ({asset.name})")
            if marked:
                hit = marked[0]
                if asset is not None and asset.id != hit.id and hit.sha256 != asset.sha256:
                    v.problems.append(f"watermark names {hit.id}, the file's bytes are {asset.id}")
                else:
                    v.asset_id, v.matched_by = hit.id, v.matched_by or "watermark"
                    v.catalog = v.catalog or _catalog_entry(s, hit)
                    if asset is None:
                        v.notes.append(f"no embedded record (metadata stripped or a re-encoded copy); "
                                       f"the watermark names {hit.id} ({hit.name})")
                    if len(marked) > 1:
                        v.notes.append(f"{len(marked)} catalogued outputs carry this watermark "
                                       "(regenerated from the same seed)")
            if not mark and sig.status in ("absent", "unavailable"):
                v.problems.append("no reelforge provenance in this file: no record, no C2PA manifest, "
                                  "no watermark of this studio")
            elif v.asset_id is None and not v.problems:
                v.problems.append("nothing in this file identifies an asset of this studio")
        else:
            if record.get("schema") != SCHEMA:
                v.problems.append(f"unknown provenance schema {record.get('schema')!r}")
            if asset is None:
                named = s.get(AssetRow, record.get("asset_id") or "")
                if named is None:
                    v.problems.append("no asset in this studio has these bytes or the recorded asset id")
                else:
                    v.asset_id, v.matched_by = named.id, "record"
                    v.catalog = _catalog_entry(s, named)
                    v.problems.append(f"bytes differ from catalogued asset {named.id} (re-encoded or altered copy)")
            else:
                v.asset_id, v.matched_by = asset.id, "file hash"
                v.catalog = _catalog_entry(s, asset)
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
    if not decoded and record is None and identity.watermark_key and check_watermark:
        v.notes.append("the file does not decode as an image: no watermark to look for")
    v.verified = v.asset_id is not None and not v.problems
    return v
