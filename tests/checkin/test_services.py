"""The service layer on its own, over a real SQLite store and real keys: what the admin pages, the
issuing API and the command line all call. Refusals carry a reason and parameters, never words."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from checkin import i18n
from checkin.config import Config, load
from checkin.core import credential
from checkin.core.errors import InputError, KeyStoreError, Reason
from checkin.keystore import KeyStore
from checkin.services import gates, issuing, revocation
from checkin.services import guests as guest_service
from checkin.services.issuing import Signer
from checkin.services.problems import FieldsInvalid
from checkin.store import CredentialStatus, Event, Store, tokens
from checkin.store import events as stored_events
from checkin.store import guests as stored_guests
from checkin.store.events import NewEvent
from checkin.store.guests import GuestRow
from checkin.store.users import Role

NOW = datetime(2022, 3, 25, 9, 0, tzinfo=UTC)
START = datetime(2022, 3, 26, 0, 30, tzinfo=UTC)


@pytest.fixture
def world(tmp_path: Path) -> tuple[Config, Store, Event, Signer]:
    path = tmp_path / "config.toml"
    path.write_text('[deployment]\nid = "hd-stttt"\n\n[paths]\ndatabase = "checkin.db"\n', encoding="utf-8")
    cfg = load(str(path))
    KeyStore(cfg.keys_dir).init(None, NOW - timedelta(days=30))
    store = Store(cfg.database_url)
    store.migrate()
    new = NewEvent(
        "cds-2022", "Ngày Chuyển đổi số", START, START + timedelta(hours=10), "Asia/Ho_Chi_Minh", ("hall", "vip")
    )
    ev = stored_events.create_event(store, new, NOW, actor="test")
    signer = issuing.load_signer(cfg)
    assert isinstance(signer, Signer)
    yield cfg, store, ev, signer
    store.dispose()


def row(name: str, *, zones: tuple[str, ...] = ("hall",), email: str = "", line: int = 0) -> GuestRow:
    return GuestRow(line, name, "Sở TT&TT", "delegate", zones, email)


def test_guest_checks_name_each_field_with_a_reason_and_its_parameters(world: tuple) -> None:
    _cfg, store, ev, _signer = world
    with pytest.raises(FieldsInvalid) as refused:
        guest_service.add_guest(store, ev, row("A\nB", zones=("hall", "moon"), email="x@"), NOW, actor="t")
    problems = {name: (p.reason, dict(p.params)) for name, p in refused.value.problems.items()}
    assert problems == {
        "name": (Reason.CONTROL_CHARACTERS, {}),
        "zones": (Reason.ZONE_UNKNOWN, {"zones": "moon"}),
        "email": (Reason.EMAIL_INVALID, {}),
    }
    assert refused.value.texts("vi")["zones"] == "Khu vực không có trong sự kiện: moon."
    assert refused.value.texts("en")["zones"] == "Unknown zone: moon."
    assert stored_guests.guest_views(store, ev.id) == []


def test_issue_then_reissue_leaves_exactly_one_active_code(world: tuple) -> None:
    cfg, store, ev, signer = world
    guest = guest_service.add_guest(store, ev, row("Nguyễn Văn An"), NOW, actor="t")
    first = issuing.issue_to_guest(store, cfg, lambda: signer, guest.id, NOW, actor="t", reissue=False)
    assert (first.count, first.refused) == (1, ())
    with pytest.raises(InputError) as again:
        issuing.issue_to_guest(store, cfg, lambda: signer, guest.id, NOW, actor="t", reissue=False)
    assert again.value.reason is Reason.HAS_ACTIVE_CODE
    issuing.issue_to_guest(store, cfg, lambda: signer, guest.id, NOW, actor="t", reissue=True)
    states = sorted(c.status for c in stored_guests.guest_credentials(store, guest.id))
    assert states == [CredentialStatus.ACTIVE, CredentialStatus.REVOKED]


def test_a_missing_key_is_asked_for_only_when_a_code_is_signed(world: tuple) -> None:
    cfg, store, ev, _signer = world
    guest = guest_service.add_guest(store, ev, row("Trần Thị Bình"), NOW, actor="t")

    def no_key() -> Signer:
        raise KeyStoreError("locked", Reason.WRONG_PASSPHRASE)

    with pytest.raises(KeyStoreError):
        issuing.issue_to_guest(store, cfg, no_key, guest.id, NOW, actor="t", reissue=False)
    with pytest.raises(InputError) as missing:
        issuing.issue_to_guest(store, cfg, no_key, 999_999, NOW, actor="t", reissue=False)
    assert missing.value.reason is Reason.NOT_FOUND


def test_after_the_event_nothing_is_signed(world: tuple) -> None:
    cfg, store, ev, signer = world
    guest = guest_service.add_guest(store, ev, row("Lê Văn Cường"), NOW, actor="t")
    with pytest.raises(InputError) as over:
        issuing.issue_to_guest(store, cfg, lambda: signer, guest.id, NOW + timedelta(days=3), actor="t", reissue=False)
    assert over.value.reason is Reason.EVENT_OVER and "Sự kiện đã kết thúc" in i18n.describe(over.value, "vi")


def test_import_refuses_repeats_by_reason_and_issues_the_rest(world: tuple) -> None:
    cfg, store, ev, signer = world
    guest_service.add_guest(store, ev, row("Nguyễn Văn An"), NOW, actor="t")
    rows = [row("nguyen van an", line=2), row("Bình", line=3), row("BÌNH", line=4), row("", line=5)]
    report = issuing.import_guests(store, ev, rows, NOW, actor="t", issue_with=(cfg, signer))
    assert (report.added, report.issued) == (1, 1)
    refused = [(e.line, e.reason, dict(e.problem.params)) for e in report.refused]
    assert refused == [
        (2, Reason.ROW_ON_LIST, {}),
        (4, Reason.ROW_REPEATED, {"line": 3}),
        (5, Reason.FIELD_REQUIRED, {}),
    ]
    [issued] = [v for v in stored_guests.guest_views(store, ev.id) if v.status is not None]
    assert issued.guest.name == "Bình" and issued.status is CredentialStatus.ACTIVE


def test_registration_issue_is_idempotent_per_key_and_refuses_another_guest(world: tuple) -> None:
    cfg, store, ev, signer = world
    scope = tokens.TokenScope((ev.id,))
    _token, secret = tokens.create_api_token(store, "portal", Role.REGISTRAR, NOW, actor="t", scope=scope)
    first_request = issuing.authorise_issue(store, secret, ev.id, "k1")
    made = issuing.issue_for_registration(store, cfg, lambda: signer, first_request, row("An"), NOW)
    assert not made.replayed and made.zones == ("hall",)
    retry = issuing.authorise_issue(store, secret, ev.id, "k1")

    def no_key() -> Signer:
        raise AssertionError("a replay signs nothing")

    again = issuing.issue_for_registration(store, cfg, no_key, retry, row("An"), NOW)
    assert again.replayed and (again.credential_id, again.code) == (made.credential_id, made.code)
    with pytest.raises(InputError) as other:
        issuing.issue_for_registration(store, cfg, no_key, retry, row("Bình"), NOW)
    assert other.value.reason is Reason.ALREADY_EXISTS
    with pytest.raises(InputError) as unknown:
        issuing.authorise_issue(store, "ck_wrong", ev.id, None)
    assert unknown.value.reason is Reason.UNAUTHORIZED


def test_revocation_needs_a_reason_and_happens_once(world: tuple) -> None:
    cfg, store, ev, signer = world
    guest = guest_service.add_guest(store, ev, row("An"), NOW, actor="t")
    issuing.issue_to_guest(store, cfg, lambda: signer, guest.id, NOW, actor="t", reissue=False)
    [cred] = stored_guests.guest_credentials(store, guest.id)
    with pytest.raises(FieldsInvalid) as no_reason:
        revocation.revoke_credential(store, cred.cti, "", NOW, actor="t")
    assert no_reason.value.problems["reason"].reason is Reason.FIELD_REQUIRED
    revoked = revocation.revoke_credential(store, cred.cti, "lost badge", NOW, actor="t")
    assert revoked.status == CredentialStatus.REVOKED
    with pytest.raises(InputError) as twice:
        revocation.revoke_credential(store, cred.cti, "again", NOW, actor="t")
    assert twice.value.reason is Reason.ALREADY_REVOKED


def test_a_gate_needs_a_zone_of_the_event_and_a_direction(world: tuple) -> None:
    cfg, store, ev, _signer = world
    root_pem = KeyStore(cfg.keys_dir).root_public_pem()
    with pytest.raises(FieldsInvalid) as refused:
        gates.add_gate(store, ev, "", "moon", "sideways", NOW, actor="t", root_pem=root_pem)
    reasons = {name: p.reason for name, p in refused.value.problems.items()}
    assert reasons == {
        "name": Reason.FIELD_REQUIRED,
        "zone": Reason.GATE_ZONE_INVALID,
        "direction": Reason.DIRECTION_INVALID,
    }
    made = gates.add_gate(store, ev, "Cổng A", "vip", "out", NOW, actor="t", root_pem=root_pem)
    assert (made.device.zone, made.device.direction, made.device.status) == ("vip", "out", "pending")
    gates.revoke_gate(store, made.device.id, NOW, actor="t")
    with pytest.raises(InputError) as twice:
        gates.revoke_gate(store, made.device.id, NOW, actor="t")
    assert twice.value.reason is Reason.DEVICE_REVOKED


# ---- search: ranked, without diacritics, by code -------------------------------------------------

EIGHT = [
    "Nguyễn Văn Uyển Thanh",  # "uyen" inside a word, and the start of "uyển"
    "Trần Thị Nguyên",
    "Lê Nguyễn Minh",
    "Phạm Thị Huyền",
    "Hồ Ngọc Uyên",  # the whole word
    "Đặng Khuyến",
    "Võ Thị Uyên Phương",  # the whole word too, listed later
    "Bùi Nguyệt",
]


def test_search_ranks_whole_words_then_word_starts_then_the_rest(world: tuple) -> None:
    _cfg, store, ev, _signer = world
    issuing.import_guests(store, ev, [row(n, line=i + 2) for i, n in enumerate(EIGHT)], NOW, actor="test")
    found = [v.guest.name for v in stored_guests.guest_views(store, ev.id, "uyen")]
    assert found[:3] == ["Nguyễn Văn Uyển Thanh", "Hồ Ngọc Uyên", "Võ Thị Uyên Phương"]  # whole words first
    assert found[3:] == ["Trần Thị Nguyên", "Lê Nguyễn Minh", "Phạm Thị Huyền", "Đặng Khuyến"]  # inside a word last
    # "uyển" folds to "uyen" too: a whole word as well, so it ranks with them, in list order
    assert set(found) == {n for n in EIGHT if "uyen" in stored_guests.fold(n)}
    page = stored_guests.guest_page(store, ev.id, "UYÊN", offset=1, limit=1)
    assert [v.guest.name for v in page.views] == ["Hồ Ngọc Uyên"] and page.total == len(found)
    assert page.pending == len(EIGHT)
    # the start of a name's word before the inside of one: "nguy" starts Nguyễn, Nguyên, Nguyệt
    assert [v.guest.name for v in stored_guests.guest_views(store, ev.id, "nguy")] == [
        "Nguyễn Văn Uyển Thanh", "Trần Thị Nguyên", "Lê Nguyễn Minh", "Bùi Nguyệt",
    ]  # fmt: skip
    assert stored_guests.guest_views(store, ev.id, "ngoc uy")[0].guest.name == "Hồ Ngọc Uyên"


def test_search_finds_a_guest_by_code_id_prefix_and_by_short_code(world: tuple) -> None:
    cfg, store, ev, signer = world
    issuing.import_guests(
        store, ev, [row(n, line=i + 2) for i, n in enumerate(EIGHT)], NOW, actor="test", issue_with=(cfg, signer)
    )
    views = stored_guests.guest_views(store, ev.id)
    target = views[5]
    assert target.cti is not None
    code = credential.short_code(bytes.fromhex(target.cti))
    for typed in (code, code.lower().replace("-", ""), f" {code.replace('0', 'O')} ", target.cti[:6].upper()):
        assert stored_guests.guest_views(store, ev.id, typed)[0].guest.id == target.guest.id, typed
    assert stored_guests.guest_page(store, ev.id, "").pending == 0
