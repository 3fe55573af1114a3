"""Boards and exhibitions: ordered collections of a project's assets (selects, mood boards), and
boards published read-only behind an unguessable share link.

A board holds only assets of its own project. An exhibition's link carries 256 random bits; the
catalog keeps only their sha256 (as for API tokens), so a copy of the database opens no exhibition.
A link that is unknown, revoked or expired gets the very same answer, so a visitor cannot tell
whether a link ever existed.

The gallery of generated work is paged here too (newest first, keyset on the id), together with a
short provenance summary of each output read from its job, model and dataset in a few queries.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, select, update

from reelforge.catalog.assets import load_assets
from reelforge.catalog.common import audit, current_actor, now
from reelforge.db.engine import session_scope
from reelforge.db.models import (
    AssetRow,
    AssetTagRow,
    BoardItemRow,
    BoardRow,
    DatasetRow,
    DatasetVersionRow,
    ExhibitionRow,
    JobRow,
    ModelRow,
)
from reelforge.errors import Conflict, InvalidInput, NotFound
from reelforge.ids import id_kind, new_id

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from reelforge.catalog.assets import AssetService
    from reelforge.catalog.entities import Asset
    from reelforge.catalog.projects import ProjectService
    from reelforge.db.engine import Database

MAX_ITEMS = 1000  # per board: a board is a selection, not a second catalog
MAX_EXPIRY_DAYS = 3650
SHEET_TAGS = ("training-sample", "contact-sheet")  # generated, but not work to show by default
GALLERY_KINDS = ("image", "video")
# What a share link is made of: secrets.token_urlsafe(32) gives 43 of these.
_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{43}$")
GONE = "no such exhibition"  # one message for unknown, revoked and expired links


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _check_name(name: str, what: str = "board name") -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput(f"empty {what}")
    name = " ".join(name.split())
    if len(name) > 200 or any(ord(c) < 32 for c in name):
        raise InvalidInput(f"invalid {what} {name[:80]!r}: at most 200 printable characters")
    return name


def _actor_name(label: str) -> str:
    """``user:ed`` → ``ed`` (what a page shows); other actors as they are."""
    return label.split(":", 1)[1] if label.startswith("user:") else label


@dataclass
class BoardItem:
    asset_id: str
    position: int
    added_by: str
    added_at: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Board:
    id: str
    project_id: str
    name: str
    description: str
    created_by: str
    created_at: float
    updated_at: float
    n_items: int
    cover: list[str] = field(default_factory=list)  # the first few asset ids (a board's thumbnail)
    items: list[BoardItem] = field(default_factory=list)

    @property
    def asset_ids(self) -> list[str]:
        return [i.asset_id for i in self.items]

    @property
    def creator(self) -> str:
        return _actor_name(self.created_by)

    def to_dict(self, items: bool = True) -> dict[str, Any]:
        d = asdict(self)
        d["created_by"] = _actor_name(self.created_by)
        if not items:
            d.pop("items")
        else:
            for it in d["items"]:
                it["added_by"] = _actor_name(it["added_by"])
        return d


@dataclass
class Exhibition:
    id: str
    board_id: str
    board_name: str
    project_id: str
    title: str
    created_by: str
    created_at: float
    expires_at: float | None
    revoked_at: float | None

    @property
    def status(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= time.time():
            return "expired"
        return "live"

    @property
    def live(self) -> bool:
        return self.status == "live"

    @property
    def creator(self) -> str:
        return _actor_name(self.created_by)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "created_by": _actor_name(self.created_by), "status": self.status}


@dataclass
class Share:
    """What publishing (or a new link) returns: the exhibition and its link's secret, shown once."""

    exhibition: Exhibition
    token: str

    @property
    def path(self) -> str:
        return f"/x/{self.token}"


@dataclass
class GalleryPage:
    items: list[Asset] = field(default_factory=list)
    next_cursor: str | None = None


def _encode_cursor(last_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps(["gallery", last_id]).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> str:
    try:
        tag, last_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise InvalidInput("invalid cursor") from None
    if tag != "gallery" or not isinstance(last_id, str) or id_kind(last_id) != "ast":
        raise InvalidInput("invalid cursor")
    return last_id


class BoardService:
    def __init__(self, db: Database, projects: ProjectService, assets: AssetService) -> None:
        self.db, self.projects, self.assets = db, projects, assets

    # -- boards --------------------------------------------------------------------------------
    @staticmethod
    def _row(s: Session, board_id: str) -> BoardRow:
        row = s.get(BoardRow, board_id) if id_kind(board_id or "") == "brd" else None
        if row is None:
            raise NotFound(f"no board {board_id!r}")
        return row

    @staticmethod
    def _items(s: Session, board_id: str) -> list[BoardItemRow]:
        q = select(BoardItemRow).where(BoardItemRow.board_id == board_id).order_by(BoardItemRow.position,
                                                                                    BoardItemRow.added_at)
        return list(s.scalars(q))

    def _entity(self, s: Session, row: BoardRow, *, items: bool = True) -> Board:
        rows = self._items(s, row.id)
        board = Board(row.id, row.project_id, row.name, row.description, row.created_by, row.created_at,
                      row.updated_at, len(rows), [r.asset_id for r in rows[:4]])
        if items:
            board.items = [BoardItem(r.asset_id, r.position, r.added_by, r.added_at) for r in rows]
        return board

    def _project_assets(self, s: Session, project_id: str, asset_ids: Sequence[str]) -> list[str]:
        """The ids, deduplicated in order; any that is not an asset of the project is answered as
        missing (another project's asset does not exist for this board)."""
        wanted = list(dict.fromkeys(asset_ids))
        for a in wanted:
            if not isinstance(a, str) or id_kind(a) != "ast":
                raise NotFound(f"no asset {a!r}")
        found: set[str] = set()
        for i in range(0, len(wanted), 500):
            chunk = wanted[i : i + 500]
            found |= set(s.scalars(select(AssetRow.id).where(AssetRow.id.in_(chunk),
                                                             AssetRow.project_id == project_id)))
        for a in wanted:
            if a not in found:
                raise NotFound(f"no asset {a!r}")
        return wanted

    def create(self, project: str, name: str, description: str = "", asset_ids: Sequence[str] = ()) -> Board:
        proj = self.projects.get(project)
        name = _check_name(name)
        if len(description) > 10_000:
            raise InvalidInput("description over 10000 characters")
        if len(asset_ids) > MAX_ITEMS:
            raise InvalidInput(f"a board holds at most {MAX_ITEMS} items")
        with session_scope(self.db.Session) as s:
            if s.scalar(select(BoardRow.id).where(BoardRow.project_id == proj.id, BoardRow.name == name)):
                raise Conflict(f"board {name!r} already exists in project {proj.name!r}")
            ids = self._project_assets(s, proj.id, asset_ids)
            t, who = now(), current_actor()
            row = BoardRow(id=new_id("brd"), project_id=proj.id, name=name, description=description,
                           created_by=who, created_at=t, updated_at=t)
            s.add(row)
            s.flush()
            for i, a in enumerate(ids):
                s.add(BoardItemRow(board_id=row.id, asset_id=a, position=i, added_by=who, added_at=t))
            audit(s, "board.create", row.id, proj.id, name=name, items=len(ids))
            s.flush()
            return self._entity(s, row)

    def list(self, project: str) -> list[Board]:
        """The project's boards, most recently changed first (without their items, with a cover)."""
        proj = self.projects.get(project)
        with session_scope(self.db.ReadSession) as s:
            rows = list(s.scalars(select(BoardRow).where(BoardRow.project_id == proj.id)
                                  .order_by(BoardRow.updated_at.desc(), BoardRow.id.desc())))
            return [self._entity(s, r, items=False) for r in rows]

    def get(self, board_id: str, *, with_items: bool = True) -> Board:
        with session_scope(self.db.ReadSession) as s:
            return self._entity(s, self._row(s, board_id), items=with_items)

    def update(self, board_id: str, *, name: str | None = None, description: str | None = None) -> Board:
        with session_scope(self.db.Session) as s:
            row = self._row(s, board_id)
            changed: dict[str, Any] = {}
            if name is not None:
                name = _check_name(name)
                if name != row.name:
                    clash = s.scalar(select(BoardRow.id).where(BoardRow.project_id == row.project_id,
                                                               BoardRow.name == name))
                    if clash:
                        raise Conflict(f"board {name!r} already exists in this project")
                    changed["name"] = {"from": row.name, "to": name}
                    row.name = name
            if description is not None:
                if len(description) > 10_000:
                    raise InvalidInput("description over 10000 characters")
                if description != row.description:
                    changed["description"] = True
                    row.description = description
            if changed:
                row.updated_at = now()
                audit(s, "board.update", row.id, row.project_id, **changed)
            s.flush()
            return self._entity(s, row)

    def rename(self, board_id: str, name: str) -> Board:
        return self.update(board_id, name=name)

    def add_items(self, board_id: str, asset_ids: Sequence[str], *, position: int | None = None) -> Board:
        """Add assets of the board's project (at the end, or before ``position``); ones already on
        the board stay where they are."""
        if not asset_ids:
            raise InvalidInput("no asset ids to add")
        with session_scope(self.db.Session) as s:
            row = self._row(s, board_id)
            ids = self._project_assets(s, row.project_id, asset_ids)
            current = self._items(s, row.id)
            have = {r.asset_id for r in current}
            new = [a for a in ids if a not in have]
            if len(current) + len(new) > MAX_ITEMS:
                raise InvalidInput(f"a board holds at most {MAX_ITEMS} items")
            if new:
                t, who = now(), current_actor()
                at = len(current) if position is None else max(0, min(position, len(current)))
                order = [r.asset_id for r in current]
                order[at:at] = new
                for a in new:
                    s.add(BoardItemRow(board_id=row.id, asset_id=a, position=0, added_by=who, added_at=t))
                s.flush()
                self._write_order(s, row.id, order)
                row.updated_at = t
                audit(s, "board.items.add", row.id, row.project_id, assets=new[:100], n=len(new))
            s.flush()
            return self._entity(s, row)

    def remove_items(self, board_id: str, asset_ids: Sequence[str]) -> Board:
        """Take assets off the board (ids not on it are ignored: removing twice is harmless)."""
        with session_scope(self.db.Session) as s:
            row = self._row(s, board_id)
            gone = set(asset_ids)
            current = self._items(s, row.id)
            removed = [r.asset_id for r in current if r.asset_id in gone]
            if removed:
                s.execute(delete(BoardItemRow).where(BoardItemRow.board_id == row.id,
                                                     BoardItemRow.asset_id.in_(removed)))
                self._write_order(s, row.id, [r.asset_id for r in current if r.asset_id not in gone])
                row.updated_at = now()
                audit(s, "board.items.remove", row.id, row.project_id, assets=removed[:100], n=len(removed))
            s.flush()
            return self._entity(s, row)

    def reorder(self, board_id: str, asset_ids: Sequence[str]) -> Board:
        """Put the board's items in this order: exactly the ids on the board, each once."""
        with session_scope(self.db.Session) as s:
            row = self._row(s, board_id)
            current = [r.asset_id for r in self._items(s, row.id)]
            order = list(asset_ids)
            if len(order) != len(set(order)) or set(order) != set(current):
                raise InvalidInput("the order must list every item of the board exactly once")
            if order != current:
                self._write_order(s, row.id, order)
                row.updated_at = now()
                audit(s, "board.reorder", row.id, row.project_id, n=len(order))
            s.flush()
            return self._entity(s, row)

    @staticmethod
    def _write_order(s: Session, board_id: str, order: Sequence[str]) -> None:
        for i, a in enumerate(order):
            s.execute(update(BoardItemRow).where(BoardItemRow.board_id == board_id, BoardItemRow.asset_id == a)
                      .values(position=i))

    def delete(self, board_id: str) -> None:
        """Delete a board; its exhibitions end with it (their links answer like unknown ones)."""
        with session_scope(self.db.Session) as s:
            row = self._row(s, board_id)
            audit(s, "board.delete", row.id, row.project_id, name=row.name)
            s.execute(delete(ExhibitionRow).where(ExhibitionRow.board_id == row.id))
            s.execute(delete(BoardItemRow).where(BoardItemRow.board_id == row.id))
            s.delete(row)

    def boards_of(self, asset_ids: Sequence[str]) -> dict[str, list[str]]:
        """Asset id → ids of the boards it is on (the gallery marks what is already collected)."""
        out: dict[str, list[str]] = {a: [] for a in asset_ids}
        if not asset_ids:
            return out
        with session_scope(self.db.ReadSession) as s:
            q = select(BoardItemRow.asset_id, BoardItemRow.board_id).where(BoardItemRow.asset_id.in_(list(asset_ids)))
            for a, b in s.execute(q):
                out[a].append(b)
        return out

    # -- exhibitions ---------------------------------------------------------------------------
    @staticmethod
    def _exhibition(row: ExhibitionRow, board_name: str) -> Exhibition:
        return Exhibition(row.id, row.board_id, board_name, row.project_id, row.title, row.created_by,
                          row.created_at, row.expires_at, row.revoked_at)

    def publish(self, board_id: str, title: str, *, expires_in_days: float | None = None) -> Share:
        """Publish a board read-only; the returned secret is the only copy of the link."""
        title = _check_name(title, "title")
        if expires_in_days is not None and not 0 < expires_in_days <= MAX_EXPIRY_DAYS:
            raise InvalidInput(f"expires_in_days is more than 0 and at most {MAX_EXPIRY_DAYS}")
        token = secrets.token_urlsafe(32)
        with session_scope(self.db.Session) as s:
            board = self._row(s, board_id)
            t = now()
            row = ExhibitionRow(id=new_id("exh"), board_id=board.id, project_id=board.project_id, title=title,
                                token_hash=token_hash(token), created_by=current_actor(), created_at=t,
                                expires_at=t + expires_in_days * 86400 if expires_in_days else None,
                                revoked_at=None)
            s.add(row)
            audit(s, "exhibition.publish", row.id, board.project_id, board=board.id, title=title,
                  expires_at=row.expires_at)
            s.flush()
            return Share(self._exhibition(row, board.name), token)

    def _exh_row(self, s: Session, exhibition_id: str) -> ExhibitionRow:
        row = s.get(ExhibitionRow, exhibition_id) if id_kind(exhibition_id or "") == "exh" else None
        if row is None:
            raise NotFound(f"no exhibition {exhibition_id!r}")
        return row

    def get_exhibition(self, exhibition_id: str) -> Exhibition:
        with session_scope(self.db.ReadSession) as s:
            row = self._exh_row(s, exhibition_id)
            return self._exhibition(row, self._row(s, row.board_id).name)

    def exhibitions(self, project: str, *, board_id: str | None = None) -> list[Exhibition]:
        """The project's exhibitions (live, expired and revoked), newest first."""
        proj = self.projects.get(project)
        with session_scope(self.db.ReadSession) as s:
            q = (select(ExhibitionRow, BoardRow.name).join(BoardRow, BoardRow.id == ExhibitionRow.board_id)
                 .where(ExhibitionRow.project_id == proj.id).order_by(ExhibitionRow.id.desc()))
            if board_id is not None:
                q = q.where(ExhibitionRow.board_id == board_id)
            return [self._exhibition(r, name) for r, name in s.execute(q)]

    def revoke(self, exhibition_id: str) -> Exhibition:
        """End an exhibition now: its link answers like an unknown one from then on."""
        with session_scope(self.db.Session) as s:
            row = self._exh_row(s, exhibition_id)
            if row.revoked_at is None:
                row.revoked_at = now()
                audit(s, "exhibition.revoke", row.id, row.project_id, board=row.board_id)
            s.flush()
            return self._exhibition(row, self._row(s, row.board_id).name)

    def new_link(self, exhibition_id: str) -> Share:
        """A fresh secret for a live exhibition (the old link stops working): how a manager gets a
        link to share again, since the catalog cannot give the old one back."""
        token = secrets.token_urlsafe(32)
        with session_scope(self.db.Session) as s:
            row = self._exh_row(s, exhibition_id)
            ex = self._exhibition(row, self._row(s, row.board_id).name)
            if not ex.live:
                raise Conflict(f"exhibition {exhibition_id!r} is {ex.status}: publish the board again instead")
            row.token_hash = token_hash(token)
            audit(s, "exhibition.relink", row.id, row.project_id, board=row.board_id)
            s.flush()
            return Share(ex, token)

    def open(self, token: str) -> tuple[Exhibition, Board]:
        """The live exhibition behind a share link and its board (with items), or NotFound with
        one message whether the link is malformed, unknown, revoked or expired."""
        if not isinstance(token, str) or not _TOKEN_RE.match(token):
            raise NotFound(GONE)
        digest = token_hash(token)
        with session_scope(self.db.ReadSession) as s:
            # Looked up by the hash (an index): timing says nothing about how close a guess was.
            row = s.scalar(select(ExhibitionRow).where(ExhibitionRow.token_hash == digest))
            if row is None or not hmac.compare_digest(row.token_hash, digest):
                raise NotFound(GONE)
            board = s.get(BoardRow, row.board_id)
            if board is None:
                raise NotFound(GONE)
            ex = self._exhibition(row, board.name)
            if not ex.live:
                raise NotFound(GONE)
            return ex, self._entity(s, board)

    def exhibited_asset(self, token: str, asset_id: str) -> Asset:
        """An asset shown by a live exhibition; anything else is NotFound(GONE)."""
        _, board = self.open(token)
        if asset_id not in board.asset_ids:
            raise NotFound(GONE)
        return self.assets.get(asset_id)

    # -- the gallery ---------------------------------------------------------------------------
    def generated(self, project_id: str, *, kind: str | None = None, include_sheets: bool = False,
                  limit: int = 48, cursor: str | None = None) -> GalleryPage:
        """Assets made by jobs (images and videos), newest first, one page at a time. Training
        sample grids and contact sheets are left out unless ``include_sheets``."""
        if kind is not None and kind not in GALLERY_KINDS:
            raise InvalidInput(f"unknown kind {kind!r} (image or video)")
        if not 1 <= limit <= 500:
            raise InvalidInput("limit is 1..500")
        q = select(AssetRow).where(AssetRow.project_id == project_id, AssetRow.created_by_job.is_not(None))
        q = q.where(AssetRow.kind == kind) if kind else q.where(AssetRow.kind.in_(GALLERY_KINDS))
        if not include_sheets:
            q = q.where(AssetRow.id.not_in(select(AssetTagRow.asset_id).where(AssetTagRow.tag.in_(SHEET_TAGS))))
        if cursor:
            q = q.where(AssetRow.id < _decode_cursor(cursor))
        q = q.order_by(AssetRow.id.desc()).limit(limit + 1)
        with session_scope(self.db.ReadSession) as s:
            rows = list(s.scalars(q))
            more = len(rows) > limit
            rows = rows[:limit]
            items = load_assets(s, rows)
        return GalleryPage(items, _encode_cursor(rows[-1].id) if more and rows else None)

    def count_generated(self, project_id: str) -> int:
        with session_scope(self.db.ReadSession) as s:
            q = select(func.count()).select_from(AssetRow).where(
                AssetRow.project_id == project_id, AssetRow.created_by_job.is_not(None),
                AssetRow.kind.in_(GALLERY_KINDS),
                AssetRow.id.not_in(select(AssetTagRow.asset_id).where(AssetTagRow.tag.in_(SHEET_TAGS))))
            return int(s.scalar(q) or 0)

    def provenance(self, assets: Iterable[Asset]) -> dict[str, dict[str, Any]]:
        """Asset id → what made it: task, params and seed of its job, the model (and the dataset
        that model was trained on), the image's own seed, class or prompt. Three queries for a
        whole page, whatever its size. (The latent vector is left out: it is in the PNG.)"""
        assets = list(assets)
        job_ids = {a.created_by_job for a in assets if a.created_by_job}
        model_ids: set[str] = set()
        for a in assets:
            m = _model_of(a)
            if m:
                model_ids.add(m)
        with session_scope(self.db.ReadSession) as s:
            jobs = {r.id: r for r in s.scalars(select(JobRow).where(JobRow.id.in_(list(job_ids))))} if job_ids else {}
            for j in jobs.values():
                if isinstance(j.params.get("model"), str) and id_kind(j.params["model"]) == "mdl":
                    model_ids.add(j.params["model"])
            models = ({r.id: r for r in s.scalars(select(ModelRow).where(ModelRow.id.in_(list(model_ids))))}
                      if model_ids else {})
            ds_ids = {str(m.config.get("dataset")) for m in models.values() if m.config.get("dataset")}
            for j in jobs.values():
                if j.task == "gan.train" and isinstance(j.params.get("dataset"), str):
                    ds_ids.add(j.params["dataset"])
            datasets = _dataset_refs(s, ds_ids)
        out: dict[str, dict[str, Any]] = {}
        for a in assets:
            out[a.id] = _summary(a, jobs.get(a.created_by_job or ""), models, datasets)
        return out


def _model_of(a: Asset) -> str | None:
    gen = a.meta.get("generation") if isinstance(a.meta.get("generation"), dict) else {}
    for cand in (gen.get("model"), a.meta.get("model")):
        if isinstance(cand, str) and id_kind(cand) == "mdl":
            return cand
    return None


def _dataset_refs(s: Session, ids: set[str]) -> dict[str, dict[str, str]]:
    """Dataset version ids (``dsv_…``) → {"id", "ref"}; names and other refs are kept as given."""
    out: dict[str, dict[str, str]] = {}
    dsv = [i for i in ids if id_kind(i) == "dsv"]
    if dsv:
        q = (select(DatasetVersionRow.id, DatasetRow.name, DatasetVersionRow.version)
             .join(DatasetRow, DatasetRow.id == DatasetVersionRow.dataset_id).where(DatasetVersionRow.id.in_(dsv)))
        for vid, name, version in s.execute(q):
            out[vid] = {"id": vid, "ref": f"{name}@{version}"}
    for i in ids:
        out.setdefault(i, {"id": i, "ref": i})
    return out


def _summary(a: Asset, job: JobRow | None, models: dict[str, ModelRow],
             datasets: dict[str, dict[str, str]]) -> dict[str, Any]:
    gen = a.meta.get("generation") if isinstance(a.meta.get("generation"), dict) else {}
    prov = a.meta.get("provenance") if isinstance(a.meta.get("provenance"), dict) else {}
    d: dict[str, Any] = {"asset_id": a.id, "kind": a.kind, "job_id": a.created_by_job,
                         "source_type": prov.get("digital_source_type")}
    if job is not None:
        d.update(task=job.task, params=dict(job.params or {}), job_seed=job.seed, job_status=job.status,
                 job_created_at=job.created_at)
    model_id = _model_of(a) or (job.params.get("model") if job is not None else None)
    model = models.get(model_id) if isinstance(model_id, str) else None
    if model is not None:
        d["model"] = {"id": model.id, "ref": f"{model.name}@{model.version}", "name": model.name,
                      "version": model.version, "kind": model.kind}
        if model.config.get("dataset"):
            d["dataset"] = datasets.get(str(model.config["dataset"]))
    elif gen.get("model_ref"):
        d["model"] = {"id": model_id, "ref": gen["model_ref"], "name": str(gen["model_ref"]).split("@")[0]}
    if job is not None and job.task == "gan.train" and isinstance(job.params.get("dataset"), str):
        d["dataset"] = datasets.get(job.params["dataset"])
    # The image's own seed: gan.sample draws image i from seed job.seed + i (n=1 with it redraws it).
    if gen.get("latent_seed") is not None:
        d["seed"] = gen["latent_seed"]
    elif job is not None:
        d["seed"] = job.seed
    for key in ("index", "class_name", "prompt", "truncation", "step", "kind"):
        if gen.get(key) is not None:
            d["record_kind" if key == "kind" else key] = gen[key]
    if isinstance(a.meta.get("seeds"), list):  # a latent walk's keyframes
        d["seeds"] = a.meta["seeds"]
        for key in ("fps", "frames"):
            if a.meta.get(key) is not None:
                d[key] = a.meta[key]
    return d


def caption(summary: dict[str, Any]) -> dict[str, Any]:
    """The public face of a provenance summary (an exhibition's caption): model, seed, class or
    prompt. No ids, no project, no job: an exhibition shows the work, not the studio."""
    model = summary.get("model") or {}
    out: dict[str, Any] = {}
    if model.get("name"):
        out["model"] = f"{model['name']} v{model['version']}" if model.get("version") else model["name"]
    if summary.get("seeds"):  # a latent walk: its keyframes say more than the job's seed
        out["seeds"] = summary["seeds"]
    elif summary.get("seed") is not None:
        out["seed"] = summary["seed"]
    for key in ("class_name", "prompt"):
        if summary.get(key):
            out[key] = summary[key]
    return out
