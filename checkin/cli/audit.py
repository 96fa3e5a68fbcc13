"""`checkin audit`: the security officer's commands (verify every gate's records, and more to come)."""

from __future__ import annotations

import sys

import click

from checkin.cli._context import Context, pass_ctx
from checkin.clikit import EXIT_ERROR


@click.group()
def audit() -> None:
    """The security officer's desk: prove the gates' records intact."""


@audit.command("verify")
@click.option("--event", "event_id", help="only this event's gates (default: every event)")
@pass_ctx
def audit_verify(ctx: Context, event_id: str | None) -> None:
    """Re-verify everything the service holds, gate by gate: print each fault and exit 1 on any;
    one summary line when every record holds. What it finds is kept as alerts."""
    from checkin.services import audit as auditing

    cfg = ctx.config()
    store = ctx.store(cfg)
    now = ctx.now(cfg)
    gates = auditing.verify_event(store, event_id, now) if event_id is not None else auditing.verify_all(store, now)
    auditing.record(store, gates, now)
    faults = 0
    for gate in gates:
        for finding in gate.findings:
            fault = finding in gate.faults
            faults += fault
            label = f"{finding.severity}" if fault else f"note ({finding.severity})"
            click.echo(f"{label}: {finding.kind}: {finding.detail}", err=not fault)
    rows = sum(gate.rows_held for gate in gates)
    where = f"event {event_id}" if event_id is not None else "every event"
    if faults:
        broken = sum(not gate.intact for gate in gates)
        click.echo(f"{faults} integrity fault(s) in {broken} of {len(gates)} gate(s) ({where}, {rows} rows)")
        sys.exit(EXIT_ERROR)
    click.echo(f"intact: {len(gates)} gate(s), {rows} rows, chains, seals, checkpoints and ledger verified ({where})")
