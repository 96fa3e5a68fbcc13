"""schemathesis against /api/v1/openapi.json: generated requests, valid and not, with and without
a device token, never get a 500, and every answer has a documented status, content type and body.

Hypothesis drives schemathesis' strategies directly (schemathesis' own pytest loader does not run
under this pytest); at most 50 examples per operation and mode, no deadline.
"""

from __future__ import annotations

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from checkin.store import tokens
from checkin.store.users import Role
from checkin.web.api import MAX_ROWS
from checkin.web.openapi import document
from tests.support.apikit import Clock, Gate
from tests.support.world import EVENT_ID

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
OPERATIONS = [f"{method.upper()} {path}" for path, methods in document(MAX_ROWS)["paths"].items() for method in methods]
ISSUE = "POST /api/v1/events/{event_id}/credentials"  # an API token, not a device token
GUARDED = {"GET /api/v1/bundle", "POST /api/v1/journal", "GET /api/v1/presence", ISSUE}  # a token matters only to these
CASES = [
    pytest.param(label, mode, with_token, id=f"{label}-{mode.value}-{'token' if with_token else 'no-token'}")
    for label in OPERATIONS
    for mode in GenerationMode
    if mode is GenerationMode.POSITIVE or label != "GET /api/v1/openapi.json"  # nothing in it to make invalid
    for with_token in ((True, False) if label in GUARDED else (False,))
]


@pytest.mark.parametrize(("label", "mode", "with_token"), CASES)
def test_generated_requests_never_fail_and_answer_as_documented(
    app: Flask, gate: Gate, clock: Clock, label: str, mode: GenerationMode, with_token: bool
) -> None:
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operation = schema.find_operation_by_label(label)
    assert operation is not None
    headers = gate.auth if with_token else {}
    if with_token and label == ISSUE:
        secret = tokens.create_api_token(
            app.extensions["checkin.store"],
            "portal",
            Role.REGISTRAR,
            clock(),
            actor="t",
            scope=tokens.TokenScope((EVENT_ID,)),
        )
        headers = {"Authorization": f"Bearer {secret[1]}"}

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def check(case: schemathesis.Case) -> None:
        case.call_and_validate(headers=headers, checks=CHECKS)

    check()
