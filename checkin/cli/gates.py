"""`checkin gate`: gate devices (add one with its one-time enrolment code, list, revoke)."""

from __future__ import annotations

import click

from checkin.cli._context import Context, actor, keystore, pass_ctx
from checkin.clikit import LazyChoice, directions


@click.group()
def gate() -> None:
    """Gate devices: add one (with its one-time enrolment code), list, revoke."""


@gate.command("add")
@click.option("--event", "event_id", required=True)
@click.option("--name", required=True, help="what staff call the gate, e.g. 'Cổng A - sảnh chính'")
@click.option("--zone", help="the zone it guards (default: the event's first zone)")
@click.option("--direction", type=LazyChoice(directions), default="in", show_default=True)
@pass_ctx
def gate_add(ctx: Context, event_id: str, name: str, zone: str | None, direction: str) -> None:
    """Register a gate; print its one-time enrolment code (valid 15 minutes) as the last line."""
    from checkin.services import gates
    from checkin.store import events

    cfg = ctx.config()
    store = ctx.store(cfg)
    ev = events.event(store, event_id)
    root_pem = keystore(cfg).root_public_pem()
    new = gates.add_gate(
        store, ev, name, zone or ev.zone_codes[0], direction, ctx.now(cfg), actor=actor(), root_pem=root_pem
    )
    device, code = new.device, new.code
    assert device.enrol_expires is not None
    click.echo(f"gate {device.id}: {device.name}, zone {device.zone}, direction {device.direction}")
    click.echo(
        f"enrolment code valid until {device.enrol_expires.isoformat()} (15 minutes, one use); "
        "at the gate: checkin-gate enroll --server https://... --code CODE (the code names this deployment's "
        "root key; the gate pins no other)",
        err=True,
    )
    click.echo(code)


@gate.command("list")
@click.option("--event", "event_id", help="only this event's gates")
@pass_ctx
def gate_list(ctx: Context, event_id: str | None) -> None:
    """List gates: id, event, name, zone, direction, status, rows received, last seen."""
    from checkin.store import devices as stored_devices

    cfg = ctx.config()
    devices = stored_devices.devices(ctx.store(cfg), event_id)
    line = "{:16}  {:20}  {:8}  {:8}  {:3}  {:>7}  {:25}  {}"
    click.echo(line.format("id", "event", "status", "zone", "dir", "rows", "last seen", "name"))
    for d in devices:
        seen = d.last_seen.isoformat() if d.last_seen else "-"
        click.echo(line.format(d.id, d.event_id, d.status, d.zone, d.direction, d.acked_seq, seen, d.name))


@gate.command("revoke")
@click.argument("device_id")
@pass_ctx
def gate_revoke(ctx: Context, device_id: str) -> None:
    """Revoke a gate: its token stops working at once (a lost or stolen laptop)."""
    from checkin.services import gates

    cfg = ctx.config()
    device = gates.revoke_gate(ctx.store(cfg), device_id, ctx.now(cfg), actor=actor())
    click.echo(f"revoked gate {device.id} ({device.name}); its uploads and bundle fetches are refused from now on")
