"""The scan loop (scanner.runner), the screen (scanner.ui) and the `checkin-gate` commands around it."""

from __future__ import annotations

import io
import sqlite3
import subprocess
import sys
import wave
from datetime import timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest

from checkin import qr
from checkin.core.errors import ConfigError, Reason, Verdict
from checkin.core.trust import Direction
from scanner import decode, runner, ui
from scanner.camera import CameraSource
from scanner.datadir import GateData
from scanner.journal import Journal
from scanner.runner import Gate, Recorded, run_frames, run_texts
from scanner.settings import CameraSettings, parse_settings
from tests.support.gatekit import Clock, World, enrol_usb, forged, json_lines, run_gate

NOW = "2022-03-26T09:00"


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
def data(tmp_path: Path, world: World) -> GateData:
    return enrol_usb(tmp_path / "gate", world)


@pytest.fixture
def clock(world: World) -> Clock:
    return Clock(world.now)


@pytest.fixture
def gate(data: GateData, clock: Clock) -> Gate:
    journal = Journal(data.journal_path, data.device_key())
    return Gate(journal, data.bundle(), zone="hall", direction=Direction.IN, clock=clock, operator="Lan")


def code_frame(*texts: str, size: tuple[int, int] = (1280, 720)) -> np.ndarray:
    """A grey 720p frame with each code side by side."""
    frame = np.full((size[1], size[0], 3), 128, np.uint8)
    x = 40
    for text in texts:
        image = cv2.imdecode(np.frombuffer(qr.png(text, scale=4, border=4), np.uint8), cv2.IMREAD_COLOR)
        h, w = image.shape[:2]
        frame[60 : 60 + h, x : x + w] = image
        x += w + 40
    return frame


# ---- the loop ---------------------------------------------------------------------------------------------------


def test_a_verdict_is_committed_before_it_is_shown(gate: Gate, world: World, data: GateData) -> None:
    shown: list[Recorded] = []

    def show(record: Recorded, _found: object) -> None:
        with sqlite3.connect(data.journal_path) as other:  # another connection sees the committed row
            row = other.execute("SELECT hash, verdict FROM rows WHERE seq = ?", (record.row.seq,)).fetchone()
        assert row == (record.row.hash, record.decision.verdict.value)
        shown.append(record)

    texts = [world.issue("A"), forged(world.issue("B")), "HC1:X", ""]
    assert run_texts(gate, texts, show) == 3
    assert [r.decision.reason for r in shown] == [Reason.ADMITTED, Reason.BAD_SIGNATURE, Reason.UNSUPPORTED_FORMAT]


def test_a_code_held_for_many_frames_is_one_scan(gate: Gate, world: World) -> None:
    a, b = world.issue("A"), world.issue("B")
    both, only_a, empty = code_frame(a, b), code_frame(a), code_frame()
    frames = [(only_a, t) for t in range(0, 1000, 33)]  # A held up for a second
    frames += [(both, 1000 + t) for t in range(0, 500, 33)]  # B joins: one frame, two codes
    frames += [(empty, 1500 + t) for t in range(0, 5000, 500)]  # nobody
    frames += [(only_a, 7000)]  # A comes back without having left: passback
    records: list[Recorded] = []
    run_frames(
        gate, frames, decode.decode_frame, dedup=decode.Deduplicator(3000), on_verdict=lambda r, _f: records.append(r)
    )
    assert [(r.decision.credential.name if r.decision.credential else "", r.decision.reason) for r in records] == [
        ("A", Reason.ADMITTED),
        ("B", Reason.ADMITTED),
        ("A", Reason.ALREADY_INSIDE),
    ]


def test_state_survives_a_restart(data: GateData, world: World, clock: Clock) -> None:
    text = world.issue()
    with Journal(data.journal_path) as journal:
        first = Gate(journal, data.bundle(), zone="hall", direction=Direction.IN, clock=clock).scan(text)
    with Journal(data.journal_path) as journal:
        again = Gate(journal, data.bundle(), zone="hall", direction=Direction.IN, clock=clock).scan(text)
    assert (first.decision.reason, again.decision.reason) == (Reason.ADMITTED, Reason.ALREADY_INSIDE)


def test_clock_moved_back_admits_no_one_until_acknowledged(gate: Gate, world: World, clock: Clock) -> None:
    assert gate.scan(world.issue("early")).decision.reason is Reason.ADMITTED
    clock.advance(minutes=-90)  # the codes are valid from two hours before: only the floor can object
    assert gate.clock_alarm()
    later = [gate.scan(world.issue(f"guest {i}")) for i in range(3)]
    assert {r.decision.reason for r in later} == {Reason.CLOCK_SUSPECT}
    assert {r.decision.verdict for r in later} == {Verdict.REFER}
    clock.advance(minutes=10)  # still below the floor: still nothing admitted
    assert gate.scan(world.issue("still")).decision.reason is Reason.CLOCK_SUSPECT
    ack = gate.acknowledge_clock()
    assert (ack.row.reason, ack.row.operator, ack.row.verdict) == ("clock_acknowledged", "Lan", "refer")
    assert not gate.clock_alarm()
    assert gate.scan(world.issue("after")).decision.reason is Reason.ADMITTED
    assert gate.journal.verify(None) == []


def test_bundle_swap_from_another_thread_only_goes_forward(gate: Gate, world: World) -> None:
    gate.set_bundle(world.bundle(version=5))
    gate.set_bundle(world.bundle(version=4))
    assert gate.bundle.version == 5


# ---- the screen -------------------------------------------------------------------------------------------------


def test_screen_keys_and_banner(gate: Gate, world: World, clock: Clock, tmp_path: Path) -> None:
    ms = [0]
    screen = ui.Screen(gate, hold_ms=3000, now_ms=lambda: ms[0])
    frame = code_frame(world.issue("Nguyễn Thị Ánh"))
    found = decode.decode_frame(frame)
    screen.show(gate.scan(found[0].text))

    def colour_at_bottom() -> tuple[int, ...]:
        image = screen.compose(frame, found, ui.status_view(gate, None))
        assert image.shape == (720, 1280, 3)
        return tuple(int(c) for c in image[715, 1270])

    assert colour_at_bottom() == ui.COLOURS[Verdict.ADMIT]
    cv2.imwrite(str(tmp_path / "admit.png"), screen.compose(frame, found, ui.status_view(gate, None)))
    screen.show(gate.scan(found[0].text))
    assert colour_at_bottom() == ui.COLOURS[Verdict.DENY]
    ms[0] = 3001
    assert colour_at_bottom() != ui.COLOURS[Verdict.DENY]  # the hold time passed

    ms[0] = 4000  # within the refusal window of the last verdict shown (at 0)
    assert screen.key("r") and isinstance(screen.prompt, ui.Confirm)  # asks first
    assert screen.key("enter")
    refused = gate.journal.head()
    assert refused is not None and (refused.reason, refused.cti) == ("refused_by_staff", someone_cti(gate))

    assert screen.key("d") and screen.key("enter") and gate.direction is Direction.OUT
    assert screen.key("e") and screen.lang == "en"
    assert screen.key("d") and screen.key("enter") and gate.direction is Direction.IN

    # a damaged badge: type the id seen before, Enter, then 1 to admit the one listed
    someone = gate.scan(world.issue("Lê Văn Cường"))
    cti = someone.row.cti
    gate.set_direction(Direction.OUT)
    gate.scan(world.issue("Lê Văn Cường"))  # another badge of another person, to have more than one seen
    gate.set_direction(Direction.IN)
    assert screen.key("l")
    for ch in cti[:10]:
        screen.key(ch)
    screen.key("backspace")
    screen.key(cti[9])
    screen.key("enter")
    assert screen.key("1")
    manual = gate.journal.head()
    assert manual is not None and manual.cti == cti and manual.operator == "manual:Lan"
    assert manual.reason == "already_inside"
    assert screen.lookup_text is None

    assert screen.key("l") and screen.key("f") and screen.key("f") and screen.key("f") and screen.key("f")
    screen.key("enter")
    assert isinstance(screen.prompt, ui.Lookup) and screen.prompt.failed
    image = screen.compose(frame, found, ui.status_view(gate, None))
    assert image.shape == (720, 1280, 3)
    screen.key("esc")
    assert screen.lookup_text is None
    assert screen.key("esc")  # Esc outside a box closes nothing and does not quit
    assert not screen.key("q")


def someone_cti(gate: Gate) -> str:
    """The credential id of the first row (the person the screen showed first)."""
    return gate.journal.rows()[0].cti


def test_status_line_and_alarm_strip_render(gate: Gate, clock: Clock, world: World) -> None:
    gate.scan(world.issue())
    clock.advance(hours=-2)
    screen = ui.Screen(gate, hold_ms=1000, now_ms=lambda: 0)
    view = ui.status_view(gate, None)
    assert view.clock_alarm and view.pending == 1 and not view.sync_enabled
    image = screen.compose(None, [], view)
    below_mode_bar = ui.STATUS_H + 92 + 5
    assert tuple(int(c) for c in image[below_mode_bar, 1275]) == ui.COLOURS[Verdict.REFER]


def test_banner_renders_vietnamese_text() -> None:
    # the same text drawn by Pillow with DejaVu differs from the text without its marks
    marked = ui._text_block((600, 80), (0, 0, 0), [("Nguyễn Thị Ánh", 40, True, (255, 255, 255))])
    plain = ui._text_block((600, 80), (0, 0, 0), [("Nguyen Thi Anh", 40, True, (255, 255, 255))])
    assert marked.any() and not np.array_equal(marked, plain)


def test_tones_are_wav_files() -> None:
    for notes in ui.TONES.values():
        with wave.open(io.BytesIO(ui.tone(notes))) as wav:
            assert wav.getnchannels() == 1 and wav.getnframes() > 1000
    silent = ui.Sounder(enabled=False)
    silent.play(Verdict.ADMIT)  # no player: nothing happens, nothing blocks
    silent.close()


def test_settings_file() -> None:
    settings = parse_settings("[gate]\nbanner_hold_seconds = 5\nbatch_size = 200\nlanguage = 'en'\n", "gate.toml")
    assert (settings.banner_hold_seconds, settings.batch_size, settings.language) == (5.0, 200, "en")
    for bad in ("[gate]\nbanner_hold = 5\n", "[gate]\nbatch_size = 'x'\n", "[gate]\nbatch_size = 0\n", "[other]\n"):
        with pytest.raises(ConfigError):
            parse_settings(bad, "gate.toml")
    assert settings.camera == CameraSettings()


def test_camera_settings_come_from_the_camera_table_and_reach_the_webcam_source() -> None:
    settings = parse_settings("[camera]\nwidth = 1920\nheight = 1080\nfps = 15\nmjpeg = false\n", "gate.toml")
    assert settings.camera == CameraSettings(width=1920, height=1080, fps=15.0, mjpeg=False)
    fixed = parse_settings("[camera]\nfocus = 40\n", "gate.toml").camera
    assert (fixed.focus, fixed.autofocus) == (40.0, False)  # a focus by hand turns autofocus off
    source = runner.frame_source(camera=0, video=None, images=None, settings=settings.camera)
    assert isinstance(source, CameraSource) and source.settings == settings.camera


def test_the_loop_status_and_sync_load_no_camera_library_until_frames_are_read() -> None:
    """`run --texts`, `status`, `sync`, `clock-ack` need no OpenCV, NumPy or decoder; a frame source loads them."""
    probe = (
        "import sys; from scanner import datadir, runner, sync; "
        "before = [m for m in ('cv2', 'numpy', 'zxingcpp') if m in sys.modules]; "
        "runner.frame_source(camera=None, video=None, images=sys.argv[1]); "
        "print(before, [m for m in ('cv2', 'numpy', 'zxingcpp') if m in sys.modules])"
    )
    result = subprocess.run([sys.executable, "-c", probe, "."], capture_output=True, text=True, check=False, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[] ['cv2', 'numpy']"  # the decoders load with the first decode


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("[camera]\nresolution = '720p'\n", "[camera].resolution is not a setting"),
        ("[camera]\nwidth = '1280'\n", "[camera].width must be of type int"),
        ("[camera]\nwidth = 1280.5\n", "[camera].width must be of type int"),
        ("[camera]\nautofocus = 1\n", "[camera].autofocus must be of type bool"),
        ("[camera]\nfps = true\n", "[camera].fps must be of type float"),
        ("[camera]\nwidth = 20\n", "[camera].width must be from 160 to 7680"),
        ("[camera]\nfps = 0\n", "[camera].fps must be from 1 to 240"),
        ("[camera]\nfocus = 40\nautofocus = true\n", "it needs autofocus = false"),
        ("camera = 5\n", "[camera] must be a table"),
        ("gate = 5\n", "[gate] must be a table"),
    ],
)
def test_bad_camera_settings_are_refused_naming_the_key(text: str, words: str) -> None:
    with pytest.raises(ConfigError) as refused:
        parse_settings(text, "gate-data/gate.toml")
    assert words in str(refused.value) and "gate-data/gate.toml" in str(refused.value)


# ---- the commands -------------------------------------------------------------------------------------------------


def test_cli_usb_enrolment_run_status_verify_export(tmp_path: Path, world: World) -> None:
    ckb, pub = world.write_usb(tmp_path / "usb")
    data = tmp_path / "gate"
    enrolled = json_lines(run_gate(data, "enroll", "--bundle", str(ckb), "--root-key", str(pub), "--zone", "hall"))
    assert enrolled[0]["event"] == "cds-hd-2022"
    good = world.issue("Phạm Thu Hà")
    texts = "\n".join([good, good, forged(world.issue()), "HC1:ABC"]) + "\n"
    out = json_lines(run_gate(data, "run", "--texts", "-", "--headless", "--now", NOW, stdin=texts))
    assert [(r["seq"], r["verdict"], r["reason"]) for r in out] == [
        (1, "admit", "admitted"),
        (2, "deny", "already_inside"),
        (3, "deny", "bad_signature"),
        (4, "deny", "unsupported_format"),
    ]
    assert {"input", "verdict", "reason", "message", "message_en", "detail", "warning", "credential"} <= set(out[0])
    assert out[0]["credential"]["name"] == "Phạm Thu Hà"  # type: ignore[index]
    status = json_lines(run_gate(data, "status", "--now", NOW))[0]
    assert (status["rows"], status["pending"], status["inside"], status["clock_alarm"]) == (4, 4, 1, False)
    assert json_lines(run_gate(data, "journal", "verify"))[0]["ok"] is True
    assert run_gate(data, "journal", "export", "--csv", str(tmp_path / "j.csv")).returncode == 0
    assert (tmp_path / "j.csv").read_text(encoding="utf-8").count("\n") == 5
    # a newer bundle from the USB stick updates the gate; an older one is refused
    ckb2, _ = world.write_usb(tmp_path / "usb2", version=2)
    assert json_lines(run_gate(data, "enroll", "--bundle", str(ckb2), "--root-key", str(pub)))[0]["bundle_version"] == 2
    refused = run_gate(data, "enroll", "--bundle", str(ckb), "--root-key", str(pub))
    assert refused.returncode == 2 and "bundle_rollback" in refused.stderr
    with sqlite3.connect(data / "journal.db") as db:
        db.execute("UPDATE rows SET reason = 'admitted', verdict = 'admit' WHERE seq = 3")
    broken = run_gate(data, "journal", "verify")
    assert broken.returncode == 1 and "hash_mismatch" in broken.stderr


def test_cli_clock_alarm_and_acknowledgement(tmp_path: Path, world: World) -> None:
    data = enrol_usb(tmp_path / "gate", world).root
    assert (
        json_lines(run_gate(data, "run", "--texts", "-", "--headless", "--now", NOW, stdin=world.issue("A") + "\n"))[0][
            "reason"
        ]
        == "admitted"
    )
    earlier = "2022-03-26T07:00"
    out = json_lines(
        run_gate(data, "run", "--texts", "-", "--headless", "--now", earlier, stdin=world.issue("B") + "\n")
    )
    assert (out[0]["verdict"], out[0]["reason"]) == ("refer", "clock_suspect")
    assert json_lines(run_gate(data, "status", "--now", earlier))[0]["clock_alarm"] is True
    ack = json_lines(run_gate(data, "clock-ack", "--operator", "Minh", "--now", earlier))[0]
    assert (ack["reason"], ack["operator"]) == ("clock_acknowledged", "Minh")
    out = json_lines(
        run_gate(data, "run", "--texts", "-", "--headless", "--now", "2022-03-26T07:01", stdin=world.issue("C") + "\n")
    )
    assert out[0]["reason"] == "admitted"
    assert json_lines(run_gate(data, "clock-ack", "--now", "2022-03-26T07:02"))[0] == {"clock_alarm": False}


def test_cli_images_folder_and_decode(tmp_path: Path, world: World) -> None:
    data = enrol_usb(tmp_path / "gate", world).root
    folder = tmp_path / "shots"
    folder.mkdir()
    a = world.issue("A")
    cv2.imwrite(str(folder / "1.png"), code_frame(a))
    cv2.imwrite(str(folder / "2.png"), code_frame())
    cv2.imwrite(str(folder / "3.png"), code_frame(a, world.issue("B", expires_at=world.now - timedelta(hours=1))))
    out = json_lines(run_gate(data, "run", "--images", str(folder), "--headless", "--now", NOW))
    # the images are consecutive frames: A in frames 1 and 3 is one presentation, one scan
    assert sorted((r["credential"]["name"], r["reason"]) for r in out) == [  # type: ignore[index]
        ("A", "admitted"),
        ("B", "expired"),
    ]
    assert all(r["decoder"] for r in out)
    decoded = json_lines(run_gate(data, "decode", str(folder / "3.png"), str(folder / "2.png")))
    assert a in decoded[0]["texts"] and len(decoded[0]["texts"]) == 2 and decoded[1]["texts"] == []
    assert all(isinstance(d["ms"], float) for d in decoded)


def test_cli_refuses_without_enrolment_and_with_two_sources(tmp_path: Path) -> None:
    result = run_gate(tmp_path / "nothing", "run", "--texts", "-", "--headless")
    assert result.returncode == 1 and "enrol" in result.stderr
    result = run_gate(tmp_path / "nothing", "run", "--texts", "-", "--camera", "0", "--headless")
    assert result.returncode == 1 and "exactly one" in result.stderr
