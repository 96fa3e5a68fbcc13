"""Display names for zones and categories, in Vietnamese and English, set per event: zones.name_vi
and zones.name_en, and the categories table (an event's categories with their names).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("zones") as batch_op:
        batch_op.add_column(sa.Column("name_vi", sa.String(length=60), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("name_en", sa.String(length=60), nullable=False, server_default=""))
    op.create_table(
        "categories",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("event_id", sa.String(length=64), sa.ForeignKey("events.id", ondelete="CASCADE"), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name_vi", sa.String(length=60), nullable=False, server_default=""),
        sa.Column("name_en", sa.String(length=60), nullable=False, server_default=""),
        sa.UniqueConstraint("event_id", "code"),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("categories")
    with op.batch_alter_table("zones") as batch_op:
        batch_op.drop_column("name_en")
        batch_op.drop_column("name_vi")
