"""The `checkin` command: set up, keys, events, issuing, revocation and gate bundles."""

from __future__ import annotations

import getpass
import os
import shutil
import sys
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from pathlib import Path

import click
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from checkin import bundles, issuing, qr
from checkin import config as config_mod
from checkin.clikit import now_or, parse_time, run_guarded
from checkin.config import Config
from checkin.core import trust
from checkin.core.errors import InputError, KeyStoreError, Reason
from checkin.keystore import PASSPHRASE_ENV, KeyStore
from checkin.store import Event, NewEvent, Store


@dataclass
class Context:
    """What every subcommand gets: the config path, verbosity and `now`."""

    config_path: str | None
    verbose: bool
    now_text: str | None

    def config(self) -> Config:
        return config_mod.load(self.config_path)

    def now(self, cfg: Config) -> datetime:
        return now_or(self.now_text, cfg.deployment.timezone)


pass_ctx = click.make_pass_decorator(Context)


def _passphrase(*, confirm: bool, insecure: bool = False) -> bytes | None:
    if insecure:
        return None
    from_env = os.environ.get(PASSPHRASE_ENV)
    if from_env:
        return from_env.encode()
    if not sys.stdin.isatty():
        raise KeyStoreError(f"no passphrase: set {PASSPHRASE_ENV} or run in a terminal", Reason.WRONG_PASSPHRASE)
    first = getpass.getpass("Key passphrase: ")
    if confirm and getpass.getpass("Repeat the passphrase: ") != first:
        raise KeyStoreError("the two passphrases differ", Reason.WRONG_PASSPHRASE)
    return first.encode()


def _zones(text: str | None) -> tuple[str, ...]:
    return tuple(z.strip() for z in text.split(",") if z.strip()) if text else ()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", metavar="PATH", help="config file (else $CHECKIN_CONFIG, ./config.toml)")
@click.option("-v", "--verbose", is_flag=True, help="show details, tracebacks included, on errors")
@click.option("--now", "now_text", metavar="ISO", help="act as if it were this time (demos, rehearsals, tests)")
@click.version_option(package_name="checkin")
@click.pass_context
def main(ctx: click.Context, config_path: str | None, verbose: bool, now_text: str | None) -> None:
    """checkin: signed QR credentials for public events (service and administration)."""
    if now_text:
        parse_time(now_text, "UTC", "--now")  # refuse a bad --now even where the time is not needed
    ctx.obj = Context(config_path, verbose, now_text)


@main.command()
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=Path("."))
@click.option("--deployment-id", metavar="ID", help="the iss of every ticket (default: from the template)")
@pass_ctx
def init(ctx: Context, directory: Path, deployment_id: str | None) -> None:
    """Create DIR/config.toml, DIR/keys/ and the database."""
    target = directory / config_mod.DEFAULT_NAME
    if target.exists():
        raise InputError(f"{target} already exists; edit it or choose another --dir", Reason.ALREADY_EXISTS)
    directory.mkdir(parents=True, exist_ok=True)
    template = resources.files("checkin").joinpath("config.example.toml").read_text(encoding="utf-8")
    if deployment_id:
        template = template.replace('id = "hd-stttt"', f'id = "{deployment_id}"', 1)
    cfg = config_mod.parse(template, root=directory.resolve(), source=str(target))
    target.write_text(template, encoding="utf-8")
    cfg.keys_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    Store(cfg.database_url).migrate()
    click.echo(f"wrote {target}, {cfg.keys_dir}/ and the database {cfg.paths.database}")
    click.echo(f"next: checkin --config {target} keys init")


# ---- keys -------------------------------------------------------------------------------------


@main.group()
def keys() -> None:
    """Root and issuing keys."""


@keys.command("init")
@click.option("--insecure-no-passphrase", is_flag=True, help="write private keys unencrypted (never in production)")
@pass_ctx
def keys_init(ctx: Context, insecure_no_passphrase: bool) -> None:
    """Make the root key and a first issuing key; write keys/root.pub for gates."""
    cfg = ctx.config()
    store = KeyStore(cfg.keys_dir)
    if store.exists():
        raise KeyStoreError(f"keys already exist in {cfg.keys_dir}", Reason.KEY_EXISTS)
    infos = store.init(_passphrase(confirm=True, insecure=insecure_no_passphrase), ctx.now(cfg))
    for info in infos:
        click.echo(f"{info.role:8} {info.kid}  {info.fingerprint}")
    click.echo(f"root public key for gates: {cfg.keys_dir / 'root.pub'}")


@keys.command("rotate")
@pass_ctx
def keys_rotate(ctx: Context) -> None:
    """Make a new issuing key; the old one stops signing but still verifies its tickets."""
    cfg = ctx.config()
    store = KeyStore(cfg.keys_dir)
    passphrase = _passphrase(confirm=True, insecure=not store.root().encrypted)
    info = store.rotate(passphrase, ctx.now(cfg))
    click.echo(f"new issuing key {info.kid}  {info.fingerprint}")
    click.echo("export new bundles so gates learn it: checkin bundle export ...")


@keys.command("revoke")
@click.argument("kid")
@pass_ctx
def keys_revoke(ctx: Context, kid: str) -> None:
    """Revoke an issuing key: its tickets fail at gates once they get the next bundle."""
    cfg = ctx.config()
    info = KeyStore(cfg.keys_dir).revoke(kid, ctx.now(cfg))
    click.echo(f"revoked issuing key {info.kid}; export new bundles for the gates")


@keys.command("list")
@pass_ctx
def keys_list(ctx: Context) -> None:
    """Show kid, role, created, status and fingerprint of every key."""
    cfg = ctx.config()
    click.echo(f"{'kid':16}  {'role':7}  {'created':25}  {'status':7}  fingerprint")
    for info in KeyStore(cfg.keys_dir).keys():  # noqa: SIM118 - KeyStore.keys() is a list, not a dict
        click.echo(f"{info.kid:16}  {info.role:7}  {info.created:25}  {info.status:7}  {info.fingerprint}")


def _signing_key(cfg: Config) -> tuple[KeyStore, bytes, Ed25519PrivateKey]:
    store = KeyStore(cfg.keys_dir)
    info = store.active_issuing()
    key = store.load_private(info, _passphrase(confirm=False, insecure=not info.encrypted))
    return store, info.kid_bytes, key


# ---- events -----------------------------------------------------------------------------------


@main.group()
def event() -> None:
    """Events and their zones."""


@event.command("create")
@click.option("--id", "event_id", required=True, help="short stable id, e.g. cds-hd-2022")
@click.option("--name", required=True)
@click.option("--start", required=True, metavar="ISO")
@click.option("--end", required=True, metavar="ISO")
@click.option("--zones", default="hall", show_default=True, metavar="A,B")
@click.option("--timezone", metavar="TZ", help="IANA time zone (default: the deployment's)")
@click.option("--venue", default="")
@pass_ctx
def event_create(
    ctx: Context, event_id: str, name: str, start: str, end: str, zones: str, timezone: str | None, venue: str
) -> None:
    """Create an event; times without a zone are read in the event's time zone."""
    cfg = ctx.config()
    tz = timezone or cfg.deployment.timezone
    config_mod.parse(f'[deployment]\ntimezone = "{tz}"\n', root=cfg.root, source="--timezone")
    new = NewEvent(
        id=event_id.strip(),
        name=name.strip(),
        start=parse_time(start, tz, "--start"),
        end=parse_time(end, tz, "--end"),
        timezone=tz,
        zones=_zones(zones),
        venue=venue.strip(),
    )
    if not new.id or not new.id.replace("-", "").replace("_", "").isalnum():
        raise InputError("--id must be letters, digits, - and _ only")
    row = Store(cfg.database_url).create_event(new, ctx.now(cfg))
    click.echo(f"event {row.id}: {row.name}, zones {', '.join(row.zone_codes)}")


@event.command("list")
@pass_ctx
def event_list(ctx: Context) -> None:
    """List events."""
    cfg = ctx.config()
    for row in Store(cfg.database_url).events():
        click.echo(f"{row.id:24} {row.start.isoformat()}  {row.name}  [{', '.join(row.zone_codes)}]")


# ---- issuing ----------------------------------------------------------------------------------


@main.command()
@click.option("--event", "event_id", required=True)
@click.option("--name")
@click.option("--org", "organisation", default="")
@click.option("--category", default="")
@click.option("--zones", metavar="A,B")
@click.option("--email", default="")
@click.option("--valid-from", metavar="ISO")
@click.option("--valid-until", metavar="ISO")
@click.option("--png", "png_path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--svg", "svg_path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path))
@pass_ctx
def issue(
    ctx: Context,
    event_id: str,
    name: str | None,
    organisation: str,
    category: str,
    zones: str | None,
    email: str,
    valid_from: str | None,
    valid_until: str | None,
    png_path: Path | None,
    svg_path: Path | None,
    csv_path: Path | None,
    out_dir: Path | None,
) -> None:
    """Issue one ticket (--name), printing its CK1 text last, or one per row of --csv into --out."""
    cfg = ctx.config()
    store = Store(cfg.database_url)
    ev = store.event(event_id)
    now = ctx.now(cfg)
    window = issuing.ticket_window(ev, cfg.issuing.valid_before_event_hours, cfg.issuing.valid_after_event_hours)
    if valid_from:
        window = (parse_time(valid_from, ev.timezone, "--valid-from"), window[1])
    if valid_until:
        window = (window[0], parse_time(valid_until, ev.timezone, "--valid-until"))
    if window[1] <= now:
        raise InputError(f"the tickets would expire at {window[1].isoformat()}, before now; give --valid-until")
    if (csv_path is None) == (name is None):
        raise InputError("give either --name for one ticket or --csv FILE --out DIR for a list")
    if csv_path is not None:
        _issue_csv(cfg, store, ev, csv_path, out_dir or cfg.output_dir / ev.id, window, now)
        return
    assert name is not None
    row = issuing.GuestRow(0, name, organisation, category, _zones(zones) or ev.zone_codes[:1], email)
    unknown = [z for z in row.zones if z not in ev.zone_codes]
    if unknown:
        raise InputError(f"unknown zone(s) {', '.join(unknown)}; the event has {', '.join(ev.zone_codes)}")
    _keys, kid, key = _signing_key(cfg)
    issued, errors = issuing.sign_rows(
        [row], issuer=cfg.deployment.id, event=ev, key=key, kid=kid, window=window, now=now
    )
    if errors:
        raise InputError(errors[0].detail)
    item = issued[0]
    issuing.record(store, ev, issued, kid, now)
    if png_path:
        png_path.write_bytes(qr.png(item.text, scale=cfg.qr.scale, border=cfg.qr.border))
    if svg_path:
        svg_path.write_text(qr.svg(item.text, border=cfg.qr.border), encoding="utf-8")
    click.echo(f"credential {item.credential.id_hex} for {item.credential.name}", err=True)
    click.echo(item.text)


def _issue_csv(
    cfg: Config,
    store: Store,
    ev: Event,
    path: Path,
    out: Path,
    window: tuple[datetime, datetime],
    now: datetime,
) -> None:
    rows, errors = issuing.read_guest_csv(path.read_bytes(), ev.zone_codes)
    _keys, kid, key = _signing_key(cfg)
    issued, sign_errors = issuing.sign_rows(
        rows, issuer=cfg.deployment.id, event=ev, key=key, kid=kid, window=window, now=now
    )
    errors = sorted([*errors, *sign_errors], key=lambda e: e.line)
    for error in errors:
        click.echo(f"{path}: {error}", err=True)
    if not issued:
        raise InputError(f"no ticket issued: all {len(errors)} rows of {path} were refused")
    issuing.record(store, ev, issued, kid, now)
    sheet = issuing.render(issued, out, scale=cfg.qr.scale, border=cfg.qr.border, event_name=ev.name)
    (out / "badges.pdf").write_bytes(sheet)
    issuing.write_index(out / "index.csv", issued)
    click.echo(f"issued {len(issued)} tickets into {out} (PNGs, badges.pdf, index.csv); {len(errors)} rows refused")


@main.command()
@click.argument("credential_id")
@click.option("--reason", default="", help="why, for the audit log")
@pass_ctx
def revoke(ctx: Context, credential_id: str, reason: str) -> None:
    """Revoke one credential (id or a unique prefix); gates refuse it from the next bundle on."""
    cfg = ctx.config()
    row = Store(cfg.database_url).revoke(credential_id, reason, ctx.now(cfg))
    click.echo(f"revoked {row.cti} ({row.name}); export new bundles for the gates")


# ---- bundles ----------------------------------------------------------------------------------


@main.group()
def bundle() -> None:
    """Signed trust bundles for gates."""


@bundle.command("export")
@click.option("--event", "event_id", required=True)
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False, path_type=Path))
@pass_ctx
def bundle_export(ctx: Context, event_id: str, out_path: Path) -> None:
    """Write the event's signed bundle (FILE.ckb) for USB enrolment of gates."""
    cfg = ctx.config()
    keystore = KeyStore(cfg.keys_dir)
    root = keystore.root()
    root_key = keystore.load_private(root, _passphrase(confirm=False, insecure=not root.encrypted))
    result = bundles.build_bundle(cfg, Store(cfg.database_url), event_id, ctx.now(cfg))
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_bytes(trust.sign_bundle(result, root_key))
    root_pub = out_path.with_name("root.pub")
    if root_pub.resolve() != (cfg.keys_dir / "root.pub").resolve() and not root_pub.exists():
        shutil.copyfile(cfg.keys_dir / "root.pub", root_pub)
    click.echo(
        f"bundle v{result.version} for {event_id}: {len(result.keys)} keys, {len(result.revoked)} revoked, "
        f"valid until {result.expires_at.isoformat()} -> {out_path}"
    )


def run() -> None:
    """Console entry point."""
    run_guarded(main)


import checkin.cli_service  # noqa: E402, F401 - registers `gate` and `serve`
from checkin import cli_users  # noqa: E402, F401 - registers `user`

if __name__ == "__main__":
    run()
