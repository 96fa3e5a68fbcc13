"""Health screening at the gate (issue 11), after a ticket verified. Pure: no I/O, `now` is a parameter.

A `Session` is a small state machine the gate window drives key by key and the headless runner
drives from a scripted line (`assess`): start it for a verified credential, then feed what the
operator types until `step` is DONE, then take its `result`:

1. TEMPERATURE: the reading as typed ("37,2", "37.2", "37.2°C"). Text that is not a reading, or a
   reading outside the policy's plausible range, is refused as a typo (`problem` says what to do,
   the step stays): a thermometer does not read 24.0 or 73.2 on a living guest, a finger does.
   A reading at or above the limit refers at once.
2. QUESTION (one per declaration question, only when the ticket carries no fresh declaration):
   yes or no; the first answer that refers ends the session.
3. CERTIFICATE (only when the event requires an EU DCC): the `HC1:` text, checked offline against
   the bundle's trust list and the event's health rules; only its outcome is kept.

A fresh declaration that did not pass refers before anything is asked. The result is admit (no
reason), or refer with `screening_failed` (send to the medical desk) or `screening_required`
(screening not finished); `advice` is the catalogue msgid of what the operator does next. The
details (reading, answers, which declaration or certificate outcome was used) are what the journal
keeps beside the row under a salted hash and purges after the retention period.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from checkin.core import dcc
from checkin.core.credential import Credential, Declaration, declaration_of
from checkin.core.errors import N_, InputError, Reason
from checkin.core.trust import Question, ScreeningPolicy


class Step(StrEnum):
    """What the session waits for next."""

    TEMPERATURE = "temperature"
    QUESTION = "question"
    CERTIFICATE = "certificate"
    DONE = "done"


class Outcome(StrEnum):
    """What screening found: the word the chained journal row keeps (never the reading itself)."""

    PASSED = "passed"
    FEVER = "fever"
    DECLARED_UNWELL = "declared_unwell"  # the ticket's fresh declaration did not pass
    ANSWER_REFERS = "answer_refers"  # a question answered at the gate refers
    CERTIFICATE_FAILED = "certificate_failed"
    CERTIFICATE_MISSING = "certificate_missing"
    INCOMPLETE = "incomplete"  # the operator did not finish: no reading, an answer or the certificate missing


# What the operator does next (catalogue msgids, worded where shown).
ADVICE_MEDICAL = N_("Send the guest to the medical desk, then scan the ticket again")
ADVICE_FINISH = N_("Finish the screening (temperature, questions), then scan the ticket again")
ADVICE_CERTIFICATE = N_("Ask for an EU health certificate, or send the guest to the medical desk")
PROBLEM_NOT_A_READING = N_("Type the temperature as digits, like 36.8")
PROBLEM_IMPLAUSIBLE = N_("%(reading)s °C is not a plausible reading: measure and type it again")
PROMPTS = {
    Step.TEMPERATURE: N_("Type the guest's temperature, then Enter"),
    Step.QUESTION: N_("Ask the question: Y for yes, N for no"),
    Step.CERTIFICATE: N_("Scan the guest's EU health certificate"),
    Step.DONE: "",
}

# ASCII digits only: what a keyboard or a thermometer that types like one sends
_READING = re.compile(r"\s*([0-9]{1,3})(?:[.,]([0-9]{1,2}))?\s*(?:°\s*C?|C)?\s*", re.IGNORECASE)
_REFERS = {
    Outcome.FEVER,
    Outcome.DECLARED_UNWELL,
    Outcome.ANSWER_REFERS,
    Outcome.CERTIFICATE_FAILED,
}


def parse_reading(text: str) -> Decimal | None:
    """A typed temperature as a Decimal (comma or point, optional °C), or None when it is not one."""
    found = _READING.fullmatch(text)
    if found is None:
        return None
    whole, tenths = found.groups()
    return Decimal(f"{whole}.{tenths or '0'}")


def fresh_declaration(
    credential: Credential, policy: ScreeningPolicy, now: datetime, tolerance: timedelta = timedelta(0)
) -> Declaration | None:
    """The ticket's declaration if it is still valid at `now` (not older than the policy allows)."""
    found = declaration_of(credential)
    if found is None:
        return None
    age = now - found.declared_at
    if age < -tolerance or age > timedelta(seconds=policy.declaration_valid_seconds):
        return None
    return found


@dataclass(frozen=True)
class Result:
    """A finished (or abandoned) screening: admit when `reason` is None, else refer with advice."""

    outcome: Outcome
    reason: Reason | None
    advice: str
    details: Mapping[str, Any]

    @property
    def admitted(self) -> bool:
        """True when the guest may pass."""
        return self.reason is None


@dataclass(frozen=True)
class Session:
    """One guest's screening in progress. Every input returns a new session; nothing is changed."""

    policy: ScreeningPolicy
    now: datetime
    declaration: Declaration | None  # a fresh one from the ticket, else None (the questions are asked)
    reading: Decimal | None = None
    answers: tuple[tuple[str, bool], ...] = ()
    certificate: dcc.DccReason | None = None
    problem: str = ""  # msgid of why the last input was refused (a typo): shown, then typed again
    problem_params: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def start(
        cls, credential: Credential, policy: ScreeningPolicy, now: datetime, tolerance: timedelta = timedelta(0)
    ) -> Session:
        """A session for a verified credential at `now` (in the event's time zone: certificates count days)."""
        return cls(policy, now, fresh_declaration(credential, policy, now, tolerance))

    # ---- where it stands ----------------------------------------------------------------------

    def _early(self) -> Outcome | None:
        """An outcome already settled by what was given (a referral), or None."""
        if self.declaration is not None and not self.declaration.passed:
            return Outcome.DECLARED_UNWELL
        if self.reading is not None and self.reading >= Decimal(str(self.policy.temperature_limit)):
            return Outcome.FEVER
        if not self.policy.declaration_passes(self.answers):
            return Outcome.ANSWER_REFERS
        return None

    @property
    def asking_questions(self) -> bool:
        """True when the declaration questions are asked at the gate (no fresh one on the ticket)."""
        return self.declaration is None

    @property
    def step(self) -> Step:
        """What the operator is asked for next."""
        if self._early() is not None:
            return Step.DONE
        if self.reading is None:
            return Step.TEMPERATURE
        if self.asking_questions and len(self.answers) < len(self.policy.questions):
            return Step.QUESTION
        if self.policy.certificate_required and self.certificate is None:
            return Step.CERTIFICATE
        return Step.DONE

    @property
    def question(self) -> Question | None:
        """The question to ask now (step QUESTION), else None."""
        return self.policy.questions[len(self.answers)] if self.step is Step.QUESTION else None

    def prompt(self) -> str:
        """The msgid of the prompt for the current step ("" when done)."""
        return PROMPTS[self.step]

    # ---- inputs --------------------------------------------------------------------------------

    def temperature_typed(self, text: str) -> Session:
        """The reading as typed; a typo (not a number, or outside the plausible range) is asked again."""
        if self.step is not Step.TEMPERATURE:
            return self
        reading = parse_reading(text)
        if reading is None:
            return replace(self, problem=PROBLEM_NOT_A_READING, problem_params={})
        low, high = Decimal(str(self.policy.temperature_min)), Decimal(str(self.policy.temperature_max))
        if not low <= reading <= high:
            return replace(self, problem=PROBLEM_IMPLAUSIBLE, problem_params={"reading": str(reading)})
        return replace(self, reading=reading, problem="", problem_params={})

    def answered(self, yes: bool) -> Session:
        """The guest's answer to the current question."""
        question = self.question
        if question is None:
            return self
        return replace(self, answers=(*self.answers, (question.id, yes)), problem="", problem_params={})

    def all_clear(self) -> Session:
        """The guest read every question still to ask (the screen lists them) and none applies: each
        gets the answer that does not refer. One key for the usual guest, where asking each aloud
        costs seconds a queue feels."""
        if self.step is not Step.QUESTION:
            return self
        remaining = self.policy.questions[len(self.answers) :]
        clear = tuple((q.id, not q.refer_if_yes) for q in remaining)
        return replace(self, answers=(*self.answers, *clear), problem="", problem_params={})

    def certificate_shown(self, text: str) -> Session:
        """An `HC1:` text scanned from the guest's certificate: checked now; only its outcome is kept.

        Taken when the event requires one, or offered once everything else passed (then recorded,
        not deciding); after a referral it changes nothing.
        """
        offered = self.step is Step.DONE and self._early() is None
        if self.step is not Step.CERTIFICATE and not offered:
            return self
        outcome = dcc.check(text, self.policy.trust_list, self.policy.health, self.now)
        return replace(self, certificate=outcome, problem="", problem_params={})

    # ---- the end -------------------------------------------------------------------------------

    def details(self) -> dict[str, Any]:
        """What the journal keeps beside the row until the retention purge: no name, no certificate content."""
        return {
            "temperature": None if self.reading is None else str(self.reading),
            "declaration": "ticket" if self.declaration is not None else ("gate" if self.answers else "none"),
            "declared_at": None if self.declaration is None else int(self.declaration.declared_at.timestamp()),
            "answers": dict(self.answers),
            "certificate": None if self.certificate is None else self.certificate.value,
        }

    def result(self) -> Result:
        """The verdict of the screening as it stands: admit, or refer with the reason and advice."""
        outcome = self._early()
        if outcome is None and self.step is Step.DONE:
            accepted = self.certificate in (None, dcc.DccReason.ACCEPTED)
            outcome = Outcome.PASSED if accepted or not self.policy.certificate_required else Outcome.CERTIFICATE_FAILED
        elif outcome is None:
            outcome = Outcome.CERTIFICATE_MISSING if self.step is Step.CERTIFICATE else Outcome.INCOMPLETE
        if outcome is Outcome.PASSED:
            return Result(outcome, None, "", self.details())
        if outcome in _REFERS:
            return Result(outcome, Reason.SCREENING_FAILED, ADVICE_MEDICAL, self.details())
        advice = ADVICE_CERTIFICATE if outcome is Outcome.CERTIFICATE_MISSING else ADVICE_FINISH
        return Result(outcome, Reason.SCREENING_REQUIRED, advice, self.details())


@dataclass(frozen=True)
class Entry:
    """What an operator gave for one guest, as a scripted line carries it (headless runs, tests, bench)."""

    temperature: str | None = None
    answers: Mapping[str, bool] = field(default_factory=dict)
    dcc: str | None = None

    @classmethod
    def from_json(cls, data: Any, where: str = "screening input") -> Entry:
        """An entry from a JSON object: {"temperature": "37,2", "answers": {"cough": "no"}, "dcc": "HC1:..."}."""
        if not isinstance(data, Mapping):
            raise InputError(f"{where} is not a JSON object")
        unknown = set(data) - {"temperature", "answers", "dcc"}
        if unknown:
            raise InputError(f"{where} has unknown fields {sorted(unknown)}")
        temperature = data.get("temperature")
        if isinstance(temperature, int | float) and not isinstance(temperature, bool):
            temperature = str(temperature)
        if temperature is not None and not isinstance(temperature, str):
            raise InputError(f'{where}.temperature must be text such as "37,2"')
        answers = data.get("answers", {})
        if not isinstance(answers, Mapping):
            raise InputError(f"{where}.answers must map question ids to yes or no")
        parsed: dict[str, bool] = {}
        for qid, value in answers.items():
            if isinstance(value, bool):
                parsed[str(qid)] = value
            elif isinstance(value, str) and value.strip().lower() in _YES_NO:
                parsed[str(qid)] = _YES_NO[value.strip().lower()]
            else:
                raise InputError(f"{where}.answers.{qid} must be yes or no")
        certificate = data.get("dcc")
        if certificate is not None and not isinstance(certificate, str):
            raise InputError(f"{where}.dcc must be the HC1: text")
        return cls(temperature, parsed, certificate)


_YES_NO = {"yes": True, "y": True, "có": True, "co": True, "no": False, "n": False, "không": False, "khong": False}


def assess(
    credential: Credential,
    policy: ScreeningPolicy,
    now: datetime,
    entry: Entry | None,
    tolerance: timedelta = timedelta(0),
) -> Result:
    """Screen one guest from a scripted entry (None: nothing was given, so screening is required)."""
    session = Session.start(credential, policy, now, tolerance)
    if entry is not None:
        session = drive(session, entry)
    return session.result()


def drive(session: Session, entry: Entry) -> Session:
    """Feed an entry to a session the way an operator would, step by step, until it stops moving."""
    if session.step is Step.TEMPERATURE and entry.temperature is not None:
        session = session.temperature_typed(entry.temperature)
    while session.step is Step.QUESTION:
        question = session.question
        if question is None or question.id not in entry.answers:
            break
        session = session.answered(entry.answers[question.id])
    if entry.dcc is not None and session.step in (Step.CERTIFICATE, Step.DONE) and session.certificate is None:
        session = session.certificate_shown(entry.dcc)
    return session
