"""Write a new migration from the difference between the models and the current head.

.venv/bin/python -m checkin.store.migrations "what changed"
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig

from checkin.store.engine import Store
from checkin.store.schema import MIGRATIONS


def main(message: str) -> None:
    """Autogenerate a revision against a scratch SQLite database at the current head."""
    with tempfile.TemporaryDirectory() as folder:
        store = Store(f"sqlite:///{Path(folder) / 'scratch.db'}")
        store.migrate()
        cfg = AlembicConfig()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        with store.engine.begin() as connection:
            cfg.attributes["connection"] = connection
            command.revision(cfg, message=message, autogenerate=True)
        store.dispose()


if __name__ == "__main__":
    main(" ".join(sys.argv[1:]) or "schema change")
