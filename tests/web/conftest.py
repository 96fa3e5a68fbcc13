"""Fixtures of the web tests: a deployment (config, keys, one event) over a real database, the app
with an injected clock, its test client, the `checkin` command line, and enrolled gates.

Every test runs on a fresh SQLite file and, when CHECKIN_TEST_DATABASE_URL is set, again on
PostgreSQL, in a schema made for the run (`test_<random>`, dropped at the end) whose tables are
emptied before each test. Without the variable the PostgreSQL runs are skipped with the reason.
Time never comes from the machine: `clock` is what the app reads, and tests advance it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask
from flask.testing import FlaskClient

from checkin.config import Config, load
from checkin.core import seal
from checkin.keystore import KeyStore
from checkin.store import Store, sessions, users
from checkin.store import devices as stored_devices
from checkin.store import events as stored_events
from checkin.store.events import NewEvent
from checkin.web import create_app
from tests.support.apikit import FIXED, PG_SKIP, Clock, Gate, Runner
from tests.support.scratch import empty_tables, postgres_for_tests
from tests.support.world import EVENT_ID, EVENT_NAME, ISSUER, ZONES


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str | None]:
    """A schema of this run's own in the PostgreSQL test database, migrated once; None without one."""
    with postgres_for_tests() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """The database of one test: a file name (SQLite beside the config) or an emptied PostgreSQL schema."""
    if request.param == "sqlite":
        return "checkin.db"
    url = request.getfixturevalue("postgres_url")
    if url is None:
        pytest.skip(PG_SKIP)
    empty_tables(url)
    return str(url)


@pytest.fixture
def clock() -> Clock:
    return Clock(FIXED)


@pytest.fixture
def config(tmp_path: Path, database_url: str) -> Config:
    """config.toml, unencrypted keys (created a month ago) and the event, in tmp_path."""
    path = tmp_path / "config.toml"
    path.write_text(f'[deployment]\nid = "{ISSUER}"\n\n[paths]\ndatabase = "{database_url}"\n', encoding="utf-8")
    cfg = load(str(path))
    KeyStore(cfg.keys_dir).init(None, FIXED - timedelta(days=30))
    store = Store(cfg.database_url)
    store.migrate()
    start = datetime(2022, 3, 26, 0, 30, tzinfo=UTC)
    stored_events.create_event(
        store,
        NewEvent(EVENT_ID, EVENT_NAME, start, start + timedelta(hours=10), "Asia/Ho_Chi_Minh", ZONES, "Xứ Đông"),
        FIXED - timedelta(days=20),
    )
    store.dispose()
    return cfg


@pytest.fixture
def app(config: Config, clock: Clock) -> Iterator[Flask]:
    app = create_app(config, {"CLOCK": clock, "TESTING": True})
    yield app
    app.extensions["checkin.jobs"].shutdown()  # its worker thread ends with the test
    app.extensions["checkin.store"].dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def store(app: Flask) -> Store:
    """The app's own store, for setting up and for looking at what the API did."""
    return app.extensions["checkin.store"]  # type: ignore[no-any-return]


@pytest.fixture
def runner(config: Config) -> Runner:
    return Runner(config.root / "config.toml")


# ---- gates --------------------------------------------------------------------------------------


@pytest.fixture
def enrol(client: FlaskClient, store: Store, clock: Clock) -> Callable[..., Gate]:
    """Create a gate the way an admin does and enrol it the way the gate does."""

    def make(name: str = "Cổng A - sảnh chính", zone: str | None = None, direction: str = "in") -> Gate:
        device, code = stored_devices.create_device(store, EVENT_ID, name, zone, direction, clock())
        key = Ed25519PrivateKey.generate()
        seed = seal.new_seed()
        public = key.public_key().public_bytes_raw().hex()
        response = client.post(
            "/api/v1/devices/enroll", json={"code": code, "public_key": public, "seal_seed": seed.hex()}
        )
        assert response.status_code == 200, response.json
        body = response.json
        assert body is not None and body["device_id"] == device.id
        return Gate(client, clock, device.id, body["token"], key, body, sealer=seal.SealKey.first(seed))

    return make


@pytest.fixture
def gate(enrol: Callable[..., Gate]) -> Gate:
    return enrol()


# ---- staff of the admin pages -------------------------------------------------------------------

STAFF_PASSWORDS = {role: f"{role} test password 2022" for role in ("admin", "registrar", "officer")}


@pytest.fixture(scope="session")
def staff_hashes() -> dict[str, str]:
    """argon2id hashes of the staff passwords, made once: each costs about 0.1 s on purpose."""

    return {role: users.hash_password(password) for role, password in STAFF_PASSWORDS.items()}


@pytest.fixture
def staff(store: Store, clock: Clock, staff_hashes: dict[str, str]) -> dict[str, int]:
    """One user per role, named after it (password STAFF_PASSWORDS[role]); their ids by name."""
    from checkin.store.models import User

    with store.writing() as s:
        users = [User(username=role, password_hash=h, role=role, created=clock()) for role, h in staff_hashes.items()]
        s.add_all(users)
        s.flush()
        return {u.username: u.id for u in users}


@pytest.fixture
def login_as(
    client: FlaskClient, clock: Clock, staff: dict[str, int], staff_hashes: dict[str, str]
) -> Callable[[str | None], FlaskClient]:
    """Give the test client the session of a user (the one named after a role), as the login form
    would; None logs it out. The login form itself is tested in test_auth.py."""

    def login(username: str | None) -> FlaskClient:
        store: Store = client.application.extensions["checkin.store"]
        with client.session_transaction() as session:
            session.clear()
            if username is not None:
                session["sid"] = sessions.start(store, staff[username], clock())
        return client

    return login
