"""Background jobs through the real app, database and worker thread: a long guest list imports as a
job (progress page, JSON counts, then the same report as a short list), a bad row does not stop the
rest, only registrars and administrators of the job's own event see it, and a job a restart
interrupted is marked failed with what it had done and runs again for the rest only."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient

from checkin.config import Config
from checkin.core.errors import Reason
from checkin.services import guestlist, imports
from checkin.store import JobState, Store, sessions, users
from checkin.store import actions as stored_actions
from checkin.store import events as stored_events
from checkin.store import guests as stored_guests
from checkin.store import jobs as stored_jobs
from checkin.store.events import NewEvent
from checkin.store.jobs import ItemResult
from checkin.web import create_app
from tests.support.apikit import FIXED, Clock
from tests.support.world import EVENT_ID

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
FAMILY = ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng")
GIVEN = ("Thị Ánh", "Văn Bình", "Ngọc Uyên", "Đức Thắng", "Thu Hằng", "Quốc Việt", "Minh Châu")


def guest_list(rows: int, *, bad_lines: tuple[int, ...] = ()) -> bytes:
    """A guest list of `rows` guests with Vietnamese names; the rows at `bad_lines` (file lines)
    name a zone the event does not have."""
    lines = ["name,organisation,category,zones,email"]
    for i in range(rows):
        line = i + 2
        name = f"{FAMILY[i % len(FAMILY)]} {GIVEN[i % len(GIVEN)]} {i:04d}"
        zone = "moon" if line in bad_lines else "hall;vip" if i % 3 == 0 else "hall"
        lines.append(f"{name},Sở Thông tin và Truyền thông,delegate,{zone},khach{i:04d}@example.vn")
    return ("\n".join(lines) + "\n").encode()


def token(client: FlaskClient, path: str = "/admin/events") -> str:
    found = TOKEN.search(client.get(path).text)
    assert found
    return found.group(1)


def post_import(client: FlaskClient, data: bytes, *, issue_now: bool = False) -> object:
    form: dict[str, object] = {"csrf_token": token(client), "file": (io.BytesIO(data), "khach-moi.csv")}
    if issue_now:
        form["issue_now"] = "1"
    return client.post(f"/admin/events/{EVENT_ID}/import", data=form, content_type="multipart/form-data")


def job_of(location: str) -> str:
    found = re.fullmatch(rf"/admin/events/{EVENT_ID}/jobs/([A-Za-z0-9_-]{{43}})", location)
    assert found, location
    return found.group(1)


def runner(app: Flask):  # type: ignore[no-untyped-def]
    return app.extensions["checkin.jobs"]


# ---- a long list imports as a job -----------------------------------------------------------------


def test_a_long_list_imports_as_a_job_with_progress_then_the_usual_report(
    app: Flask, login_as: Callable[[str | None], FlaskClient], store: Store
) -> None:
    client = login_as("registrar")
    rows = imports.BACKGROUND_ROWS + 50
    response = post_import(client, guest_list(rows, bad_lines=(5, 120)), issue_now=True)
    assert response.status_code == 303  # type: ignore[attr-defined]
    job_id = job_of(response.headers["Location"])  # type: ignore[attr-defined]
    ended = runner(app).wait(job_id, timeout=120)
    assert (ended.state, ended.total, ended.done, ended.problems) == ("done", rows, rows, 2)

    progress = client.get(f"/admin/events/{EVENT_ID}/jobs/{job_id}/progress")
    assert progress.status_code == 200 and progress.mimetype == "application/json"
    assert progress.json == {"state": "done", "total": rows, "done": rows, "problems": 2, "percent": 100, "ended": True}

    page = client.get(f"/admin/events/{EVENT_ID}/jobs/{job_id}").text
    assert "Kết quả nhập danh sách" in page and "khach-moi.csv" in page
    stats = re.findall(r'<span class="stat-n">(\d+)</span>', page)
    assert stats == [str(rows - 2), str(rows - 2), "2"]  # imported, codes issued, refused
    refused = re.findall(r'<td class="num mono">(\d+)</td><td>([^<]*)</td><td>([^<]+)</td>', page)
    assert [(line, reason.startswith("Khu vực không có: moon")) for line, _name, reason in refused] == [
        ("5", True),
        ("120", True),
    ]
    assert refused[0][1] == "Phạm Đức Thắng 0003"  # the guest beside the line, as a short list's report
    assert 'http-equiv="refresh"' not in page  # ended: nothing refreshes
    views = stored_guests.guest_views(store, EVENT_ID)
    assert len(views) == rows - 2 and {v.status for v in views} == {"active"}
    assert stored_jobs.job_input(store, job_id) == b""  # the list of names is not kept once imported
    assert {i.label for i in stored_jobs.items(store, job_id) if i.ok} == {""}  # nor in the results
    log = [(a.action, a.detail) for a in stored_actions.actions(store, limit=20)]
    assert ("guest.import", f"{rows - 2} guests, {rows - 2} codes issued, 2 rows refused") in log
    assert [a for a, _d in log if a.startswith("job.")][:2] == ["job.done", "job.create"]


def test_a_short_list_still_imports_at_once(login_as: Callable[[str | None], FlaskClient], store: Store) -> None:
    client = login_as("registrar")
    response = post_import(client, guest_list(imports.BACKGROUND_ROWS))
    assert response.status_code == 200  # type: ignore[attr-defined]
    assert len(stored_guests.guest_views(store, EVENT_ID)) == imports.BACKGROUND_ROWS
    assert stored_jobs.event_jobs(store, EVENT_ID) == []


def test_a_file_the_form_refuses_starts_no_job(login_as: Callable[[str | None], FlaskClient], store: Store) -> None:
    client = login_as("registrar")
    data = b"organisation,zones\n" + b"x,hall\n" * (imports.BACKGROUND_ROWS + 10)  # no name column
    response = post_import(client, data)
    assert response.status_code == 400  # type: ignore[attr-defined]
    assert stored_jobs.event_jobs(store, EVENT_ID) == []


# ---- the progress page while a job runs ------------------------------------------------------------


@pytest.fixture
def queued(store: Store, clock: Clock) -> str:
    """An import job recorded but not run: 300 rows, 120 with a result, 7 of them refused."""
    data = guest_list(300)
    ev = stored_events.event(store, EVENT_ID)
    read = guestlist.read_guest_list(data, ev.zone_codes)
    job = imports.start_import(store, ev, data, read, clock(), actor="registrar", file_name="a.csv", issue_now=False)
    results = [
        ItemResult(str(line), imports.REFUSED if line < 9 else imports.ADDED, ok=line >= 9) for line in range(2, 122)
    ]
    stored_jobs.record_items(store, job.id, results, clock())
    return job.id


def test_progress_json_and_page_while_it_runs(login_as: Callable[[str | None], FlaskClient], queued: str) -> None:
    client = login_as("registrar")
    answer = client.get(f"/admin/events/{EVENT_ID}/jobs/{queued}/progress")
    assert answer.json == {"state": "queued", "total": 300, "done": 120, "problems": 7, "percent": 40, "ended": False}
    assert answer.headers["Cache-Control"] == "no-store"
    page = client.get(f"/admin/events/{EVENT_ID}/jobs/{queued}").text
    assert re.search(r'<progress id="job-bar" max="300" value="120">40%</progress>', page)
    assert '<noscript><meta http-equiv="refresh" content="2"></noscript>' in page  # works without script
    assert re.search(r'<script src="/static/jobs\.js[^"]*" defer></script>', page)  # same origin, no CDN
    assert f'data-progress-url="/admin/events/{EVENT_ID}/jobs/{queued}/progress"' in page
    assert "Đang chờ bắt đầu" in page and "Run again" not in page


def test_the_progress_script_is_served_from_the_service(client: FlaskClient) -> None:
    script = client.get("/static/jobs.js")
    assert script.status_code == 200 and b"fetch(url" in script.data and b"http" not in script.data.split(b"\n", 3)[3]


# ---- who may see a job -----------------------------------------------------------------------------


@pytest.fixture
def other_event(store: Store, clock: Clock) -> str:
    start = FIXED + timedelta(days=30)
    stored_events.create_event(
        store,
        NewEvent(
            "hoi-thao-2", "Hội thảo Đổi mới sáng tạo", start, start + timedelta(hours=8), "Asia/Ho_Chi_Minh", ("hall",)
        ),
        clock(),
    )
    return "hoi-thao-2"


@pytest.mark.parametrize("suffix", ["", "/progress"])
def test_a_job_is_only_shown_under_its_own_event_to_registrars_and_admins(
    client: FlaskClient, login_as: Callable[[str | None], FlaskClient], queued: str, other_event: str, suffix: str
) -> None:
    path = f"/admin/events/{EVENT_ID}/jobs/{queued}{suffix}"
    assert client.get(path).status_code == 302  # not logged in: the login page
    assert login_as("officer").get(path).status_code == 403
    assert login_as("admin").get(path).status_code == 200
    registrar = login_as("registrar")
    assert registrar.get(path).status_code == 200
    # the id is not a capability: under another event it is no such job, like a wrong id
    assert registrar.get(f"/admin/events/{other_event}/jobs/{queued}{suffix}").status_code == 404
    assert registrar.get(f"/admin/events/{EVENT_ID}/jobs/{queued[:-1]}x{suffix}").status_code == 404
    assert registrar.get(f"/admin/events/nope/jobs/{queued}{suffix}").status_code == 404
    assert registrar.get(f"/admin/events/{EVENT_ID}/jobs/{'a' * 5000}{suffix}").status_code == 404


def test_running_again_needs_the_role_the_event_and_the_form_token(
    login_as: Callable[[str | None], FlaskClient], store: Store, queued: str, other_event: str, clock: Clock
) -> None:
    stored_jobs.finish(store, queued, JobState.FAILED, clock(), reason=Reason.JOB_CRASHED.value)
    officer = login_as("officer")
    assert (
        officer.post(f"/admin/events/{EVENT_ID}/jobs/{queued}/resume", data={"csrf_token": token(officer)}).status_code
        == 403
    )
    registrar = login_as("registrar")
    assert registrar.post(f"/admin/events/{EVENT_ID}/jobs/{queued}/resume").status_code == 400  # no CSRF token
    wrong = registrar.post(f"/admin/events/{other_event}/jobs/{queued}/resume", data={"csrf_token": token(registrar)})
    assert wrong.status_code == 404
    assert stored_jobs.job(store, queued).state == "failed"


# ---- failures ----------------------------------------------------------------------------------------


def test_a_job_of_an_unknown_kind_fails_with_a_reason_and_does_not_stop_the_runner(
    app: Flask, store: Store, clock: Clock, login_as: Callable[[str | None], FlaskClient]
) -> None:
    odd = stored_jobs.create_job(store, "nonsense", EVENT_ID, "registrar", clock(), total=1)
    runner(app).submit(odd.id)
    ended = runner(app).wait(odd.id, timeout=30)
    assert (ended.state, ended.reason) == ("failed", "job_crashed")
    page = login_as("registrar").get(f"/admin/events/{EVENT_ID}/jobs/{odd.id}").text
    assert "Công việc dừng lại do một lỗi không lường trước" in page and "Chạy lại cho phần còn lại" in page
    # the next job still runs
    response = post_import(login_as("registrar"), guest_list(imports.BACKGROUND_ROWS + 1))
    assert runner(app).wait(job_of(response.headers["Location"]), timeout=60).state == "done"  # type: ignore[attr-defined]


def test_an_import_job_whose_codes_cannot_be_signed_fails_saying_why_and_adds_nobody(
    app: Flask, store: Store, clock: Clock
) -> None:
    ev = stored_events.event(store, EVENT_ID)
    data = guest_list(imports.BACKGROUND_ROWS + 5)
    read = guestlist.read_guest_list(data, ev.zone_codes)
    job = imports.start_import(store, ev, data, read, clock(), actor="registrar", file_name="a.csv", issue_now=True)
    clock.now = FIXED + timedelta(days=30)  # the event and its codes' window are over
    runner(app).submit(job.id)
    ended = runner(app).wait(job.id, timeout=60)
    assert (ended.state, ended.reason) == ("failed", "event_over")
    assert stored_guests.guest_views(store, EVENT_ID) == []


# ---- a restart ---------------------------------------------------------------------------------------


def test_a_restart_marks_an_interrupted_job_failed_and_a_re_run_does_only_the_rest(
    app: Flask, config: Config, clock: Clock, store: Store, login_as: Callable[[str | None], FlaskClient]
) -> None:
    rows = imports.BACKGROUND_ROWS + 100
    ev = stored_events.event(store, EVENT_ID)
    data = guest_list(rows, bad_lines=(3,))
    read = guestlist.read_guest_list(data, ev.zone_codes)
    job = imports.start_import(store, ev, data, read, clock(), actor="registrar", file_name="a.csv", issue_now=False)
    # the worker had claimed it and done the first 100 rows when the process died
    assert stored_jobs.claim(store, job.id, clock())
    first = read.rows[:100]
    stored_guests.add_guests(store, EVENT_ID, first, clock(), actor="registrar", logged=False)
    stored_jobs.record_items(store, job.id, [ItemResult(str(r.line), imports.ADDED) for r in first], clock())

    restarted = create_app(config, {"CLOCK": clock, "TESTING": True})
    try:
        stopped = stored_jobs.job(store, job.id)
        assert (stopped.state, stopped.reason, stopped.done) == ("failed", "job_interrupted", 100)
        assert stored_actions.actions(store)[0].detail == f"interrupted: 100 of {rows} done"
        client = restarted.test_client()
        with client.session_transaction() as session:
            session["sid"] = sessions.start(store, _registrar_id(store), clock())
        page = client.get(f"/admin/events/{EVENT_ID}/jobs/{job.id}").text
        assert f"đã xong 100 trên {rows} mục" in page
        resumed = client.post(
            f"/admin/events/{EVENT_ID}/jobs/{job.id}/resume",
            data={"csrf_token": TOKEN.search(page).group(1)},  # type: ignore[union-attr]
        )
        assert resumed.status_code == 303
        ended = restarted.extensions["checkin.jobs"].wait(job.id, timeout=60)
        assert (ended.state, ended.done, ended.problems) == ("done", rows, 1)
        names = [v.guest.name for v in stored_guests.guest_views(store, EVENT_ID)]
        assert len(names) == len(set(names)) == rows - 1  # every good row once: the first 100 were not redone
        items = stored_jobs.items(store, job.id)
        assert len(items) == rows and len({i.item for i in items}) == rows
    finally:
        restarted.extensions["checkin.jobs"].shutdown()
        restarted.extensions["checkin.store"].dispose()


def _registrar_id(store: Store) -> int:
    found = users.user_by_name(store, "registrar")
    assert found is not None
    return found.id


def test_a_finished_job_is_not_marked_by_a_restart(
    app: Flask, config: Config, clock: Clock, store: Store, queued: str
) -> None:
    stored_jobs.finish(store, queued, JobState.DONE, clock())
    restarted = create_app(config, {"CLOCK": clock, "TESTING": True})
    restarted.extensions["checkin.store"].dispose()
    assert stored_jobs.job(store, queued).state == "done"


def test_the_event_page_lists_its_recent_jobs(login_as: Callable[[str | None], FlaskClient], queued: str) -> None:
    page = login_as("registrar").get(f"/admin/events/{EVENT_ID}").text
    assert f'href="/admin/events/{EVENT_ID}/jobs/{queued}"' in page and "120/300" in page
    assert f"/jobs/{queued}" not in login_as("officer").get(f"/admin/events/{EVENT_ID}").text
