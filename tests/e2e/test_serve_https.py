"""`checkin serve` speaks HTTPS itself ([service] tls_cert and tls_key, under gunicorn) for a venue
without a TLS proxy, and a gate trusts it through a private CA given with --ca-file (security
issue, flaw 1). Real processes: the `checkin serve` command and the `checkin-gate` command."""

from __future__ import annotations

import ipaddress
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from checkin.store import Store
from tests.support.gatekit import GATE_NOW, LiveService, json_lines, run_gate
from tests.support.server import free_port, wait_for_line

CHECKIN = str(Path(sys.executable).with_name("checkin"))


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def private_ca(folder: Path) -> tuple[Path, Path, Path]:
    """A private CA and a certificate it signed for 127.0.0.1: (ca.pem, cert.pem, key.pem)."""
    now = datetime.now(UTC)
    ca_key, host_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Venue test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    host = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(host_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    paths = folder / "ca.pem", folder / "cert.pem", folder / "key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(host.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(_pem_key(host_key))
    paths[2].chmod(0o600)
    return paths


def with_tls(service: LiveService, cert: Path, key: Path) -> Path:
    config = service.root / "config.toml"
    with config.open("a", encoding="utf-8") as out:
        out.write(f'\n[service]\ntls_cert = "{cert}"\ntls_key = "{key}"\n')
    return config


def test_serve_https_and_a_gate_that_trusts_the_private_ca(tmp_path: Path) -> None:
    service = LiveService(tmp_path / "service")  # config, keys, database and event; its waitress is not started
    ca, cert, key = private_ca(tmp_path / "tls")
    config = with_tls(service, cert, key)
    # its in-process app lets go of the database before `checkin serve` migrates it: a connection held
    # open across that migration meets "disk I/O error" on its next read (seen after the w-files merge)
    service.close()
    service.store = Store(service.config.database_url)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "CHECKIN_KEY_PASSPHRASE"}
    args = [CHECKIN, "--config", str(config), "serve", "--port", str(port), "--server", "gunicorn", "--workers", "1"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    try:
        wait_for_line(proc, f"listening on https://127.0.0.1:{port}/".encode(), 60)
        service.clock.now = datetime.now(UTC)  # the served app reads the machine's clock: codes valid now
        url = f"https://127.0.0.1:{port}"
        device_id, code = service.add_gate("Cổng A")
        untrusted = run_gate(tmp_path / "no-ca", "enroll", "--server", url, "--code", code)
        assert untrusted.returncode != 0 and "SSLError" in untrusted.stderr  # not vouched for: nothing sent
        enrolled = json_lines(
            run_gate(tmp_path / "gate", "enroll", "--server", url, "--code", code, "--ca-file", str(ca))
        )
        assert enrolled[0]["enrolled"] == device_id
        synced = json_lines(run_gate(tmp_path / "gate", "sync", "--now", GATE_NOW))  # ca.pem kept in the folder
        assert synced[0]["pending"] == 0
    finally:
        proc.terminate()
        proc.wait(30)
        service.store.dispose()


def test_waitress_refuses_tls_with_a_clear_error(tmp_path: Path) -> None:
    service = LiveService(tmp_path / "service")
    try:
        _ca, cert, key = private_ca(tmp_path / "tls")
        config = with_tls(service, cert, key)
        args = [CHECKIN, "--config", str(config), "serve", "--server", "waitress", "--port", "1"]
        result = subprocess.run(args, capture_output=True, text=True, timeout=60)
        assert result.returncode != 0
        assert "waitress cannot serve HTTPS" in result.stderr and "--server gunicorn" in result.stderr
        missing: Any = tmp_path / "service" / "config.toml"
        missing.write_text(missing.read_text().replace(str(key), str(tmp_path / "nope.pem")))
        absent = subprocess.run([*args[:-4], "--port", "1"], capture_output=True, text=True, timeout=60)
        assert absent.returncode != 0 and "nope.pem" in absent.stderr
    finally:
        service.close()
