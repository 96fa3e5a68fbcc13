"""Alembic environment: run by `Store.migrate()` with an open connection.

To write a new revision after changing checkin/store/models.py:

    .venv/bin/python -m checkin.store.migrations "what changed"

which compares the models with a database migrated to the current head and writes the
difference as a new file in versions/ (review it before committing).
"""

from __future__ import annotations

from alembic import context

from checkin.store.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run the migrations with Store.migrate(), which passes a connection")
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
