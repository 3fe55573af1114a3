"""BrowseService's asset filters on both catalog backends: members of a dataset version, made by a
job or ingested, made from a given input, and globs with character classes; each combined with
the others and paged by cursor."""

from __future__ import annotations

from pathlib import Path

from reelforge.studio import Studio
from tests.conftest import make_image
from tests.server.conftest import png_bytes


def _all(studio: Studio, project_id: str, **filters: object) -> list[str]:
    """Every page of a filtered listing (pages of 2), as names."""
    names: list[str] = []
    cursor = None
    while True:
        page = studio.browse.assets(project_id, sort="name", limit=2, cursor=cursor, **filters)  # type: ignore[arg-type]
        names += [a.name for a in page.items]
        if not (cursor := page.next_cursor):
            return names


def test_dataset_generated_derived_and_glob_filters(studio: Studio, tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "plates").mkdir(parents=True)
    for i in range(5):
        make_image(src / "plates" / f"p{i}.png", seed=i)
    proj = studio.projects.create("alpha")
    other = studio.projects.create("beta")
    added = {a.name: a for a in studio.assets.add([src], project="alpha", tags=["raw"]).added}
    studio.assets.add([make_image(tmp_path / "b.png", seed=9)], project="beta")
    dv = studio.datasets.create("three", project="alpha", assets=[added[f"plates/p{i}.png"].id for i in (0, 2, 4)])
    sheet = studio.jobs.submit("media.contact_sheet", {"assets": [added["plates/p1.png"].id]}, project="alpha").run()
    made = studio.assets.get(sheet.result["contact_sheet"])

    assert _all(studio, proj.id, dataset_version=dv.id) == ["plates/p0.png", "plates/p2.png", "plates/p4.png"]
    assert _all(studio, proj.id, dataset_version=dv.id, name="plates/p[0-2].png") == ["plates/p0.png", "plates/p2.png"]
    assert _all(studio, other.id, dataset_version=dv.id) == []  # another project's members never show
    assert _all(studio, proj.id, generated=True) == [made.name]
    assert _all(studio, proj.id, generated=False) == [f"plates/p{i}.png" for i in range(5)]
    assert _all(studio, proj.id, generated=False, tags=["raw"], name="*[13].png") == ["plates/p1.png", "plates/p3.png"]
    assert _all(studio, proj.id, derived_from=added["plates/p1.png"].id) == [made.name]
    assert _all(studio, proj.id, derived_from=added["plates/p0.png"].id) == []
    assert _all(studio, proj.id, derived_from=added["plates/p1.png"].id, generated=False) == []


def test_a_glob_with_a_character_class_matches_in_every_listing(tmp_path: Path) -> None:
    """``[…]`` has no LIKE equivalent: the prefilter must not drop what fnmatch would keep."""
    from reelforge.studio import Studio

    studio = Studio.init(tmp_path / "st")
    for i in range(3):
        (tmp_path / f"shot_{i}.png").write_bytes(png_bytes((8, 8), seed=i))
    studio.ingest(sorted(tmp_path.glob("shot_*.png")))
    assert sorted(a.name for a in studio.assets.list(name="shot_[01].png")) == ["shot_0.png", "shot_1.png"]
    project = studio.projects.get(studio.settings.default_project).id
    assert sorted(a.name for a in studio.browse.assets(project, name="shot_[!0].png").items) == ["shot_1.png", "shot_2.png"]
    studio.close()
