"""`checkin-gate dcc`, run as an operator runs it: the real console script, real certificate files
(DER and PEM), a real PNG of a QR code. An EU test PNG goes through it in test_dcc_conformance.py."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding

from checkin import qr
from checkin.core import dcc
from checkin.core.dcc import CertType

GATE = str(Path(sys.executable).parent / "checkin-gate")
NOW = datetime(2021, 9, 1, 8, 0, tzinfo=UTC)
AT = "2021-09-01T15:00:00+07:00"
TEST = {"tg": "840539006", "tt": dcc.NAAT, "sc": "2021-08-30T07:00:00Z", "tr": dcc.NOT_DETECTED, "co": "DE"}
VACCINATION = {"tg": "840539006", "dn": 2, "sd": 2, "dt": "2021-08-25", "co": "VN"}


def gate(*args: str | Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [GATE, "dcc", *map(str, args)], input=stdin, capture_output=True, text=True, timeout=120, check=False
    )


def lines(result: subprocess.CompletedProcess[str]) -> list[dict[str, object]]:
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path | str]:
    """Two signers (EC as DER, RSA as PEM), a test certificate as text and PNG, a vaccination one."""
    folder = tmp_path_factory.mktemp("dcc")
    ec_key = ec.generate_private_key(ec.SECP256R1())
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    window = {"not_before": NOW - timedelta(days=30), "not_after": NOW + timedelta(days=300)}
    ec_der = dcc.signer_certificate(ec_key, usages=(CertType.TEST,), country="DE", **window)
    rsa_der = dcc.signer_certificate(rsa_key, country="VN", **window)
    (folder / "de.der").write_bytes(ec_der)
    (folder / "vn.pem").write_bytes(x509.load_der_x509_certificate(rsa_der).public_bytes(Encoding.PEM))
    times = {"issued_at": NOW - timedelta(days=2), "expires_at": NOW + timedelta(days=2)}
    test = dcc.seal(
        dcc.hcert_claims(CertType.TEST, TEST, country="DE", **times), ec_key, dcc.kid_of_certificate(ec_der)
    )
    vaccination = dcc.seal(
        dcc.hcert_claims(CertType.VACCINATION, VACCINATION, country="VN", **times),
        rsa_key,
        dcc.kid_of_certificate(rsa_der),
    )
    (folder / "test.png").write_bytes(qr.png(test))
    return {"folder": folder, "test": test, "vaccination": vaccination}


def test_texts_and_an_image_give_one_json_line_each(world: dict[str, Path | str]) -> None:
    folder = Path(world["folder"])
    result = gate(
        "--cert", folder / "de.der", "--cert", folder / "vn.pem", "--at", AT,
        world["test"], folder / "test.png", world["vaccination"],
    )  # fmt: skip
    test_text, test_png, vaccination = lines(result)
    expected = {"signature": "valid", "reason": "dcc_accepted", "expired": False, "issuer_country": "DE"}
    assert test_text == {"input": "#1", "type": "test", **expected}
    assert test_png == {"input": str(folder / "test.png"), "type": "test", **expected, "decoder": "zxing-cpp"}
    assert vaccination == {**expected, "input": "#3", "type": "vaccination", "issuer_country": "VN"}
    assert str(world["test"]) not in result.stdout  # the certificate's content is never echoed


def test_policy_gives_the_rule_outcome(world: dict[str, Path | str]) -> None:
    folder = Path(world["folder"])
    certs = ("--cert", folder / "de.der", "--cert", folder / "vn.pem", "--at", AT)
    # vaccinated 7 days before: the default 14 days refuse, a 7-day policy accepts; a 48 h NAAT window
    # refuses the test sampled 49 h before (at 15:00 in Hanoi, 08:00 UTC)
    default = lines(gate(*certs, "--policy", "default", world["vaccination"], world["test"]))
    assert [(r["reason"], r["rule"]) for r in default] == [("dcc_vaccination_too_recent",) * 2, ("dcc_accepted",) * 2]
    custom = lines(
        gate(*certs, "--policy", "vaccination_min_days=7,naat_max_hours=48", "-", stdin=f"{world['test']}\n")
    )
    assert custom == [
        {"input": "#1", "signature": "valid", "reason": "dcc_test_too_old", "expired": False, "type": "test",
         "issuer_country": "DE", "rule": "dcc_test_too_old"},
    ]  # fmt: skip


def test_refusals_are_reported_per_input(world: dict[str, Path | str]) -> None:
    folder = Path(world["folder"])
    # only the DE signer is trusted: the VN certificate is unknown; a week later the test expired
    result = lines(gate("--cert", folder / "de.der", "--at", "2021-09-09T00:00Z", world["vaccination"], world["test"]))
    assert [(r["signature"], r["reason"], r["expired"]) for r in result] == [
        ("invalid", "dcc_unknown_key", None),
        ("valid", "dcc_expired", True),
    ]
    garbage = lines(gate("--cert", folder / "de.der", "HC1:NOT BASE45!"))
    assert garbage[0]["reason"] == "dcc_malformed"


def test_bad_certificate_files_and_options_stop_with_one_line(world: dict[str, Path | str]) -> None:
    folder = Path(world["folder"])
    (folder / "bad.pem").write_text("-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n")
    bad = gate("--cert", folder / "bad.pem", world["test"])
    assert bad.returncode == 2 and "bad.pem" in bad.stderr and "Traceback" not in bad.stderr
    policy = gate("--cert", folder / "de.der", "--policy", "naat_max_hours=lots", world["test"])
    assert policy.returncode == 1 and "naat_max_hours" in policy.stderr
    zone = gate("--cert", folder / "de.der", "--timezone", "Mars/Olympus", world["test"])
    assert zone.returncode == 1 and "Mars/Olympus" in zone.stderr
