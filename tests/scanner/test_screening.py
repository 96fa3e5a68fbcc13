"""Health screening rules (scanner/screening.py) as tables: temperatures at and around the limit,
each question, declarations fresh and stale, each EU certificate type at the edges of its window,
and the session as the window drives it key by key."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given
from hypothesis import strategies as st

from checkin.core import dcc
from checkin.core.credential import Credential, Declaration, declaration_of
from checkin.core.dcc import CertType
from checkin.core.errors import Reason
from checkin.core.trust import Question, ScreeningPolicy
from scanner.screening import (
    ADVICE_CERTIFICATE,
    ADVICE_FINISH,
    ADVICE_MEDICAL,
    PROBLEM_IMPLAUSIBLE,
    PROBLEM_NOT_A_READING,
    Entry,
    Outcome,
    Session,
    Step,
    assess,
    parse_reading,
)

NOW = datetime(2022, 3, 26, 2, 0, tzinfo=UTC)
QUESTIONS = (
    Question("symptoms", "Có sốt, ho không?", "Fever or cough?"),  # yes refers
    Question("well", "Anh/chị có khỏe không?", "Do you feel well?", refer_if_yes=False),  # no refers
)
POLICY = ScreeningPolicy(enabled=True, questions=QUESTIONS)
FINE = {"symptoms": False, "well": True}


def ticket(health: dict[int, Any] | None = None) -> Credential:
    return Credential(
        issuer="hd-stttt",
        event_id="ev",
        credential_id=b"\x07" * 16,
        issued_at=NOW - timedelta(days=1),
        not_before=NOW - timedelta(hours=2),
        expires_at=NOW + timedelta(hours=10),
        name="Nguyễn Văn An",
        health=health,
    )


def declared(age: timedelta, passed: bool = True) -> Credential:
    return ticket(Declaration(NOW - age, passed).claim())


# ---- temperatures ----------------------------------------------------------------------------------

TEMPERATURES = [
    # typed, outcome (None: refused as a typo, the step stays at the temperature)
    ("36.6", Outcome.PASSED),
    ("36,6", Outcome.PASSED),
    (" 36.6 ", Outcome.PASSED),
    ("36.6°C", Outcome.PASSED),
    ("36,6 c", Outcome.PASSED),
    ("37", Outcome.PASSED),
    ("37.4", Outcome.PASSED),
    ("37.49", Outcome.PASSED),
    ("37.5", Outcome.FEVER),  # at the limit refers
    ("37,5", Outcome.FEVER),
    ("37.50", Outcome.FEVER),
    ("37.6", Outcome.FEVER),
    ("39.8", Outcome.FEVER),
    ("42.5", Outcome.FEVER),  # the top of the plausible range is still a reading
    ("34.0", Outcome.PASSED),  # the bottom too
    ("42.6", None),  # above the range: a typo, not a fever
    ("73.2", None),
    ("375", None),  # the decimal point forgotten
    ("33.9", None),
    ("3.7", None),
    ("", None),
    ("abc", None),
    ("37.2.1", None),
    ("-37", None),
    ("1e2", None),
    ("nan", None),
    ("37.123", None),
]


@pytest.mark.parametrize(("typed", "outcome"), TEMPERATURES)
def test_temperatures(typed: str, outcome: Outcome | None) -> None:
    session = Session.start(ticket(), POLICY, NOW).temperature_typed(typed)
    if outcome is None:
        assert session.step is Step.TEMPERATURE and session.reading is None
        assert session.problem in (PROBLEM_NOT_A_READING, PROBLEM_IMPLAUSIBLE)
        assert assess(ticket(), POLICY, NOW, Entry(typed, FINE)).reason is Reason.SCREENING_REQUIRED
        return
    result = assess(ticket(), POLICY, NOW, Entry(typed, FINE))
    assert result.outcome is outcome
    assert result.reason is (None if outcome is Outcome.PASSED else Reason.SCREENING_FAILED)


def test_a_typo_is_asked_again_then_the_next_reading_counts() -> None:
    session = Session.start(ticket(), POLICY, NOW).temperature_typed("73.2")
    assert (session.problem, dict(session.problem_params)) == (PROBLEM_IMPLAUSIBLE, {"reading": "73.2"})
    session = session.temperature_typed("36.9")
    assert (session.step, session.problem, session.details()["temperature"]) == (Step.QUESTION, "", "36.9")


def test_the_limit_comes_from_the_policy() -> None:
    strict = ScreeningPolicy(enabled=True, temperature_limit=37.3, temperature_min=35.0, temperature_max=41.0)
    assert assess(ticket(), strict, NOW, Entry("37.2")).outcome is Outcome.PASSED
    assert assess(ticket(), strict, NOW, Entry("37.3")).outcome is Outcome.FEVER
    assert assess(ticket(), strict, NOW, Entry("34.9")).outcome is Outcome.INCOMPLETE  # out of this range


def test_parse_reading_is_exact() -> None:
    assert str(parse_reading("37,45")) == "37.45"
    assert parse_reading("٣٧.٢") is None  # digits of another script are not what a thermometer types


# ---- questions -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answers", "outcome"),
    [
        ({"symptoms": False, "well": True}, Outcome.PASSED),
        ({"symptoms": True, "well": True}, Outcome.ANSWER_REFERS),
        ({"symptoms": False, "well": False}, Outcome.ANSWER_REFERS),
        ({"symptoms": True}, Outcome.ANSWER_REFERS),  # the first referring answer ends it
        ({"symptoms": False}, Outcome.INCOMPLETE),  # the second question not answered
        ({}, Outcome.INCOMPLETE),
        ({"well": True}, Outcome.INCOMPLETE),  # asked in order: the first is missing
    ],
)
def test_each_question(answers: dict[str, bool], outcome: Outcome) -> None:
    result = assess(ticket(), POLICY, NOW, Entry("36.7", answers))
    assert result.outcome is outcome
    expected = {Outcome.PASSED: None, Outcome.ANSWER_REFERS: Reason.SCREENING_FAILED}.get(
        outcome, Reason.SCREENING_REQUIRED
    )
    assert result.reason is expected
    assert result.advice == {None: "", Reason.SCREENING_FAILED: ADVICE_MEDICAL}.get(expected, ADVICE_FINISH)


def test_no_questions_means_the_temperature_alone() -> None:
    result = assess(ticket(), ScreeningPolicy(enabled=True), NOW, Entry("36.5"))
    assert (result.outcome, result.details["declaration"]) == (Outcome.PASSED, "none")


def test_the_session_asks_each_question_in_turn() -> None:
    session = Session.start(ticket(), POLICY, NOW)
    assert session.step is Step.TEMPERATURE and session.question is None
    session = session.temperature_typed("36,8")
    assert session.question == QUESTIONS[0]
    session = session.answered(False)
    assert session.question == QUESTIONS[1]
    session = session.answered(True)
    assert session.step is Step.DONE and session.result().admitted
    assert session.result().details == {
        "temperature": "36.8",
        "declaration": "gate",
        "declared_at": None,
        "answers": {"symptoms": False, "well": True},
        "certificate": None,
    }


def test_all_clear_answers_every_remaining_question_the_way_that_does_not_refer() -> None:
    before_reading = Session.start(ticket(), POLICY, NOW)
    assert before_reading.all_clear() == before_reading  # nothing to answer yet: the reading comes first
    asked = before_reading.temperature_typed("36,8")
    clear = asked.all_clear()
    assert clear.step is Step.DONE and clear.result().admitted
    assert clear.result().details["answers"] == FINE  # "no" to the fever question, "yes" to feeling well
    after_one = asked.answered(False).all_clear()
    assert after_one.answers == (("symptoms", False), ("well", True))
    assert asked.answered(True).all_clear().result().outcome is Outcome.ANSWER_REFERS  # a "yes" already given stays


def test_a_fever_ends_the_session_before_the_questions() -> None:
    session = Session.start(ticket(), POLICY, NOW).temperature_typed("38.1")
    assert session.step is Step.DONE and session.result().outcome is Outcome.FEVER


# ---- declarations on the ticket --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ticket_", "asks_questions"),
    [
        (declared(timedelta(hours=1)), False),
        (declared(timedelta(hours=24)), False),  # exactly the validity: still valid
        (declared(timedelta(hours=24, seconds=1)), True),  # stale: asked again at the gate
        (declared(timedelta(days=3)), True),
        (declared(-timedelta(seconds=200)), False),  # a little ahead of the gate's clock: within tolerance
        (declared(-timedelta(minutes=10)), True),  # too far in the future to be trusted
        (ticket(), True),  # no declaration
        (ticket({1: True}), True),  # a shape from before declarations existed: no declaration
        (ticket({1: "yesterday", 2: True}), True),
        (ticket({1: 1648260000, 2: 1}), True),  # passed must be a boolean
    ],
)
def test_declarations_fresh_and_stale(ticket_: Credential, asks_questions: bool) -> None:
    session = Session.start(ticket_, POLICY, NOW, tolerance=timedelta(minutes=5)).temperature_typed("36.5")
    assert (session.step is Step.QUESTION) is asks_questions
    result = assess(ticket_, POLICY, NOW, Entry("36.5"), timedelta(minutes=5))
    assert result.outcome is (Outcome.INCOMPLETE if asks_questions else Outcome.PASSED)
    if not asks_questions:
        assert result.details["declaration"] == "ticket"


def test_a_fresh_declaration_that_did_not_pass_refers_before_anything_is_asked() -> None:
    session = Session.start(declared(timedelta(hours=2), passed=False), POLICY, NOW)
    assert session.step is Step.DONE
    result = session.result()
    assert (result.outcome, result.reason, result.advice) == (
        Outcome.DECLARED_UNWELL,
        Reason.SCREENING_FAILED,
        ADVICE_MEDICAL,
    )


def test_a_stale_declaration_that_did_not_pass_is_asked_again() -> None:
    result = assess(declared(timedelta(days=2), passed=False), POLICY, NOW, Entry("36.5", FINE))
    assert result.outcome is Outcome.PASSED


def test_the_declaration_claim_round_trips() -> None:
    when = datetime(2022, 3, 25, 20, 15, 7, tzinfo=UTC)
    assert declaration_of(ticket(Declaration(when, False).claim())) == Declaration(when, False)


# ---- EU certificates at the edges of their windows ------------------------------------------------------

SIGNING_KEY = ec.generate_private_key(ec.SECP256R1())
SIGNER = dcc.signer_certificate(SIGNING_KEY, not_before=NOW - timedelta(days=400), not_after=NOW + timedelta(days=400))
CERT_POLICY = ScreeningPolicy(enabled=True, certificate_required=True, dcc_certificates=(SIGNER,))
VACCINATION = {"tg": "840539006", "vp": "1119349007", "mp": "EU/1/20/1528", "dn": 2, "sd": 2, "co": "VN"}


def hc1(kind: CertType, entry: dict[str, Any], key: dcc.SigningKey = SIGNING_KEY, der: bytes = SIGNER) -> str:
    body = dcc.hcert_claims(
        kind, entry, country="VN", issued_at=NOW - timedelta(days=1), expires_at=NOW + timedelta(days=30)
    )
    return dcc.seal(body, key, dcc.kid_of_certificate(der))


def day(days: int) -> str:
    return (NOW - timedelta(days=days)).date().isoformat()


def sample(age: timedelta) -> str:
    return (NOW - age).isoformat().replace("+00:00", "Z")


def naat_or_rapid(kind: str, hours: float) -> str:
    return hc1(CertType.TEST, {"tt": kind, "tr": dcc.NOT_DETECTED, "sc": sample(timedelta(hours=hours))})


def recovery(days: int) -> str:
    return hc1(CertType.RECOVERY, {"fr": day(days), "df": day(days - 11), "du": day(-10)})


def vaccinated(days: int, **changes: Any) -> str:
    return hc1(CertType.VACCINATION, {**VACCINATION, "dt": day(days), **changes})


STRANGER = ec.generate_private_key(ec.SECP256R1())
ACCEPTED = dcc.DccReason.ACCEPTED
CERTIFICATES = [
    ("vaccinated 14 days ago", vaccinated(14), ACCEPTED),
    ("vaccinated 13 days ago", vaccinated(13), "too_recent"),
    ("1 dose of 2", vaccinated(60, dn=1), "incomplete"),
    ("NAAT 72 h old", naat_or_rapid(dcc.NAAT, 72), ACCEPTED),
    ("NAAT 72 h 1 min old", naat_or_rapid(dcc.NAAT, 72 + 1 / 60), "too_old"),
    ("rapid 24 h old", naat_or_rapid(dcc.RAPID, 24), ACCEPTED),
    ("rapid 24 h 1 min old", naat_or_rapid(dcc.RAPID, 24 + 1 / 60), "too_old"),
    (
        "positive NAAT",
        hc1(CertType.TEST, {"tt": dcc.NAAT, "tr": "260373001", "sc": sample(timedelta(hours=2))}),
        "positive",
    ),
    ("recovered 180 days ago", recovery(180), ACCEPTED),
    ("recovered 181 days ago", recovery(181), "window"),
    ("an unknown signer", hc1(CertType.VACCINATION, {**VACCINATION, "dt": day(30)}, STRANGER, b"other"), "unknown_key"),
    ("not a certificate", "HC1:NOT-BASE45", "malformed"),
]


@pytest.mark.parametrize(("label", "text", "expected"), CERTIFICATES, ids=[c[0] for c in CERTIFICATES])
def test_each_certificate_type_at_the_edges(label: str, text: str, expected: object) -> None:
    result = assess(ticket(), CERT_POLICY, NOW, Entry("36.6", dcc=text))
    if expected is ACCEPTED:
        assert (result.outcome, result.reason) == (Outcome.PASSED, None), label
        assert result.details["certificate"] == "dcc_accepted"
        return
    assert (result.outcome, result.reason, result.advice) == (
        Outcome.CERTIFICATE_FAILED,
        Reason.SCREENING_FAILED,
        ADVICE_MEDICAL,
    ), label
    assert str(expected) in str(result.details["certificate"])


def test_a_required_certificate_not_shown_is_screening_required() -> None:
    session = Session.start(ticket(), CERT_POLICY, NOW).temperature_typed("36.6")
    assert session.step is Step.CERTIFICATE
    result = session.result()
    assert (result.outcome, result.reason, result.advice) == (
        Outcome.CERTIFICATE_MISSING,
        Reason.SCREENING_REQUIRED,
        ADVICE_CERTIFICATE,
    )


def test_the_rules_of_the_policy_apply() -> None:
    no_rapid = ScreeningPolicy(
        enabled=True,
        certificate_required=True,
        dcc_certificates=(SIGNER,),
        health=dcc.HealthPolicy(rapid_test=False),
    )
    text = hc1(CertType.TEST, {"tt": dcc.RAPID, "tr": dcc.NOT_DETECTED, "sc": sample(timedelta(hours=2))})
    assert assess(ticket(), no_rapid, NOW, Entry("36.6", dcc=text)).details["certificate"] == (
        "dcc_test_type_not_accepted"
    )


def test_only_the_certificate_outcome_is_kept() -> None:
    text = hc1(CertType.VACCINATION, {**VACCINATION, "dt": day(30)})
    details = assess(ticket(), CERT_POLICY, NOW, Entry("36.6", dcc=text)).details
    assert "NGUYEN" not in repr(details) and "1990" not in repr(details) and text not in repr(details)


# ---- scripted entries ----------------------------------------------------------------------------------


def test_entry_from_json_reads_what_an_operator_script_holds() -> None:
    entry = Entry.from_json({"temperature": "37,2", "answers": {"symptoms": "không", "well": "yes"}})
    assert entry == Entry("37,2", {"symptoms": False, "well": True})
    assert Entry.from_json({"temperature": 36.5}).temperature == "36.5"


@pytest.mark.parametrize(
    "data",
    [[], {"temp": "37"}, {"temperature": True}, {"answers": ["yes"]}, {"answers": {"q": "maybe"}}, {"dcc": 5}],
)
def test_entry_from_json_refuses_what_it_cannot_read(data: object) -> None:
    from checkin.core.errors import InputError

    with pytest.raises(InputError):
        Entry.from_json(data)


# ---- whatever is typed -----------------------------------------------------------------------------------


@given(st.text(max_size=40))
def test_any_typed_text_is_a_plausible_reading_or_asked_again(typed: str) -> None:
    session = Session.start(ticket(), POLICY, NOW).temperature_typed(typed)
    if session.reading is None:
        assert session.step is Step.TEMPERATURE and session.problem
    else:
        assert 34 <= session.reading <= Decimal("42.5") and session.problem == ""


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
                    max_leaves=8))  # fmt: skip
def test_any_json_is_an_entry_or_an_input_error(data: object) -> None:
    from checkin.core.errors import InputError

    try:
        entry = Entry.from_json(data)
    except InputError:
        return
    assess(ticket(), POLICY, NOW, entry)  # whatever it holds, screening gives a result


def test_certificate_days_are_counted_on_the_event_calendar() -> None:
    """03:00 in Hanoi on 26 March is still 25 March in UTC: the 14th day is the event's day."""
    from checkin.core.trust import GatePolicy
    from scanner import gate
    from tests.support.gatekit import World

    early = datetime(2022, 3, 25, 20, 0, tzinfo=UTC)  # 03:00 on 26 March in Asia/Ho_Chi_Minh
    world = World(now=early, policy=GatePolicy(screening=CERT_POLICY))
    bundle = world.bundle()
    text = hc1(CertType.VACCINATION, {**VACCINATION, "dt": "2022-03-12"})
    state = gate.GateState()
    decision = gate.decide(world.issue(), bundle, state, early)
    screened = gate.screen(decision, bundle, state, early, Entry("36.6", FINE, dcc=text))
    assert (screened.reason, screened.screening) == (Reason.ADMITTED, "passed")
    utc_bundle = replace(bundle, event=replace(bundle.event, timezone="UTC"))
    in_utc = gate.screen(decision, utc_bundle, state, early, Entry("36.6", FINE, dcc=text))
    assert in_utc.screening_details is not None
    assert in_utc.screening_details["certificate"] == "dcc_vaccination_too_recent"
