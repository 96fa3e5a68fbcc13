"""presence, presence_totals, scan_buckets, counter_marks: the officer's dashboard counters, kept up to date at
ingest (checkin.store.counters) so the dashboard never counts a million scans per request; filled
here from the scans already held.

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "presence",
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("cti", sa.String(length=200), nullable=False),
        sa.Column("zone", sa.String(length=200), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.Column("first_in_ms", sa.BigInteger(), nullable=True),
        sa.Column("last_ms", sa.BigInteger(), nullable=False),
        sa.Column("last_device", sa.String(length=32), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_zone", sa.String(length=200), nullable=False),
        sa.Column("inside", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("event_id", "cti", "zone"),
    )
    op.create_table(
        "presence_totals",
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("zone", sa.String(length=200), nullable=False),
        sa.Column("inside", sa.Integer(), nullable=False),
        sa.Column("entered", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("event_id", "zone"),
    )
    op.create_table(
        "scan_buckets",
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("device_id", sa.String(length=32), nullable=False),
        sa.Column("bucket_ms", sa.BigInteger(), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.Column("exits", sa.Integer(), nullable=False),
        sa.Column("denials", sa.Integer(), nullable=False),
        sa.Column("screened", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("referred", sa.Integer(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("event_id", "device_id", "bucket_ms"),
    )
    op.create_table(
        "counter_marks",
        sa.Column("device_id", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("device_id"),
    )
    from checkin.store.counters import rebuild_in  # the same code that keeps them up to date

    rebuild_in(op.get_bind())


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("counter_marks")
    op.drop_table("scan_buckets")
    op.drop_table("presence_totals")
    op.drop_table("presence")
