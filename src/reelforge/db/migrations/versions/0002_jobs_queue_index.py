"""jobs: claim index matching the claim's order (status, priority, run_after, id)

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 00:00:00

The claim takes the most urgent runnable job: the highest priority, then the earliest due
(``run_after``), then the oldest id. It probes one priority at a time (see
``compute/queue.py``), and each probe is an index range on (status, priority, run_after) already in
the final order, so a queue of 100,000 waiting jobs claims as fast as an empty one. The old
(status, priority, run_after) index lacked the id, leaving a sort of every job due at the same
moment (a ``submit_many`` gives them all one ``run_after``).
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_claim")
        batch_op.create_index("ix_jobs_queue", ["status", "priority", "run_after", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_queue")
        batch_op.create_index("ix_jobs_claim", ["status", "priority", "run_after"], unique=False)
