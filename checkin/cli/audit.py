"""`checkin audit`: the security officer's desk on the command line (integrity, alerts, exports, reports).

`audit alerts` and `audit export` use the audit pages' own queries (`services.alertdesk`,
`services.scansearch`): a filter typed here finds what the same filter finds on the page.
`audit verify` re-verifies every gate's records (services.audit) and exits 1 on any integrity fault.

The signed report: `audit report` writes the event report as a PDF signed with the report key
(keys/report.key, made here on first use, or beforehand with `checkin keys report-key`);
`audit verify-report` checks such a file offline against the report certificate.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import click

from checkin.cli._context import Context, keystore, pass_ctx, passphrase
from checkin.clikit import EXIT_ERROR
from checkin.config import Config
from checkin.core.errors import CheckinError, ConfigError, KeyStoreError, Reason

if TYPE_CHECKING:
    from cryptography.x509 import Certificate


@click.group()
def audit() -> None:
    """The security officer's desk: integrity of the records, alerts, exports, signed reports."""


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
    workers = os.cpu_count() or 1  # a million rows is a minute of hashing on one core
    if event_id is not None:
        gates = auditing.verify_event(store, event_id, now, workers=workers)
    else:
        gates = auditing.verify_all(store, now, workers=workers)
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


@audit.command("report")
@click.option("--event", "event_id", required=True, help="the event's id")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="the PDF to write")
@click.option("--lang", type=click.Choice(["vi", "en"]), default="vi", show_default=True, help="the report's language")
@pass_ctx
def audit_report(ctx: Context, event_id: str, out: Path, lang: str) -> None:
    """Write the event's report (counts, chart, alerts, every gate's integrity) as a signed PDF."""
    from checkin import files, pdfsign, reportpdf
    from checkin.cli.keys import new_report_key, report_key_made
    from checkin.services.report import event_report

    cfg = ctx.config()
    now = ctx.now(cfg)
    store = ctx.store(cfg)
    try:
        report = event_report(store, event_id, now, workers=os.cpu_count() or 1)  # first: a wrong event id makes no key
    finally:
        store.dispose()
    keys = keystore(cfg)
    if keys.has_report_key():
        secret = passphrase(confirm=False, insecure=not keys.report_key_encrypted())
    else:
        certificate, secret = new_report_key(cfg, now)
        click.echo(report_key_made(cfg, certificate), err=True)
    key = keys.load_report_key(secret)
    pdf = reportpdf.render(report, lang)
    signed = pdfsign.sign_pdf(
        pdf, key, keys.report_certificate(), now, reason=f"event report {event_id}", location=report.event.venue
    )
    files.write_atomic(out, signed, files.PRIVATE_FILE)
    click.echo(f"wrote {out}: {len(report.gates)} gates, {len(report.alerts)} alerts; signed with the report key")


@audit.command("verify-report")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--cert",
    "cert_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="the report certificate (PEM or DER); else keys/report.crt of this deployment",
)
@pass_ctx
def audit_verify_report(ctx: Context, file: Path, cert_file: Path | None) -> None:
    """Check a signed report offline: prints the signer, the signing time and whether the signature
    covers the whole file; exits 1 with the reason unless the report is exactly what was signed."""
    import logging
    from zoneinfo import ZoneInfo

    from checkin import pdfsign
    from checkin.clikit import now_or
    from checkin.config import Deployment

    logging.getLogger("pyhanko").addHandler(logging.NullHandler())  # its tracebacks are our one-line reason
    try:
        cfg: Config | None = ctx.config()
    except ConfigError:
        if cert_file is None:
            raise
        cfg = None  # the file and the certificate are all an outside checker needs
    timezone = cfg.deployment.timezone if cfg is not None else Deployment().timezone
    if cert_file is not None:
        certificate = _certificate(cert_file)
    else:
        assert cfg is not None
        certificate = keystore(cfg).report_certificate()
    check = pdfsign.verify_pdf(file.read_bytes(), certificate, now_or(ctx.now_text, timezone))
    when = check.signed_at.astimezone(ZoneInfo(timezone)).isoformat() if check.signed_at else "—"
    click.echo(f"signer: {check.signer or '—'}")
    click.echo(f"signed at: {when}")
    click.echo(f"covers the whole file: {'yes' if check.whole_file else 'no'}")
    if not check.valid:
        raise CheckinError(f"{file}: {check.problem}", Reason.REPORT_SIGNATURE_INVALID)
    click.echo("the signature is valid")


def _certificate(path: Path) -> Certificate:
    """A certificate file, PEM or DER."""
    from cryptography import x509

    data = path.read_bytes()
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError as exc:
        raise KeyStoreError(f"{path} is not an X.509 certificate ({exc})", Reason.KEY_FILE_INVALID) from None


@audit.command("alerts")
@click.option("--event", "event_id", help="only this event's alerts")
@click.option("--open", "only_open", is_flag=True, help="only alerts nobody has acknowledged or resolved")
@pass_ctx
def audit_alerts(ctx: Context, event_id: str | None, only_open: bool) -> None:
    """List alerts, newest first: id, event, gate, kind, severity, state, time, row, detail."""
    from checkin.services import alertdesk
    from checkin.services.findings import AlertState
    from checkin.store import events

    cfg = ctx.config()
    store = ctx.store(cfg)
    if event_id is not None:
        events.event(store, event_id)  # a wrong event is an error, not an empty list
    states = frozenset({AlertState.OPEN}) if only_open else frozenset()
    page = alertdesk.alert_page(store, alertdesk.AlertFilter(event_id, states=states), limit=None)
    line = "{:>6}  {:16}  {:16}  {:16}  {:8}  {:12}  {:25}  {:>8}  {}"
    click.echo(line.format("id", "event", "gate", "kind", "severity", "state", "raised", "row", "detail"))
    for row in page.rows:
        a = row.alert
        severity = a.severity
        seq = "-" if a.seq is None else f"#{a.seq}"
        gate = row.gate or a.device_id or "-"
        click.echo(
            line.format(a.id, a.event_id, gate[:16], a.kind, severity, a.state, a.created.isoformat(), seq, a.detail)
        )
    click.echo(f"{page.total} alerts{' open' if only_open else ''}", err=True)


@audit.command("export")
@click.option("--event", "event_id", required=True)
@click.option("--format", "fmt", type=click.Choice(("csv", "json")), required=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="file to write (0600)")
@click.option("--what", type=click.Choice(("scans", "alerts")), default="scans", show_default=True)
@click.option("--since", default="", help="scans from this time (ISO, the event's zone unless it says)")
@click.option("--until", default="", help="scans before this time")
@click.option("--gate", default="", help="a gate's device id")
@click.option("--zone", default="")
@click.option("--verdict", default="", help="admit, deny or refer")
@click.option("--reason", default="", help="a reason code, e.g. already_inside")
@click.option("--name", default="", help="guest name, diacritics optional")
@click.option("--code", default="", help="start of a code id (hex) or a short code")
@click.option("--open", "only_open", is_flag=True, help="alerts: only open ones")
@click.option(
    "--with-screening",
    "with_screening",
    is_flag=True,
    help="scans: include each named guest's screening outcome and the screening reasons (health data)",
)
@pass_ctx
def audit_export(
    ctx: Context,
    /,
    event_id: str,
    fmt: str,
    out: Path,
    what: str,
    only_open: bool,
    with_screening: bool,
    **filters: str,
) -> None:
    """Export an event's scans (oldest first, with the search's filters) or its alerts, as CSV safe for
    spreadsheets or as JSON; written as it is read, into a new file readable by you only.

    The command has no staff role: whoever runs it holds the database. Screening outcomes beside
    names still stay out of the file unless --with-screening asks for them, as the officer's
    download leaves them out: an export travels, and health data goes into it only on purpose."""
    from checkin import files
    from checkin.services import alertdesk, scansearch
    from checkin.services.findings import AlertState
    from checkin.store import events, scan_search

    cfg = ctx.config()
    store = ctx.store(cfg)
    ev = events.event(store, event_id)
    tally = _Tally()
    count = tally.through

    if what == "alerts":
        states = frozenset({AlertState.OPEN}) if only_open else frozenset()
        alerts = count(alertdesk.all_alerts(store, alertdesk.AlertFilter(ev.id, states=states)))
        if fmt == "csv":
            pieces = scansearch.alerts_csv(alerts, ev.timezone)
        else:
            pieces = scansearch.alerts_json(ev.id, ev.timezone, alerts)
    else:
        query = scansearch.parse_filter(ev, filters, screening=with_screening)
        scans = count(scan_search.stream(store, query))
        if fmt == "csv":
            pieces = scansearch.scans_csv(scans, ev.timezone, screening=with_screening)
        else:
            pieces = scansearch.scans_json(ev, query, scans, screening=with_screening)
    files.write_text(out, pieces, bom=fmt == "csv")
    click.echo(f"wrote {tally.count} {what} to {out}")


T = TypeVar("T")


class _Tally:
    """Counts what passes through it on its way to the file."""

    def __init__(self) -> None:
        self.count = 0

    def through(self, rows: Iterable[T]) -> Iterator[T]:
        for row in rows:
            self.count += 1
            yield row
