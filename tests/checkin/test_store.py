"""The service's store on a real database: migrations, gate devices, bundle versions, the admin log.

Runs on a fresh SQLite file per test and, when CHECKIN_TEST_DATABASE_URL is set, on PostgreSQL in
a schema made for this module (emptied between tests, dropped at the end); skipped with the
reason otherwise.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text, update
from sqlalchemy.exc import DBAPIError

from checkin.core.errors import InputError, Reason
from checkin.store import AdminAction, Base, Store, sha256_hex
from checkin.store import actions as stored_actions
from checkin.store import devices as stored_devices
from checkin.store import events as stored_events
from checkin.store.devices import CODE_ALPHABET, ENROL_VALIDITY, normalise_code
from checkin.store.events import NewEvent
from tests.support.scratch import TEST_DATABASE_ENV, empty_tables, postgres_for_tests

NOW = datetime(2022, 3, 26, 1, 0, tzinfo=UTC)
KEY = "ab" * 32


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str | None]:
    with postgres_for_tests() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def blank(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A store over an empty database (no tables yet on SQLite; migrated and emptied on PostgreSQL)."""
    if request.param == "sqlite":
        store = Store(f"sqlite:///{tmp_path / 'checkin.db'}")
    else:
        url = request.getfixturevalue("postgres_url")
        if url is None:
            pytest.skip(
                f"PostgreSQL runs need {TEST_DATABASE_ENV}, e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test"
            )
        store = Store(url)
        store.migrate()
        empty_tables(url)
    yield store
    store.dispose()


@pytest.fixture
def store(blank: Store) -> Store:
    blank.migrate()
    stored_events.create_event(
        blank,
        NewEvent("cds2022", "Chuyển đổi số", NOW, NOW + timedelta(hours=9), "Asia/Ho_Chi_Minh", ("hall", "vip")),
        NOW - timedelta(days=9),
    )
    return blank


# ---- migrations ----------------------------------------------------------------------------------


def test_migrations_build_exactly_the_models(blank: Store) -> None:
    blank.migrate()
    with blank.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []


def test_migrate_is_repeatable_and_reversible(blank: Store) -> None:
    blank.migrate()
    blank.migrate()
    blank.downgrade("base")
    assert set(inspect(blank.engine).get_table_names()) <= {"alembic_version"}
    blank.migrate()
    assert {t.name for t in Base.metadata.sorted_tables} <= set(inspect(blank.engine).get_table_names())


def test_the_search_column_is_filled_for_guests_stored_before_it(blank: Store) -> None:
    blank.downgrade("base")
    blank.migrate("0005")
    with blank.engine.begin() as connection:
        connection.execute(
            text("INSERT INTO events (id, name, start, \"end\", timezone, venue, created, bundle_version, "
                 "bundle_digest) VALUES ('e1', 'E', :t, :t, 'UTC', '', :t, 0, '')"),
            {"t": NOW},
        )  # fmt: skip
        connection.execute(
            text("INSERT INTO guests (event_id, name, organisation, category, zones, email, created) VALUES "
                 "('e1', 'Hồ Ngọc Uyên', 'Sở Y tế', 'Đại biểu', 'hall', 'Uyen@Example.vn', :t)"),
            {"t": NOW},
        )  # fmt: skip
    blank.migrate()
    with blank.engine.connect() as connection:
        found = connection.execute(text("SELECT search_text FROM guests")).scalar_one()
    assert found == "ho ngoc uyen | so y te | dai bieu | uyen@example.vn"


def test_a_guests_credentials_are_found_by_index_not_by_reading_the_table(store: Store) -> None:
    # re-issue, the guest page and the issue form look credentials up by guest on every request
    lookup = "SELECT cti FROM credentials WHERE guest_id = 7 AND status = 'active'"
    with store.engine.connect() as connection:
        if store.engine.dialect.name == "sqlite":
            plan = " ".join(str(r[-1]) for r in connection.execute(text(f"EXPLAIN QUERY PLAN {lookup}")))
        else:
            connection.execute(text("SET enable_seqscan = off"))  # an empty table would be scanned anyway
            plan = " ".join(str(r[0]) for r in connection.execute(text(f"EXPLAIN {lookup}")))
    assert "ix_credentials_guest_id" in plan, plan


# ---- the admin action log ---------------------------------------------------------------------------


def test_the_admin_log_is_append_only(store: Store) -> None:
    stored_actions.log_action(store, "admin:lan", "gate.add", "cds2022/abc", "Cổng A (hall, in)", NOW)
    stored_actions.log_action(store, "admin:lan", "gate.revoke", "cds2022/abc", "Cổng A", NOW + timedelta(minutes=1))
    assert [(a.actor, a.action, a.at) for a in stored_actions.actions(store)] == [
        ("admin:lan", "gate.revoke", NOW + timedelta(minutes=1)),
        ("admin:lan", "gate.add", NOW),
    ]
    with pytest.raises(DBAPIError, match="append-only"), store.writing() as s:
        s.execute(update(AdminAction).values(actor="someone else"))
    with pytest.raises(DBAPIError, match="append-only"), store.writing() as s:
        s.execute(text("DELETE FROM admin_actions"))
    assert len(stored_actions.actions(store)) == 2


# ---- gate devices --------------------------------------------------------------------------------


def test_a_new_gate_gets_a_typeable_one_time_code_kept_as_a_hash(store: Store) -> None:
    device, code = stored_devices.create_device(store, "cds2022", "  Cổng A  ", None, "in", NOW)
    groups = code.split("-")
    assert [len(g) for g in groups] == [4, 4, 4, 4]
    assert all(c in CODE_ALPHABET for c in "".join(groups))
    assert (device.name, device.zone, device.status) == ("Cổng A", "hall", "pending")
    assert device.enrol_code_hash == sha256_hex(normalise_code(code))
    assert device.enrol_expires == NOW + ENROL_VALIDITY == NOW + timedelta(minutes=15)


@pytest.mark.parametrize(
    ("event", "name", "zone", "direction", "reason"),
    [
        ("nope", "A", None, "in", Reason.NOT_FOUND),
        ("cds2022", "A", "backstage", "in", Reason.INVALID_INPUT),
        ("cds2022", "A", None, "sideways", Reason.INVALID_INPUT),
        ("cds2022", " ", None, "in", Reason.INVALID_INPUT),
        ("cds2022", "x" * 101, None, "in", Reason.INVALID_INPUT),
    ],
)
def test_create_device_refuses_what_cannot_be(
    store: Store, event: str, name: str, zone: str | None, direction: str, reason: Reason
) -> None:
    with pytest.raises(InputError) as caught:
        stored_devices.create_device(store, event, name, zone, direction, NOW)
    assert caught.value.reason is reason
    assert stored_devices.devices(store) == []


def test_enrolment_binds_the_key_and_spends_the_code(store: Store) -> None:
    device, code = stored_devices.create_device(store, "cds2022", "Cổng A", "vip", "out", NOW)
    enrolled, token = stored_devices.enrol_device(store, code, KEY, NOW + timedelta(minutes=3))
    assert (enrolled.id, enrolled.status, enrolled.public_key) == (device.id, "active", KEY)
    assert enrolled.enrol_code_hash == "" and enrolled.token_hash == sha256_hex(token)
    assert (
        stored_devices.device_for_token(store, token) is not None
        and stored_devices.device_for_token(store, token + "x") is None
    )
    with pytest.raises(InputError) as caught:
        stored_devices.enrol_device(store, code, KEY, NOW + timedelta(minutes=4))
    assert caught.value.reason is Reason.ENROLMENT_INVALID


def test_an_expired_code_enrols_nothing(store: Store) -> None:
    _device, code = stored_devices.create_device(store, "cds2022", "Cổng A", None, "in", NOW)
    with pytest.raises(InputError, match="administrator"):
        stored_devices.enrol_device(store, code, KEY, NOW + ENROL_VALIDITY)
    assert stored_devices.devices(store)[0].status == "pending"


def test_revoking_a_gate_keeps_it_listed_and_refuses_its_token(store: Store) -> None:
    device, code = stored_devices.create_device(store, "cds2022", "Cổng A", None, "in", NOW)
    _enrolled, token = stored_devices.enrol_device(store, code, KEY, NOW)
    stored_devices.revoke_device(store, device.id, NOW + timedelta(hours=1))
    found = stored_devices.device_for_token(store, token)
    assert found is not None and found.status == "revoked" and found.revoked_at == NOW + timedelta(hours=1)
    assert [d.id for d in stored_devices.devices(store, "cds2022")] == [device.id]
    with pytest.raises(InputError) as caught:
        stored_devices.revoke_device(store, "nope", NOW)
    assert caught.value.reason is Reason.NOT_FOUND


def test_last_seen_is_written_at_most_once_a_minute(store: Store) -> None:
    device, code = stored_devices.create_device(store, "cds2022", "Cổng A", None, "in", NOW)
    enrolled, _token = stored_devices.enrol_device(store, code, KEY, NOW)
    stored_devices.seen(store, enrolled, NOW + timedelta(seconds=30))
    assert stored_devices.device(store, device.id).last_seen == NOW
    stored_devices.seen(store, enrolled, NOW + timedelta(seconds=61))
    assert stored_devices.device(store, device.id).last_seen == NOW + timedelta(seconds=61)


# ---- bundle versions -----------------------------------------------------------------------------


def test_bundle_version_grows_only_when_the_content_changes(store: Store) -> None:
    assert stored_events.bundle_version(store, "cds2022", b"one", NOW) == (1, NOW)
    assert stored_events.bundle_version(store, "cds2022", b"one", NOW + timedelta(hours=1)) == (1, NOW)
    assert stored_events.bundle_version(store, "cds2022", b"two", NOW + timedelta(hours=2)) == (
        2,
        NOW + timedelta(hours=2),
    )


def test_bundle_version_is_renewed_after_the_given_age(store: Store) -> None:
    renew = timedelta(hours=36)
    assert stored_events.bundle_version(store, "cds2022", b"one", NOW, renew) == (1, NOW)
    assert stored_events.bundle_version(store, "cds2022", b"one", NOW + renew - timedelta(seconds=1), renew) == (1, NOW)
    assert stored_events.bundle_version(store, "cds2022", b"one", NOW + renew, renew) == (2, NOW + renew)
    earlier = NOW - timedelta(days=1)  # a clock set back: the version signed "later" is not reused
    assert stored_events.bundle_version(store, "cds2022", b"one", earlier, renew) == (3, earlier)


def test_bundle_version_of_an_unknown_event(store: Store) -> None:
    with pytest.raises(InputError) as caught:
        stored_events.bundle_version(store, "nope", b"x", NOW)
    assert caught.value.reason is Reason.NOT_FOUND


def test_dispose_lets_go_of_every_file(tmp_path: Path) -> None:
    # a service or test that makes many stores must not run out of file descriptors
    def open_files() -> int:
        return len(os.listdir("/proc/self/fd"))

    before = open_files()
    for _ in range(5):
        store = Store(f"sqlite:///{tmp_path / 'checkin.db'}")
        store.migrate()
        stored_actions.log_action(store, "admin:lan", "gate.add", "x", "", NOW)  # a writer: the lock file is opened
        store.dispose()
    assert open_files() == before
