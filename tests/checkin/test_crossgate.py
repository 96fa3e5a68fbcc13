"""The cross-gate audit over one credential's rows (services.crossgate): a table of timelines and
what each must give, then the properties the incremental analysis leans on (upload order and later
batches never change a finding's identity)."""

from __future__ import annotations

import itertools
from dataclasses import replace
from typing import Any

import pytest

from checkin.core.errors import Reason
from checkin.services.crossgate import AuditPolicy, BundleHistory, BundlePull, ScanRow, analyse
from checkin.services.findings import Finding, RowRef, Severity

EVENT = "cds2022"
CTI = "0f" * 16
OTHER = "a1" * 16
T0 = 1_648_256_400_000  # 2022-03-26 01:00 UTC
MIN = 60_000


def row(device: str, seq: int, minute: float, **fields: Any) -> ScanRow:
    """A row of gate `device` `minute` minutes after T0: an admission of CTI into the hall unless told."""
    values: dict[str, Any] = {
        "cti": CTI,
        "kid": "1a2b3c4d5e6f7081",
        "verdict": "admit",
        "reason": "admitted",
        "direction": "in",
        "zone": "hall",
        "operator": "Nguyễn Văn Bảo",
    }
    values.update(fields)
    return ScanRow(device, seq, T0 + int(minute * MIN), **values)


def out(device: str, seq: int, minute: float, **fields: Any) -> ScanRow:
    return row(device, seq, minute, direction="out", **fields)


def denied(device: str, seq: int, minute: float, reason: str, cti: str = "", kid: str = "ffee") -> ScanRow:
    return row(device, seq, minute, verdict="deny", reason=reason, cti=cti, kid=kid)


def kinds(findings: list[Finding]) -> list[tuple[str, tuple[str, ...]]]:
    return sorted((f.kind.value, tuple(str(r) for r in f.rows)) for f in findings)


LIMIT_2 = AuditPolicy(entries_per_credential=2)
NO_PASSBACK = AuditPolicy(reentry_after_exit=False)

CASES: list[tuple[str, list[ScanRow], AuditPolicy, list[tuple[str, tuple[str, ...]]]]] = [
    ("one admission", [row("A", 1, 0)], AuditPolicy(), []),
    (
        "two gates, no exit: the offline double entry",
        [row("A", 1, 0), row("B", 1, 10)],
        AuditPolicy(),
        [("double_entry", ("A#1", "B#1"))],
    ),
    ("same gate twice, no exit", [row("A", 1, 0), row("A", 2, 5)], AuditPolicy(), [("double_entry", ("A#1", "A#2"))]),
    ("admission, exit, admission", [row("A", 1, 0), out("X", 1, 30), row("B", 1, 60)], AuditPolicy(), []),
    (
        "three admissions: one finding per extra one, naming the one before",
        [row("A", 1, 0), row("B", 1, 10), row("C", 1, 20)],
        AuditPolicy(),
        [("double_entry", ("A#1", "B#1")), ("double_entry", ("B#1", "C#1"))],
    ),
    (
        "the exit was denied: it does not count",
        [row("A", 1, 0), out("X", 1, 5, verdict="deny", reason="bundle_stale"), row("B", 1, 10)],
        AuditPolicy(),
        [("double_entry", ("A#1", "B#1"))],
    ),
    ("hall then vip: two zones, both inside", [row("A", 1, 0), row("V", 1, 10, zone="vip")], AuditPolicy(), []),
    (
        "an exit from the vip room does not leave the hall",
        [row("A", 1, 0), out("V", 1, 5, zone="vip"), row("B", 1, 10)],
        AuditPolicy(),
        [("double_entry", ("A#1", "B#1"))],
    ),
    (
        "an exit at a gate with no zone leaves every zone",
        [row("A", 1, 0), out("X", 1, 5, zone=""), row("B", 1, 10)],
        AuditPolicy(),
        [],
    ),
    (
        "denied tries are not entries",
        [row("A", 1, 0), row("B", 1, 10, verdict="deny", reason="already_inside")],
        AuditPolicy(),
        [],
    ),
    ("other credentials are apart", [row("A", 1, 0), row("B", 1, 10, cti=OTHER)], AuditPolicy(), []),
    ("re-entry without exit allowed by the policy", [row("A", 1, 0), row("B", 1, 10)], NO_PASSBACK, []),
    (
        "a third entry over a limit of two",
        [row("A", 1, 0), out("X", 1, 5), row("A", 2, 10), out("X", 2, 15), row("B", 1, 20)],
        LIMIT_2,
        [("entry_limit_exceeded", ("A#1", "A#2", "B#1"))],
    ),
    (
        "over the limit and a double entry at once",
        [row("A", 1, 0), row("B", 1, 10)],
        AuditPolicy(entries_per_credential=1),
        [("double_entry", ("A#1", "B#1")), ("entry_limit_exceeded", ("A#1", "B#1"))],
    ),
    (
        "a forged code tried three times at one gate",
        [denied("A", n, n, "bad_signature") for n in (1, 2, 3)],
        AuditPolicy(),
        [("repeated_forgery", ("A#1", "A#2", "A#3"))],
    ),
    ("twice is below the threshold", [denied("A", n, n, "bad_signature") for n in (1, 2)], AuditPolicy(), []),
    (
        "forged codes with other key ids are other codes",
        [denied("A", n, n, "unknown_key", kid=f"0{n}") for n in (1, 2, 3)],
        AuditPolicy(),
        [],
    ),
    (
        "garbled reads are not forgeries",
        [denied("A", n, n, "malformed", kid="") for n in (1, 2, 3, 4)],
        AuditPolicy(),
        [],
    ),
    (
        "a revoked code tried at three gates",
        [denied(g, 1, n, "revoked", cti=CTI) for n, g in enumerate("ABC")],
        AuditPolicy(),
        [("repeated_revoked", ("A#1", "B#1", "C#1"))],
    ),
    (
        "a manual look-up",
        [row("A", 1, 0, operator="manual:Trần Thị Hoa")],
        AuditPolicy(),
        [("manual_entry", ("A#1",))],
    ),
    (
        "a supervisor lifts the clock alarm",
        [row("A", 7, 0, cti="", kid="", verdict="refer", reason="clock_acknowledged", direction="in")],
        AuditPolicy(),
        [("supervisor_override", ("A#7",))],
    ),
]


@pytest.mark.parametrize(("rows", "policy", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_timelines(rows: list[ScanRow], policy: AuditPolicy, expected: list[tuple[str, tuple[str, ...]]]) -> None:
    assert kinds(analyse(EVENT, rows, {}, BundleHistory(), policy)) == sorted(expected)


def test_severities_follow_what_happened() -> None:
    forged = [denied("C", n, n, "bad_signature") for n in (1, 2, 3)]
    rows = [row("A", 1, 0), row("B", 1, 10, operator="manual"), *forged]
    found = {f.kind: f.severity for f in analyse(EVENT, rows, {}, BundleHistory())}
    assert found == {
        Reason.DOUBLE_ENTRY: Severity.HIGH,
        Reason.MANUAL_ENTRY: Severity.LOW,
        Reason.REPEATED_FORGERY: Severity.MEDIUM,
    }


def test_any_upload_order_gives_the_same_findings() -> None:
    rows = [row("A", 1, 0), row("B", 1, 10), out("X", 1, 20), row("C", 1, 30), row("A", 2, 40)]
    expected = {f.fingerprint for f in analyse(EVENT, rows, {}, BundleHistory())}
    assert len(expected) == 2
    for order in itertools.permutations(rows):
        assert {f.fingerprint for f in analyse(EVENT, list(order), {}, BundleHistory())} == expected


def test_rows_given_twice_count_once() -> None:
    rows = [denied("A", n, n, "bad_signature") for n in (1, 2)]
    assert analyse(EVENT, rows + rows, {}, BundleHistory()) == []


def test_a_later_try_keeps_the_repeated_finding_identity_and_adds_its_row() -> None:
    tries = [denied("A", n, n, "bad_signature") for n in range(1, 6)]
    (three,) = analyse(EVENT, tries[:3], {}, BundleHistory())
    (five,) = analyse(EVENT, tries, {}, BundleHistory())
    assert five.fingerprint == three.fingerprint
    assert [str(r) for r in five.rows] == ["A#1", "A#2", "A#3", "A#4", "A#5"]
    assert five.params["tries"] == 5 and five.device_id == "A"


def test_the_same_forged_code_at_two_gates_is_two_findings() -> None:
    tries = [denied(g, n, n, "bad_signature") for g in "AB" for n in (1, 2, 3)]
    found = analyse(EVENT, tries, {}, BundleHistory())
    assert sorted(f.device_id or "" for f in found) == ["A", "B"]
    assert len({f.fingerprint for f in found}) == 2


def test_an_earlier_entry_uploaded_later_leaves_the_over_limit_finding_as_it_was() -> None:
    policy = AuditPolicy(entries_per_credential=1, reentry_after_exit=False)
    first = analyse(EVENT, [row("A", 1, 10), row("A", 2, 20)], {}, BundleHistory(), policy)
    assert kinds(first) == [("entry_limit_exceeded", ("A#1", "A#2"))]
    later = analyse(EVENT, [row("B", 1, 0), row("A", 1, 10), row("A", 2, 20)], {}, BundleHistory(), policy)
    assert first[0].fingerprint in {f.fingerprint for f in later}  # A#2 is still over, the same alert
    assert len(later) == 2


PULLS = BundleHistory(
    pulls=(
        BundlePull("A", 3, T0 - 60 * MIN, T0 - 50 * MIN),  # gate A got v3 before the revocation, then went offline
        BundlePull("B", 3, T0 - 60 * MIN, T0 - 55 * MIN),
        BundlePull("B", 4, T0 + 5 * MIN, T0 + 6 * MIN),  # v4, signed after the revocation, carries it
    ),
    current_version=4,
    current_signed_ms=T0 + 5 * MIN,
)


def test_a_revoked_code_admitted_on_a_stale_bundle_names_both_versions() -> None:
    revoked = {CTI: T0 + 2 * MIN}
    rows = [row("A", 1, 0), out("A", 2, 1), row("A", 3, 10)]
    (found,) = analyse(EVENT, rows, revoked, PULLS)
    assert (found.kind, found.severity, found.rows) == (Reason.REVOKED_ADMITTED, Severity.HIGH, (RowRef("A", 3),))
    assert (found.params["carried_version"], found.params["held_version"]) == (4, 3)
    assert "bundle v4" in found.detail and "held bundle v3" in found.detail


def test_a_gate_that_held_the_revocation_and_admitted_is_critical() -> None:
    (found,) = analyse(EVENT, [row("B", 1, 10)], {CTI: T0 + 2 * MIN}, PULLS)
    assert found.severity is Severity.CRITICAL and found.params["held_version"] == 4


def test_admissions_before_the_revocation_and_exits_after_it_are_fine() -> None:
    rows = [row("A", 1, 0), out("X", 1, 20)]
    assert analyse(EVENT, rows, {CTI: T0 + 10 * MIN}, PULLS) == []


def test_a_revocation_no_bundle_carries_yet_and_a_gate_enrolled_by_usb() -> None:
    history = BundleHistory(pulls=(), current_version=2, current_signed_ms=T0 - 60 * MIN)
    (found,) = analyse(EVENT, [row("U", 1, 10)], {CTI: T0}, history)
    assert found.params == {"cti": CTI, "carried_version": 0, "held_version": 0}
    assert "no bundle yet" in found.detail and "USB" in found.detail


def test_the_explicit_key_leaves_the_row_fingerprint_as_it_was() -> None:
    plain = Finding(Reason.DOUBLE_ENTRY, Severity.HIGH, EVENT, "x", (RowRef("B", 1), RowRef("A", 1)))
    assert plain.fingerprint == replace(plain, rows=(RowRef("A", 1), RowRef("B", 1))).fingerprint
    keyed = replace(plain, key="k")
    assert keyed.fingerprint != plain.fingerprint
    assert keyed.fingerprint == replace(keyed, rows=(RowRef("C", 9),)).fingerprint
