"""A NUL character anywhere a person or program can put one (path, query, form, login) is refused
cleanly, never a 500: PostgreSQL refuses NUL in text, so it must never reach a query."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask.testing import FlaskClient

from checkin.store import Store, tokens, users
from tests.support.apikit import Clock
from tests.support.world import EVENT_ID

NUL = "\x00"


@pytest.mark.parametrize(
    "path",
    [
        f"/admin/events/{EVENT_ID}{NUL}",
        f"/admin/events/{NUL}",
        f"/admin/events/{EVENT_ID}/import{NUL}",
        f"/admin/events/{EVENT_ID}?q=an{NUL}",
        f"/admin/events?x={NUL}",
        f"/admin/login?next=/{NUL}",
        f"/api/v1/bundle{NUL}",
    ],
)
def test_nul_in_a_path_or_query_is_refused_not_a_500(login_as: Callable[[str | None], FlaskClient], path: str) -> None:
    client = login_as("admin")
    response = client.get(path)
    assert response.status_code in (400, 404), (path, response.status_code)
    if path.startswith("/api/"):
        assert response.get_json()["reason"] in ("invalid_input", "not_found")


def test_nul_in_the_issue_route_is_a_json_400_for_any_token(client: FlaskClient, store: Store, clock: Clock) -> None:
    secret = tokens.create_api_token(store, "portal", users.Role.REGISTRAR, clock(), actor="test")[1]
    for who in (secret, "ck_made_up"):
        for event_id in (NUL, f"{EVENT_ID}{NUL}"):
            response = client.post(
                f"/api/v1/events/{event_id}/credentials",
                json={"name": "An"},
                headers={"Authorization": f"Bearer {who}"},
            )
            assert response.status_code == 400, (who, event_id, response.status_code)
            assert response.get_json()["reason"] == "invalid_input"


def test_nul_in_the_login_form_is_refused(client: FlaskClient) -> None:
    page = client.get("/admin/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf
    for username, password in ((f"admin{NUL}", "x"), ("admin", f"x{NUL}")):
        response = client.post(
            "/admin/login", data={"username": username, "password": password, "csrf_token": csrf.group(1)}
        )
        assert response.status_code == 400, response.status_code
        assert "session" not in response.headers.get("Set-Cookie", "")
