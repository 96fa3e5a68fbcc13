"""scanner.gate: the stateful part of the decision: direction, anti-passback, entry limits, clock floor."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from checkin.core.errors import Reason, Verdict
from checkin.core.trust import Direction, GatePolicy
from scanner import gate
from scanner.gate import GateState, decide, decide_manual
from tests.support.gatekit import World, forged

TOLERANCE = timedelta(seconds=GatePolicy().clock_tolerance_seconds)


@pytest.fixture(scope="module")
def world() -> World:
    return World()


def passes(world: World, text: str, state: GateState, ways: list[Direction], policy: GatePolicy) -> list[Reason]:
    """Show one code at the gate in each direction in turn; the reasons, with the state carried on."""
    bundle = world.bundle(policy=policy)
    reasons = []
    for way in ways:
        state = replace(state, direction=way)
        decision = decide(text, bundle, state, world.now)
        state = state.after(decision, gate.to_ms(world.now))
        reasons.append(decision.reason)
    return reasons


IN, OUT = Direction.IN, Direction.OUT
A, INSIDE, LIMIT = Reason.ADMITTED, Reason.ALREADY_INSIDE, Reason.ENTRY_LIMIT_REACHED


@pytest.mark.parametrize(
    ("policy", "ways", "expected"),
    [
        pytest.param(GatePolicy(), [IN, IN], [A, INSIDE], id="passback-blocked"),
        pytest.param(GatePolicy(), [IN, OUT, IN, OUT, IN], [A, A, A, A, A], id="unlimited-with-exits"),
        pytest.param(GatePolicy(), [OUT, IN, IN], [A, A, INSIDE], id="exit-first-then-in"),
        pytest.param(GatePolicy(entries_per_credential=1), [IN, OUT, IN], [A, A, LIMIT], id="single-entry"),
        pytest.param(
            GatePolicy(entries_per_credential=2), [IN, OUT, IN, OUT, IN], [A, A, A, A, LIMIT], id="two-entries"
        ),
        pytest.param(GatePolicy(entries_per_credential=2), [IN, IN, OUT, IN], [A, INSIDE, A, A], id="denials-use-none"),
        pytest.param(GatePolicy(reentry_after_exit=False), [IN, IN, IN], [A, A, A], id="no-anti-passback"),
        pytest.param(
            GatePolicy(reentry_after_exit=False, entries_per_credential=2), [IN, IN, IN], [A, A, LIMIT], id="limit-only"
        ),
    ],
)
def test_direction_and_entry_policy(
    world: World, policy: GatePolicy, ways: list[Direction], expected: list[Reason]
) -> None:
    text = world.issue()
    assert passes(world, text, GateState(zone="hall"), ways, policy) == expected


def test_exit_is_not_barred_by_zone_or_limits(world: World) -> None:
    text = world.issue(zones=("press",))
    bundle = world.bundle(policy=GatePolicy(entries_per_credential=1))
    cti = world.credential().credential_id  # another person's count does not matter
    state = GateState(zone="vip", direction=OUT, entries={cti: 5})
    decision = decide(text, bundle, state, world.now)
    assert (decision.verdict, decision.reason, decision.detail) == (Verdict.ADMIT, Reason.ADMITTED, "exit")


def test_exit_still_verifies_the_code(world: World) -> None:
    decision = decide(forged(world.issue()), world.bundle(), GateState(direction=OUT), world.now)
    assert decision.reason is Reason.BAD_SIGNATURE


def test_after_counts_only_admitted_entries(world: World) -> None:
    text = world.issue()
    bundle = world.bundle()
    state = GateState(zone="hall")
    admitted = decide(text, bundle, state, world.now)
    inside = state.after(admitted, 1000)
    cti = admitted.credential.credential_id if admitted.credential else b""
    assert inside.inside == {cti} and inside.entries_of(cti) == 1 and inside.time_floor_ms == 1000
    denied = decide(text, bundle, inside, world.now)
    again = inside.after(denied, 500)
    assert again.entries_of(cti) == 1 and again.time_floor_ms == 1000  # the floor never goes down
    left = replace(again, direction=OUT).after(decide(text, bundle, replace(again, direction=OUT), world.now))
    assert left.inside == frozenset() and left.entries_of(cti) == 1


def test_rebuild_matches_step_by_step(world: World) -> None:
    a, b = world.credential("A").credential_id, world.credential("B").credential_id
    passages = [(a, IN), (b, IN), (a, OUT), (a, IN), (b, OUT)]
    state = gate.rebuild(passages, zone="hall", direction=IN, time_floor_ms=7)
    assert state.inside == {a}
    assert dict(state.entries) == {a: 2, b: 1}
    assert (state.zone, state.direction, state.time_floor_ms) == ("hall", IN, 7)


# ---- the clock floor ------------------------------------------------------------------------------------


def floor_at(world: World, ahead: timedelta) -> GateState:
    return GateState(zone="hall", time_floor_ms=gate.to_ms(world.now + ahead))


def test_clock_below_the_floor_refers_and_admits_no_one(world: World) -> None:
    text = world.issue()
    decision = decide(text, world.bundle(), floor_at(world, TOLERANCE + timedelta(seconds=1)), world.now)
    assert decision.verdict is Verdict.REFER
    assert decision.reason is Reason.CLOCK_SUSPECT
    assert decision.credential is not None  # the journal still names whose code it was
    assert "below the last known time" in decision.detail


def test_clock_within_tolerance_of_the_floor_is_fine(world: World) -> None:
    decision = decide(world.issue(), world.bundle(), floor_at(world, TOLERANCE), world.now)
    assert decision.reason is Reason.ADMITTED


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        pytest.param(lambda w: forged(w.issue()), Reason.BAD_SIGNATURE, id="forged-stays-forged"),
        pytest.param(lambda w: "HC1:XYZ", Reason.UNSUPPORTED_FORMAT, id="dcc"),
        pytest.param(lambda w: w.issue(expires_at=w.now - timedelta(hours=1)), Reason.CLOCK_SUSPECT, id="expired"),
        pytest.param(
            lambda w: w.issue(not_before=w.now + timedelta(hours=1)), Reason.CLOCK_SUSPECT, id="not-yet-valid"
        ),
    ],
)
def test_under_a_suspect_clock_only_time_checks_defer(world: World, make: object, reason: Reason) -> None:
    text = make(world)  # type: ignore[operator]
    decision = decide(text, world.bundle(), floor_at(world, timedelta(hours=2)), world.now)
    assert decision.reason is reason
    assert decision.verdict is not Verdict.ADMIT


def test_acknowledged_clock_restarts_the_floor(world: World) -> None:
    state = floor_at(world, timedelta(hours=2)).acknowledged(gate.to_ms(world.now))
    assert decide(world.issue(), world.bundle(), state, world.now).reason is Reason.ADMITTED


def test_no_floor_means_no_alarm(world: World) -> None:
    assert not gate.clock_suspect(world.bundle(), GateState(), world.now)


# ---- other steps --------------------------------------------------------------------------------------------


def test_hc1_is_unsupported_format(world: World) -> None:
    decision = decide("HC1:NCFOXN%TS3DH0YOJ58S", world.bundle(), GateState(), world.now)
    assert (decision.verdict, decision.reason) == (Verdict.DENY, Reason.UNSUPPORTED_FORMAT)


def test_screening_required_refers(world: World) -> None:
    bundle = world.bundle(policy=GatePolicy(screening={"require_declaration": True}))
    decision = decide(world.issue(), bundle, GateState(zone="hall"), world.now)
    assert (decision.verdict, decision.reason, decision.screening) == (
        Verdict.REFER,
        Reason.SCREENING_REQUIRED,
        "declaration_missing",
    )
    declared = world.issue(health={1: True})
    decision = decide(declared, bundle, GateState(zone="hall"), world.now)
    assert (decision.reason, decision.screening) == (Reason.ADMITTED, "declared")


def test_zone_is_checked_before_passback(world: World) -> None:
    text = world.issue(zones=("vip",))
    cred = world.credential(zones=("vip",))
    state = GateState(zone="hall", inside=frozenset({cred.credential_id}))
    assert decide(text, world.bundle(), state, world.now).reason is Reason.ZONE_NOT_ALLOWED


# ---- manual lookups and staff actions ------------------------------------------------------------------


def test_manual_with_a_seen_credential_applies_the_policy(world: World) -> None:
    cred = world.credential()
    bundle = world.bundle()
    first = decide_manual(cred.credential_id, bundle, GateState(zone="hall"), world.now, cred)
    assert first.reason is Reason.ADMITTED and first.credential == cred
    inside = GateState(zone="hall").after(first)
    assert decide_manual(cred.credential_id, bundle, inside, world.now, cred).reason is Reason.ALREADY_INSIDE
    assert decide_manual(cred.credential_id, bundle, GateState(zone="press"), world.now, cred).reason is (
        Reason.ZONE_NOT_ALLOWED
    )
    late = world.now + timedelta(days=1)
    assert decide_manual(
        cred.credential_id, world.bundle(expires_at=late + timedelta(days=1)), GateState(), late, cred
    ).reason is (Reason.EXPIRED)


def test_manual_revoked_and_by_bundle_name(world: World) -> None:
    cti = bytes(range(16))
    revoked = world.bundle(revoked=frozenset({cti}))
    assert decide_manual(cti, revoked, GateState(), world.now, None).reason is Reason.REVOKED
    named = world.bundle(names={cti: "Trần Văn Bình"})
    decision = decide_manual(cti, named, GateState(zone="hall"), world.now, None)
    assert decision.reason is Reason.ADMITTED
    assert decision.credential is not None and decision.credential.name == "Trần Văn Bình"
    suspect = decide_manual(
        cti, named, GateState(time_floor_ms=gate.to_ms(world.now + timedelta(hours=1))), world.now, None
    )
    assert suspect.reason is Reason.CLOCK_SUSPECT


def test_staff_decisions() -> None:
    refused = gate.refused_by_staff(None)
    assert (refused.verdict, refused.reason) == (Verdict.DENY, Reason.REFUSED_BY_STAFF)
    ack = gate.clock_acknowledged()
    assert (ack.verdict, ack.reason) == (Verdict.REFER, Reason.CLOCK_ACKNOWLEDGED)
    assert ack.message("vi") and ack.message("en") != ack.message("vi")
