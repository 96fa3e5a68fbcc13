"""Throw-away PostgreSQL schemas for the test suite and the benchmarks.

`scratch_schema(url)` creates `test_<random>`, yields a URL whose connections use it as their
search_path (so every table, the Alembic version table and the triggers land in it), and drops it
with everything in it at the end.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, make_url

TEST_DATABASE_ENV = "CHECKIN_TEST_DATABASE_URL"


def with_search_path(url: str, schema: str) -> str:
    """The same database URL, with connections that use `schema` first."""
    parsed = make_url(url)
    return parsed.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)


@contextmanager
def scratch_schema(url: str, prefix: str = "test") -> Iterator[str]:
    """A fresh schema in the PostgreSQL database at `url`, dropped afterwards; yields its URL."""
    name = f"{prefix}_{secrets.token_hex(6)}"
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql(f'CREATE SCHEMA "{name}"')
        yield with_search_path(url, name)
    finally:
        with engine.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        engine.dispose()


def empty_tables(url: str) -> None:
    """Empty every table of the schema (not the Alembic version): a fresh start between tests."""
    from checkin.store.models import Base

    names = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    finally:
        engine.dispose()


@contextmanager
def postgres_for_tests() -> Iterator[str | None]:
    """The PostgreSQL database named by $CHECKIN_TEST_DATABASE_URL, as a fresh migrated schema for
    the caller's lifetime; None when the variable is unset (the caller skips, saying why)."""
    url = os.environ.get(TEST_DATABASE_ENV)
    if not url:
        yield None
        return
    from checkin.store import Store

    with scratch_schema(url) as scoped:
        store = Store(scoped)
        store.migrate()
        store.dispose()
        yield scoped
