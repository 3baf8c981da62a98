"""baseline: the schema nexasync 0.1.0 created with create_all

Revision ID: 0001
Revises:
Create Date: 2026-11-24

Frozen: plain SQLAlchemy types only, never an import of nexasync.store.models. A store
made by 0.1.0 has exactly these tables and no version table; it is stamped at this
revision instead of running it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# The models' UTCDateTime keeps UTC in a zone-aware column (naive text on SQLite).
_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pair", sa.String(), nullable=False),
        sa.Column("nexadesk_id", sa.String(), nullable=True),
        sa.Column("crm_id", sa.String(), nullable=True),
        sa.Column("base_nexadesk", sa.JSON(), nullable=False),
        sa.Column("base_crm", sa.JSON(), nullable=False),
        sa.Column("nexadesk_version", sa.String(), nullable=True),
        sa.Column("crm_version", sa.String(), nullable=True),
        sa.Column("lost", sa.Text(), nullable=True),
        sa.Column("pending", sa.JSON(), nullable=True),
        sa.Column("updated_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("pair", "nexadesk_id", name="uq_links_pair_nexadesk"),
        sa.UniqueConstraint("pair", "crm_id", name="uq_links_pair_crm"),
    )
    op.create_index("ix_links_nexadesk_id", "links", ["nexadesk_id"])
    op.create_index("ix_links_crm_id", "links", ["crm_id"])
    op.create_index(
        "ix_links_pending",
        "links",
        ["pair"],
        sqlite_where=sa.text("pending IS NOT NULL"),
        postgresql_where=sa.text("pending IS NOT NULL"),
    )

    op.create_table(
        "cursors",
        sa.Column("pair", sa.String(), nullable=False),
        sa.Column("side", sa.String(), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("pair", "side"),
    )

    op.create_table(
        "intents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pair", sa.String(), nullable=False),
        sa.Column("target", sa.String(), nullable=False),
        sa.Column("op", sa.String(), nullable=False),
        sa.Column("source_id", sa.String(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("pair", "target", "op", "source_id", name="uq_intents_key"),
    )

    op.create_table(
        "runs",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("pair", sa.String(), nullable=False),
        sa.Column("started_at", _TS, nullable=False),
        sa.Column("finished_at", _TS, nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_runs_pair_started", "runs", ["pair", "started_at"])

    op.create_table(
        "record_errors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pair", sa.String(), nullable=False),
        sa.Column("side", sa.String(), nullable=False),
        sa.Column("record_id", sa.String(), nullable=False),
        sa.Column("op", sa.String(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("first_seen", _TS, nullable=False),
        sa.Column("last_seen", _TS, nullable=False),
        sa.Column("next_retry_at", _TS, nullable=False),
        sa.Column("resolved_at", _TS, nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("pair", "side", "record_id", "op", name="uq_record_errors_key"),
    )

    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.String(), nullable=False),
        sa.Column("pair", sa.String(), nullable=False),
        sa.Column("nexadesk_id", sa.String(), nullable=True),
        sa.Column("crm_id", sa.String(), nullable=True),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_events_nexadesk_id", "events", ["nexadesk_id"])
    op.create_index("ix_events_crm_id", "events", ["crm_id"])
    op.create_index("ix_events_at", "events", ["at"])


def downgrade() -> None:
    for table in ("events", "record_errors", "runs", "intents", "cursors", "links"):
        op.drop_table(table)
