"""guests.request_key: the API token and Idempotency-Key of the request that added a guest, unique
per event, so a registration system that retries a request gets the first answer again instead of
a second guest with a second valid code.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("guests") as batch_op:
        batch_op.add_column(sa.Column("request_key", sa.String(length=120), nullable=True))
        batch_op.create_index("ix_guests_request_key", ["event_id", "request_key"], unique=True)


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("guests") as batch_op:
        batch_op.drop_index("ix_guests_request_key")
        batch_op.drop_column("request_key")
