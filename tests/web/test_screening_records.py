"""Health screening records at the service (issue 11, item 5), over journals the real gate code wrote
(scanner.gate screens with the policy of the service's [screening], scanner.journal chains, seals and
keeps the details beside the rows) and the service's own ingest:

- the retention purge at the gate leaves both chains whole: the gate's `journal verify` with seals
  and the service's `checkin audit verify` find nothing, the readings and answers are gone from the
  gate and were never in the service's database (its rows hold the outcome and a salted digest);
- a named guest's screening is for administrators: officers' search, exports and timeline and the
  event page of registrars show the verdict without the screening reason or outcome.

SQLite always; PostgreSQL too when CHECKIN_TEST_DATABASE_URL is set.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import LargeBinary, String, Text, inspect, select

from checkin.config import Config
from checkin.core import chain, credential
from checkin.core.errors import Reason
from checkin.core.trust import GatePolicy
from checkin.i18n import message
from checkin.services import audit, invitations
from checkin.services.bundles import screening_of
from checkin.store import Store
from checkin.store.journal import JournalRefused
from checkin.store.models import Base
from scanner import screening
from scanner.cli import _purge_by_policy
from tests.support.apikit import Clock, Runner, amended, bundle_for
from tests.support.auditkit import AuditGate, add_gate, issue_guest
from tests.support.cli import CHECKIN, clean_env, ok, run_cli
from tests.support.world import EVENT_ID
from tests.web.test_declare import active, declare

SCREENING_TOML = """
[screening]
enabled = true
retention_days = 14

[[screening.questions]]
id = "ho_sot"
vi = "Quý khách có sốt, ho hoặc khó thở không?"
en = "Do you have a fever, a cough or shortness of breath?"
"""
# what the operator typed: readings no other value of the databases spells out
FEVER, WELL, LATE = "38.47", "36.73", "37.18"
SCANS = f"/audit/events/{EVENT_ID}/scans"


@pytest.fixture
def config(config: Config) -> Config:
    """The web tests' deployment with health screening on, kept 14 days."""
    return amended(config, SCREENING_TOML)


@pytest.fixture
def hall(store: Store, config: Config, clock: Clock, tmp_path: Path) -> Iterator[AuditGate]:
    """A hall gate whose bundle carries the service's screening policy."""
    policy = GatePolicy(screening=screening_of(config))
    made = add_gate(store, config, tmp_path, clock(), "Cổng A - sảnh", policy=policy)
    yield made
    made.journal.close()


def texts_holding(store: Store, needles: tuple[str, ...]) -> list[tuple[str, str, str]]:
    """(table, column, needle) wherever a text or binary column of any table of the service holds a needle."""
    found = []
    with store.session() as s:
        for table in Base.metadata.sorted_tables:
            if not inspect(s.get_bind()).has_table(table.name):
                continue
            for column in table.columns:
                if not isinstance(column.type, String | Text | LargeBinary):
                    continue
                for value in s.execute(select(column).where(column.is_not(None))).scalars():
                    held = value if isinstance(value, str) else bytes(value).decode("utf-8", "replace")
                    found.extend((table.name, column.name, n) for n in needles if n in held)
    return found


def disk_bytes(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())


# ---- the retention purge, gate and service ------------------------------------------------------------


def test_after_retention_the_readings_are_gone_and_both_chains_still_verify(
    store: Store, config: Config, clock: Clock, hall: AuditGate, runner: Runner
) -> None:
    now = clock()
    _, anh = issue_guest(store, config, "Nguyễn Thị Ánh", now)
    _, an = issue_guest(store, config, "Nguyễn Văn An", now)
    _, binh = issue_guest(store, config, "Trần Văn Bình", now)
    fever = hall.scan(anh, now - timedelta(minutes=50), entry=screening.Entry(FEVER, {"ho_sot": True}))
    well = hall.scan(an, now - timedelta(minutes=40), entry=screening.Entry(WELL, {"ho_sot": False}))
    assert (fever.verdict, fever.reason, well.verdict) == ("refer", "screening_failed", "admit")
    assert not isinstance(hall.upload(now - timedelta(minutes=39)), JournalRefused)
    late = hall.scan(binh, now - timedelta(minutes=10), entry=screening.Entry(LATE, {"ho_sot": False}))
    assert not isinstance(hall.upload(now - timedelta(minutes=9)), JournalRefused)  # synced as it goes
    assert hall.journal.details_count() == 3
    assert hall.journal.screening_details(fever.seq)["temperature"] == FEVER  # type: ignore[index]
    assert hall.journal.screening_details(well.seq) == {
        "temperature": WELL,
        "declaration": "gate",
        "declared_at": None,
        "answers": {"ho_sot": False},
        "certificate": None,
    }

    # the gate starts again after the retention period and purges, then scans and syncs further rows
    later = clock.advance(days=15)
    assert hall.bundle.policy.screening.retention_days == 14  # the service's [screening] retention_days
    assert _purge_by_policy(hall.journal, hall.bundle, later) == 3
    after = hall.scan(an, later)  # the event and the bundle are over: denied, still a row of the chain
    assert not isinstance(hall.upload(later), JournalRefused)
    assert hall.journal.acked_seq == after.seq == 4

    # (a) the gate's journal verify, seals included
    device_public = hall.journal.device_key.public_key()  # type: ignore[union-attr]
    assert hall.journal.verify(device_public, hall.seal_seed) == []
    # (b) the service's integrity check, and the command that runs it
    results = audit.verify_event(store, EVENT_ID, later)
    assert [(r.rows_held, r.chain_ok, r.seals_ok, r.ledger_ok, r.findings) for r in results] == [
        (4, True, True, True, ())
    ]
    verified = runner("audit", "verify", "--event", EVENT_ID, now=later)
    assert verified.exit_code == 0, verified.output
    assert "intact: 1 gate(s), 4 rows" in verified.output
    # (c) the service holds the outcome and the salted digest the chain covers, nothing more
    with store.session() as s:
        from checkin.store.models import Scan

        held = s.execute(select(Scan.seq, Scan.screening).order_by(Scan.seq)).all()
    assert [tuple(r) for r in held] == [(r.seq, r.screening) for r in (fever, well, late, after)]
    assert [chain.screening_parts(r.screening)[0] for r in (fever, well, late, after)] == [
        "fever",
        "passed",
        "passed",
        "",
    ]
    assert texts_holding(store, (FEVER, WELL, LATE, "ho_sot", "temperature", "answers", "declared_at")) == []
    assert ("guests", "name", "Nguyễn Thị Ánh") in texts_holding(store, ("Nguyễn Thị Ánh",))  # the scan reads
    # (d) the gate forgot the readings and their salts: no plausible reading matches a digest now
    assert hall.journal.details_count() == 0
    assert all(hall.journal.screening_details(r.seq) is None for r in (fever, well, late))
    _, digest = chain.screening_parts(well.screening)
    guesses = (
        {"temperature": f"{t / 100:.2f}", "declaration": "gate", "declared_at": None, "answers": {"ho_sot": a}}
        | {"certificate": None}
        for t in range(3400, 4251)
        for a in (True, False)
    )
    assert not any(chain.details_digest(b"", g) == digest for g in guesses)
    hall.journal.close()
    for reading in (FEVER, WELL, LATE):
        assert reading.encode() not in disk_bytes(hall.journal.path)


def test_a_guests_own_declaration_leaves_only_its_outcome_at_the_service(
    client: FlaskClient, store: Store, config: Config, clock: Clock
) -> None:
    """Nothing to purge at the service: a guest's answers on their own page sign claim 5 into a new
    code (when declared, whether it passed) and are kept nowhere else, not even by question."""
    guest_id, _ = issue_guest(store, config, "Nguyễn Thị Ánh", clock())
    token = invitations.new_invitation(store, guest_id, clock())
    assert declare(client, token, {"q-ho_sot": "yes"}).status_code == 303  # type: ignore[attr-defined]
    new = active(store, guest_id)
    verified = credential.verify(new.text, bundle_for(config, clock()), clock())
    assert verified.credential.health == {1: int(clock().timestamp()), 2: False}  # the outcome, no answer
    assert texts_holding(store, ("ho_sot", "answers")) == []


# ---- a named guest's screening is for administrators -----------------------------------------------


@pytest.fixture
def referred(store: Store, config: Config, clock: Clock, hall: AuditGate) -> int:
    """Ánh referred for a fever at 07:10, An admitted after screening at 07:20; Ánh's guest id."""
    now = clock()
    anh, anh_text = issue_guest(store, config, "Nguyễn Thị Ánh", now)
    _, an_text = issue_guest(store, config, "Nguyễn Văn An", now)
    hall.scan(anh_text, now - timedelta(minutes=50), entry=screening.Entry(FEVER))
    hall.scan(an_text, now - timedelta(minutes=40), entry=screening.Entry(WELL, {"ho_sot": False}))
    assert not isinstance(hall.upload(now - timedelta(minutes=39)), JournalRefused)
    return anh


SCREENING_WORDS = tuple(
    message(r, lang) for r in (Reason.SCREENING_FAILED, Reason.SCREENING_REQUIRED) for lang in ("vi", "en")
)


def shows_screening(text: str) -> bool:
    """True when a page or an export tells a screening reason or outcome."""
    return any(w in text for w in (*SCREENING_WORDS, "screening_failed", "screening_required", "fever:", "passed:"))


def export(client: FlaskClient, fmt: str, **args: str) -> str:
    answer = client.get(f"{SCANS}.{fmt}", query_string=args)
    assert answer.status_code == 200, answer.status_code
    return answer.get_data(as_text=True)


def test_officers_see_the_verdict_beside_a_name_but_not_the_screening(
    login_as: Callable[[str | None], FlaskClient], referred: int
) -> None:
    client = login_as("officer")
    page = client.get(SCANS).get_data(as_text=True)
    assert "Nguyễn Thị Ánh" in page and not shows_screening(page)
    assert re.findall(r'<span class="pill (pill-\w+)">([^<]+)</span>', page) == [
        ("pill-ok", message(Reason.ADMITTED, "vi")),
        ("pill-warn", "Chuyển kiểm tra"),  # "Referred": the verdict alone
    ]
    assert 'id="screening-hidden"' in page
    assert 'value="screening_failed"' not in page  # the reason filter does not offer it
    for path in (SCANS, f"{SCANS}.csv", f"{SCANS}.json"):  # nor takes it: it would list who was referred
        assert client.get(path, query_string={"reason": "screening_failed"}).status_code == 400
    table = list(csv.DictReader(io.StringIO(export(client, "csv").lstrip("\ufeff"))))
    assert "screening" not in table[0] and [r["verdict"] for r in table] == ["refer", "admit"]
    assert [r["reason"] for r in table] == ["", "admitted"]
    doc = json.loads(export(client, "json"))
    assert all("screening" not in s for s in doc["scans"]) and not shows_screening(json.dumps(doc))
    timeline = client.get(f"/audit/events/{EVENT_ID}/guests/{referred}").get_data(as_text=True)
    assert "tl-refer" in timeline and not shows_screening(timeline)
    # the figures stay on the dashboard: counts per hour and gate, without names
    dashboard = client.get(f"/audit/events/{EVENT_ID}").get_data(as_text=True)
    assert 'id="h-screening"' in dashboard


def test_administrators_see_each_named_guests_screening(
    login_as: Callable[[str | None], FlaskClient], referred: int
) -> None:
    client = login_as("admin")
    page = client.get(SCANS).get_data(as_text=True)
    assert message(Reason.SCREENING_FAILED, "vi") in page and 'id="screening-hidden"' not in page
    only = client.get(SCANS, query_string={"reason": "screening_failed"}).get_data(as_text=True)
    assert "Nguyễn Thị Ánh" in only and "Nguyễn Văn An" not in only
    table = list(csv.DictReader(io.StringIO(export(client, "csv").lstrip("\ufeff"))))
    assert [(r["reason"], r["screening"].split(":")[0]) for r in table] == [
        ("screening_failed", "fever"),
        ("admitted", "passed"),
    ]
    assert [s["screening"].split(":")[0] for s in json.loads(export(client, "json"))["scans"]] == ["fever", "passed"]
    timeline = client.get(f"/audit/events/{EVENT_ID}/guests/{referred}").get_data(as_text=True)
    assert message(Reason.SCREENING_FAILED, "vi") in timeline
    assert message(Reason.SCREENING_FAILED, "vi") in client.get(f"/admin/events/{EVENT_ID}").get_data(as_text=True)


def test_registrars_event_page_shows_the_referral_without_its_reason(
    login_as: Callable[[str | None], FlaskClient], referred: int
) -> None:
    page = login_as("registrar").get(f"/admin/events/{EVENT_ID}").get_data(as_text=True)
    assert "Nguyễn Thị Ánh" in page and not shows_screening(page)


def test_the_cli_export_leaves_screening_out_unless_asked(config: Config, referred: int, tmp_path: Path) -> None:
    """The command runs as whoever holds the machine and its database, with no staff role; still, a
    file travels, so a named guest's screening goes into it only with --with-screening."""
    args = ["--config", config.root / "config.toml", "audit", "export", "--event", EVENT_ID, "--format", "csv"]
    plain, full = tmp_path / "plain.csv", tmp_path / "full.csv"
    ok(run_cli(CHECKIN, *args, "--out", plain, cwd=tmp_path, env=clean_env()))
    rows = list(csv.DictReader(io.StringIO(plain.read_text(encoding="utf-8-sig"))))
    assert "screening" not in rows[0] and [r["reason"] for r in rows] == ["", "admitted"]
    refused = run_cli(
        CHECKIN, *args, "--out", tmp_path / "x.csv", "--reason", "screening_failed", cwd=tmp_path, env=clean_env()
    )
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    ok(
        run_cli(
            CHECKIN,
            *args,
            "--out",
            full,
            "--with-screening",
            "--reason",
            "screening_failed",
            cwd=tmp_path,
            env=clean_env(),
        )
    )
    rows = list(csv.DictReader(io.StringIO(full.read_text(encoding="utf-8-sig"))))
    assert [(r["name"], r["reason"], r["screening"].split(":")[0]) for r in rows] == [
        ("Nguyễn Thị Ánh", "screening_failed", "fever")
    ]
