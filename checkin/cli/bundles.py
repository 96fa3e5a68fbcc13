"""`checkin bundle`: signed trust bundles for gates."""

from __future__ import annotations

import shutil
from pathlib import Path

import click

from checkin import files
from checkin.cli._context import Context, keystore, pass_ctx, passphrase


@click.group()
def bundle() -> None:
    """Signed trust bundles for gates."""


@bundle.command("export")
@click.option("--event", "event_id", required=True)
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False, path_type=Path))
@pass_ctx
def bundle_export(ctx: Context, event_id: str, out_path: Path) -> None:
    """Write the event's signed bundle (FILE.ckb) for USB enrolment of gates."""
    from checkin.core import trust
    from checkin.services.bundles import build_bundle

    cfg = ctx.config()
    store = ctx.store(cfg)
    keys = keystore(cfg)
    root = keys.root()
    root_key = keys.load_private(root, passphrase(confirm=False, insecure=not root.encrypted))
    result = build_bundle(cfg, store, event_id, ctx.now(cfg))
    files.private_folder(out_path.parent)
    files.write_private(out_path, trust.sign_bundle(result, root_key))  # it may carry guest names
    root_pub = out_path.with_name("root.pub")
    if root_pub.resolve() != (cfg.keys_dir / "root.pub").resolve() and not root_pub.exists():
        shutil.copyfile(cfg.keys_dir / "root.pub", root_pub)
    click.echo(
        f"bundle v{result.version} for {event_id}: {len(result.keys)} keys, {len(result.revoked)} revoked, "
        f"valid until {result.expires_at.isoformat()} -> {out_path}"
    )
