from __future__ import annotations

import pytest

from reelforge.errors import InvalidInput, LimitExceeded, MediaError
from reelforge.media import DOCUMENT_TYPES, MediaLimits, is_document, is_fdx, probe, probe_document

FDX = '<?xml version="1.0"?>\n<FinalDraft DocumentType="Script" Version="5"><Content/></FinalDraft>\n'


def test_documents_are_chosen_by_name_unless_the_content_is_fdx(tmp_path):
    report = tmp_path / "report.json"
    report.write_text('{"a": [1, 2]}\n')
    assert is_document(report)
    info = probe_document(report)
    assert info.to_dict() == {"format": "json", "mime": "application/json", "size_bytes": 14, "line_count": 2,
                              "kind": "document"}
    script = tmp_path / "script.xml"
    script.write_text(FDX)
    assert not is_document(script)  # a Final Draft file stays a screenplay whatever its suffix
    assert probe(script).format == "fdx"
    staged = tmp_path / "blob_tmp"  # the catalog probes a staged copy and passes the real name
    staged.write_text("a,b\n1,2\n")
    assert is_document(staged, "table.csv") and probe_document(staged, "table.csv").format == "csv"
    assert ".otio" in DOCUMENT_TYPES and not is_document(tmp_path / "x.fountain")


def test_one_fdx_detector():
    assert is_fdx(FDX.encode())
    assert is_fdx(b'\xef\xbb\xbf<!-- note -->\n<!DOCTYPE x>\n<FinalDraft>')
    assert not is_fdx(b'<?xml version="1.0"?><html><p>&lt;FinalDraft&gt; mentioned in passing</p></html>')


def test_bad_documents(tmp_path):
    cases = {
        "empty.json": (b"", MediaError, "empty file"),
        "bad.json": (b'{"a": }', MediaError, "invalid JSON at line 1"),
        "deep.json": (b"[" * 100_000 + b"]" * 100_000, MediaError, "invalid JSON|nested too deeply"),
        "latin.csv": ("café".encode("latin-1"), MediaError, "not UTF-8"),
        "nul.html": (b"<p>\x00</p>", MediaError, "binary data"),
    }
    for name, (data, kind, pattern) in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(kind, match=pattern):
            probe_document(path)
    big = tmp_path / "big.md"
    big.write_text("x\n" * 100)
    with pytest.raises(LimitExceeded, match="over the limit of 100"):
        probe_document(big, limits=MediaLimits(max_text_bytes=100))
    with pytest.raises(InvalidInput, match="not a document type"):
        probe_document(big, "notes.txt")
