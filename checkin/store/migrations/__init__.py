"""Alembic migrations of the service's database; `Store.migrate()` runs them."""
