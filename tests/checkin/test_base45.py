"""Base45 (RFC 9285): the published examples, a round trip, and strict refusal of everything else."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from checkin.core import base45

RFC_EXAMPLES = [
    pytest.param(b"AB", "BB8", id="AB"),
    pytest.param(b"Hello!!", "%69 VD92EX0", id="Hello!!"),
    pytest.param(b"base-45", "UJCLQE7W581", id="base-45"),
    pytest.param(b"ietf!", "QED8WEX0", id="ietf!"),
]


@pytest.mark.parametrize(("data", "text"), RFC_EXAMPLES)
def test_rfc9285_examples_encode(data: bytes, text: str) -> None:
    assert base45.encode(data) == text


@pytest.mark.parametrize(("data", "text"), RFC_EXAMPLES)
def test_rfc9285_examples_decode_text_and_bytes(data: bytes, text: str) -> None:
    assert base45.decode(text) == data
    assert base45.decode(text.encode("ascii")) == data


def test_empty() -> None:
    assert base45.encode(b"") == ""
    assert base45.decode("") == b""


def test_largest_values_decode() -> None:
    # RFC 9285 section 4.2: "FGW" is 65535 and "U5" is 255, the largest triple and pair
    assert base45.decode("FGW") == b"\xff\xff"
    assert base45.decode("U5") == b"\xff"
    assert base45.encode(b"\xff\xff\xff") == "FGWU5"


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=600))
def test_round_trip(data: bytes) -> None:
    text = base45.encode(data)
    assert set(text.encode("ascii")) <= set(base45.ALPHABET)
    assert len(text) == 3 * (len(data) // 2) + 2 * (len(data) % 2)
    assert base45.decode(text) == data


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=base45.ALPHABET.decode("ascii"), max_size=60))
def test_decoding_is_canonical(text: str) -> None:
    """Any alphabet text either is refused or is the one encoding of what it decodes to."""
    try:
        data = base45.decode(text)
    except ValueError:
        return
    assert base45.encode(data) == text


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("bb8", id="lowercase"),
        pytest.param("BB8\n", id="trailing-newline"),
        pytest.param("BB8 \n", id="newline-after-space"),
        pytest.param("BB#", id="hash"),
        pytest.param("BB_", id="underscore"),
        pytest.param("BB=", id="equals"),
        pytest.param("ÄB8", id="non-ascii-letter"),
        pytest.param("BB8\x00", id="nul"),
        pytest.param("\ud800BB", id="lone-surrogate"),
        pytest.param("BB８", id="fullwidth-digit"),
    ],
)
def test_refuses_characters_outside_the_alphabet(text: str) -> None:
    with pytest.raises(ValueError):
        base45.decode(text)


def test_refuses_invalid_bytes() -> None:
    with pytest.raises(ValueError):
        base45.decode(b"BB\xff")


@pytest.mark.parametrize("text", ["0", "BB8B", "%69 VD92EX0AB", "0000"])
def test_refuses_lengths_of_one_modulo_three(text: str) -> None:
    with pytest.raises(ValueError):
        base45.decode(text)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("GGW", id="triple-65536"),
        pytest.param(":::", id="triple-max-91124"),
        pytest.param("BB8GGW", id="over-range-after-a-good-triple"),
        pytest.param("V5", id="pair-256"),
        pytest.param("::", id="pair-max-2024"),
        pytest.param("BB8::", id="over-range-pair-after-a-good-triple"),
    ],
)
def test_refuses_over_range_groups(text: str) -> None:
    with pytest.raises(ValueError):
        base45.decode(text)
