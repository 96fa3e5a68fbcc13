"""`create_app` wires everything and migrates nothing: on a database that is not at the newest
migration it refuses to start, in one line that says what to run."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import inspect

from checkin.config import Config, load
from checkin.keystore import KeyStore
from checkin.store import Store
from checkin.web import SchemaNotCurrent, create_app
from tests.support.apikit import FIXED, Clock
from tests.support.world import ISSUER


def fresh_config(tmp_path: Path) -> Config:
    path = tmp_path / "config.toml"
    path.write_text(f'[deployment]\nid = "{ISSUER}"\n\n[paths]\ndatabase = "fresh.db"\n', encoding="utf-8")
    cfg = load(str(path))
    KeyStore(cfg.keys_dir).init(None, FIXED - timedelta(days=30))
    return cfg


def test_a_new_database_is_refused_in_one_line_and_left_untouched(tmp_path: Path) -> None:
    cfg = fresh_config(tmp_path)
    with pytest.raises(SchemaNotCurrent) as refused:
        create_app(cfg, {"CLOCK": Clock(FIXED), "TESTING": True})
    text = refused.value.text()
    assert "checkin db upgrade" in text and "\n" not in text
    store = Store(cfg.database_url)
    try:
        assert inspect(store.engine).get_table_names() == []  # nothing was migrated behind the operator's back
        assert not store.schema_current()
    finally:
        store.dispose()


def test_an_older_schema_is_refused_and_the_newest_starts(tmp_path: Path) -> None:
    cfg = fresh_config(tmp_path)
    store = Store(cfg.database_url)
    try:
        store.migrate("0003")
        assert not store.schema_current()
        with pytest.raises(SchemaNotCurrent):
            create_app(cfg, {"CLOCK": Clock(FIXED), "TESTING": True})
        store.migrate()
        assert store.schema_current()
    finally:
        store.dispose()
    app = create_app(cfg, {"CLOCK": Clock(FIXED), "TESTING": True})
    try:
        assert app.test_client().get("/admin/login").status_code == 200
    finally:
        app.extensions["checkin.store"].dispose()
