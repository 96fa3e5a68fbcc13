"""[screening] in config.toml: parsed strictly, turned by the service into the bundle's
ScreeningPolicy (with the DCC trust list read from its files), and carried to the gate signed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding

from checkin import config
from checkin.core import dcc, trust
from checkin.core.errors import ConfigError
from checkin.services.bundles import policy_of

NOW = datetime(2022, 3, 26, 2, 0, tzinfo=UTC)
SCREENING = """
[screening]
enabled = true
temperature_limit = 38
temperature_min = 35.5
declaration_valid_hours = 12
certificate_required = true
naat_max_hours = 48
recovery = false
dcc_trust_list = ["dsc/two.pem", "dsc/one.der"]
retention_days = 7

[[screening.questions]]
id = "symptoms"
vi = "Anh/chị có sốt, ho không?"
en = "Fever or cough?"

[[screening.questions]]
id = "well"
vi = "Anh/chị có khỏe không?"
en = "Do you feel well?"
refer_if = "no"
"""


def certificate() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    return dcc.signer_certificate(key, not_before=NOW - timedelta(days=1), not_after=NOW + timedelta(days=365))


@pytest.fixture
def site(tmp_path: Path) -> tuple[Path, list[bytes]]:
    ders = [certificate() for _ in range(3)]
    (tmp_path / "dsc").mkdir()
    pem = b"".join(x509.load_der_x509_certificate(d).public_bytes(Encoding.PEM) for d in ders[:2])
    (tmp_path / "dsc" / "two.pem").write_bytes(pem)
    (tmp_path / "dsc" / "one.der").write_bytes(ders[2])
    return tmp_path, ders


def test_the_config_becomes_the_bundle_policy(site: tuple[Path, list[bytes]]) -> None:
    root, ders = site
    cfg = config.parse(SCREENING, root=root, source="c.toml")
    policy = policy_of(cfg).screening
    assert policy == trust.ScreeningPolicy(
        enabled=True,
        temperature_limit=38.0,
        temperature_min=35.5,
        temperature_max=42.5,
        questions=(
            trust.Question("symptoms", "Anh/chị có sốt, ho không?", "Fever or cough?", refer_if_yes=True),
            trust.Question("well", "Anh/chị có khỏe không?", "Do you feel well?", refer_if_yes=False),
        ),
        declaration_valid_seconds=12 * 3600,
        certificate_required=True,
        health=dcc.HealthPolicy(naat_max_hours=48.0, recovery=False),
        dcc_certificates=tuple(ders),
        retention_days=7,
    )


def test_screening_off_by_default(tmp_path: Path) -> None:
    assert policy_of(config.parse("", root=tmp_path, source="c.toml")).screening == trust.ScreeningPolicy()


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ("temperature_limit = 33.0", "temperature_min < temperature_limit"),
        ("temperature_max = 37.0", "temperature_limit"),
        ('temperature_limit = "37.5"', "screening.temperature_limit must be float"),
        ("retention_days = 0", "screening.retention_days must be positive"),
        ("declaration_valid_hours = -1", "must be positive"),
        ('on_failure = "admit"', "screening.on_failure"),
        ('dcc_trust_list = "dsc/one.der"', "screening.dcc_trust_list must be a list of texts"),
        ("unknown = 1", "unknown key screening.unknown"),
    ],
)
def test_bad_screening_settings_are_refused(tmp_path: Path, change: str, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        config.parse(f"[screening]\nenabled = true\n{change}\n", root=tmp_path, source="c.toml")
    assert words in info.value.detail


@pytest.mark.parametrize(
    ("question", "words"),
    [
        ('id = "q"\nvi = "Ho?"', "needs an id and its text in vi and en"),
        ('id = "q"\nvi = "Ho?"\nen = "Cough?"\nrefer_if = "maybe"', 'refer_if must be "yes" or "no"'),
        ('id = "symptoms"\nvi = "Ho?"\nen = "Cough?"', "question id 'symptoms' is used twice"),
        ('id = "q"\nvi = "Ho?"\nen = "Cough?"\nweight = 2', "unknown key screening.questions[2].weight"),
    ],
)
def test_bad_questions_are_refused(tmp_path: Path, question: str, words: str) -> None:
    text = SCREENING.replace('dcc_trust_list = ["dsc/two.pem", "dsc/one.der"]\n', "")
    with pytest.raises(ConfigError) as info:
        config.parse(f"{text}\n[[screening.questions]]\n{question}\n", root=tmp_path, source="c.toml")
    assert words in info.value.detail


@pytest.mark.parametrize(
    ("files", "words"),
    [
        ({}, "cannot be read"),
        ({"dsc/two.pem": b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"}, "dsc/two.pem"),
        ({"dsc/two.pem": b"garbage"}, "not a readable X.509 certificate"),
    ],
)
def test_trust_list_files_are_checked_by_the_service(tmp_path: Path, files: dict[str, bytes], words: str) -> None:
    (tmp_path / "dsc").mkdir()
    (tmp_path / "dsc" / "one.der").write_bytes(certificate())
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    cfg = config.parse(SCREENING, root=tmp_path, source="c.toml")
    with pytest.raises(ConfigError) as info:
        policy_of(cfg)
    assert words in info.value.detail


def test_the_policy_reaches_the_gate_signed(
    site: tuple[Path, list[bytes]], make_bundle: Callable[..., trust.TrustBundle], root_key: Ed25519PrivateKey
) -> None:
    root, ders = site
    policy = policy_of(config.parse(SCREENING, root=root, source="c.toml"))
    bundle = make_bundle(policy=policy)
    got = trust.verify_bundle(trust.sign_bundle(bundle, root_key), root_key.public_key())
    assert got.policy.screening == policy.screening
    assert len(got.policy.screening.trust_list.signers) == len(ders)
