"""ORM rows. Services turn them into plain entity dataclasses (see catalog/entities.py).

Queue timestamps are float epoch seconds: portable between SQLite and PostgreSQL and cheap to
compare in the claim query.
"""

from __future__ import annotations

from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ID = String(32)
SHA = String(64)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar = {dict[str, Any]: JSON, list[Any]: JSON}


class ProjectRow(Base):
    __tablename__ = "projects"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[float] = mapped_column(Float)


class AssetRow(Base):
    __tablename__ = "assets"
    __table_args__ = (
        UniqueConstraint("project_id", "sha256", name="uq_assets_project_sha"),
        Index("ix_assets_project_kind", "project_id", "kind"),
        Index("ix_assets_sha256", "sha256"),
        Index("ix_assets_job", "created_by_job"),
        # asset pages: one project in id or newest-first order (migration 0006)
        Index("ix_assets_project_id", "project_id", "id"),
        Index("ix_assets_project_created", "project_id", "created_at", "id"),
    )
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(1024))
    kind: Mapped[str] = mapped_column(String(32))
    format: Mapped[str] = mapped_column(String(32))
    mime: Mapped[str] = mapped_column(String(128))
    sha256: Mapped[str] = mapped_column(SHA)
    size: Mapped[int] = mapped_column(BigInteger)
    info: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    thumb_sha256: Mapped[str | None] = mapped_column(SHA, nullable=True)
    source: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[float] = mapped_column(Float)
    created_by_job: Mapped[str | None] = mapped_column(ForeignKey("jobs.id"), nullable=True)


class AssetTagRow(Base):
    __tablename__ = "asset_tags"
    __table_args__ = (Index("ix_asset_tags_tag", "tag"),)
    asset_id: Mapped[str] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(200), primary_key=True)


class DatasetRow(Base):
    __tablename__ = "datasets"
    __table_args__ = (UniqueConstraint("project_id", "name", name="uq_datasets_project_name"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[float] = mapped_column(Float)


class DatasetVersionRow(Base):
    __tablename__ = "dataset_versions"
    __table_args__ = (UniqueConstraint("dataset_id", "version", name="uq_dataset_versions_dataset_version"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    n_items: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(SHA)
    created_at: Mapped[float] = mapped_column(Float)
    created_by_job: Mapped[str | None] = mapped_column(ForeignKey("jobs.id"), nullable=True)


class DatasetItemRow(Base):
    __tablename__ = "dataset_items"
    version_id: Mapped[str] = mapped_column(
        ForeignKey("dataset_versions.id", ondelete="CASCADE"), primary_key=True
    )
    asset_id: Mapped[str] = mapped_column(ForeignKey("assets.id"), primary_key=True)
    label: Mapped[str | None] = mapped_column(String(200), nullable=True)
    split: Mapped[str] = mapped_column(String(16))
    caption: Mapped[str | None] = mapped_column(Text, nullable=True)


class ModelRow(Base):
    __tablename__ = "models"
    __table_args__ = (UniqueConstraint("project_id", "name", "version", name="uq_models_project_name_version"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(64))
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[float] = mapped_column(Float)
    created_by_job: Mapped[str | None] = mapped_column(ForeignKey("jobs.id"), nullable=True)


class ModelFileRow(Base):
    __tablename__ = "model_files"
    model_id: Mapped[str] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    sha256: Mapped[str] = mapped_column(SHA)
    size: Mapped[int] = mapped_column(BigInteger)


class JobRow(Base):
    __tablename__ = "jobs"
    __table_args__ = (
        # The claim walks it: status, then one priority at a time, then due time and id (queue.py).
        Index("ix_jobs_queue", "status", "priority", "run_after", "id"),
        Index("ix_jobs_lease", "status", "lease_expires_at"),
    )
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    task: Mapped[str] = mapped_column(String(200))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16))
    priority: Mapped[int] = mapped_column(Integer, default=0)
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    seed: Mapped[int] = mapped_column(BigInteger)
    code_version: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[float] = mapped_column(Float)
    run_after: Mapped[float] = mapped_column(Float)
    started_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    finished_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    lease_owner: Mapped[str | None] = mapped_column(String(128), nullable=True)
    lease_expires_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    heartbeat_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    progress_done: Mapped[float] = mapped_column(Float, default=0)
    progress_total: Mapped[float] = mapped_column(Float, default=0)
    progress_message: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    result: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    runs: Mapped[int] = mapped_column(Integer, default=0)
    # The account that submitted it (None: the local operator); filled from the acting user.
    submitted_by: Mapped[str | None] = mapped_column(ID, nullable=True, default=lambda: _acting_user())


class JobInputRow(Base):
    """An input a job read: the edges that lineage walks from outputs back to raw assets."""

    __tablename__ = "job_inputs"
    __table_args__ = (Index("ix_job_inputs_ref", "ref_id"),)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    ref_id: Mapped[str] = mapped_column(ID, primary_key=True)
    ref_kind: Mapped[str] = mapped_column(String(16))
    role: Mapped[str] = mapped_column(String(64), default="input")


class JobLogRow(Base):
    __tablename__ = "job_logs"
    __table_args__ = (Index("ix_job_logs_job", "job_id", "id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    ts: Mapped[float] = mapped_column(Float)
    level: Mapped[str] = mapped_column(String(16))
    attempt: Mapped[int] = mapped_column(Integer)
    message: Mapped[str] = mapped_column(Text)


class JobMetricRow(Base):
    __tablename__ = "job_metrics"
    __table_args__ = (Index("ix_job_metrics_job", "job_id", "name", "step"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(128))
    step: Mapped[int] = mapped_column(BigInteger)
    value: Mapped[float] = mapped_column(Float)
    ts: Mapped[float] = mapped_column(Float)


class JobCheckpointRow(Base):
    """Latest checkpoint of a job (the blob holds a safetensors file; no pickle)."""

    __tablename__ = "job_checkpoints"
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    sha256: Mapped[str] = mapped_column(SHA)
    size: Mapped[int] = mapped_column(BigInteger)
    attempt: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[float] = mapped_column(Float)


class AuditEventRow(Base):
    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_target", "target_id"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    ts: Mapped[float] = mapped_column(Float)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64))
    target_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    project_id: Mapped[str | None] = mapped_column(ID, nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class WorkerRow(Base):
    """Live workers announce themselves so clients know whether anyone will pick a job up."""

    __tablename__ = "workers"
    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[float] = mapped_column(Float)
    heartbeat_at: Mapped[float] = mapped_column(Float)
    current_job: Mapped[str | None] = mapped_column(String(32), nullable=True)
    jobs_done: Mapped[int] = mapped_column(Integer, default=0)


# -- accounts and access (reelforge.access) --------------------------------------------------------


def _acting_user() -> str | None:
    """Column default of ``jobs.submitted_by``: whoever the door says is acting (see access/actor.py)."""
    from reelforge.access.actor import current_user_id

    return current_user_id()


class UserRow(Base):
    __tablename__ = "users"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    # argon2id hash (PHC string); None: the account cannot log in with a password.
    password_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)  # studio admin: every project
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[float] = mapped_column(Float)
    password_changed_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class ApiTokenRow(Base):
    """An API token: only the sha256 of its secret is stored (the secret is shown once)."""

    __tablename__ = "api_tokens"
    __table_args__ = (Index("ix_api_tokens_user", "user_id"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(SHA, unique=True)
    scopes: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_at: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    revoked_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    last_used_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class ProjectRoleRow(Base):
    __tablename__ = "project_roles"
    __table_args__ = (Index("ix_project_roles_user", "user_id"),)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))  # viewer | editor | admin
    created_at: Mapped[float] = mapped_column(Float)


class WebSessionRow(Base):
    """A browser session: keyed by the sha256 of the cookie's secret; its CSRF token hashed too."""

    __tablename__ = "web_sessions"
    __table_args__ = (Index("ix_web_sessions_user", "user_id"),)
    id: Mapped[str] = mapped_column(SHA, primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    csrf_hash: Mapped[str] = mapped_column(SHA)
    created_at: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float] = mapped_column(Float)
    last_seen_at: Mapped[float] = mapped_column(Float)
    address: Mapped[str] = mapped_column(String(64), default="")


class LoginAttemptRow(Base):
    """Every password login, good or bad: what the per-account and per-address rate limits count."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_username", "username", "ts"),
        Index("ix_login_attempts_address", "address", "ts"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ts: Mapped[float] = mapped_column(Float)
    username: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(64))
    ok: Mapped[bool] = mapped_column(Boolean)


class QueueStateRow(Base):
    """One row (id 1): whether workers take new jobs. Running jobs are not affected by a pause."""

    __tablename__ = "queue_state"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    changed_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    changed_at: Mapped[float | None] = mapped_column(Float, nullable=True)


# -- boards and exhibitions (catalog/boards.py) ----------------------------------------------------


class BoardRow(Base):
    """A collection of a project's assets in a chosen order (selects, mood boards, shows)."""

    __tablename__ = "boards"
    __table_args__ = (UniqueConstraint("project_id", "name", name="uq_boards_project_name"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)


class BoardItemRow(Base):
    """An asset on a board; ``position`` is 0..n-1, rewritten on every reorder or removal."""

    __tablename__ = "board_items"
    __table_args__ = (Index("ix_board_items_board", "board_id", "position"),
                      Index("ix_board_items_asset", "asset_id"))
    board_id: Mapped[str] = mapped_column(ForeignKey("boards.id", ondelete="CASCADE"), primary_key=True)
    asset_id: Mapped[str] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    added_by: Mapped[str] = mapped_column(String(200))
    added_at: Mapped[float] = mapped_column(Float)


class ExhibitionRow(Base):
    """A board published read-only behind a share link: only the sha256 of the link's secret is
    stored (the secret is shown once, as with API tokens)."""

    __tablename__ = "exhibitions"
    __table_args__ = (Index("ix_exhibitions_project", "project_id"), Index("ix_exhibitions_board", "board_id"))
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    board_id: Mapped[str] = mapped_column(ForeignKey("boards.id", ondelete="CASCADE"))
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(SHA, unique=True)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    revoked_at: Mapped[float | None] = mapped_column(Float, nullable=True)
