"""assets: listing indexes (project, id) and (project, created_at, id)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 12:00:00

Every asset page (browser, REST, ``reelforge ls``) reads one project's assets in id or newest-first
order, 100 at a time. Without an index that starts with the project and ends in the sort key, each
page read all the project's rows and sorted them: 80-160 ms a page at 100,000 assets, growing
linearly (``benchmarks/bench_scale.py``, ``docs/scale.md``). With these the page is an index range
scan in order, flat in the catalog's size.
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("assets", schema=None) as batch_op:
        batch_op.create_index("ix_assets_project_id", ["project_id", "id"], unique=False)
        batch_op.create_index("ix_assets_project_created", ["project_id", "created_at", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("assets", schema=None) as batch_op:
        batch_op.drop_index("ix_assets_project_created")
        batch_op.drop_index("ix_assets_project_id")
