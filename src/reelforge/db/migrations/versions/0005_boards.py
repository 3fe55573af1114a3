"""boards: ordered collections of a project's assets; exhibitions: boards published by share link

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 00:00:00

A board (``brd_…``) holds assets of its own project in a chosen order. An exhibition (``exh_…``)
shows one board read-only to anyone holding its link; only the sha256 of the link's secret is
stored, and a revoked or expired exhibition answers exactly like one that never existed.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "boards",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("project_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], name=op.f("fk_boards_project_id_projects"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_boards")),
        sa.UniqueConstraint("project_id", "name", name="uq_boards_project_name"),
    )
    op.create_table(
        "board_items",
        sa.Column("board_id", sa.String(length=32), nullable=False),
        sa.Column("asset_id", sa.String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("added_by", sa.String(length=200), nullable=False),
        sa.Column("added_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["board_id"], ["boards.id"], name=op.f("fk_board_items_board_id_boards"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["asset_id"], ["assets.id"], name=op.f("fk_board_items_asset_id_assets"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("board_id", "asset_id", name=op.f("pk_board_items")),
    )
    with op.batch_alter_table("board_items", schema=None) as batch_op:
        batch_op.create_index("ix_board_items_board", ["board_id", "position"], unique=False)
        batch_op.create_index("ix_board_items_asset", ["asset_id"], unique=False)

    op.create_table(
        "exhibitions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("board_id", sa.String(length=32), nullable=False),
        sa.Column("project_id", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=True),
        sa.Column("revoked_at", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["board_id"], ["boards.id"], name=op.f("fk_exhibitions_board_id_boards"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], name=op.f("fk_exhibitions_project_id_projects"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exhibitions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_exhibitions_token_hash")),
    )
    with op.batch_alter_table("exhibitions", schema=None) as batch_op:
        batch_op.create_index("ix_exhibitions_project", ["project_id"], unique=False)
        batch_op.create_index("ix_exhibitions_board", ["board_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("exhibitions", schema=None) as batch_op:
        batch_op.drop_index("ix_exhibitions_board")
        batch_op.drop_index("ix_exhibitions_project")
    op.drop_table("exhibitions")
    with op.batch_alter_table("board_items", schema=None) as batch_op:
        batch_op.drop_index("ix_board_items_asset")
        batch_op.drop_index("ix_board_items_board")
    op.drop_table("board_items")
    op.drop_table("boards")
