"""Records that cannot quietly go away: scans, checkpoints and the new ledger are append-only and
alerts keep what they found (database triggers, whoever connects); scans and checkpoints no longer
go with their gate (no ON DELETE CASCADE, so a gate or an event with rows cannot be deleted);
alerts get a severity, the rows that prove them and a unique fingerprint; the ledger chains every
stored batch (store.ledger). (One guest's rows are read by 0013's covering index.)

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# An alert's finding never changes; an officer's columns (acknowledged_by, and the state and note
# a later revision adds) may.
ALERT_FIXED = ("id", "event_id", "device_id", "kind", "seq", "detail", "created", "severity", "rows", "fingerprint")
APPEND_ONLY = ("scans", "checkpoints", "ledger")
# SQLite names no foreign key; batch mode finds the old one by this convention
_NAMES = {"fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s"}


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("alerts") as batch_op:
        batch_op.add_column(sa.Column("severity", sa.String(length=16), nullable=False, server_default="medium"))
        batch_op.add_column(sa.Column("rows", sa.Text(), nullable=False, server_default="[]"))
        batch_op.add_column(sa.Column("fingerprint", sa.String(length=64), nullable=True))
    # alerts kept before this revision: each its own fingerprint
    op.execute("UPDATE alerts SET fingerprint = 'legacy:' || CAST(id AS VARCHAR(20))")
    with op.batch_alter_table("alerts") as batch_op:
        batch_op.alter_column("fingerprint", existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint("uq_alerts_fingerprint", ["fingerprint"])

    for table in ("scans", "checkpoints"):
        _foreign_key(table, cascade=False)

    op.create_table(
        "ledger",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.String(length=32), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("first_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("head", sa.String(length=64), nullable=False),
        sa.Column("digests", sa.LargeBinary(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("prev", sa.String(length=64), nullable=False),
        sa.Column("mac", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["device_id"], ["devices.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("device_id", "first_seq"),
        sa.UniqueConstraint("mac"),
    )
    op.create_index("ix_ledger_event_id", "ledger", ["event_id"], unique=False)

    for table in APPEND_ONLY:
        _append_only(table)
    _append_only("alerts", fixed=ALERT_FIXED)


def downgrade() -> None:
    """Revert this revision."""
    for table in (*APPEND_ONLY, "alerts"):
        _drop_append_only(table)
    op.drop_index("ix_ledger_event_id", table_name="ledger")
    op.drop_table("ledger")
    for table in ("scans", "checkpoints"):
        _foreign_key(table, cascade=True)
    with op.batch_alter_table("alerts") as batch_op:
        batch_op.drop_constraint("uq_alerts_fingerprint", type_="unique")
        batch_op.drop_column("fingerprint")
        batch_op.drop_column("rows")
        batch_op.drop_column("severity")


def _foreign_key(table: str, *, cascade: bool) -> None:
    """Make `table.device_id -> devices.id` again, with or without ON DELETE CASCADE."""
    postgresql = op.get_bind().dialect.name == "postgresql"
    name = f"{table}_device_id_fkey" if postgresql else f"fk_{table}_device_id_devices"
    with op.batch_alter_table(table, naming_convention=_NAMES) as batch_op:
        batch_op.drop_constraint(name, type_="foreignkey")
        batch_op.create_foreign_key(name, "devices", ["device_id"], ["id"], ondelete="CASCADE" if cascade else None)


def _append_only(table: str, *, fixed: Sequence[str] = ()) -> None:
    """Refuse DELETE on `table`, and UPDATE (only of the `fixed` columns, when named), whoever
    connects. TRUNCATE stays (tests empty tables with it; it needs the table's owner)."""
    message = f"{table} is append-only"
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        changed = " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in fixed) or "TRUE"
        op.execute(
            f"CREATE FUNCTION {table}_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"IF TG_OP = 'DELETE' OR {changed} THEN RAISE EXCEPTION '{message}'; END IF; "
            "RETURN NEW; END $$"
        )
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {table}_append_only()"
        )
        return
    op.execute(f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} BEGIN SELECT RAISE(ABORT, '{message}'); END")
    when = " WHEN " + " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in fixed) if fixed else ""
    op.execute(
        f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table}{when} BEGIN SELECT RAISE(ABORT, '{message}'); END"
    )


def _drop_append_only(table: str) -> None:
    # IF EXISTS: taking back a database whose triggers someone dropped must not fail halfway
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        op.execute(f"DROP FUNCTION IF EXISTS {table}_append_only()")
    else:
        for verb in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{verb}")
