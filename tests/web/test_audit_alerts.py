"""The officer's alerts: raised by real faulty uploads (a gap, a fork) of journals the real gate code
wrote; listed, filtered, acknowledged and resolved with notes on the audit pages; every move in the
activity log; registrars refused; forms CSRF-protected; `checkin audit alerts` prints them."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from checkin.config import Config
from checkin.services import alertdesk
from checkin.services.findings import AlertState, Severity
from checkin.store import Store, reports
from checkin.store.actions import actions
from checkin.store.journal import JournalRefused
from tests.support.apikit import Clock, Runner
from tests.support.auditkit import add_gate, issue_guest
from tests.support.world import EVENT_ID

ALERTS = f"/audit/events/{EVENT_ID}/alerts"


@pytest.fixture
def faults(store: Store, config: Config, clock: Clock, tmp_path: Path) -> dict[str, int]:
    """Two gates of the event: gate A uploads with a gap, gate B's key uploads a forked history.
    The alerts' ids by kind."""
    now = clock()
    _gid, text = issue_guest(store, config, "Nguyễn Thị Ánh", now)
    a = add_gate(store, config, tmp_path, now, "Cổng A")
    for minute in range(3):
        a.scan(text, now - timedelta(minutes=30 - minute))
    assert isinstance(a.upload(now, skip=1), JournalRefused)  # rows 2..3 without row 1: a gap
    b = add_gate(store, config, tmp_path, now, "Cổng B")
    b.scan(text, now - timedelta(minutes=20))
    b.scan(text, now - timedelta(minutes=19))
    assert not isinstance(b.upload(now), JournalRefused)
    other = add_gate(store, config, tmp_path, now, "Cổng B", key=b.journal.device_key, device_id=b.device_id)
    other.scan(text, now - timedelta(minutes=18), operator="someone else")
    other.scan(text, now - timedelta(minutes=17))
    assert isinstance(other.upload(now), JournalRefused)  # seq 1 held with another hash: a fork
    found = {a.kind: a.id for a in reports.alerts(store, event_id=EVENT_ID)}
    assert set(found) == {"gap", "fork"}
    return found


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


def test_the_list_shows_each_alert_in_words_with_its_gate_row_and_local_time(
    login_as: Callable[[str | None], FlaskClient], faults: dict[str, int]
) -> None:
    client = login_as("officer")
    client.get("/admin/lang/en")
    page = client.get(ALERTS)
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Journal rows are missing" in text and "The journal forked" in text  # the Reason's words
    assert "Cổng A" in text and "Cổng B" in text
    assert "#1" in text  # the seq each alert names
    assert 'data-state="open"' in text
    assert "2022-03-26 08:00:00" in text  # raised at 01:00 UTC: 08:00 in Asia/Ho_Chi_Minh


def test_filters_by_state_kind_severity_and_gate(
    login_as: Callable[[str | None], FlaskClient], faults: dict[str, int], store: Store
) -> None:
    client = login_as("officer")

    def kinds(**args: str) -> set[str]:
        page = client.get(ALERTS, query_string=args).get_data(as_text=True)
        return set(re.findall(r'data-kind="([a-z_]+)"', page))

    assert kinds() == {"gap", "fork"}
    assert kinds(kind="fork") == {"fork"}
    assert kinds(severity="critical") == {"fork"}
    assert kinds(severity="medium") == {"gap"}  # refused: the gate resends from where the service stands
    assert kinds(severity="low") == set()
    fork_gate = next(a.device_id for a in reports.alerts(store, event_id=EVENT_ID) if a.kind == "fork")
    assert kinds(gate=fork_gate or "") == {"fork"}
    assert kinds(state="resolved") == set()
    assert kinds(state="nonsense") == {"gap", "fork"}  # a value the page does not offer is ignored


def test_acknowledge_then_resolve_with_notes_each_logged(
    login_as: Callable[[str | None], FlaskClient], faults: dict[str, int], store: Store, clock: Clock
) -> None:
    client = login_as("officer")
    token = csrf_of(client.get(ALERTS).get_data(as_text=True))
    gap = faults["gap"]
    done = client.post(f"{ALERTS}/{gap}/acknowledge", data={"csrf_token": token, "note": "Đang gọi cổng A"})
    assert done.status_code == 303
    held = alertdesk.alert(store, gap)
    assert held is not None and held.state == AlertState.ACKNOWLEDGED and held.note == "Đang gọi cổng A"
    assert held.state_by == "officer" and held.acknowledged_by == "officer" and held.state_at == clock()
    clock.advance(minutes=5)
    done = client.post(f"{ALERTS}/{gap}/resolve", data={"csrf_token": token, "note": "Gate A resent its journal"})
    assert done.status_code == 303
    held = alertdesk.alert(store, gap)
    assert held is not None and held.state == AlertState.RESOLVED and held.note == "Gate A resent its journal"
    assert held.state_at == clock() and held.acknowledged_by == "officer"
    log = [(a.actor, a.action, a.detail) for a in actions(store)][:2]
    assert log == [
        ("officer", "alert.resolve", "Gate A resent its journal"),
        ("officer", "alert.acknowledge", "Đang gọi cổng A"),
    ]
    assert f"alert {gap} (gap" in actions(store)[0].target
    page = client.get(ALERTS, query_string={"state": "resolved"}).get_data(as_text=True)
    assert "Gate A resent its journal" in page and 'data-kind="gap"' in page
    login_as("admin").get("/admin/lang/en")
    log_page = client.get("/admin/log").get_data(as_text=True)  # the activity log words each move
    assert "Alert acknowledged" in log_page and "Alert resolved" in log_page and "Đang gọi cổng A" in log_page


def test_resolve_without_a_note_is_refused_and_nothing_changes(
    login_as: Callable[[str | None], FlaskClient], faults: dict[str, int], store: Store
) -> None:
    client = login_as("admin")
    token = csrf_of(client.get(ALERTS).get_data(as_text=True))
    before = len(actions(store))
    refused = client.post(f"{ALERTS}/{faults['fork']}/resolve", data={"csrf_token": token, "note": "   "})
    assert refused.status_code == 400
    assert 'data-field="note-' in refused.get_data(as_text=True)
    held = alertdesk.alert(store, faults["fork"])
    assert held is not None and held.state == AlertState.OPEN and held.note == ""
    assert len(actions(store)) == before


def test_states_move_forward_only(
    login_as: Callable[[str | None], FlaskClient], faults: dict[str, int], store: Store, clock: Clock
) -> None:
    fork = faults["fork"]
    alertdesk.resolve(store, fork, "Laptop B was reimaged; rows checked by hand", "officer", clock())
    client = login_as("officer")
    token = csrf_of(client.get(ALERTS).get_data(as_text=True))
    again = client.post(f"{ALERTS}/{fork}/acknowledge", data={"csrf_token": token, "note": ""})
    assert again.status_code == 409
    held = alertdesk.alert(store, fork)
    assert held is not None and held.state == AlertState.RESOLVED
    assert "Laptop B was reimaged" in held.note
    # open -> resolved directly is allowed
    gap = alertdesk.resolve(store, faults["gap"], "duplicate of the fork", "admin", clock())
    assert gap.state == AlertState.RESOLVED and gap.acknowledged_by == "admin"


def test_a_post_without_the_csrf_token_is_refused(
    login_as: Callable[[str | None], FlaskClient], faults: dict[str, int], store: Store
) -> None:
    client = login_as("officer")
    refused = client.post(f"{ALERTS}/{faults['gap']}/acknowledge", data={"note": "x"})
    assert refused.status_code == 400
    held = alertdesk.alert(store, faults["gap"])
    assert held is not None and held.state == AlertState.OPEN


@pytest.mark.parametrize("path", ["", "/1/acknowledge", ".csv"])
def test_registrars_and_strangers_are_refused(
    login_as: Callable[[str | None], FlaskClient], faults: dict[str, int], path: str
) -> None:
    client = login_as("registrar")
    token = csrf_of(client.get("/admin/account").get_data(as_text=True))
    if "acknowledge" in path:
        answer = client.post(ALERTS + path, data={"csrf_token": token})
    else:
        answer = client.get(ALERTS + path)
    assert answer.status_code == 403
    client = login_as(None)
    answer = client.get(ALERTS)
    assert answer.status_code == 302 and "/admin/login" in answer.headers["Location"]


def test_an_alert_of_another_event_or_none_is_404(
    login_as: Callable[[str | None], FlaskClient], faults: dict[str, int]
) -> None:
    client = login_as("officer")
    token = csrf_of(client.get(ALERTS).get_data(as_text=True))
    assert client.post(f"{ALERTS}/99999/resolve", data={"csrf_token": token, "note": "x"}).status_code == 404
    assert client.get("/audit/events/no-such-event/alerts").status_code == 404


def test_open_counts_by_severity(faults: dict[str, int], store: Store) -> None:
    counts = alertdesk.open_counts(store, EVENT_ID)
    assert counts[Severity.CRITICAL] == 1 and counts[Severity.MEDIUM] == 1 and counts[Severity.LOW] == 0


def test_alerts_export_csv_and_json(login_as: Callable[[str | None], FlaskClient], faults: dict[str, int]) -> None:
    client = login_as("officer")
    body = client.get(ALERTS + ".csv").get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(body.removeprefix("\ufeff"))))
    assert {r["kind"] for r in rows} == {"gap", "fork"} and {r["state"] for r in rows} == {"open"}
    doc = json.loads(client.get(ALERTS + ".json").get_data(as_text=True))
    assert doc["event"] == EVENT_ID and {a["severity"] for a in doc["alerts"]} == {"critical", "medium"}


def test_the_cli_lists_alerts_and_the_open_ones(
    runner: Runner, faults: dict[str, int], store: Store, clock: Clock
) -> None:
    alertdesk.resolve(store, faults["gap"], "resent", "officer", clock())
    everything = runner("audit", "alerts", "--event", EVENT_ID)
    assert everything.exit_code == 0, everything.output
    assert "gap" in everything.stdout and "fork" in everything.stdout and "resolved" in everything.stdout
    only_open = runner("audit", "alerts", "--open")
    assert "fork" in only_open.stdout and "gap" not in only_open.stdout
    assert "1 alerts open" in only_open.stderr
    wrong = runner("audit", "alerts", "--event", "nope")
    assert wrong.exit_code != 0 and "Traceback" not in wrong.output
