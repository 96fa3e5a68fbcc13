"""End to end with health screening: tickets issued with a real key store (one carrying a fresh
declaration in claim 5, signed like any ticket), rendered into a video, read by `checkin-gate run
--video ... --headless` with the operator's input scripted (`--screening-input`). The journal
shows each outcome; the guest with a fever is referred; after the retention purge the readings
are gone and `journal verify` (seals included, with the verification key) still passes.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from checkin.core import chain, trust
from checkin.core.credential import Credential, Declaration
from checkin.core.trust import EventInfo, GatePolicy, Question, ScreeningPolicy, TrustBundle
from checkin.keystore import KeyStore
from scanner.journal import Journal
from scanner.scenes import Presentation, render_video
from tests.support.gatekit import EVENT_ID, guest, json_lines, keystore_sign, run_gate
from tests.support.world import ISSUER

NOW = datetime(2022, 3, 26, 1, 30, tzinfo=UTC)
GATE_NOW = "2022-03-26T08:30"
QUESTIONS = (
    Question("symptoms", "Trong 14 ngày qua, anh/chị có sốt, ho không?", "Fever or cough in the last 14 days?"),
    Question("contact", "Anh/chị có tiếp xúc với người mắc COVID-19 không?", "Contact with a COVID-19 case?"),
)


def issue(key_store: KeyStore, name: str, **changes: object) -> tuple[Credential, str]:
    cred = guest(name, NOW, zones=("hall",), **changes)
    return cred, keystore_sign(key_store, cred)


def test_screening_from_a_video_with_scripted_operator_input(tmp_path: Path) -> None:
    keys = KeyStore(tmp_path / "keys")
    keys.init(None, NOW - timedelta(days=30))
    declared = Declaration(NOW - timedelta(hours=5), passed=True).claim()
    _, fresh = issue(keys, "Nguyễn Văn An", health=declared)
    _, plain = issue(keys, "Trần Thị Bích")
    _, fever = issue(keys, "Lê Hoàng Cường", health=declared)
    _, stale = issue(keys, "Phạm Thu Dung", health=Declaration(NOW - timedelta(hours=30), True).claim())

    bundle = TrustBundle(
        version=1,
        issued_at=NOW - timedelta(hours=2),
        expires_at=NOW + timedelta(days=2),
        issuer=ISSUER,
        event=EventInfo(
            EVENT_ID, "Ngày Chuyển đổi số 2022", "Asia/Ho_Chi_Minh", NOW - timedelta(hours=1), NOW + timedelta(hours=9)
        ),
        keys=keys.bundle_keys(),
        policy=GatePolicy(screening=ScreeningPolicy(enabled=True, questions=QUESTIONS, retention_days=14)),
    )
    usb = tmp_path / "usb"
    usb.mkdir()
    (usb / "event.ckb").write_bytes(trust.sign_bundle(bundle, keys.load_private(keys.root(), None)))
    (usb / "root.pub").write_bytes(keys.root_public_pem())

    video = tmp_path / "gate.avi"
    render_video(
        video,
        [
            Presentation((fresh,), angle=8, tilt=0.03, blur=0.6, noise=3, motion=0),
            Presentation((plain,), angle=-15, tilt=0.05, blur=0.7, noise=4, motion=0),
            Presentation((fever,), angle=12, tilt=0.04, blur=0.8, noise=3, motion=2),
            Presentation((stale,), angle=-6, tilt=0.03, blur=0.6, noise=5, motion=0),
        ],
    )
    operator = tmp_path / "operator.jsonl"
    operator.write_text(
        "\n".join(
            json.dumps(line, ensure_ascii=False)
            for line in (
                {"temperature": "36,7"},  # fresh declaration on the ticket: the reading alone
                {"temperature": "36.9", "answers": {"symptoms": "không", "contact": "không"}},
                {"temperature": "38,4"},  # a fever: referred whatever the declaration says
                {"temperature": "36.5", "answers": {"symptoms": "có", "contact": "không"}},  # stale: asked, refers
            )
        ),
        encoding="utf-8",
    )
    data = tmp_path / "gate"
    enrolled = json_lines(
        run_gate(data, "enroll", "--bundle", str(usb / "event.ckb"), "--root-key", str(usb / "root.pub"), "--all-zones")
    )
    out = json_lines(
        run_gate(
            data, "run", "--video", str(video), "--headless", "--now", GATE_NOW, "--screening-input", str(operator)
        )
    )
    assert [(r["input"], r["verdict"], r["reason"], r["screening"]) for r in out] == [
        (fresh, "admit", "admitted", "passed"),
        (plain, "admit", "admitted", "passed"),
        (fever, "refer", "screening_failed", "fever"),
        (stale, "refer", "screening_failed", "answer_refers"),
    ]
    assert out[2]["advice_en"] == "Send the guest to the medical desk, then scan the ticket again"

    with Journal(data / "journal.db") as journal:
        rows = journal.rows()
        assert [chain.screening_parts(r.screening)[0] for r in rows] == ["passed", "passed", "fever", "answer_refers"]
        kept = [journal.screening_details(r.seq) for r in rows]
    assert [(d or {}).get("declaration") for d in kept] == ["ticket", "gate", "ticket", "gate"]
    assert (kept[2] or {}).get("temperature") == "38.4"

    purged = json_lines(run_gate(data, "journal", "purge", "--older-than", "0", "--now", "2022-03-26T09:30"))
    assert purged == [{"purged": 4, "kept": 0}]
    verified = json_lines(run_gate(data, "journal", "verify", "--verification-key", enrolled[0]["verification_key"]))[0]
    assert (verified["ok"], verified["seals_checked"], verified["rows"]) == (True, True, 4)
    assert b"38.4" not in (data / "journal.db").read_bytes()
