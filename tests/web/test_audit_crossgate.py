"""The cross-gate audit as journals arrive: real gates (scanner.runner.Gate over real sealed journals,
with the bundle the service handed them at enrolment or on a pull) decide offline; their journals are
uploaded through the journal API (`services.ingest.upload_journal`), and the alerts are what the
officer gets: one per finding, whatever the upload order, never a second one on a re-upload."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from flask.testing import FlaskClient

from checkin.config import Config
from checkin.core import chain, trust
from checkin.core.chain import JournalRow
from checkin.core.credential import Credential
from checkin.core.trust import Direction
from checkin.keystore import KeyStore
from checkin.services import ingest, revocation
from checkin.services.crossgate import AuditPolicy
from checkin.store import Alert, Store, bundle_pulls, reports
from checkin.store import devices as stored_devices
from checkin.store import guests as stored_guests
from scanner import journal as gate_journal
from scanner.runner import Candidate, Gate, Recorded
from tests.support import world
from tests.support.apikit import Clock
from tests.support.apikit import Gate as ApiGate
from tests.support.gatekit import forged, keystore_sign
from tests.support.world import EVENT_ID


@dataclass
class LiveGate:
    """An enrolled gate running the real gate code: its journal, its bundle, its token."""

    device_id: str
    token: str
    gate: Gate
    journal: gate_journal.Journal
    root: Ed25519PublicKey

    def scan(self, text: str) -> Recorded:
        return self.gate.scan(text)

    def pull(self, client: FlaskClient) -> int:
        """Fetch the newest bundle as the gate's sync does and put it in force; its version."""
        response = client.get("/api/v1/bundle", headers={"Authorization": f"Bearer {self.token}"})
        assert response.status_code == 200
        bundle = trust.verify_bundle(response.data, self.root, held_version=self.gate.bundle.version)
        self.gate.set_bundle(bundle)
        return bundle.version

    def upload(self, client: FlaskClient, clock: Clock, after: int = 0) -> dict[str, object]:
        """Push the journal from `after` with a checkpoint signed now, as `checkin-gate sync` does."""
        rows = self.journal.rows(after=after)
        signed = self.journal.checkpoint(clock.ms, upto=rows[-1])
        assert signed is not None
        body = {"rows": [r.to_json() for r in rows], "checkpoint": base64.b64encode(signed.signed).decode()}
        response = client.post("/api/v1/journal", json=body, headers={"Authorization": f"Bearer {self.token}"})
        assert response.status_code == 200, response.json
        return dict(response.json or {})


@pytest.fixture
def gates(client: FlaskClient, store: Store, clock: Clock, tmp_path: Path) -> Iterator[Callable[..., LiveGate]]:
    opened: list[gate_journal.Journal] = []

    def make(name: str, zone: str = "hall", direction: str = "in", operator: str = "Nguyễn Văn Bảo") -> LiveGate:
        device, code = stored_devices.create_device(store, EVENT_ID, name, zone, Direction(direction), clock())
        path = tmp_path / f"{device.id}.sqlite"
        seed = gate_journal.begin(path)
        key = Ed25519PrivateKey.generate()
        public = key.public_key().public_bytes_raw().hex()
        body = client.post(
            "/api/v1/devices/enroll", json={"code": code, "public_key": public, "seal_seed": seed.hex()}
        ).json
        assert body is not None and body["device_id"] == device.id
        root = trust.root_key_from_pem(body["root_public_key"].encode())
        bundle = trust.verify_bundle(base64.b64decode(body["bundle"]), root)
        journal = gate_journal.Journal(path, key)
        opened.append(journal)
        runner = Gate(journal, bundle, zone=zone, direction=Direction(direction), clock=clock, operator=operator)
        return LiveGate(device.id, body["token"], runner, journal, root)

    yield make
    for journal in opened:
        journal.close()


@pytest.fixture
def issue(config: Config, store: Store, clock: Clock) -> Callable[[str], tuple[str, Credential]]:
    """Sign a ticket with the service's issuing key and record it, as `checkin issue` does."""
    keys = KeyStore(config.keys_dir)

    def make(name: str) -> tuple[str, Credential]:
        cred = world.credential(clock(), name=name)
        text = keystore_sign(keys, cred)
        stored_guests.record_issued(store, [(None, cred, keys.active_issuing().kid, text)], cred.issued_at)
        return text, cred

    return make


def crossgate_alerts(store: Store, kind: str) -> list[Alert]:
    return [a for a in reports.alerts(store, event_id=EVENT_ID) if a.kind == kind]


def ids(alerts: Sequence[Alert]) -> list[int]:
    return [a.id for a in alerts]


@pytest.mark.parametrize("first", ["A", "B"])
def test_two_gates_offline_admit_the_same_code_one_alert_names_both_rows(
    client: FlaskClient,
    store: Store,
    clock: Clock,
    gates: Callable[..., LiveGate],
    issue: Callable[[str], tuple[str, Credential]],
    first: str,
) -> None:
    gate_a, gate_b = gates("Cổng A - sảnh chính"), gates("Cổng B - cửa hông")
    text, cred = issue("Nguyễn Thị Lan")
    others = [issue(f"Khách {i}")[0] for i in range(3)]
    clock.advance(minutes=5)
    assert gate_a.scan(text).decision.reason.value == "admitted"
    for other in others:
        gate_a.scan(other)
    clock.advance(minutes=10)  # the badge is passed over the fence: gate B cannot know, it is offline
    assert gate_b.scan(text).decision.reason.value == "admitted"

    clock.advance(minutes=1)
    order = [gate_a, gate_b] if first == "A" else [gate_b, gate_a]
    for live in order:
        live.upload(client, clock)
    found = crossgate_alerts(store, "double_entry")
    assert len(found) == 1
    assert sorted(json.loads(found[0].rows)) == sorted([f"{gate_a.device_id}#1", f"{gate_b.device_id}#1"])
    assert cred.id_hex in found[0].detail and found[0].severity == "high"

    for live in order:  # the same rows sent again (a retried sync) add nothing
        live.upload(client, clock)
    assert len(crossgate_alerts(store, "double_entry")) == 1
    assert ids(reports.alerts(store, event_id=EVENT_ID)) == ids(found)  # and no other alert of any kind


def test_admission_exit_admission_gives_no_alert(
    client: FlaskClient,
    store: Store,
    clock: Clock,
    gates: Callable[..., LiveGate],
    issue: Callable[[str], tuple[str, Credential]],
) -> None:
    gate_a, way_out, gate_b = gates("Cổng A"), gates("Cổng ra", direction="out"), gates("Cổng B")
    text, _ = issue("Lê Văn Hùng")
    for live in (gate_a, way_out, gate_b):
        clock.advance(minutes=10)
        assert live.scan(text).decision.reason.value == "admitted"
    for live in (gate_b, way_out, gate_a):
        live.upload(client, clock)
    assert reports.alerts(store, event_id=EVENT_ID) == []


def test_a_revoked_code_admitted_on_an_old_bundle_names_the_bundle_version(
    client: FlaskClient,
    store: Store,
    clock: Clock,
    gates: Callable[..., LiveGate],
    issue: Callable[[str], tuple[str, Credential]],
) -> None:
    text, cred = issue("Phạm Minh Tuấn")
    stale, fresh = gates("Cổng A - mất mạng"), gates("Cổng B")
    held = stale.gate.bundle.version
    clock.advance(minutes=5)
    revocation.revoke_credential(store, cred.id_hex, "thẻ bị mất", clock(), actor="registrar")
    clock.advance(minutes=1)
    carried = fresh.pull(client)  # gate B syncs and gets the revocation; gate A is offline
    assert carried > held
    clock.advance(minutes=5)
    assert fresh.scan(text).decision.reason.value == "revoked"
    assert stale.scan(text).decision.reason.value == "admitted"  # gate A does not know yet
    stale.upload(client, clock)
    fresh.upload(client, clock)

    (alert,) = crossgate_alerts(store, "revoked_admitted")
    assert (alert.device_id, alert.seq) == (stale.device_id, 1)
    assert f"carried by bundle v{carried}" in alert.detail
    assert f"the gate held bundle v{held}" in alert.detail


def test_a_forged_code_tried_five_times_is_one_alert_with_five_rows(
    client: FlaskClient,
    store: Store,
    clock: Clock,
    gates: Callable[..., LiveGate],
    issue: Callable[[str], tuple[str, Credential]],
) -> None:
    gate_a = gates("Cổng A")
    fake = forged(issue("Đỗ Quang Vinh")[0])
    for _ in range(5):
        clock.advance(seconds=20)
        assert gate_a.scan(fake).decision.reason.value == "bad_signature"
    gate_a.upload(client, clock)
    (alert,) = crossgate_alerts(store, "repeated_forgery")
    rows = [f"{gate_a.device_id}#{seq}" for seq in range(1, 6)]
    assert json.loads(alert.rows) == sorted(rows, key=lambda ref: (ref.split("#")[0], int(ref.split("#")[1])))

    for _ in range(2):  # two more tries, uploaded later: the same alert, not a second one
        clock.advance(seconds=20)
        gate_a.scan(fake)
    gate_a.upload(client, clock, after=5)
    assert ids(crossgate_alerts(store, "repeated_forgery")) == [alert.id]


def test_a_manual_entry_is_a_low_finding(
    client: FlaskClient,
    store: Store,
    clock: Clock,
    gates: Callable[..., LiveGate],
    issue: Callable[[str], tuple[str, Credential]],
) -> None:
    gate_a = gates("Cổng A", operator="Trần Thị Hoa")
    _, cred = issue("Vũ Thị Mai")
    clock.advance(minutes=3)
    done = gate_a.gate.manual(Candidate(cred.credential_id, cred.name, None))  # the badge will not scan
    assert done.decision.reason.value == "admitted" and done.row.operator == "manual:Trần Thị Hoa"
    gate_a.upload(client, clock)
    (alert,) = crossgate_alerts(store, "manual_entry")
    assert alert.severity == "low" and "Trần Thị Hoa" in alert.detail
    assert (alert.device_id, alert.seq) == (gate_a.device_id, 1)


# ---- the database's choice of suspects, with rows written row by row (tests.support.apikit.Gate) -----

CODE = "5e" * 16


def test_an_exit_at_another_gate_between_two_admissions_is_found_in_the_whole_timeline(
    store: Store, clock: Clock, enrol: Callable[..., ApiGate]
) -> None:
    gate_a, way_out = enrol("Cổng A"), enrol("Cổng ra", direction="out")
    start = clock.ms - 3_600_000
    way_out.scan(1, cti=CODE, direction="out", wall_ms=start + 600_000)
    assert way_out.upload(way_out.journal).status_code == 200
    # gate A's batch alone shows two admissions; the exit between them came from the other gate
    gate_a.scan(1, cti=CODE, wall_ms=start)
    gate_a.scan(1, cti=CODE, wall_ms=start + 1_200_000)
    assert gate_a.upload(gate_a.journal).status_code == 200
    assert reports.alerts(store, event_id=EVENT_ID) == []


def test_entries_over_the_policy_limit_across_uploads(
    store: Store, clock: Clock, enrol: Callable[..., ApiGate]
) -> None:
    policy = AuditPolicy(entries_per_credential=2, reentry_after_exit=False)
    gate_a, gate_b = enrol("Cổng A"), enrol("Cổng B")
    start = clock.ms - 3_600_000

    def upload(gate: ApiGate, rows: list[JournalRow]) -> None:
        signed = chain.sign_checkpoint(chain.Checkpoint(rows[-1].seq, rows[-1].hash, clock.ms), gate.key)
        ingest.upload_journal(store, stored_devices.device(store, gate.device_id), rows, signed, clock(), policy=policy)

    upload(gate_a, gate_a.scan(1, cti=CODE, wall_ms=start) + gate_a.scan(1, cti=CODE, wall_ms=start + 60_000))
    assert reports.alerts(store, event_id=EVENT_ID) == []
    upload(gate_b, gate_b.scan(1, cti=CODE, wall_ms=start + 120_000))  # the third entry
    (alert,) = reports.alerts(store, event_id=EVENT_ID)
    assert alert.kind == "entry_limit_exceeded" and (alert.device_id, alert.seq) == (gate_a.device_id, 1)
    assert f"{gate_b.device_id}#1" in json.loads(alert.rows) and "3 times, over the limit of 2" in alert.detail


def test_each_bundle_version_a_gate_gets_is_kept_once(
    client: FlaskClient, store: Store, clock: Clock, gates: Callable[..., LiveGate]
) -> None:
    live = gates("Cổng A")
    auth = {"Authorization": f"Bearer {live.token}"}
    clock.advance(minutes=1)
    assert client.get("/api/v1/bundle", headers=auth).status_code == 200  # the version it got at enrolment
    etag = f'"v{live.gate.bundle.version}"'
    assert client.get("/api/v1/bundle", headers={**auth, "If-None-Match": etag}).status_code == 304
    with store.session() as s:
        pulls = bundle_pulls.event_pulls(s, EVENT_ID)
    assert [(p.device_id, p.version, p.pulled_at) for p in pulls] == [
        (live.device_id, live.gate.bundle.version, clock() - timedelta(minutes=1))
    ]


def test_a_supervisor_lifting_the_clock_alarm_is_a_low_finding(
    client: FlaskClient, store: Store, clock: Clock, gates: Callable[..., LiveGate]
) -> None:
    gate_a = gates("Cổng A", operator="Hoàng Văn Nam")
    done = gate_a.gate.acknowledge_clock()
    assert done.row.reason == "clock_acknowledged"
    gate_a.upload(client, clock)
    (alert,) = reports.alerts(store, event_id=EVENT_ID)
    assert alert.kind == "supervisor_override" and alert.severity == "low"
    assert (alert.device_id, alert.seq) == (gate_a.device_id, 1)
