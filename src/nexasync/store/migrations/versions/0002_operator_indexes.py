"""operator indexes: last run of a pair by status, open errors of a pair

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24

Frozen: plain SQLAlchemy types only, never an import of nexasync.store.models.
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # /readyz and the metrics endpoint ask for each pair's last successful cycle on
    # every scrape, and runs gains a row per cycle forever.
    op.create_index("ix_runs_pair_status_finished", "runs", ["pair", "status", "finished_at"])
    # `errors list` reads the open (unresolved) errors of a pair.
    op.create_index("ix_record_errors_pair_resolved", "record_errors", ["pair", "resolved_at"])


def downgrade() -> None:
    op.drop_index("ix_record_errors_pair_resolved", table_name="record_errors")
    op.drop_index("ix_runs_pair_status_finished", table_name="runs")
