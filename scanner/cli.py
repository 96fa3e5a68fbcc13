"""The `checkin-gate` command: the gate laptop's program."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from checkin import trust
from checkin.clikit import now_or, run_guarded
from checkin.errors import CheckinError, Reason, TrustError, Verdict
from checkin.trust import Direction
from scanner import decode, gate

EXIT_BAD_TRUST = 2


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="show details, tracebacks included, on errors")
@click.version_option(package_name="checkin")
def main(verbose: bool) -> None:
    """checkin-gate: verify codes offline with public keys only."""


def load_bundle(bundle_path: Path, root_key_path: Path) -> trust.TrustBundle:
    """Read the pinned root key and a bundle it signed; TrustError names the file at fault."""
    try:
        root_pem = root_key_path.read_bytes()
    except OSError as exc:
        raise TrustError(f"{root_key_path}: cannot be read ({exc.strerror})", Reason.KEY_FILE_INVALID) from None
    try:
        data = bundle_path.read_bytes()
    except OSError as exc:
        raise TrustError(f"{bundle_path}: cannot be read ({exc.strerror})") from None
    try:
        root = trust.root_key_from_pem(root_pem)
    except TrustError as exc:
        raise TrustError(f"{root_key_path}: {exc.detail}", exc.reason) from None
    try:
        return trust.verify_bundle(data, root)
    except TrustError as exc:
        raise TrustError(f"{bundle_path}: {exc.detail}", exc.reason) from None


def _inputs(items: tuple[str, ...]) -> list[tuple[str, str | Path]]:
    """(label, text or image path) for each INPUT; '-' reads one text per line from stdin."""
    out: list[tuple[str, str | Path]] = []
    for item in items:
        if item == "-":
            out.extend((line, line) for line in (raw.strip() for raw in sys.stdin) if line)
        elif Path(item).is_file():
            out.append((item, Path(item)))
        else:
            out.append((item, item))
    return out


@main.command()
@click.option("--bundle", "bundle_path", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--root-key", "root_key_path", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--at", "at_text", metavar="ISO", help="verify as of this time (default: now)")
@click.option("--zone", help="the zone this gate opens")
@click.option("--direction", type=click.Choice([d.value for d in Direction]), default="in")
@click.argument("inputs", nargs=-1, required=True)
def verify(
    bundle_path: Path,
    root_key_path: Path,
    at_text: str | None,
    zone: str | None,
    direction: str,
    inputs: tuple[str, ...],
) -> None:
    """Dry-check codes: INPUT is CK1 text, an image file, or - for texts on stdin. Writes no journal."""
    bundle = load_bundle(bundle_path, root_key_path)
    now = now_or(at_text, bundle.event.timezone)
    state = gate.GateState(zone=zone, direction=Direction(direction))
    for label, source in _inputs(inputs):
        if isinstance(source, str):
            _emit(gate.decide(source, bundle, state, now).to_json(label))
            continue
        try:
            found = decode.decode_frame(decode.read_image(source))
        except CheckinError as error:
            _emit(_refusal(label, error.reason, error.detail))
            continue
        if not found:
            _emit(_refusal(label, Reason.NO_CODE_FOUND, f"{label}: no QR code found"))
        for item in found:
            record = gate.decide(item.text, bundle, state, now).to_json(item.text)
            _emit({**record, "input": label, "text": item.text, "decoder": item.decoder})


def _refusal(label: str, reason: Reason, detail: str) -> dict[str, object]:
    decision = gate.Decision(Verdict.DENY, reason, detail)
    return decision.to_json(label)


def _emit(record: dict[str, object]) -> None:
    click.echo(json.dumps(record, ensure_ascii=False))


def run() -> None:
    """Console entry point."""
    run_guarded(main, exit_codes={TrustError: EXIT_BAD_TRUST})


if __name__ == "__main__":
    run()
