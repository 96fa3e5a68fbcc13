"""Short codes (DESIGN section 3): the first 40 bits of cti in Crockford Base32, typed at a gate."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from checkin.core.credential import CTI_SIZE, parse_short_code, short_code
from checkin.core.errors import InputError, Reason

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# RFC 4648 Base32 orders its 32 symbols the same way, so a translation of its output is an oracle.
RFC4648_TO_CROCKFORD = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", CROCKFORD)


def oracle(cti: bytes) -> str:
    symbols = base64.b32encode(cti[:5]).decode().translate(RFC4648_TO_CROCKFORD)
    return f"{symbols[:4]}-{symbols[4:]}"


def cti_for(code: str) -> bytes:
    """A credential id whose short code is `code` (the inverse of the oracle), padded with 0xAA."""
    rfc = code.replace("-", "").translate(str.maketrans(CROCKFORD, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"))
    return base64.b32decode(rfc) + b"\xaa" * (CTI_SIZE - 5)


@pytest.mark.parametrize(
    ("cti", "code"),
    [
        (bytes(16), "0000-0000"),
        (b"\xff" * 16, "ZZZZ-ZZZZ"),
        (bytes.fromhex("0123456789") + bytes(11), "04HM-ASW9"),
        (cti_for("7K3M-Q9XD"), "7K3M-Q9XD"),  # DESIGN's example
    ],
)
def test_known_codes(cti: bytes, code: str) -> None:
    assert short_code(cti) == code


def test_only_the_first_40_bits_count() -> None:
    cti = bytes.fromhex("0123456789") + bytes(11)
    assert short_code(cti) == short_code(cti[:5] + b"\xff" * 11)
    assert short_code(cti) != short_code(b"\x01\x23\x45\x67\x88" + bytes(11))  # the 40th bit counts


@given(st.binary(min_size=CTI_SIZE, max_size=CTI_SIZE))
def test_matches_rfc4648_base32_translated(cti: bytes) -> None:
    code = short_code(cti)
    assert code == oracle(cti)
    assert len(code) == 9 and code[4] == "-"
    assert set(code.replace("-", "")) <= set(CROCKFORD)
    assert not set(code) & set("ILOU")


def test_a_short_id_is_refused() -> None:
    with pytest.raises(InputError):
        short_code(b"\x01\x02\x03\x04")


# ---- typed at a gate or in a search box ----------------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    ["7K3M-Q9XD", "7k3m-q9xd", "7K3MQ9XD", " 7k3m q9xd ", "7K-3M-Q9-XD", "7K3M\u00a0Q9XD"],
)
def test_case_spaces_and_hyphens_do_not_matter(typed: str) -> None:
    assert parse_short_code(typed) == "7K3M-Q9XD"


@pytest.mark.parametrize(("typed", "read_as"), [("1ILl-0Oo0", "1111-0000"), ("AB1O-lioQ", "AB10-110Q")])
def test_lookalikes_are_read_as_crockford_says(typed: str, read_as: str) -> None:
    assert parse_short_code(typed) == read_as


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "7K3M-Q9X",  # seven
        "7K3M-Q9XDA",  # nine
        "7K3M-Q9XU",  # U is not a Crockford symbol
        "7K3M-Q9X*",
        "7K3M-Q9Xı",  # dotless i upper-cases to I: refused, not read as 1
        "７K3M-Q9XD",  # full-width digit
        "7K3M_Q9XD",
        "7K3M-Q9XD" * 1000,
    ],
)
def test_anything_else_is_refused(typed: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_short_code(typed)
    assert caught.value.reason is Reason.INVALID_INPUT


@given(st.binary(min_size=CTI_SIZE, max_size=CTI_SIZE), st.data())
def test_what_a_person_types_from_a_badge_finds_the_code(cti: bytes, data: st.DataObject) -> None:
    printed = short_code(cti)
    lookalike = {"1": "1Il", "0": "0Oo"}
    typed = "".join(
        data.draw(st.sampled_from(lookalike.get(ch, ch + ch.lower())))
        if ch != "-"
        else data.draw(st.sampled_from(["-", "", " "]))
        for ch in printed
    )
    assert parse_short_code(typed) == printed
