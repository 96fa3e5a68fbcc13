"""The facts every test kit shares: the deployment, the event's time zone and the morning of the
event. One place, so the gate's, the service's and the core's tests speak of the same deployment."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from checkin.core.credential import Credential

HANOI = timezone(timedelta(hours=7))  # Asia/Ho_Chi_Minh has had no daylight saving since 1975
NOW = datetime(2022, 3, 26, 9, 0, tzinfo=HANOI)  # the morning of the event
ISSUER = "hd-stttt"  # the deployment: Hai Duong's Department of Information and Communications
EVENT_ID = "cds2022"
EVENT_NAME = "Ngày Chuyển đổi số tỉnh Hải Dương 2022"
ZONES = ("hall", "vip", "press")


def credential(now: datetime, **changes: Any) -> Credential:
    """A delegate's credential valid around `now` (hall and vip); keyword arguments override any field."""
    fields: dict[str, Any] = {
        "issuer": ISSUER,
        "event_id": EVENT_ID,
        "name": "Nguyễn Văn An",
        "organisation": "Sở Thông tin và Truyền thông",
        "category": "delegate",
        "zones": ("hall", "vip"),
        "issued_at": now - timedelta(days=1),
        "not_before": now - timedelta(hours=1),
        "expires_at": now + timedelta(hours=12),
    }
    fields.update(changes)
    return Credential.create(**fields)
