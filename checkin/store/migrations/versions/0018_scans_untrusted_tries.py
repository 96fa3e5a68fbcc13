"""scans: a partial index of the rows with no credential id, by (event_id, kid, device_id): the
cross-gate audit reads the earlier tries of an untrusted code (a forged or foreign signature) for
each batch that holds one; without it, that read walked every such row of the event (2 % of a crowd's
rows), fetching each from the table for its key id, and grew with the event.

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UNTRUSTED = sa.text("cti = ''")


def upgrade() -> None:
    """Apply this revision."""
    op.create_index(
        "ix_scans_untrusted",
        "scans",
        ["event_id", "kid", "device_id"],
        unique=False,
        postgresql_where=_UNTRUSTED,
        sqlite_where=_UNTRUSTED,
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_scans_untrusted", table_name="scans")
