"""The gate worker's screen (scanner.ui.Screen) and look-up (scanner.runner.match): keys, boxes, the PIN."""

from __future__ import annotations

import dataclasses
import os
import stat
import subprocess
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from checkin.core import credential, trust
from checkin.core.credential import Declaration
from checkin.core.trust import Direction, GatePolicy, Question, ScreeningPolicy
from scanner import pin, runner, screening, ui
from scanner.datadir import GateData
from scanner.journal import Journal
from scanner.runner import Gate
from scanner.screening import Step
from tests.support.gatekit import GATE, Clock, World, enrol_usb, json_lines

NAMES = ("Nguyễn Thị Ánh", "Lê Văn An", "Trần Thị Lan", "Đặng Quốc Huy")


@pytest.fixture
def world() -> World:
    return World(policy=GatePolicy(include_names=True))


@pytest.fixture
def clock(world: World) -> Clock:
    return Clock(world.now)


@pytest.fixture
def named(world: World) -> dict[str, bytes]:
    """Four guests the bundle names (the event allows names at the gate)."""
    return {name: world.credential(name).credential_id for name in NAMES}


@pytest.fixture
def data(tmp_path: Path, world: World) -> GateData:
    return enrol_usb(tmp_path / "gate", world)


@pytest.fixture
def gate(data: GateData, clock: Clock, world: World, named: dict[str, bytes]) -> Gate:
    journal = Journal(data.journal_path, data.device_key())
    bundle = world.bundle(names={cti: name for name, cti in named.items()})
    return Gate(journal, bundle, zone="hall", direction=Direction.IN, clock=clock, operator="Lan")


class Ticks:
    """The screen's monotonic clock, moved by hand."""

    def __init__(self) -> None:
        self.ms = 0

    def __call__(self) -> int:
        return self.ms


def screen_of(gate: Gate, ticks: Ticks, **options: object) -> ui.Screen:
    return ui.Screen(gate, hold_ms=3000, now_ms=ticks, **options)  # type: ignore[arg-type]


def type_in(screen: ui.Screen, text: str) -> None:
    for ch in text:
        assert screen.key(ch)


# ---- look-up -------------------------------------------------------------------------------------------------


def test_match_finds_short_codes_typed_any_way_and_names_without_diacritics(named: dict[str, bytes]) -> None:
    names = {cti: name for name, cti in named.items()}
    anh = named["Nguyễn Thị Ánh"]
    code = credential.short_code(anh)
    assert runner.match(code, names) == [anh]
    assert runner.match(code.replace("-", "").lower(), names) == [anh]
    assert runner.match(" " + code.replace("0", "o").replace("1", "l") + " ", names) == [anh]  # lookalikes forgiven
    assert runner.match("nguyen thi anh", names) == [anh]
    assert runner.match("ANH", names) == [anh]
    # a whole word ranks above a word's beginning, above a piece of one: "an" is Lê Văn An, then Ánh, then
    # Lan and Đặng (all four hold "an")
    found = runner.match("an", names)
    assert found[:2] == [named["Lê Văn An"], anh] and set(found) == set(names)
    assert runner.match("dang huy", names) == [named["Đặng Quốc Huy"]]  # đ typed as d
    assert runner.match("ZZZZ-ZZZZ", names) == []
    assert runner.match("x", names) == []  # one letter names nobody


def test_lookup_by_name_lists_guests_and_admits_the_chosen_one_as_manual(gate: Gate, named: dict[str, bytes]) -> None:
    ticks = Ticks()
    screen = screen_of(gate, ticks)
    assert screen.key("l")
    type_in(screen, "thi")
    screen.key("enter")
    assert isinstance(screen.prompt, ui.Lookup)
    listed = [c.name for c in screen.prompt.candidates]
    assert listed == ["Nguyễn Thị Ánh", "Trần Thị Lan"]
    screen.compose(None, [], ui.status_view(gate, None))  # the list draws
    assert screen.key("3")  # no third guest: nothing happens, the box stays
    assert gate.journal.head() is None and screen.prompt is not None
    assert screen.key("2")
    row = gate.journal.head()
    assert row is not None and row.cti == named["Trần Thị Lan"].hex() and row.verdict == "admit"
    assert row.operator == "manual:Lan" and screen.prompt is None
    assert screen.banner is not None and screen.banner.record.row.seq == row.seq


def test_lookup_by_short_code_and_a_miss_that_says_so(gate: Gate, named: dict[str, bytes]) -> None:
    screen = screen_of(gate, Ticks())
    screen.key("l")
    type_in(screen, "zzzz-zzzz")
    screen.key("enter")
    lookup = screen.prompt
    assert isinstance(lookup, ui.Lookup) and lookup.failed and not lookup.candidates
    text = " ".join(line[0] for line in lookup.lines(screen, 1.0))
    assert "zzzz-zzzz" in text and "Esc" in text
    for _ in range(9):
        screen.key("backspace")
    type_in(screen, credential.short_code(named["Đặng Quốc Huy"]).replace("-", "").lower())
    screen.key("enter")
    assert [c.name for c in lookup.candidates] == ["Đặng Quốc Huy"]
    screen.key("1")
    row = gate.journal.head()
    assert row is not None and row.cti == named["Đặng Quốc Huy"].hex() and row.operator.startswith("manual")


# ---- keys that change a lot ask first -------------------------------------------------------------------------


def test_refuse_asks_and_only_shortly_after_the_verdict(gate: Gate, world: World) -> None:
    ticks = Ticks()
    screen = screen_of(gate, ticks)
    screen.key("r")
    assert screen.prompt is None and screen.notice is not None and screen.notice[0] == "nothing_to_refuse"
    screen.show(gate.scan(world.issue("Phạm Minh Châu")))
    ticks.ms = ui.REFUSE_WINDOW_MS + 1
    screen.key("r")
    assert screen.prompt is None and gate.journal.last_seq() == 1  # too late: nothing journalled
    screen.show(gate.scan(world.issue("Võ Thị Hoa")))
    ticks.ms += 2000
    screen.key("r")
    assert isinstance(screen.prompt, ui.Confirm)
    assert "Võ Thị Hoa" in screen.prompt.lines(screen, 1.0)[0][0]
    screen.key("x")  # any other key: still asking
    screen.key("esc")
    assert screen.prompt is None and gate.journal.last_seq() == 2
    screen.key("r")
    screen.key("enter")
    head = gate.journal.head()
    assert head is not None and head.reason == "refused_by_staff" and head.seq == 3
    assert screen.counts[ui.Verdict.ADMIT] == 1 and screen.counts[ui.Verdict.DENY] == 1
    screen.key("r")  # the same person cannot be refused twice
    assert screen.prompt is None


def test_direction_switch_asks_and_shows_the_mode_large(gate: Gate) -> None:
    screen = screen_of(gate, Ticks())
    entry = screen.compose(None, [], ui.status_view(gate, None))
    screen.key("d")
    assert isinstance(screen.prompt, ui.Confirm) and gate.direction is Direction.IN
    screen.key("n")
    assert gate.direction is Direction.IN
    screen.key("d")
    screen.key("enter")
    assert gate.direction is Direction.OUT
    exit_ = screen.compose(None, [], ui.status_view(gate, None))
    bar = slice(ui.STATUS_H + 5, ui.STATUS_H + 85)
    assert tuple(entry[ui.STATUS_H + 5, 5]) == ui.MODE_COLOURS[Direction.IN][0]
    assert tuple(exit_[ui.STATUS_H + 5, 5]) == ui.MODE_COLOURS[Direction.OUT][0]
    assert not np.array_equal(entry[bar], exit_[bar])


def test_supervisor_key_needs_the_pin(gate: Gate, clock: Clock, world: World, data: GateData) -> None:
    gate.scan(world.issue())
    ticks = Ticks()
    no_pin = screen_of(gate, ticks)
    no_pin.key("a")
    assert no_pin.notice is not None and no_pin.notice[0] == "no_alarm"
    clock.advance(hours=-1)
    no_pin.key("a")
    assert no_pin.prompt is None and no_pin.notice is not None and no_pin.notice[0] == "no_pin"

    data.save_pin("2468")
    assert "2468" not in data.path("supervisor.pin").read_text()
    screen = screen_of(gate, ticks, check_pin=data.check_pin)
    screen.key("a")
    assert isinstance(screen.prompt, ui.PinEntry)
    type_in(screen, "1111")
    screen.key("enter")
    assert isinstance(screen.prompt, ui.PinEntry) and screen.prompt.wrong and gate.clock_alarm()
    type_in(screen, "2468")
    screen.key("enter")
    assert screen.prompt is None and not gate.clock_alarm()
    head = gate.journal.head()
    assert head is not None and head.reason == "clock_acknowledged"


def test_three_wrong_pins_lock_the_prompt(gate: Gate, clock: Clock, world: World, data: GateData) -> None:
    gate.scan(world.issue())
    clock.advance(hours=-1)
    data.save_pin("2468")
    ticks = Ticks()
    screen = screen_of(gate, ticks, check_pin=data.check_pin)
    screen.key("a")
    for _ in range(ui.PIN_TRIES):
        type_in(screen, "0000")
        screen.key("enter")
    assert screen.prompt is None
    screen.key("a")
    assert screen.prompt is None and screen.notice is not None and screen.notice[0] == "pin_locked"
    ticks.ms += ui.PIN_LOCK_MS
    screen.key("a")
    assert isinstance(screen.prompt, ui.PinEntry)


def test_pin_hash_rules() -> None:
    record = pin.hash_pin("123456")
    assert record.startswith("scrypt$") and "123456" not in record
    assert pin.check_pin("123456", record) and not pin.check_pin("123457", record)
    assert pin.hash_pin("123456") != record  # salted
    assert not pin.check_pin("123456", "scrypt$1048576000$8$1$00$00")  # parameters out of bounds: no match
    assert not pin.check_pin("123456", "garbage")
    assert pin.pin_problem("12a4") and pin.pin_problem("123") and pin.pin_problem("١٢٣٤")  # Arabic-Indic digits
    assert pin.pin_problem("1234") is None


# ---- the screen ------------------------------------------------------------------------------------------------


def test_full_screen_sizes_the_ready_cue_counts_and_no_sound(gate: Gate, world: World) -> None:
    ticks = Ticks()
    screen = screen_of(gate, ticks, size=(1920, 1080), sound_missing=True)
    idle = screen.compose(np.zeros((480, 640, 3), np.uint8), [], ui.status_view(gate, None))
    assert idle.shape == (1080, 1920, 3)
    green = np.all(idle[-200:] == np.array(ui.READY_INK, np.uint8), axis=2)  # the READY cue's ink
    assert green.sum() > 1000
    screen.show(gate.scan(world.issue("Phạm Minh Châu")))
    screen.show(gate.scan(world.issue("Phạm Minh Châu", zones=("vip",))))  # not for the hall
    assert screen.counts[ui.Verdict.ADMIT] == 1 and screen.counts[ui.Verdict.DENY] == 1
    strips = screen._strips(ui.status_view(gate, None), ticks.ms)
    assert any("paplay" in text for text, _bg, _ink in strips)


def test_banner_lists_zones_by_display_name_when_the_bundle_has_them(gate: Gate, world: World) -> None:
    record = gate.scan(world.issue("Phạm Minh Châu"))
    plain = ui.banner_image(record, "vi", gate.bundle.event)
    assert ui.zone_label(gate.bundle.event, "vip", "vi") == "vip"

    # an event whose zones have display names, as the bundle carries them (trust.Label)
    named_zones = {"hall": trust.Label("Hội trường", "Main hall"), "vip": trust.Label("Khu VIP", "")}
    named_event = dataclasses.replace(gate.bundle.event, zone_names=named_zones)

    assert ui.zone_label(named_event, "hall", "vi") == "Hội trường"
    assert ui.zone_label(named_event, "hall", "en") == "Main hall"
    assert ui.zone_label(named_event, "vip", "en") == "Khu VIP"  # the other language when one is missing
    assert ui.zone_label(named_event, "press", "en") == "press"
    named = ui.banner_image(record, "vi", named_event)
    assert plain.shape == named.shape and not np.array_equal(plain, named)


def test_banner_and_look_up_name_the_category_in_the_gate_language(gate: Gate, world: World) -> None:
    def texts(lines: list[ui.Line]) -> str:
        return "\n".join(line[0] for line in lines)

    delegate = world.issue("Phạm Minh Châu", organisation="Sở TT&TT", category="delegate")
    record = gate.scan(delegate)
    # a bundle without category names (an older one): the code, as before
    assert "Sở TT&TT · delegate" in texts(ui.banner_lines(record, "vi", gate.bundle.event))

    # the bundle names the category (trust.Label, signed with the event)
    names = {"delegate": trust.Label("Đại biểu", "Delegate")}
    event = dataclasses.replace(gate.bundle.event, category_names=names)
    gate.set_bundle(dataclasses.replace(gate.bundle, event=event))
    for lang, shown in (("vi", "Đại biểu"), ("en", "Delegate")):
        banner = texts(ui.banner_lines(record, lang, gate.bundle.event))
        assert f"Sở TT&TT · {shown}" in banner and "delegate" not in banner
    assert ui.category_label(event, "press", "en") == "press"  # a category the event did not name

    # the look-up list (the guest was seen at this gate, so the credential's category is known)
    screen = screen_of(gate, Ticks())
    for lang, shown in (("vi", "Đại biểu"), ("en", "Delegate")):
        screen.lang = lang
        screen.key("l")
        type_in(screen, "chau")
        screen.key("enter")
        assert isinstance(screen.prompt, ui.Lookup)
        listed = texts(screen.prompt.lines(screen, 1.0))
        assert "Phạm Minh Châu  (Sở TT&TT · " + shown + ")" in listed and "delegate" not in listed
        screen.key("esc")


# ---- the PIN on the command line ------------------------------------------------------------------------------


def gate_cli(data: Path, *args: str, stdin: str = "", **env: str) -> subprocess.CompletedProcess[str]:
    """`checkin-gate --data DATA ARGS...` as a real process, with extra environment variables."""
    return subprocess.run(
        [GATE, "--data", str(data), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
    )


def test_enrol_asks_for_the_pin_and_set_pin_changes_it(tmp_path: Path, world: World) -> None:
    ckb, pub = world.write_usb(tmp_path / "usb")
    folder = tmp_path / "gate"
    enrolled = gate_cli(
        folder, "enroll", "--bundle", str(ckb), "--root-key", str(pub), "--zone", "hall", "--pin", stdin="4321\n4321\n"
    )
    assert json_lines(enrolled)[0]["supervisor_pin"] is True
    record = folder / "supervisor.pin"
    assert stat.S_IMODE(record.stat().st_mode) == 0o600 and "4321" not in record.read_text()
    data = GateData(folder)
    assert data.check_pin("4321") and not data.check_pin("1234")

    typo = gate_cli(folder, "set-pin", stdin="4321\n5555\n5556\n")  # the two new PINs differ: click asks again
    assert typo.returncode != 0 and data.check_pin("4321")
    wrong_old = gate_cli(folder, "set-pin", CHECKIN_GATE_OLD_PIN="0000", CHECKIN_GATE_PIN="5555")
    assert wrong_old.returncode != 0 and "PIN" in wrong_old.stderr and data.check_pin("4321")
    short = gate_cli(folder, "set-pin", CHECKIN_GATE_OLD_PIN="4321", CHECKIN_GATE_PIN="55")
    assert short.returncode != 0 and data.check_pin("4321")
    changed = gate_cli(folder, "set-pin", CHECKIN_GATE_OLD_PIN="4321", CHECKIN_GATE_PIN="975310")
    assert json_lines(changed) == [{"supervisor_pin": True}] and data.check_pin("975310")

    refused = gate_cli(folder, "clock-ack", CHECKIN_GATE_PIN="4321")
    assert refused.returncode != 0 and "PIN" in refused.stderr
    assert json_lines(gate_cli(folder, "clock-ack", CHECKIN_GATE_PIN="975310")) == [{"clock_alarm": False}]


# ---- health screening: the box the operator answers with single keys ------------------------------------------

QUESTIONS = (
    Question("symptoms", "Anh/chị có sốt, ho không?", "Fever or cough?"),  # yes refers
    Question("well", "Anh/chị có khỏe không?", "Do you feel well?", refer_if_yes=False),  # no refers
)


def gate_screening(folder: Path, policy: ScreeningPolicy, names: tuple[str, ...] = ()) -> tuple[Gate, World]:
    """A gate of an event that screens its guests with `policy` (and names these guests in its bundle)."""
    world = World(policy=GatePolicy(screening=policy, include_names=bool(names)))
    data = enrol_usb(folder, world)
    journal = Journal(data.journal_path, data.device_key())
    bundle = world.bundle(names={world.credential(name).credential_id: name for name in names})
    return Gate(journal, bundle, zone="hall", direction=Direction.IN, clock=Clock(world.now), operator="Lan"), world


@pytest.fixture
def screening_gate(tmp_path: Path) -> tuple[Gate, World]:
    return gate_screening(tmp_path / "screening-gate", ScreeningPolicy(enabled=True, questions=QUESTIONS))


# the chained row keeps the outcome and, after a colon, the salted digest of the details


def box_text(screen: ui.Screen) -> str:
    assert screen.prompt is not None
    return " | ".join(line[0] for line in screen.prompt.lines(screen, 1.0))


def test_screening_admits_a_well_guest_with_single_keys(screening_gate: tuple[Gate, World]) -> None:
    gate, world = screening_gate
    screen = screen_of(gate, Ticks())
    assert screen.scanned(world.issue("Phạm Minh Châu"), "zxing") is None  # the box opens, nothing journalled yet
    assert isinstance(screen.prompt, ui.Screening) and gate.journal.head() is None
    assert "Phạm Minh Châu" in box_text(screen) and "Nhập thân nhiệt" in box_text(screen)
    drawn = screen.compose(None, [], ui.status_view(gate, None))
    assert not np.all(drawn[-200:] == np.array(ui.READY_INK, np.uint8), axis=2).any()  # not READY while screening
    type_in(screen, "36,6")
    screen.key("enter")
    assert "Câu hỏi 1 trên 2" in box_text(screen) and QUESTIONS[0].vi in box_text(screen)
    screen.key("q")  # not an answer key (nor quit while the box is open)
    screen.key("k")  # không: no fever or cough
    assert QUESTIONS[1].vi in box_text(screen) and "36.6 °C" in box_text(screen)
    screen.key("C")  # có: feels well
    head = gate.journal.head()
    assert head is not None and (head.verdict, head.reason, head.screening.split(":")[0]) == (
        "admit",
        "admitted",
        "passed",
    )
    assert screen.prompt is None and screen.banner is not None and screen.banner.record.row.seq == head.seq
    details = screen.banner.record.decision.screening_details
    assert details is not None and details["temperature"] == "36.6"
    assert details["answers"] == {"symptoms": False, "well": True}


def test_space_answers_every_question_shown_as_fine(screening_gate: tuple[Gate, World]) -> None:
    gate, world = screening_gate
    screen = screen_of(gate, Ticks())
    screen.scanned(world.issue("Đỗ Thị Hà"))
    type_in(screen, "36,5")
    screen.key("enter")
    shown = box_text(screen)
    assert QUESTIONS[0].vi in shown and QUESTIONS[1].vi in shown  # every question still to ask, for the guest to read
    assert "Phím cách: mọi câu trả lời đều bình thường" in shown
    screen.key(" ")
    head = gate.journal.head()
    assert head is not None and (head.verdict, head.screening.split(":")[0]) == ("admit", "passed")
    assert screen.banner is not None and screen.banner.record.decision.screening_details is not None
    assert screen.banner.record.decision.screening_details["answers"] == {"symptoms": False, "well": True}


def test_screening_refers_a_fever_with_the_advice_on_an_amber_banner(screening_gate: tuple[Gate, World]) -> None:
    gate, world = screening_gate
    screen = screen_of(gate, Ticks())
    screen.lang = "en"
    screen.scanned(world.issue("Lê Văn Cường"))
    type_in(screen, "38.1")
    screen.key("enter")  # a fever ends the screening before the questions
    head = gate.journal.head()
    assert head is not None and (head.verdict, head.reason, head.screening.split(":")[0]) == (
        "refer",
        "screening_failed",
        "fever",
    )
    assert screen.banner is not None and screen.banner.record.decision.advice == screening.ADVICE_MEDICAL
    banner = ui.banner_image(screen.banner.record, "en")
    plain = ui.banner_image(replace_advice(screen.banner.record), "en")
    assert tuple(banner[5, 5]) == ui.COLOURS[ui.Verdict.REFER]
    assert banner.shape[0] > plain.shape[0]  # the advice is a line of its own


def replace_advice(record: runner.Recorded) -> runner.Recorded:
    return dataclasses.replace(record, decision=dataclasses.replace(record.decision, advice=""))


def test_a_typo_is_asked_again_and_esc_records_nothing(screening_gate: tuple[Gate, World]) -> None:
    gate, world = screening_gate
    screen = screen_of(gate, Ticks())
    screen.scanned(world.issue())
    type_in(screen, "375")  # the decimal point forgotten: not a fever, a typo
    screen.key("enter")
    box = screen.prompt
    assert isinstance(box, ui.Screening) and box.session.step is Step.TEMPERATURE
    assert "375.0 °C không phải là kết quả đo hợp lý" in box_text(screen) and gate.journal.head() is None
    type_in(screen, "abc")
    screen.key("enter")
    assert "Nhập thân nhiệt bằng chữ số" in box_text(screen)
    assert screen.scanned(world.issue("Võ Thị Hoa")) is None  # another ticket waits for this guest
    assert screen.prompt is box and screen.notice is not None and screen.notice[0] == "screening_busy"
    screen.key("esc")
    assert screen.prompt is None and gate.journal.head() is None and screen.banner is None
    assert screen.notice is not None and screen.notice[0] == "screening_cancelled"


def test_a_fresh_declaration_on_the_ticket_skips_the_questions(screening_gate: tuple[Gate, World]) -> None:
    gate, world = screening_gate
    screen = screen_of(gate, Ticks())
    declared = Declaration(world.now - timedelta(hours=2), True).claim()
    screen.scanned(world.issue("Đặng Quốc Huy", health=declared))
    assert "Đã khai báo y tế trên vé lúc" in box_text(screen)
    type_in(screen, "36.9")
    screen.key("enter")
    head = gate.journal.head()
    assert head is not None and (head.verdict, head.screening.split(":")[0]) == ("admit", "passed")
    unwell = Declaration(world.now - timedelta(hours=2), False).claim()
    record = screen.scanned(world.issue("Trần Thị Lan", health=unwell))  # refers before anything is asked
    assert record is not None and record.decision.screening == "declared_unwell" and screen.prompt is None


def test_denied_codes_and_exits_are_not_screened(screening_gate: tuple[Gate, World]) -> None:
    gate, world = screening_gate
    screen = screen_of(gate, Ticks())
    denied = screen.scanned(world.issue(zones=("vip",)))
    assert denied is not None and denied.decision.reason == "zone_not_allowed" and screen.prompt is None
    gate.set_direction(Direction.OUT)
    leaving = screen.scanned(world.issue())
    assert leaving is not None and leaving.decision.verdict is ui.Verdict.ADMIT and screen.prompt is None


def test_a_required_certificate_is_scanned_in_the_box_or_enter_says_there_is_none(tmp_path: Path) -> None:
    # no questions, an EU certificate required
    gate, world = gate_screening(tmp_path / "gate", ScreeningPolicy(enabled=True, certificate_required=True))
    screen = screen_of(gate, Ticks())
    screen.scanned(world.issue("Phạm Minh Châu"))
    type_in(screen, "36.5")
    screen.key("enter")
    assert "Quét chứng nhận y tế EU" in box_text(screen) and gate.journal.head() is None
    screen.key("enter")  # the guest has none
    head = gate.journal.head()
    assert head is not None and (head.reason, head.screening.split(":")[0]) == (
        "screening_required",
        "certificate_missing",
    )
    assert screen.banner is not None and screen.banner.record.decision.advice == screening.ADVICE_CERTIFICATE
    screen.scanned(world.issue("Võ Thị Hoa"))
    type_in(screen, "36.5")
    screen.key("enter")
    assert screen.scanned("HC1:NOT-A-CERTIFICATE") is None  # the camera reads it while the box is open
    head = gate.journal.head()
    assert head is not None and (head.reason, head.screening.split(":")[0]) == (
        "screening_failed",
        "certificate_failed",
    )
    assert screen.prompt is None


def test_a_guest_found_by_look_up_is_screened_too(tmp_path: Path) -> None:
    policy = ScreeningPolicy(enabled=True, questions=QUESTIONS)
    gate, _world = gate_screening(tmp_path / "gate", policy, names=("Đặng Quốc Huy",))
    screen = screen_of(gate, Ticks())
    screen.key("l")
    type_in(screen, "huy")
    screen.key("enter")
    screen.key("1")
    assert isinstance(screen.prompt, ui.Screening) and gate.journal.head() is None
    type_in(screen, "36.7")
    for key in ("enter", "0", "1"):  # no fever or cough, feels well
        screen.key(key)
    head = gate.journal.head()
    assert head is not None and (head.verdict, head.operator, head.screening.split(":")[0]) == (
        "admit",
        "manual:Lan",
        "passed",
    )
