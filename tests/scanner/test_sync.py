"""scanner.sync against a real HTTP service that speaks the gate API contract (gatekit.ContractService)."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from checkin.core import chain, enrolment
from checkin.core.errors import InputError, Reason, TrustError
from checkin.core.trust import Direction
from scanner import sync
from scanner.datadir import GateData
from scanner.journal import Journal
from scanner.runner import Gate
from scanner.settings import Settings
from scanner.sync import Syncer, SyncError
from tests.support.gatekit import Clock, ContractService, World, running


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
def clock(world: World) -> Clock:
    return Clock(world.now)


@pytest.fixture
def service(world: World, clock: Clock) -> Iterator[ContractService]:
    with running(ContractService(world, clock=clock)) as svc:
        yield svc


@pytest.fixture
def data(tmp_path: Path, service: ContractService) -> GateData:
    data = GateData(tmp_path / "gate")
    sync.enroll_network(data, service.url, service.add_code("gate-a"))
    return data


def fill(data: GateData, n: int, clock: Clock) -> Journal:
    journal = Journal(data.journal_path, data.device_key())
    for i in range(n):
        clock.advance(seconds=1)
        journal.append(
            wall_ms=int(clock().timestamp() * 1000),
            mono_ms=i,
            cti=f"{i:032x}",
            verdict="deny",
            reason="malformed",
            direction="in",
            zone="hall",
        )
    return journal


def syncer(data: GateData, clock: Clock, **settings: object) -> Syncer:
    return Syncer(data, clock=clock, settings=Settings(**settings), rng=random.Random(7))  # type: ignore[arg-type]


# ---- enrolment ---------------------------------------------------------------------------------------------


def test_network_enrolment_stores_everything(data: GateData, service: ContractService, world: World) -> None:
    device = data.device()
    assert (device.device_id, device.zone, device.direction, device.server) == ("gate-a", "hall", "in", service.url)
    assert data.enrolled()
    assert data.bundle().version == world.version
    assert (data.path("token").stat().st_mode & 0o777) == 0o600
    record = next(iter(service.devices.values()))
    assert record.public_key is not None
    assert record.public_key.public_bytes_raw() == data.device_public().public_bytes_raw()
    assert data.token() in service.devices
    with Journal(data.journal_path) as journal:
        assert journal.server_time_ms == int(world.now.timestamp() * 1000)  # the time floor starts there


def test_enrolment_refusals(tmp_path: Path, service: ContractService, data: GateData, world: World) -> None:
    unknown = enrolment.bound_code(enrolment.new_secret(), world.root.public_key().public_bytes_raw())
    with pytest.raises(SyncError) as caught:
        sync.enroll_network(GateData(tmp_path / "other"), service.url, unknown)
    assert caught.value.status == 403 and caught.value.server_reason == "enrolment_invalid"
    with pytest.raises(InputError, match="does not name the service's root key"):  # refused before any request
        sync.enroll_network(GateData(tmp_path / "other"), service.url, "not-a-code")
    with pytest.raises(Exception, match="already holds an enrolled gate"):
        sync.enroll_network(data, service.url, service.add_code("gate-b"))


# ---- journal upload --------------------------------------------------------------------------------------------


def test_push_in_batches_with_checkpoints(data: GateData, service: ContractService, clock: Clock) -> None:
    journal = fill(data, 1_200, clock)
    result = syncer(data, clock, batch_size=500).sync_once(journal)
    assert (result.pushed, result.acked_seq) == (1_200, 1_200)
    record = next(iter(service.devices.values()))
    assert record.posts == 3  # 500 + 500 + 200
    assert record.rows == journal.rows()
    assert chain.check(record.rows) == []
    assert [c.seq for c in record.checkpoints] == [500, 1_000, 1_200]
    assert journal.acked_seq == 1_200 and journal.pending() == 0
    assert journal.last_seq() == 1_200  # acknowledged rows stay


def test_upload_is_idempotent(data: GateData, service: ContractService, clock: Clock) -> None:
    journal = fill(data, 30, clock)
    gate_sync = syncer(data, clock)
    gate_sync.sync_once(journal)
    journal.acknowledge(0, "")  # the answer was lost: the gate sends everything again
    gate_sync.sync_once(journal)
    assert service.rows_of("gate-a") == journal.rows()  # stored once


def test_gap_resends_from_what_the_server_holds(data: GateData, service: ContractService, clock: Clock) -> None:
    journal = fill(data, 40, clock)
    gate_sync = syncer(data, clock)
    gate_sync.sync_once(journal)
    del service.rows_of("gate-a")[25:]  # the server lost its last rows (restored from a backup)
    fill(data, 5, clock)
    gate_sync.sync_once(journal)
    assert service.rows_of("gate-a") == journal.rows()
    assert journal.acked_seq == 45


def test_too_large_halves_the_batch(data: GateData, service: ContractService, clock: Clock) -> None:
    service.max_batch = 100
    journal = fill(data, 300, clock)
    syncer(data, clock, batch_size=500).sync_once(journal)
    assert len(service.rows_of("gate-a")) == 300


def test_fork_is_reported_and_nothing_is_acknowledged(data: GateData, service: ContractService, clock: Clock) -> None:
    journal = fill(data, 10, clock)
    gate_sync = syncer(data, clock)
    gate_sync.sync_once(journal)
    held = service.rows_of("gate-a")
    held[2] = chain.JournalRow(**{**held[2].to_json(), "hash": "ab" * 32})
    journal.acknowledge(0, "")
    with pytest.raises(SyncError) as caught:
        gate_sync.sync_once(journal)
    assert caught.value.status == 422 and caught.value.server_reason == "fork"
    assert "fork" in gate_sync.board.get().alerts
    assert journal.acked_seq == 0 and journal.last_seq() == 10


def test_server_time_raises_the_floor(data: GateData, service: ContractService, clock: Clock) -> None:
    journal = fill(data, 2, clock)
    clock.advance(hours=1)  # the server's clock; the gate uses the same one here
    syncer(data, clock).sync_once(journal)
    assert journal.time_floor_ms == int(clock().timestamp() * 1000)


# ---- bundles ---------------------------------------------------------------------------------------------------


def test_newer_bundle_is_pulled_verified_and_handed_on(
    data: GateData, service: ContractService, world: World, clock: Clock
) -> None:
    journal = fill(data, 0, clock)
    seen = []
    gate_sync = Syncer(data, clock=clock, on_bundle=seen.append)
    assert gate_sync.sync_once(journal).bundle is None  # 304: nothing newer
    revoked = world.credential().credential_id
    service.publish(world.signed_bundle(version=2, revoked=frozenset({revoked})), 2)
    result = gate_sync.sync_once(journal)
    assert result.bundle is not None and result.bundle.version == 2
    assert [b.version for b in seen] == [2]
    assert data.bundle().version == 2 and revoked in data.bundle().revoked
    assert gate_sync.board.get().bundle_version == 2
    assert gate_sync.sync_once(journal).bundle is None


def test_older_bundle_is_refused(data: GateData, service: ContractService, world: World, clock: Clock) -> None:
    journal = fill(data, 0, clock)
    gate_sync = Syncer(data, clock=clock)
    service.publish(world.signed_bundle(version=3), 3)
    gate_sync.sync_once(journal)
    service.publish(world.signed_bundle(version=2), 2)
    with pytest.raises(TrustError) as caught:
        gate_sync.sync_once(journal)
    assert caught.value.reason is Reason.BUNDLE_ROLLBACK
    assert data.bundle().version == 3


def test_bundle_of_another_root_is_refused(data: GateData, service: ContractService, clock: Clock) -> None:
    journal = fill(data, 0, clock)
    impostor = World()
    service.publish(impostor.signed_bundle(version=9), 9)
    with pytest.raises(TrustError) as caught:
        Syncer(data, clock=clock).sync_once(journal)
    assert caught.value.reason is Reason.WRONG_ROOT
    assert data.bundle().version == 1


# ---- failures ----------------------------------------------------------------------------------------------------


def test_offline_keeps_rows_and_says_so(data: GateData, service: ContractService, clock: Clock) -> None:
    journal = fill(data, 5, clock)
    gate_sync = syncer(data, clock)
    service.stop()
    with pytest.raises(SyncError) as caught:
        gate_sync.sync_once(journal)
    assert caught.value.status == 0
    status = gate_sync.board.get()
    assert not status.online and "cannot be reached" in status.last_error
    assert journal.pending() == 5


def test_revoked_device(data: GateData, service: ContractService, clock: Clock) -> None:
    journal = fill(data, 1, clock)
    next(iter(service.devices.values())).revoked = True
    gate_sync = syncer(data, clock)
    with pytest.raises(SyncError):
        gate_sync.sync_once(journal)
    status = gate_sync.board.get()
    assert status.online and status.device_revoked


def test_usb_gate_has_no_server(tmp_path: Path, world: World, clock: Clock) -> None:
    from tests.support.gatekit import enrol_usb

    data = enrol_usb(tmp_path / "usb", world)
    gate_sync = Syncer(data, clock=clock)
    assert not gate_sync.board.get().enabled
    with Journal(data.journal_path) as journal, pytest.raises(SyncError, match="USB"):
        gate_sync.sync_once(journal)


@pytest.mark.parametrize("failures", range(1, 14))
def test_backoff_grows_with_jitter_and_a_cap(failures: int) -> None:
    rng = random.Random(failures)
    ceiling = min(sync.BACKOFF_CAP_SECONDS, 2 ** (failures - 1))
    for _ in range(20):
        delay = sync.backoff_seconds(failures, rng)
        assert ceiling / 2 <= delay <= ceiling


# ---- the background thread never blocks the scan loop ---------------------------------------------------------


def test_scans_go_on_while_an_upload_hangs(
    data: GateData, service: ContractService, world: World, clock: Clock
) -> None:
    service.hold = threading.Event()
    journal = Journal(data.journal_path, data.device_key())
    gate = Gate(journal, data.bundle(), zone="hall", direction=Direction.IN, clock=clock)
    gate.scan(world.issue("first"))
    gate_sync = Syncer(data, clock=clock, settings=Settings(sync_interval_seconds=0.05))
    gate_sync.start()
    try:
        assert service.holding.wait(10), "the sync thread never reached the server"
        for i in range(50):
            gate.scan(world.issue(f"guest {i}"))
        assert service.holding.is_set()  # the upload is still stuck while 50 verdicts were committed
        assert gate.journal.pending() == 51
        service.hold.set()
        service.hold = None
        deadline = threading.Event()
        for _ in range(200):  # bounded wait for the thread's next rounds
            if len(service.rows_of("gate-a")) == 51 and gate_sync.board.get().online:  # stored, then answered
                break
            deadline.wait(0.05)
        assert service.rows_of("gate-a") == journal.rows()
        assert gate_sync.board.get().online
    finally:
        if service.hold is not None:
            service.hold.set()
        gate_sync.stop()
        journal.close()


# ---- transport -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "insecure", "allowed"),
    [
        ("https://checkin.example.vn", False, True),
        ("http://127.0.0.1:8080", False, True),
        ("http://[::1]:8080", False, True),
        ("http://localhost:8080", False, True),
        ("http://192.168.1.10:8080", False, False),
        ("http://checkin.example.vn", False, False),
        ("http://192.168.1.10:8080", True, True),
        ("ftp://checkin.example.vn", True, False),
        ("https://", False, False),
    ],
)
def test_plain_http_only_to_this_machine_unless_told(url: str, insecure: bool, allowed: bool) -> None:
    if allowed:
        sync.check_transport(url, insecure_http=insecure)
        return
    with pytest.raises(InputError) as caught:
        sync.check_transport(url, insecure_http=insecure)
    assert caught.value.reason is Reason.INSECURE_TRANSPORT


def test_a_gate_enrolled_over_lan_http_before_the_rule_keeps_scanning_and_says_why_it_does_not_sync(
    tmp_path: Path, world: World, clock: Clock
) -> None:
    from tests.support.gatekit import enrol_usb

    data = enrol_usb(tmp_path / "old", world, server="http://192.168.1.10:8080", token="t" * 20)
    gate_sync = Syncer(data, clock=clock)
    assert "plain http" in gate_sync.board.get().last_error
    with Journal(data.journal_path, data.device_key()) as journal, pytest.raises(SyncError) as caught:
        gate_sync.sync_once(journal)
    assert caught.value.reason is Reason.INSECURE_TRANSPORT
