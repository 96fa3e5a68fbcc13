"""scans.seal: each journal row's forward-secure seal as the gate made it (checkin.core.seal), kept
beside the row so the service can check a gate's past was not rewritten.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("scans") as batch_op:
        batch_op.add_column(sa.Column("seal", sa.String(length=64), nullable=False, server_default=""))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("scans") as batch_op:
        batch_op.drop_column("seal")
