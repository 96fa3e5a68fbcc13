"""Scoped API tokens (issue 9, flaw 12): a token made for one sign-up form issues codes for its
events, categories and zones only. Tokens are made with the real CLI (`checkin token add`) and
used through the real WSGI server; a token from before scopes issues nothing until scoped."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import delete, insert

from checkin.config import Config
from checkin.core.errors import InputError, Reason
from checkin.services import issuing
from checkin.store import ApiToken, ApiTokenScope, Store, sha256_hex
from checkin.store import events as stored_events
from checkin.store.events import NewEvent
from tests.support.apikit import Clock, Runner, waitress_thread
from tests.support.world import EVENT_ID

OTHER = "hoi-thao-2"


@pytest.fixture
def port(app: Flask, store: Store, clock: Clock) -> Iterator[int]:
    start = datetime(2022, 4, 2, 1, 0, tzinfo=UTC)
    other = NewEvent(OTHER, "Hội thảo", start, start + timedelta(hours=4), "Asia/Ho_Chi_Minh", ("hall", "vip"))
    stored_events.create_event(store, other, clock())
    with waitress_thread(app, threads=2) as bound:
        yield bound


def issue(port: int, secret: str, event_id: str, guest: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
        conn.request("POST", f"/api/v1/events/{event_id}/credentials", body=json.dumps(guest), headers=headers)
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def token_add(runner: Runner, clock: Clock, *args: str) -> str:
    result = runner("token", "add", *args, now=clock.now)
    assert result.exit_code == 0, result.output
    return result.stdout.strip().splitlines()[-1]


def test_a_sign_up_forms_token_issues_only_what_it_was_made_for(port: int, runner: Runner, clock: Clock) -> None:
    secret = token_add(runner, clock, "form", "--event", EVENT_ID, "--category", "Khách mời", "--zone", "hall")
    guest = {"name": "Trần Văn Bình", "category": "Khách mời", "zones": ["hall"]}

    assert issue(port, secret, EVENT_ID, guest)[0] == 201
    refusals = [
        (EVENT_ID, {**guest, "category": "VIP"}, "categories"),
        (EVENT_ID, {**guest, "zones": ["hall", "vip"]}, "zones"),
        (EVENT_ID, {"name": "Không hạng", "zones": ["hall"]}, "categories"),
        (OTHER, guest, "hoi-thao-2"),  # another event: before, every event was open to every token
        ("no-such-event", guest, "no-such-event"),  # 403 as for any event outside, not 404
    ]
    for event_id, body, said in refusals:
        status, answer = issue(port, secret, event_id, body)
        assert (status, answer["reason"]) == (403, "out_of_scope"), (event_id, body, answer)
        assert said in answer["message"]


def test_a_token_for_two_events_issues_for_both_and_defaults_to_its_zone(
    port: int, runner: Runner, clock: Clock
) -> None:
    secret = token_add(runner, clock, "two", "--event", EVENT_ID, "--event", OTHER, "--zone", "vip")
    for event_id in (EVENT_ID, OTHER):
        status, answer = issue(port, secret, event_id, {"name": "Lê Thị Hoa"})
        assert status == 201 and answer["zones"] == ["vip"], answer


def test_a_token_from_before_scopes_is_refused_until_scoped(
    port: int, runner: Runner, clock: Clock, store: Store
) -> None:
    secret = token_add(runner, clock, "old", "--event", EVENT_ID)
    with store.writing() as s:  # what migration 0007 leaves of a token made before it
        s.execute(delete(ApiTokenScope))
    status, answer = issue(port, secret, EVENT_ID, {"name": "An"})
    assert (status, answer["reason"]) == (403, "token_unscoped")
    assert "checkin token scope" in answer["message"]
    assert "no scope" in runner("token", "list").stdout

    scoped = runner("token", "scope", "old", "--event", OTHER, now=clock.now)
    assert scoped.exit_code == 0, scoped.output
    assert issue(port, secret, OTHER, {"name": "An"})[0] == 201
    assert issue(port, secret, EVENT_ID, {"name": "An"})[0] == 403
    listed = runner("token", "list").stdout
    assert "events hoi-thao-2; categories any; zones any" in listed


def test_migration_0007_leaves_earlier_tokens_unscoped_and_refused(config: Config, clock: Clock) -> None:
    store = Store(config.database_url)
    try:
        store.downgrade("0005")
        with store.writing() as s:  # a token made before scopes existed
            row = {"name": "old", "role": "registrar", "token_hash": sha256_hex("ck_old"), "created": clock()}
            s.execute(insert(ApiToken.table()), [{**row, "created_by": "cli"}])
        store.migrate()
        assert store.schema_current()
        with pytest.raises(InputError) as refused:
            issuing.authorise_issue(store, "ck_old", EVENT_ID, None)
        assert refused.value.reason is Reason.TOKEN_UNSCOPED
    finally:
        store.dispose()


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("--event", "no-such-event"), "not_found"),
        (("--event", EVENT_ID, "--zone", "backstage"), "invalid_input"),
        (("--event", EVENT_ID, "--category", "x" * 65), "invalid_input"),
    ],
)
def test_token_add_refuses_a_scope_that_cannot_be(runner: Runner, args: tuple[str, ...], code: str) -> None:
    result = runner("token", "add", "t", *args)
    assert result.exit_code != 0
    assert getattr(result.exception, "code", None) == code
    assert runner("token", "list").stdout == ""


def test_token_add_needs_an_event(runner: Runner) -> None:
    result = runner("token", "add", "t")
    assert result.exit_code == 2 and "--event" in result.output
