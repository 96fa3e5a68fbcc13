"""devices.seal_seed, seal_seq, seal_key: the sealing seed a gate sends at enrolment and where the
service's incremental check of its rows' forward-secure seals stands (checkin.core.seal).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("devices") as batch_op:
        batch_op.add_column(sa.Column("seal_seed", sa.String(length=64), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("seal_seq", sa.BigInteger(), nullable=False, server_default="1"))
        batch_op.add_column(sa.Column("seal_key", sa.String(length=64), nullable=False, server_default=""))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("devices") as batch_op:
        batch_op.drop_column("seal_key")
        batch_op.drop_column("seal_seq")
        batch_op.drop_column("seal_seed")
