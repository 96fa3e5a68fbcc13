"""scans: index (event_id, id) in place of (event_id): a gate's pull of the other gates' passages
after a cursor (`WHERE event_id = ? AND id > ? ORDER BY id`) reads only the rows it returns.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_index("ix_scans_event_cursor", "scans", ["event_id", "id"], unique=False)
    op.drop_index("ix_scans_event_id", table_name="scans")


def downgrade() -> None:
    """Revert this revision."""
    op.create_index("ix_scans_event_id", "scans", ["event_id"], unique=False)
    op.drop_index("ix_scans_event_cursor", table_name="scans")
