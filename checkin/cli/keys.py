"""`checkin keys`: the root key and the issuing keys."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import click

from checkin.cli._context import Context, keystore, pass_ctx, passphrase
from checkin.config import Config
from checkin.core.errors import KeyStoreError, Reason

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.x509 import Certificate


@click.group()
def keys() -> None:
    """Root and issuing keys, and the key that signs the officer's reports."""


@keys.command("init")
@click.option("--insecure-no-passphrase", is_flag=True, help="write private keys unencrypted (never in production)")
@pass_ctx
def keys_init(ctx: Context, insecure_no_passphrase: bool) -> None:
    """Make the root key and a first issuing key; write keys/root.pub for gates."""
    cfg = ctx.config()
    store = keystore(cfg)
    if store.exists():
        raise KeyStoreError(f"keys already exist in {cfg.keys_dir}", Reason.KEY_EXISTS)
    infos = store.init(passphrase(confirm=True, insecure=insecure_no_passphrase), ctx.now(cfg))
    for info in infos:
        click.echo(f"{info.role:8} {info.kid}  {info.fingerprint}")
    click.echo(f"root public key for gates: {cfg.keys_dir / 'root.pub'}")


@keys.command("rotate")
@pass_ctx
def keys_rotate(ctx: Context) -> None:
    """Make a new issuing key; the old one stops signing but still verifies its tickets."""
    cfg = ctx.config()
    store = keystore(cfg)
    info = store.rotate(passphrase(confirm=True, insecure=not store.root().encrypted), ctx.now(cfg))
    click.echo(f"new issuing key {info.kid}  {info.fingerprint}")
    click.echo("export new bundles so gates learn it: checkin bundle export ...")


@keys.command("revoke")
@click.argument("kid")
@pass_ctx
def keys_revoke(ctx: Context, kid: str) -> None:
    """Revoke an issuing key: its tickets fail at gates once they get the next bundle."""
    cfg = ctx.config()
    info = keystore(cfg).revoke(kid, ctx.now(cfg))
    click.echo(f"revoked issuing key {info.kid}; export new bundles for the gates")


@keys.command("list")
@pass_ctx
def keys_list(ctx: Context) -> None:
    """Show kid, role, created, status and fingerprint of every key."""
    cfg = ctx.config()
    click.echo(f"{'kid':16}  {'role':7}  {'created':25}  {'status':7}  fingerprint")
    for info in keystore(cfg).keys():  # noqa: SIM118 - KeyStore.keys() is a list, not a dict
        click.echo(f"{info.kid:16}  {info.role:7}  {info.created:25}  {info.status:7}  {info.fingerprint}")


def signing_key(cfg: Config) -> tuple[bytes, Ed25519PrivateKey]:
    """The active issuing key's kid and private key (the passphrase from the environment or a prompt)."""
    store = keystore(cfg)
    info = store.active_issuing()
    return info.kid_bytes, store.load_private(info, passphrase(confirm=False, insecure=not info.encrypted))


@keys.command("report-key")
@pass_ctx
def keys_report_key(ctx: Context) -> None:
    """Make the report signing key (keys/report.key) and its certificate (keys/report.crt)."""
    cfg = ctx.config()
    certificate, _ = new_report_key(cfg, ctx.now(cfg))
    click.echo(report_key_made(cfg, certificate))


def new_report_key(cfg: Config, now: datetime) -> tuple[Certificate, bytes | None]:
    """Make the report key, encrypted with the passphrase of the other keys (asked once, returned)."""
    store = keystore(cfg)
    secret = passphrase(confirm=True, insecure=not store.root().encrypted)
    return store.make_report_key(secret, now, cfg.deployment.name), secret


def report_key_made(cfg: Config, certificate: Certificate) -> str:
    """What to tell the person who made the report key: where it is and the certificate's fingerprint."""
    from cryptography.hazmat.primitives import hashes

    from checkin.keystore import REPORT_CERT, REPORT_PRIVATE

    digest = certificate.fingerprint(hashes.SHA256()).hex(":").upper()
    return (
        f"made the report signing key {cfg.keys_dir / REPORT_PRIVATE} and its certificate "
        f"{cfg.keys_dir / REPORT_CERT} (SHA-256 {digest}); give the certificate to whoever checks reports"
    )
