"""End to end through a camera's eyes: codes issued with a real key store, rendered into a video with
OpenCV (moving, tilted, blurred, noisy, two codes in one frame), read by `checkin-gate run --video
... --headless` after a USB enrolment.

Every valid code is admitted exactly once however many frames show it; the forged, revoked,
expired and wrong-event codes are denied with their reasons; a code shown again without an exit
is `already_inside`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from checkin.core import trust
from checkin.core.credential import Credential
from checkin.core.trust import EventInfo, TrustBundle
from checkin.keystore import KeyStore
from scanner.scenes import BETWEEN, SHOWN, Presentation, render_video
from tests.support.gatekit import EVENT_ID, forged, guest, json_lines, keystore_sign, run_gate
from tests.support.world import ISSUER

NOW = datetime(2022, 3, 26, 1, 30, tzinfo=UTC)
GATE_NOW = "2022-03-26T08:30"


def issue(key_store: KeyStore, name: str, **changes: object) -> tuple[Credential, str]:
    cred = guest(name, NOW, zones=("hall",), **changes)
    return cred, keystore_sign(key_store, cred)


def test_video_through_the_gate(tmp_path: Path) -> None:
    keys = KeyStore(tmp_path / "keys")
    keys.init(None, NOW - timedelta(days=30))
    guests = [
        issue(keys, name)
        for name in ("Nguyễn Văn An", "Trần Thị Bích", "Lê Hoàng Cường", "Phạm Thu Dung", "Hoàng Minh Đức", "Vũ Thị Én")
    ]
    revoked_cred, revoked = issue(keys, "Cao Thị Thảo")
    _, expired = issue(keys, "Đỗ Văn Giang", not_before=NOW - timedelta(days=2), expires_at=NOW - timedelta(days=1))
    _, wrong_event = issue(keys, "Bùi Thị Hạnh", event_id="another-event")
    fake = forged(issue(keys, "Đinh Văn Khoa")[1])

    bundle = TrustBundle(
        version=4,
        issued_at=NOW - timedelta(hours=2),
        expires_at=NOW + timedelta(days=2),
        issuer=ISSUER,
        event=EventInfo(
            EVENT_ID,
            "Ngày Chuyển đổi số 2022",
            "Asia/Ho_Chi_Minh",
            NOW - timedelta(hours=1),
            NOW + timedelta(hours=9),
            zones=("hall", "vip"),
        ),
        keys=keys.bundle_keys(),
        revoked=frozenset({revoked_cred.credential_id}),
    )
    usb = tmp_path / "usb"
    usb.mkdir()
    (usb / "event.ckb").write_bytes(trust.sign_bundle(bundle, keys.load_private(keys.root(), None)))
    (usb / "root.pub").write_bytes(keys.root_public_pem())

    g = [text for _cred, text in guests]
    shows = [
        Presentation((g[0],), angle=8, tilt=0.03, blur=0.6, noise=3, motion=0),
        Presentation((g[1],), angle=-30, tilt=0.08, blur=0.8, noise=4, motion=0),  # tilted
        Presentation((g[2],), angle=15, tilt=0.04, blur=1.3, noise=3, motion=5),  # blurred, moving fast
        Presentation((g[3], g[4]), angle=-10, tilt=0.04, blur=0.7, noise=5, motion=0),  # two in one frame
        Presentation((g[5],), angle=20, tilt=0.05, blur=0.6, noise=10, motion=0),  # dim hall: noisy
        Presentation((fake,), angle=0, tilt=0.03, blur=0.6, noise=3, motion=0),
        Presentation((revoked,), angle=-12, tilt=0.03, blur=0.6, noise=3, motion=0),
        Presentation((expired,), angle=5, tilt=0.03, blur=0.6, noise=3, motion=0),
        Presentation((wrong_event,), angle=-5, tilt=0.03, blur=0.6, noise=3, motion=0),
        Presentation((g[0],), angle=-18, tilt=0.04, blur=0.7, noise=4, motion=0),  # back without an exit
    ]
    video = tmp_path / "gate.avi"
    frames = render_video(video, shows)
    assert frames == len(shows) * (SHOWN + BETWEEN)

    data = tmp_path / "gate"
    json_lines(
        run_gate(
            data, "enroll", "--bundle", str(usb / "event.ckb"), "--root-key", str(usb / "root.pub"), "--zone", "hall"
        )
    )
    out = json_lines(run_gate(data, "run", "--video", str(video), "--headless", "--now", GATE_NOW))

    seen = [(r["input"], r["verdict"], r["reason"]) for r in out]
    expected = [(text, "admit", "admitted") for text in g]
    expected += [
        (fake, "deny", "bad_signature"),
        (revoked, "deny", "revoked"),
        (expired, "deny", "expired"),
        (wrong_event, "deny", "wrong_event"),
        (g[0], "deny", "already_inside"),
    ]
    assert sorted(seen) == sorted(expected)
    # in the order shown (the two codes of one frame in either order)
    assert [s[0] for s in seen][:3] == g[:3] and {s[0] for s in seen[3:5]} == {g[3], g[4]}
    assert seen[-1] == (g[0], "deny", "already_inside")
    assert [r["seq"] for r in out] == list(range(1, len(expected) + 1))
    names = {r["credential"]["name"] for r in out if r["verdict"] == "admit"}
    assert names == {cred.name for cred, _ in guests}
    assert json_lines(run_gate(data, "journal", "verify"))[0]["ok"] is True
