"""Changes that need a second look: confirmations that change nothing until confirmed, editing an
event (names for zones and categories, the bundle moving on), anonymising and removing a guest, an
unchanged guest saved, and the zone names on the pages, in the bundle and from the CLI."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask.testing import FlaskClient

from checkin.config import Config
from checkin.core import credential, trust
from checkin.core.trust import Label
from checkin.services import bundles
from checkin.store import CredentialStatus, Store
from checkin.store import actions as stored_actions
from checkin.store import events as stored_events
from checkin.store import guests as stored_guests
from checkin.store.guests import GuestRow
from tests.support.apikit import event_form
from tests.web import test_admin
from tests.web.test_admin import EVENT, World, guest_form, token

world = test_admin.world  # the fixture: a guest with an active code, a gate, a user

NAMED = "hall = Hội trường / Main hall\nvip = Khu VIP / VIP area\npress"


def _post(client: FlaskClient, path: str, **data: Any) -> Any:
    return client.post(path, data={**data, "csrf_token": token(client)})


def _status(store: Store, cti: str) -> str:
    return str(stored_guests.credential(store, cti).status)


def test_asking_to_reissue_or_revoke_changes_nothing(
    login_as: Callable[[str | None], FlaskClient], store: Store, world: World
) -> None:
    client = login_as("registrar")
    asked = client.get(f"/admin/guests/{world.guest_id}/issue").text
    short = credential.short_code(bytes.fromhex(world.cti))
    assert "Cấp lại mã cho Nguyễn Thị Ánh?" in asked and short in asked
    assert 'name="reissue" value="1"' in asked  # the confirm button posts what the action needs
    asked = client.get(f"/admin/credentials/{world.cti}/revoke?reason=m%E1%BA%A5t+th%E1%BA%BB").text
    assert f"Thu hồi mã {short} của Nguyễn Thị Ánh?" in asked and 'value="mất thẻ"' in asked
    assert "Không thể hoàn tác" in asked
    assert client.get(f"/admin/gates/{world.device_id}/revoke").status_code == 403  # admins only
    assert "Thu hồi cổng Cổng A?" in login_as("admin").get(f"/admin/gates/{world.device_id}/revoke").text
    assert _status(store, world.cti) == CredentialStatus.ACTIVE
    assert not [a for a in stored_actions.actions(store, limit=50) if a.action == "credential.revoke"]

    done = _post(client, f"/admin/credentials/{world.cti}/revoke", reason="mất thẻ")
    assert done.status_code == 302 and _status(store, world.cti) == CredentialStatus.REVOKED
    assert client.get(f"/admin/credentials/{world.cti}/revoke").status_code == 404  # nothing left to ask about


def test_an_empty_reason_comes_back_to_the_question(
    login_as: Callable[[str | None], FlaskClient], store: Store, world: World
) -> None:
    client = login_as("registrar")
    again = _post(client, f"/admin/credentials/{world.cti}/revoke", reason="")
    assert again.status_code == 400 and 'data-field="reason"' in again.text
    assert "Thu hồi mã" in again.text and _status(store, world.cti) == CredentialStatus.ACTIVE


def test_saving_an_unchanged_guest_asks_for_no_reissue(
    login_as: Callable[[str | None], FlaskClient], store: Store, world: World
) -> None:
    client = login_as("registrar")
    same = {"name": "Nguyễn Thị Ánh", "organisation": "Sở Thông tin và Truyền thông", "category": "delegate"}
    form = guest_form(**same, zones=["vip", "hall"], email="anh@example.vn")  # zones in another order
    page = _post(client, f"/admin/guests/{world.guest_id}/edit", **form)
    assert page.status_code == 302
    shown = client.get(page.headers["Location"]).text
    assert "Không có gì thay đổi." in shown and "Cấp lại mã" not in shown.split("<main")[1].split("</div>")[0]
    assert not [a for a in stored_actions.actions(store, limit=50) if a.action == "guest.update"]
    _post(client, f"/admin/guests/{world.guest_id}/edit", **{**form, "email": "anh.moi@example.vn"})
    flashes = client.get(f"/admin/guests/{world.guest_id}").text
    assert "Đã lưu." in flashes and "Hãy cấp lại mã" not in flashes  # the e-mail is not on the badge
    _post(client, f"/admin/guests/{world.guest_id}/edit", **{**form, "name": "Nguyễn Thị Ánh Hồng"})
    assert "cấp lại mã" in client.get(f"/admin/guests/{world.guest_id}").text.lower()


def test_editing_an_event_names_its_zones_and_moves_the_bundle_on(
    login_as: Callable[[str | None], FlaskClient], store: Store, world: World, config: Config, clock: Any
) -> None:
    before = bundles.build_bundle(config, store, EVENT, clock())
    client = login_as("registrar")
    form = client.get(f"/admin/events/{EVENT}/edit").text
    assert "hall" in form and 'name="id"' in form
    done = _post(
        client,
        f"/admin/events/{EVENT}/edit",
        **event_form(
            id="ignored", name="Ngày hội Chuyển đổi số", zones=NAMED, categories="delegate = Đại biểu / Delegate"
        ),
    )
    assert done.status_code == 302 and done.headers["Location"].endswith(f"/admin/events/{EVENT}")
    ev = stored_events.event(store, EVENT)
    assert ev.name == "Ngày hội Chuyển đổi số" and ev.zone_codes == ("hall", "vip", "press")
    assert ev.zone_names == {"hall": Label("Hội trường", "Main hall"), "vip": Label("Khu VIP", "VIP area")}
    assert ev.category_names == {"delegate": Label("Đại biểu", "Delegate")}
    after = bundles.build_bundle(config, store, EVENT, clock())
    assert after.version == before.version + 1
    assert after.event.zone_names["hall"] == Label("Hội trường", "Main hall")
    assert after.event.category_names["delegate"].text("en") == "Delegate"
    page = client.get(f"/admin/events/{EVENT}").text
    assert "Hội trường" in page and "Khu VIP" in page
    client.get("/admin/lang/en")
    page = client.get(f"/admin/guests/{world.guest_id}").text
    assert "Main hall" in page and "VIP area" in page and "Delegate" in page
    log = client.get("/admin/log").text
    assert "Event changed" in log and "name, venue" in log and "zones" in log


def test_a_zone_still_in_use_cannot_be_removed(
    login_as: Callable[[str | None], FlaskClient], store: Store, world: World
) -> None:
    refused = _post(login_as("registrar"), f"/admin/events/{EVENT}/edit", **event_form(id=EVENT, zones="press"))
    assert refused.status_code == 400
    assert "Khu vực hall vẫn đang gán cho khách hoặc cổng" in refused.text
    assert stored_events.event(store, EVENT).zone_codes == ("hall", "vip", "press")


def test_anonymising_erases_the_person_and_revokes_the_code(
    login_as: Callable[[str | None], FlaskClient], store: Store, world: World, config: Config, clock: Any
) -> None:
    client = login_as("registrar")
    asked = client.get(f"/admin/guests/{world.guest_id}/anonymise").text
    assert "Ẩn danh khách Nguyễn Thị Ánh?" in asked and "hết tác dụng" in asked
    assert client.get(f"/admin/guests/{world.guest_id}/remove").status_code == 303  # had a code: not removable
    done = _post(client, f"/admin/guests/{world.guest_id}/anonymise")
    assert done.status_code == 302
    row = stored_guests.guest(store, world.guest_id)
    assert (row.name, row.organisation, row.email) == (f"#{world.guest_id}", "", "")
    cred = stored_guests.credential(store, world.cti)
    assert cred.status == CredentialStatus.REVOKED and cred.reason == "anonymised" and cred.text == ""
    assert "Nguyễn Thị Ánh" not in cred.name
    assert bytes.fromhex(world.cti) in bundles.build_bundle(config, store, EVENT, clock()).revoked
    page = client.get(f"/admin/guests/{world.guest_id}").text
    assert "Nguyễn Thị Ánh" not in page and "đã ẩn danh" in page


def test_a_guest_never_issued_a_code_can_be_removed(
    login_as: Callable[[str | None], FlaskClient], store: Store, world: World, clock: Any
) -> None:
    [bare] = stored_guests.add_guests(
        store, EVENT, [GuestRow(0, "Lê Văn Tám", "", "", ("hall",), "")], clock(), actor="t"
    )
    client = login_as("registrar")
    assert "chưa từng được cấp mã" in client.get(f"/admin/guests/{bare}/remove").text
    done = _post(client, f"/admin/guests/{bare}/remove")
    assert done.status_code == 302 and done.headers["Location"].endswith(f"/admin/events/{EVENT}")
    assert client.get(f"/admin/guests/{bare}").status_code == 404
    assert stored_actions.actions(store, limit=1)[0].action == "guest.remove"


def test_bundles_without_names_keep_their_bytes_and_names_round_trip(world: World) -> None:
    key = Ed25519PrivateKey.generate()
    plain = trust.TrustBundle(
        version=1,
        issued_at=stored_events.EARLIEST_EVENT,
        expires_at=stored_events.LATEST_EVENT,
        issuer="hd",
        event=trust.EventInfo("e", "E", "Asia/Ho_Chi_Minh", stored_events.EARLIEST_EVENT, stored_events.LATEST_EVENT),
        keys=(),
    )
    assert b"zone_names" not in trust.content(plain)  # an older gate reads the same map as before
    named = replace(
        plain,
        event=replace(plain.event, zones=("hall",), zone_names={"hall": Label("Hội trường", "Main hall")}),
    )
    read = trust.verify_bundle(trust.sign_bundle(named, key), key.public_key())
    assert read.event.zone_names == {"hall": Label("Hội trường", "Main hall")}
    assert trust.label_of(read.event.zone_names, "hall", "vi") == "Hội trường"
    assert trust.label_of(read.event.zone_names, "vip", "en") == "vip"
    assert trust.bilingual(read.event.zone_names, "hall") == "Hội trường / Main hall"


def test_the_cli_creates_and_edits_an_event_with_zone_names(runner: Any, store: Store, clock: Any) -> None:
    made = runner(
        *("event", "create", "--id", "hoi-thao", "--name", "Hội thảo", "--zones", "hall"),
        *("--start", "2022-04-02T08:00", "--end", "2022-04-02T11:30"),
        *("--zone", "vip=Khu VIP/VIP area", "--category", "press=Báo chí/Press"),
        now=clock(),
    )
    assert made.exit_code == 0, made.output
    assert "zones hall, vip (Khu VIP / VIP area)" in made.output
    edited = runner(
        *("event", "edit", "--id", "hoi-thao", "--venue", "Khách sạn Nam Cường"),
        *("--zone", "hall=Hội trường/Main hall", "--zone", "vip=Khu VIP/VIP area"),
        now=clock(),
    )
    assert edited.exit_code == 0, edited.output
    ev = stored_events.event(store, "hoi-thao")
    assert ev.venue == "Khách sạn Nam Cường" and ev.name == "Hội thảo"  # what was not given stays
    assert ev.zone_names["hall"] == Label("Hội trường", "Main hall") and ev.category_names["press"].vi == "Báo chí"
    assert stored_actions.actions(store, limit=1)[0].action == "event.update"
    refused = runner("event", "edit", "--id", "hoi-thao", "--zone", "bad zone=X/Y", now=clock())
    assert refused.exit_code != 0 and "is not a code" in refused.output + str(refused.exception)
