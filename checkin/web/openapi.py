"""The OpenAPI 3.0 description of the API (served at /api/v1/openapi.json): gates, and issuing.

Written by hand next to the routes in checkin/web/api.py; the test suite runs schemathesis
against it, which also checks that every answer matches what is written here.
"""

from __future__ import annotations

from typing import Any

from checkin.core.chain import MAX_TEXT

_HEX64 = {"type": "string", "pattern": "^[0-9a-f]{64}$", "minLength": 64, "maxLength": 64}
_SEQ = {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}
_MS = {"type": "integer", "minimum": 0, "maximum": 2**63 - 1}
_TEXT = {"type": "string", "maxLength": MAX_TEXT}
_TIMES = {
    "server_time": {"type": "string", "format": "date-time", "description": "ISO 8601, UTC"},
    "server_time_ms": {"type": "integer", "description": "milliseconds since 1970, UTC"},
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _error(description: str, schema: str = "Error") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(schema)}}}


def _json_body(schema: str) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": _ref(schema)}}}


def _ok(description: str, schema: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(schema)}}}


_UNAUTHORIZED = _error("no, unknown or revoked device token (reason unauthorized or device_revoked)")
_UNAVAILABLE = _error("the service was started without its root key (reason service_unavailable)")


def _schemas(max_rows: int) -> dict[str, Any]:
    return {
        "Error": {
            "type": "object",
            "required": ["reason", "message"],
            "properties": {
                "reason": {"type": "string", "description": "a reason code word, e.g. invalid_input"},
                "message": {"type": "string", "description": "for people, in English"},
                "message_vi": {"type": "string", "description": "for people, in Vietnamese"},
            },
        },
        "JournalError": {
            "type": "object",
            "required": ["reason", "message", "acked_seq"],
            "properties": {
                "reason": {"type": "string", "enum": ["gap", "fork", "broken_chain", "bad_checkpoint"]},
                "message": {"type": "string"},
                "message_vi": {"type": "string"},
                "acked_seq": {"type": "integer", "description": "highest contiguous seq held: resend from the next"},
                "head_hash": {"type": "string"},
                "seq": {"type": "integer", "nullable": True, "description": "the seq the problem was found at"},
            },
        },
        "EnrollRequest": {
            "type": "object",
            "additionalProperties": False,
            "required": ["code", "public_key"],
            "properties": {
                "code": {"type": "string", "minLength": 1, "maxLength": 64, "description": "one-time enrolment code"},
                "public_key": {
                    "type": "string",
                    "pattern": "^[0-9a-fA-F]{64}$",
                    "description": "the gate's raw Ed25519 public key, 64 hex digits",
                },
                "seal_seed": {
                    "type": "string",
                    "pattern": "^[0-9a-fA-F]{64}$",
                    "description": "the seed of the gate's forward-secure journal seals, 64 hex digits",
                },
            },
        },
        "EnrollResponse": {
            "type": "object",
            "required": [
                "device_id",
                "token",
                "event_id",
                "name",
                "zone",
                "direction",
                "root_public_key",
                "bundle",
                "bundle_version",
                "server_time",
                "server_time_ms",
            ],
            "properties": {
                "device_id": {"type": "string"},
                "token": {"type": "string", "description": "bearer token; shown once, kept only as SHA-256"},
                "event_id": {"type": "string"},
                "name": {"type": "string"},
                "zone": {"type": "string"},
                "direction": {"type": "string", "enum": ["in", "out"]},
                "root_public_key": {"type": "string", "description": "PEM (SubjectPublicKeyInfo) of the root key"},
                "bundle": {"type": "string", "format": "byte", "description": "base64 of the signed CKB1 bundle"},
                "bundle_version": {"type": "integer"},
                **_TIMES,
            },
        },
        "JournalRow": {
            "type": "object",
            "additionalProperties": False,
            "required": [
                "seq",
                "wall_ms",
                "mono_ms",
                "cti",
                "kid",
                "verdict",
                "reason",
                "direction",
                "zone",
                "prev_hash",
                "hash",
            ],
            "properties": {
                "seq": _SEQ,
                "wall_ms": _MS,
                "mono_ms": _MS,
                "cti": _TEXT,
                "kid": _TEXT,
                "verdict": _TEXT,
                "reason": _TEXT,
                "direction": _TEXT,
                "zone": _TEXT,
                "operator": {**_TEXT, "nullable": True},
                "screening": {**_TEXT, "nullable": True},
                "prev_hash": _HEX64,
                "hash": _HEX64,
            },
        },
        "JournalUpload": {
            "type": "object",
            "additionalProperties": False,
            "required": ["rows", "checkpoint"],
            "properties": {
                "rows": {"type": "array", "minItems": 1, "maxItems": max_rows, "items": _ref("JournalRow")},
                "checkpoint": {
                    "type": "string",
                    "format": "byte",
                    "maxLength": 1024,
                    "description": "base64 of a CKC1 checkpoint signed by the device key, covering the last row",
                },
            },
        },
        "IssueRequest": {
            "type": "object",
            "required": ["name"],
            "additionalProperties": False,
            "properties": {
                "name": {"type": "string", "minLength": 1, "maxLength": 100, "description": "as on the badge"},
                "organisation": {"type": "string", "maxLength": 120},
                "category": {"type": "string", "maxLength": 40, "description": "delegate, press, business ..."},
                "zones": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": 16,
                    "items": {"type": "string"},
                    "description": "zone codes of the event (default: its first zone)",
                },
                "email": {"type": "string", "maxLength": 254},
            },
        },
        "Issued": {
            "type": "object",
            "required": ["credential_id", "guest_id", "code", "name", "zones", "valid_from", "valid_until", "replayed"],
            "properties": {
                "credential_id": {"type": "string", "description": "32 hex digits"},
                "guest_id": {"type": "integer"},
                "code": {"type": "string", "description": "the CK1 text to put in the guest's QR code"},
                "name": {"type": "string"},
                "zones": {"type": "array", "items": {"type": "string"}},
                "valid_from": {"type": "string", "format": "date-time"},
                "valid_until": {"type": "string", "format": "date-time"},
                "replayed": {"type": "boolean", "description": "true: the answer to an earlier request, sent again"},
            },
        },
        "Alert": {
            "type": "object",
            "required": ["kind", "seq", "detail"],
            "properties": {
                "kind": {"type": "string", "description": "clock_skew"},
                "seq": {"type": "integer", "nullable": True},
                "detail": {"type": "string"},
            },
        },
        "Passage": {
            "type": "object",
            "required": ["id", "gate", "cti", "direction", "wall_ms", "zone"],
            "properties": {
                "id": {"type": "integer", "description": "the service's id of the scan"},
                "gate": {"type": "string", "description": "the id of the gate that admitted it"},
                "cti": {"type": "string", "description": "the credential id, hex"},
                "direction": {"type": "string", "enum": ["in", "out"]},
                "wall_ms": {"type": "integer", "description": "that gate's clock, milliseconds since 1970, UTC"},
                "zone": {"type": "string"},
            },
        },
        "Presence": {
            "type": "object",
            "required": ["passages", "next", "more", "server_time", "server_time_ms"],
            "properties": {
                "passages": {"type": "array", "items": _ref("Passage")},
                "next": {"type": "integer", "minimum": 0, "description": "the cursor to ask with next time"},
                "more": {"type": "boolean", "description": "true: more are waiting; ask again with `next` now"},
                **_TIMES,
            },
        },
        "JournalAck": {
            "type": "object",
            "required": ["acked_seq", "head_hash", "stored", "server_time", "server_time_ms", "alerts"],
            "properties": {
                "acked_seq": {"type": "integer", "description": "highest contiguous seq the server holds"},
                "head_hash": {"type": "string", "description": "hash of the row at acked_seq"},
                "stored": {"type": "integer", "description": "rows of this batch that were new"},
                **_TIMES,
                "alerts": {"type": "array", "items": _ref("Alert")},
            },
        },
    }


def document(max_rows: int) -> dict[str, Any]:
    """The OpenAPI document."""
    bearer: list[dict[str, list[str]]] = [{"deviceToken": []}]
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "checkin gate API",
            "version": "1",
            "description": "Gate enrolment, trust bundles, journal upload and the other gates' passages."
            " Every 4xx body is an Error.",
        },
        "paths": {
            "/api/v1/devices/enroll": {
                "post": {
                    "operationId": "enroll",
                    "summary": "Enrol a gate with a one-time code (valid 15 minutes) and its Ed25519 public key",
                    "requestBody": _json_body("EnrollRequest"),
                    "responses": {
                        "200": _ok("enrolled", "EnrollResponse"),
                        "400": _error("malformed request (reason invalid_input)"),
                        "403": _error("unknown, used or expired code (reason enrolment_invalid)"),
                        "413": _error("body too large (reason too_large)"),
                        "503": _UNAVAILABLE,
                    },
                }
            },
            "/api/v1/bundle": {
                "get": {
                    "operationId": "bundle",
                    "summary": "The newest signed trust bundle (CKB1) of the device's event",
                    "security": bearer,
                    "parameters": [
                        {
                            "name": "If-None-Match",
                            "in": "header",
                            "required": False,
                            "schema": {"type": "string"},
                            "description": 'the ETag held, "v<version>"',
                        }
                    ],
                    "responses": {
                        "200": {
                            "description": "the signed bundle",
                            "headers": {"ETag": {"schema": {"type": "string"}, "description": '"v<version>"'}},
                            "content": {"application/cose": {"schema": {"type": "string", "format": "binary"}}},
                        },
                        "304": {"description": "the gate already holds this version"},
                        "401": _UNAUTHORIZED,
                        "503": _UNAVAILABLE,
                    },
                }
            },
            "/api/v1/journal": {
                "post": {
                    "operationId": "journal",
                    "summary": "Upload journal rows (idempotent on device and seq) with a signed checkpoint",
                    "security": bearer,
                    "requestBody": _json_body("JournalUpload"),
                    "responses": {
                        "200": _ok("stored (or already held)", "JournalAck"),
                        "400": _error("malformed request (reason invalid_input)"),
                        "401": _UNAUTHORIZED,
                        "409": _error("rows missing before this batch: resend from acked_seq + 1", "JournalError"),
                        "413": _error(f"more than {max_rows} rows, or a body too large (reason too_large)"),
                        "422": _error(
                            "fork, broken chain, bad checkpoint, or a row value no gate writes (reason row_invalid);"
                            " an alert was recorded",
                            "JournalError",
                        ),
                    },
                }
            },
            "/api/v1/presence": {
                "get": {
                    "operationId": "presence",
                    "summary": "Admitted entries and exits the other gates of the device's event uploaded after a"
                    " cursor (names never included)",
                    "security": bearer,
                    "parameters": [
                        {
                            "name": "after",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "integer", "minimum": 0, "maximum": 2**63 - 1},
                            "description": "the `next` of the previous answer (0, or none: from the start)",
                        }
                    ],
                    "responses": {
                        "200": _ok("the passages after the cursor (at most 5000 scans looked at)", "Presence"),
                        "400": _error("after is not a whole number from 0 to 2^63-1 (reason invalid_input)"),
                        "401": _UNAUTHORIZED,
                    },
                }
            },
            "/api/v1/events/{event_id}/credentials": {
                "post": {
                    "operationId": "issue",
                    "summary": "Add a guest to an event and issue their signed code (registration systems)",
                    "security": [{"apiToken": []}],
                    "parameters": [
                        {"name": "event_id", "in": "path", "required": True, "schema": {"type": "string"}},
                        {
                            "name": "Idempotency-Key",
                            "in": "header",
                            "required": False,
                            "schema": {"type": "string", "minLength": 1, "maxLength": 100, "pattern": "^[!-~]+$"},
                            "description": "a key of the caller's choosing, one per guest: a retried request "
                            "gets the first answer again (200) instead of a second guest and code",
                        },
                    ],
                    "requestBody": _json_body("IssueRequest"),
                    "responses": {
                        "201": _ok("issued", "Issued"),
                        "200": _ok("this Idempotency-Key was used before: the same guest and code", "Issued"),
                        "400": _error("malformed request, unknown zone or the event is over (reason invalid_input)"),
                        "401": _error("no, unknown or revoked API token (reason unauthorized)"),
                        "403": _error(
                            "the token may not issue (reason forbidden), not this event, category or zone"
                            " (out_of_scope), or has no scope yet (token_unscoped)"
                        ),
                        "404": _error("no such event (reason not_found)"),
                        "409": _error(
                            "the Idempotency-Key was used for another guest, or its guest's code was revoked "
                            "(reason already_exists)"
                        ),
                        "413": _error("body too large (reason too_large)"),
                        "503": _error("the service has no usable issuing key (reason service_unavailable)"),
                    },
                }
            },
            "/api/v1/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "summary": "This document",
                    "responses": {
                        "200": {"description": "OpenAPI 3.0", "content": {"application/json": {"schema": {}}}}
                    },
                }
            },
        },
        "components": {
            "securitySchemes": {
                "deviceToken": {"type": "http", "scheme": "bearer"},
                "apiToken": {"type": "http", "scheme": "bearer", "description": "from `checkin token add`"},
            },
            "schemas": _schemas(max_rows),
        },
    }
