"""The event page shows what the gates uploaded: who, at which gate, with which verdict."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from flask.testing import FlaskClient

from checkin.core.credential import Credential, short_code
from checkin.store import Store
from checkin.store import guests as stored_guests
from tests.support.apikit import Clock, Gate
from tests.support.world import EVENT_ID


def _issue(store: Store, clock: Clock, name: str) -> Credential:
    cred = Credential.create(
        issuer="hd-stttt",
        event_id=EVENT_ID,
        name=name,
        zones=("hall",),
        not_before=clock() - timedelta(hours=1),
        expires_at=clock() + timedelta(hours=10),
        issued_at=clock(),
    )
    stored_guests.record_issued(store, [(None, cred, "1a2b3c4d5e6f7081", "CK1:not-shown")], cred.issued_at)
    return cred


def test_event_page_lists_uploaded_entries_with_guest_and_gate(
    gate: Gate, store: Store, clock: Clock, login_as: Callable[[str | None], FlaskClient]
) -> None:
    anh = _issue(store, clock, "Nguyễn Thị Ánh")
    gate.scan(1, cti=anh.id_hex)
    gate.scan(1, cti="", kid="", verdict="deny", reason="bad_signature")
    gate.scan(1, cti="", kid="", verdict="deny", reason="a_reason_from_a_newer_gate")
    assert gate.upload(gate.journal).status_code == 200

    page = login_as("registrar").get(f"/admin/events/{EVENT_ID}").get_data(as_text=True)

    assert "Lượt quét tại các cổng" in page and "(3)" in page
    assert "Nguyễn Thị Ánh" in page and short_code(anh.credential_id) in page  # as printed on the badge
    assert "Cổng A - sảnh chính" in page
    assert "Mời vào" in page  # admitted, in Vietnamese
    assert "Chữ ký không hợp lệ" in page  # bad_signature
    assert "a_reason_from_a_newer_gate" in page  # an unknown code is shown as itself, not a crash


def test_event_page_says_when_nothing_was_uploaded(gate: Gate, login_as: Callable[[str | None], FlaskClient]) -> None:
    page = login_as("registrar").get(f"/admin/events/{EVENT_ID}").get_data(as_text=True)
    assert "Chưa có lượt quét nào được cổng tải lên." in page
