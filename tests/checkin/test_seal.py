"""Forward-secure seals over real chained journal rows: what a thief holding the current key can
and cannot do, and what a verifier with the seed finds."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from checkin.core import chain, seal
from checkin.core.chain import ProblemKind
from checkin.core.errors import InputError
from checkin.core.seal import SealKey, SealProblem

SEED = bytes(range(32))


def journal(count: int, seed: bytes = SEED) -> tuple[list[tuple[int, str, str]], SealKey, list[chain.JournalRow]]:
    """`count` chained rows sealed as the gate seals them; the (seq, hash, seal) triples and the key left."""
    rows: list[chain.JournalRow] = []
    sealed: list[tuple[int, str, str]] = []
    key = SealKey.first(seed)
    prev = None
    for i in range(count):
        verdict = "deny" if i % 3 == 0 else "admit"
        row = chain.append(
            prev, wall_ms=1_000 + i, mono_ms=i, cti=f"{i:032x}", kid="ab" * 8, verdict=verdict,
            reason="revoked" if verdict == "deny" else "admitted", direction="in", zone="hall",
        )
        tag, key = key.seal(row.hash)
        rows.append(row)
        sealed.append((row.seq, row.hash, tag))
        prev = row
    return sealed, key, rows


def test_an_honest_journal_verifies_and_the_key_ends_after_the_last_row() -> None:
    sealed, gate_key, _ = journal(500)
    problems, verifier_key = seal.verify(sealed, SealKey.first(SEED))
    assert problems == []
    assert verifier_key == gate_key
    assert seal.coverage(500, gate_key.seq) is None


def test_verification_is_incremental() -> None:
    sealed, _, _ = journal(50)
    first, key = seal.verify(sealed[:20], SealKey.first(SEED))
    rest, _ = seal.verify(sealed[20:], key)
    assert first == rest == []


def test_a_rewritten_and_rechained_row_is_found_even_with_the_current_key() -> None:
    """The thief turns a deny into an admit, re-chains every later row, and re-seals what they can."""
    sealed, thief_key, rows = journal(30)
    forged: list[chain.JournalRow] = rows[:9]
    changed = dataclasses.replace(rows[9], verdict="admit", reason="admitted")
    prev = forged[-1]
    for row in [changed, *rows[10:]]:
        content = {k: v for k, v in row.content().items() if k != "seq"}
        prev = chain.append(prev, **content)
        forged.append(prev)
    assert chain.check(forged) == []  # the unkeyed chain alone is fooled
    # the thief only has the key for row 31 onwards: old seals stay as they were
    resealed = [(r.seq, r.hash, s) for r, (_, _, s) in zip(forged, sealed, strict=True)]
    problems, _ = seal.verify(resealed, SealKey.first(SEED))
    assert [p.seq for p in problems] == list(range(10, 31))
    assert {p.kind for p in problems} == {ProblemKind.BAD_SEAL}
    with pytest.raises(InputError):
        thief_key.advance_to(10)


def test_a_deleted_row_is_reported_and_checking_goes_on() -> None:
    sealed, _, _ = journal(10)
    tampered = sealed[:4] + sealed[5:]
    tampered[6] = (tampered[6][0], tampered[6][1], "00" * 32)
    problems, _ = seal.verify(tampered, SealKey.first(SEED))
    assert problems == [
        SealProblem(6, ProblemKind.OUT_OF_ORDER),
        SealProblem(8, ProblemKind.BAD_SEAL),
    ]


def test_a_truncated_tail_is_found_from_the_key_position_alone() -> None:
    sealed, gate_key, _ = journal(10)
    kept = sealed[:7]
    assert seal.verify(kept, SealKey.first(SEED))[0] == []  # the rows left are genuine
    assert seal.coverage(kept[-1][0], gate_key.seq) == SealProblem(8, ProblemKind.TRUNCATED)


def test_an_unsealed_row_is_missing_a_seal() -> None:
    sealed, _, _ = journal(3)
    sealed[1] = (2, sealed[1][1], "")
    assert seal.verify(sealed, SealKey.first(SEED))[0] == [SealProblem(2, ProblemKind.MISSING_SEAL)]
    assert seal.coverage(5, 4) == SealProblem(4, ProblemKind.MISSING_SEAL)


def test_another_seed_verifies_nothing() -> None:
    sealed, _, _ = journal(5)
    problems, _ = seal.verify(sealed, SealKey.first(bytes(32)))
    assert [p.kind for p in problems] == [ProblemKind.BAD_SEAL] * 5


def test_seal_is_bound_to_its_seq() -> None:
    """A genuine seal moved to another position does not verify there."""
    key = SealKey.first(SEED)
    assert seal.tag(key.key, 1, "aa" * 32) != seal.tag(key.key, 2, "aa" * 32)


def test_seeds_are_checked_for_size() -> None:
    with pytest.raises(InputError):
        SealKey.first(b"short")
    assert len(seal.new_seed()) == seal.SEED_BYTES
    assert seal.new_seed() != seal.new_seed()


@given(st.binary(min_size=32, max_size=32))
def test_verification_key_round_trips(seed: bytes) -> None:
    text = seal.verification_key(seed)
    assert len(text.split("-")) == 7
    assert seal.parse_verification_key(text) == seed
    assert seal.parse_verification_key(text.lower().replace("-", " ")) == seed


def test_a_typo_in_the_verification_key_is_caught() -> None:
    text = seal.verification_key(SEED)
    typo = ("B" if text[0] != "B" else "C") + text[1:]
    with pytest.raises(InputError, match="typo"):
        seal.parse_verification_key(typo)
    with pytest.raises(InputError, match="56"):
        seal.parse_verification_key(text[:-1])
    with pytest.raises(InputError, match="A-Z"):
        seal.parse_verification_key("1" + text[1:])
