"""The journal's hash chain and checkpoints: the contract the gate and the service share."""

from __future__ import annotations

import hashlib
from dataclasses import fields, replace

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from checkin.core import chain, cose
from checkin.core.errors import InputError

CONTENT = {
    "wall_ms": 1_648_258_200_000,
    "mono_ms": 5_000,
    "cti": "0f" * 16,
    "kid": "1a2b3c4d5e6f7081",
    "verdict": "admit",
    "reason": "admitted",
    "direction": "in",
    "zone": "hall",
    "operator": "Nguyễn Văn Bảo",
}


def rows(count: int) -> list[chain.JournalRow]:
    out: list[chain.JournalRow] = []
    for i in range(count):
        out.append(chain.append(out[-1] if out else None, **{**CONTENT, "mono_ms": 5_000 + i}))
    return out


def test_the_hash_covers_every_field_but_the_hashes_and_the_seal() -> None:
    row = rows(1)[0]
    covered = set(row.content())
    assert covered == {f.name for f in fields(chain.JournalRow)} - {"prev_hash", "hash", "seal"}
    expected = hashlib.sha256(bytes(32) + cose.canonical_dumps(row.content())).hexdigest()
    assert row.hash == expected and row.prev_hash == "00" * 32


@pytest.mark.parametrize("name", sorted(set(CONTENT) | {"seq", "screening"}))
def test_changing_any_covered_field_breaks_the_row(name: str) -> None:
    row = rows(1)[0]
    value = getattr(row, name)
    changed = replace(row, **{name: value + 1 if isinstance(value, int) else value + "x"})
    expected = ["gap", "hash_mismatch"] if name == "seq" else ["hash_mismatch"]
    assert [p.kind for p in chain.check([changed])] == expected


def test_a_good_chain_has_no_problem_and_links_across_batches() -> None:
    run = rows(10)
    assert chain.check(run) == []
    assert chain.check(run[5:], prev=run[4]) == []


def test_gaps_reorders_and_broken_links_are_named() -> None:
    run = rows(5)
    assert [(p.seq, p.kind) for p in chain.check([run[0], run[2]])] == [(3, "gap")]
    assert next((p.seq, p.kind) for p in chain.check([run[1], run[0]], prev=run[0])) == (1, "not_increasing")
    other = chain.append(None, **{**CONTENT, "zone": "vip"})
    assert [p.kind for p in chain.check([run[1]], prev=other)] == ["broken_link"]


def test_rows_survive_the_json_trip_and_bad_json_is_refused() -> None:
    row = rows(2)[1]
    assert chain.row_from_json(row.to_json()) == row
    for broken in ({**row.to_json(), "seq": "2"}, {**row.to_json(), "hash": "AB" * 32}, {**row.to_json(), "x": 1}):
        with pytest.raises(InputError):
            chain.row_from_json(broken)


def test_checkpoints_verify_only_with_the_device_key() -> None:
    device, other = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    point = chain.Checkpoint(seq=7, head="ab" * 32, wall_ms=1_648_258_200_000)
    signed = chain.sign_checkpoint(point, device)
    assert chain.verify_checkpoint(signed, device.public_key()) == point
    with pytest.raises(InputError):
        chain.verify_checkpoint(signed, other.public_key())
    with pytest.raises(InputError):
        chain.verify_checkpoint(signed[:-1] + bytes([signed[-1] ^ 1]), device.public_key())
