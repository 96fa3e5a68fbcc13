"""Is the database's schema the one this code expects? Alembic's recorded revision against the newest one."""

from __future__ import annotations

from pathlib import Path

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

MIGRATIONS = Path(__file__).with_name("migrations")


def head_revisions() -> frozenset[str]:
    """The newest revision(s) of the migrations shipped with this code."""
    return frozenset(ScriptDirectory(str(MIGRATIONS)).get_heads())


def current_revisions(engine: Engine) -> frozenset[str]:
    """The revision(s) the database records; empty when it has no schema."""
    with engine.connect() as connection:
        return frozenset(MigrationContext.configure(connection).get_current_heads())
