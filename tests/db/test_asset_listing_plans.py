"""Asset pages read one project's assets in id or newest-first order through an index, on both
backends, with 20,000 assets in the project and more in another: no scan of the table, no sort.

Before migration 0006 every page read all the project's rows and sorted them (``docs/scale.md``).
"""

from __future__ import annotations

import time

import pytest
from sqlalchemy import insert, inspect

from reelforge.db.models import AssetRow
from reelforge.ids import new_id
from reelforge.studio import Studio
from tests.db.test_queue_plans import captured, plans

FILLER = 20_000


def add_assets(studio: Studio, project: str, n: int) -> None:
    now = time.time()
    rows = [dict(id=new_id("ast"), project_id=project, name=f"plates/p_{i:06d}.png", kind="image", format="png",
                 mime="image/png", sha256=f"{i:064x}"[-64:], size=100, info={}, meta={}, source="",
                 created_at=now + i) for i in range(n)]
    with studio.engine.begin() as conn:
        conn.execute(insert(AssetRow), rows)


@pytest.mark.parametrize("analyze", [False, True], ids=["no-stats", "analyzed"])
@pytest.mark.parametrize(("sort", "order"), [("id", "asc"), ("id", "desc"), ("created_at", "desc")])
def test_asset_pages_use_an_index_in_order(studio: Studio, sort: str, order: str, analyze: bool) -> None:
    main = studio.projects.get(None).id
    other = studio.projects.create("other").id
    add_assets(studio, main, FILLER)
    add_assets(studio, other, FILLER // 4)
    # PostgreSQL without statistics guesses 18 rows and happily sorts them; autovacuum analyses a
    # real catalog, so it is judged on analysed tables only. SQLite is judged both ways.
    if analyze or studio.engine.dialect.name != "sqlite":
        with studio.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    with captured(studio) as first_sql:
        page = studio.browse.assets(main, sort=sort, order=order, limit=100)
    assert len(page.items) == 100
    with captured(studio) as next_sql:
        assert len(studio.browse.assets(main, sort=sort, order=order, limit=100, cursor=page.next_cursor).items) == 100
    found = plans(studio, first_sql + next_sql, table="FROM assets")
    assert found
    for plan in found:
        if studio.engine.dialect.name == "sqlite":
            assert "SCAN assets" not in plan and "TEMP B-TREE" not in plan, plan
        else:
            assert "Seq Scan on assets" not in plan and "Sort" not in plan, plan


def test_fresh_catalog_has_the_listing_indexes(studio: Studio) -> None:
    ix = {i["name"]: i["column_names"] for i in inspect(studio.engine).get_indexes("assets")}
    assert ix["ix_assets_project_id"] == ["project_id", "id"]
    assert ix["ix_assets_project_created"] == ["project_id", "created_at", "id"]
