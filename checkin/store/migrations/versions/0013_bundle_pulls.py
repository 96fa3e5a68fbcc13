"""bundle_pulls: the bundle versions each gate was handed and when (the cross-gate audit names the
version a gate held when it admitted a revoked code); ix_scans_event_cti: one credential's timeline
across an event's gates, read per uploaded batch.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "bundle_pulls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("device_id", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("pulled_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("device_id", "version"),
    )
    op.create_index("ix_bundle_pulls_event_id", "bundle_pulls", ["event_id"])
    # covers what the audit reads of a credential's timeline (checkin.store.models.TIMELINE_INDEX)
    op.create_index(
        "ix_scans_event_cti",
        "scans",
        ["event_id", "cti", "wall_ms", "device_id", "seq", "verdict", "reason", "direction", "zone"],
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_scans_event_cti", table_name="scans")
    op.drop_index("ix_bundle_pulls_event_id", table_name="bundle_pulls")
    op.drop_table("bundle_pulls")
