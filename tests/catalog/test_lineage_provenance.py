from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

from reelforge.catalog.provenance import IPTC_SOURCE, read_record, verify
from reelforge.media import read_xmp
from reelforge.studio import Studio
from tests.conftest import make_image


def _sheet(studio: Studio, tmp_path: Path) -> tuple[str, str, list[str]]:
    raw = [a.id for a in studio.assets.add([make_image(tmp_path / "src" / f"{i}.png", seed=i) for i in range(4)]).added]
    ds = studio.datasets.create("stills", assets=raw)
    job = studio.jobs.submit("media.contact_sheet", {"dataset": "stills", "cell": 64}, seed=42).run()
    assert job.status == "succeeded", job.error
    return job.result["contact_sheet"], ds.id, raw


def test_lineage_walks_from_output_to_raw_assets(studio: Studio, tmp_path: Path) -> None:
    sheet_id, ds_id, raw = _sheet(studio, tmp_path)
    g = studio.lineage.graph(sheet_id)
    job_id = studio.assets.get(sheet_id).created_by_job
    assert g.nodes[sheet_id].parents == [job_id]
    assert g.nodes[job_id].detail["seed"] == 42 and g.nodes[job_id].detail["params"]["dataset"] == ds_id
    assert ds_id in g.nodes[job_id].parents
    assert sorted(g.raw_assets()) == sorted(raw)
    # A proxy of the sheet: two jobs deep, still reaching the raw assets.
    proxy = studio.jobs.submit("media.proxy", {"asset": sheet_id, "max_side": 64}).run()
    g2 = studio.lineage.graph(proxy.result["proxy"])
    assert sorted(g2.raw_assets()) == sorted(raw) and sheet_id in g2.nodes
    assert json.dumps(g2.to_dict())  # serialisable for the API


def test_png_outputs_embed_verifiable_provenance(studio: Studio, tmp_path: Path) -> None:
    sheet_id, ds_id, _ = _sheet(studio, tmp_path)
    out = studio.assets.export([sheet_id], tmp_path / "out")[0]
    record = read_record(out)
    assert record is not None
    assert record["asset_id"] == sheet_id and record["task"] == "media.contact_sheet" and record["seed"] == 42
    assert record["inputs"] == [{"id": ds_id, "kind": "dataset", "role": "dataset"}]
    assert record["digital_source_type"] == "composite"
    xmp = read_xmp(out)
    assert xmp is not None and (IPTC_SOURCE + "composite").encode() in xmp
    v = verify(studio, out)
    assert v.verified and v.asset_id == sheet_id, v.problems

    # Edited pixels with the record kept: detected.
    img = Image.open(out)
    img.load()
    img.putpixel((5, 5), (255, 0, 0))
    from reelforge.catalog.provenance import TEXT_KEY
    from reelforge.media import save_png_with_text

    tampered = tmp_path / "tampered.png"
    save_png_with_text(img, tampered, {TEXT_KEY: json.dumps(record)})
    v2 = verify(studio, tampered)
    assert not v2.verified and any("pixels differ" in p for p in v2.problems)
    # A file with no record at all.
    plain = make_image(tmp_path / "plain.png")
    v3 = verify(studio, plain)
    assert not v3.verified and v3.record is None
