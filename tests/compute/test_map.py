"""ctx.map fans work over a real process pool; outputs come back in order with lineage."""

from __future__ import annotations

from pathlib import Path

from reelforge.studio import Studio
from tests.conftest import make_image


def test_batch_proxies_use_a_process_pool(sqlite_studio: Studio, tmp_path: Path) -> None:
    s = sqlite_studio
    srcs = [make_image(tmp_path / "in" / f"f{i}.png", (200 + i, 100), i) for i in range(6)]
    ids = [a.id for a in s.assets.add(srcs).added]
    job = s.jobs.submit("media.proxies", {"assets": ids, "max_side": 64, "workers": 2}).run()
    assert job.status == "succeeded", job.error
    outs = s.assets.get_many(job.result["proxies"])
    assert [o.meta["proxy_of"] for o in outs] == ids, "results keep input order"
    assert all(o.format == "jpeg" and o.info["width"] == 64 for o in outs)
    assert all(o.created_by_job == job.id for o in outs)
    assert job.progress_done == 6
