"""guests.search_text: a guest's name, organisation, category and e-mail folded as search reads them
(no diacritics, case-folded), so a search of a 5,000-guest list is one indexed query rather than
folding every guest on every request. Filled for the guests already stored.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from checkin.store.guests import search_text

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("guests") as batch_op:
        batch_op.add_column(sa.Column("search_text", sa.Text(), nullable=False, server_default=""))
    guests = sa.table(
        "guests",
        sa.column("id", sa.Integer),
        sa.column("name", sa.String),
        sa.column("organisation", sa.String),
        sa.column("category", sa.String),
        sa.column("email", sa.String),
        sa.column("search_text", sa.String),
    )
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(guests.c.id, guests.c.name, guests.c.organisation, guests.c.category, guests.c.email)
    )
    values = [{"gid": gid, "text": search_text(name, org, cat, email)} for gid, name, org, cat, email in rows]
    if values:
        connection.execute(
            guests.update().where(guests.c.id == sa.bindparam("gid")).values(search_text=sa.bindparam("text")), values
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("guests") as batch_op:
        batch_op.drop_column("search_text")
