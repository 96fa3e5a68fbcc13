"""alerts.state, note, state_by, state_at: where an officer stands with an alert (open, acknowledged
with a note, resolved with a note), who moved it and when; indexes for the officer's scan search.

Alerts an officer had already acknowledged (`acknowledged_by` set) start as acknowledged. The scan
indexes serve the search's newest-first pages, per event and per gate, at a million scans.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("alerts") as batch_op:
        batch_op.add_column(sa.Column("state", sa.String(length=16), nullable=False, server_default="open"))
        batch_op.add_column(sa.Column("note", sa.Text(), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("state_by", sa.String(length=64), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("state_at", sa.DateTime(timezone=True), nullable=True))
    columns = (sa.column("acknowledged_by", sa.String), sa.column("state", sa.String), sa.column("state_by", sa.String))
    alerts = sa.table("alerts", *columns)
    op.get_bind().execute(
        alerts.update()
        .where(alerts.c.acknowledged_by != "")
        .values(state="acknowledged", state_by=alerts.c.acknowledged_by)
    )
    op.create_index("ix_alerts_event_state", "alerts", ["event_id", "state", "id"])
    op.create_index("ix_scans_event_time", "scans", ["event_id", "wall_ms", "id"])
    op.create_index("ix_scans_event_device_time", "scans", ["event_id", "device_id", "wall_ms", "id"])


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_scans_event_device_time", table_name="scans")
    op.drop_index("ix_scans_event_time", table_name="scans")
    op.drop_index("ix_alerts_event_state", table_name="alerts")
    with op.batch_alter_table("alerts") as batch_op:
        batch_op.drop_column("state_at")
        batch_op.drop_column("state_by")
        batch_op.drop_column("note")
        batch_op.drop_column("state")
