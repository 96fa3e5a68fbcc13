"""An index on credentials.guest_id: re-issuing, a guest's page and the "has an active code" check
look a guest's credentials up by it, and without the index each of them read the whole table.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("credentials") as batch_op:
        batch_op.create_index(batch_op.f("ix_credentials_guest_id"), ["guest_id"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("credentials") as batch_op:
        batch_op.drop_index(batch_op.f("ix_credentials_guest_id"))
