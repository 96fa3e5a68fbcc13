"""The `checkin-gate` command: the gate laptop's program.

`verify` dry-checks codes with a bundle file and writes nothing. Everything else works on the
gate's data folder (--data, $CHECKIN_GATE_DATA or ./gate-data): `enroll` sets it up, `run` is
the scan loop (window or --headless JSON lines), `sync` and `status` talk about the network side,
`journal verify|export|purge` check and export the journal and purge old screening details,
`clock-ack` confirms a clock alarm.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import json
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import click

from checkin.clikit import EXIT_ERROR, LazyChoice, directions, now_or, run_guarded
from checkin.core.clock import parse_time
from checkin.core.errors import CheckinError, InputError, Reason, TrustError, Verdict

if TYPE_CHECKING:
    from datetime import datetime

    from checkin.core import trust
    from scanner import datadir, runner
    from scanner.datadir import GateData
    from scanner.journal import Journal
    from scanner.settings import Settings

# Everything past click and the error codes (the core's cryptography, the data folder, the
# journal, OpenCV and the decoders, the scan loop, the network client) is imported inside the
# commands that use it, so `checkin-gate --help` starts as fast as Python and click allow.

EXIT_BAD_TRUST = 2


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="show details, tracebacks included, on errors")
@click.option(
    "--data",
    "data_dir",
    metavar="DIR",
    type=click.Path(file_okay=False, path_type=Path),
    help="the gate's data folder (else $CHECKIN_GATE_DATA, else ./gate-data)",  # datadir.DATA_ENV, .DEFAULT_DIR
)
@click.version_option(package_name="checkin")
@click.pass_context
def main(ctx: click.Context, verbose: bool, data_dir: Path | None) -> None:
    """checkin-gate: verify codes offline with public keys only."""
    ctx.obj = data_dir


def pass_data(command: Callable[..., None]) -> Callable[..., None]:
    """Call the command with the gate's data folder (--data, else $CHECKIN_GATE_DATA, else ./gate-data) first."""

    def with_data(*args: Any, **kwargs: Any) -> None:
        from scanner import datadir

        ctx = click.get_current_context()
        ctx.invoke(command, datadir.GateData(datadir.resolve(ctx.find_root().obj)), *args, **kwargs)

    return functools.update_wrapper(with_data, command)


def load_bundle(bundle_path: Path, root_key_path: Path) -> trust.TrustBundle:
    """Read the pinned root key and a bundle it signed; TrustError names the file at fault."""
    from checkin.core import trust

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


def _is_file(item: str) -> bool:
    """True when the argument names a file; a code text longer than a file name can be is not one."""
    try:
        return Path(item).is_file()
    except (OSError, ValueError):
        return False


def _inputs(items: tuple[str, ...]) -> list[tuple[str, str | Path]]:
    """(label, text or image path) for each INPUT; '-' reads one text per line from stdin."""
    out: list[tuple[str, str | Path]] = []
    for item in items:
        if item == "-":
            out.extend((line, line) for line in (raw.strip() for raw in sys.stdin) if line)
        elif _is_file(item):
            out.append((item, Path(item)))
        else:
            out.append((item, item))
    return out


@main.command()
@click.option("--bundle", "bundle_path", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--root-key", "root_key_path", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--at", "at_text", metavar="ISO", help="verify as of this time (default: now)")
@click.option("--zone", help="the zone this gate opens")
@click.option("--direction", type=LazyChoice(directions), default="in")
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
    from checkin.core.trust import Direction
    from scanner import gate

    bundle = load_bundle(bundle_path, root_key_path)
    now = parse_time(at_text, bundle.event.timezone, "--at") if at_text else now_or(None, bundle.event.timezone)
    state = gate.GateState(zone=zone, direction=Direction(direction))
    for label, source in _inputs(inputs):
        if isinstance(source, str):
            _emit(gate.decide(source, bundle, state, now).to_json(label))
            continue
        from scanner import decode

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
    from scanner import gate

    decision = gate.Decision(Verdict.DENY, reason, detail)
    return decision.to_json(label)


def _emit(record: dict[str, object]) -> None:
    click.echo(json.dumps(record, ensure_ascii=False))


# ---- the gate's data folder: enrolment, the scan loop, sync, status, journal ------------------------

VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v", ".mpg", ".mpeg")


def _clock(now_text: str | None, timezone: str) -> runner.Clock:
    """The machine's clock, or one that starts at --now and runs on (rehearsals of a past event)."""
    from scanner import runner

    if not now_text:
        return runner.system_clock
    return runner.shifted_clock(parse_time(now_text, timezone, "--now"))


def _checked_operator(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    """--operator as the journal takes it (the same rule as gate.toml's [gate].operator)."""
    from scanner.settings import operator_problem

    problem = None if value is None else operator_problem(value)
    if problem:
        raise click.BadParameter(problem)
    return value


now_option = click.option("--now", "now_text", metavar="ISO", help="act as if it were this time (rehearsals, demos)")


def _enrolled(data: GateData, now_text: str | None) -> tuple[datadir.Device, trust.TrustBundle, runner.Clock]:
    """The enrolment facts, the verified bundle and the clock (--now or the machine's)."""
    data.require_enrolled()
    bundle = data.bundle()
    return data.device(), bundle, _clock(now_text, bundle.event.timezone)


def _journal(data: GateData, settings: Settings) -> Journal:
    from scanner.journal import Journal

    return Journal(
        data.journal_path,
        data.device_key(),
        checkpoint_rows=settings.checkpoint_rows,
        checkpoint_ms=int(settings.checkpoint_minutes * 60_000),
    )


def _purge_by_policy(journal: Journal, bundle: trust.TrustBundle, now: datetime) -> int:
    """Delete screening details older than the event's retention period (at every start)."""
    from datetime import timedelta

    from scanner import gate

    days = bundle.policy.screening.retention_days
    return journal.purge_screening(gate.to_ms(now - timedelta(days=days)))


@main.command()
@click.option("--server", metavar="URL", help="network enrolment: the service's https:// address")
@click.option("--code", help="network enrolment: the one-time code from the service (it names the root key)")
@click.option(
    "--root-fingerprint",
    metavar="FP",
    help="network: the root key's fingerprint as `checkin keys list` shows it (needed for a code without one)",
)
@click.option("--ca-file", type=click.Path(dir_okay=False, exists=True, path_type=Path), help="network: a private CA")
@click.option("--insecure-http", is_flag=True, help="network: allow plain http:// to another machine (trusted LAN)")
@click.option("--bundle", "bundle_path", type=click.Path(dir_okay=False, path_type=Path), help="USB: a .ckb file")
@click.option("--root-key", "root_key_path", type=click.Path(dir_okay=False, path_type=Path), help="USB: root.pub")
@click.option("--zone", help="USB: the zone this gate opens (or --all-zones)")
@click.option("--all-zones", is_flag=True, help="USB: this gate opens every zone of the event")
@click.option("--direction", type=LazyChoice(directions), help="USB: in or out")
@click.option("--name", default="gate", show_default=True, help="USB: a name for this gate")
@click.option("--pin", "ask_pin", is_flag=True, help="set the supervisor PIN now (else `checkin-gate set-pin` later)")
@pass_data
def enroll(
    data: GateData,
    server: str | None,
    code: str | None,
    root_fingerprint: str | None,
    ca_file: Path | None,
    insecure_http: bool,
    bundle_path: Path | None,
    root_key_path: Path | None,
    zone: str | None,
    all_zones: bool,
    direction: str | None,
    name: str,
    ask_pin: bool,
) -> None:
    """Enrol this gate: --server URL --code CODE, or --bundle FILE.ckb --root-key root.pub --zone Z (USB).

    A USB enrolment into a folder that is already enrolled installs a newer bundle (same root, same event).
    """
    from checkin.core import cose, enrolment, seal, trust
    from checkin.core.trust import Direction
    from scanner import datadir
    from scanner import journal as journal_mod

    if server and code and not bundle_path:
        from scanner import sync

        device = sync.enroll_network(
            data, server, code, root_fingerprint=root_fingerprint, insecure_http=insecure_http, ca_file=ca_file
        )
        pinned = enrolment.fingerprint(data.root_key().public_bytes_raw())
        click.echo(f"pinned root key {pinned}: it must match `checkin keys list` on the service", err=True)
        if ask_pin:
            data.save_pin(_read_pin("Supervisor PIN", confirm=True))
        _emit(
            {
                "enrolled": device.device_id,
                "event": device.event_id,
                "zone": device.zone,
                "server": device.server,
                "root_fingerprint": pinned,
                "supervisor_pin": data.has_pin(),
            }
        )
        return
    if not (bundle_path and root_key_path) or server or code:
        raise InputError("give either --server URL --code CODE, or --bundle FILE.ckb --root-key root.pub")
    bundle = load_bundle(bundle_path, root_key_path)
    root_pem = root_key_path.read_bytes()
    if data.enrolled():
        if trust.root_key_from_pem(root_pem).public_bytes_raw() != data.root_key().public_bytes_raw():
            raise TrustError(f"{root_key_path} is not the root key this gate pinned", Reason.WRONG_ROOT)
        installed = data.install_bundle(bundle_path.read_bytes())
        _emit({"updated": data.device().device_id, "bundle_version": installed.version})
        return
    if all_zones == bool(zone):  # fail closed: a gate with no zone would open every door
        raise InputError(
            "give the zone this gate opens (--zone, one of: " + ", ".join(bundle.event.zones) + ") or say --all-zones"
        )
    if zone and zone not in bundle.event.zones:
        raise InputError(f"--zone {zone!r} is not a zone of the event ({', '.join(bundle.event.zones)})")
    data.create()
    data.save_root(root_pem)
    data.install_bundle(bundle_path.read_bytes(), held_version=0)
    key = data.new_device_key()
    device = datadir.Device(
        device_id="usb-" + cose.kid_of(key.public_key()).hex(),
        event_id=bundle.event.id,
        name=name,
        zone=zone or "",
        direction=direction or Direction.IN.value,
    )
    data.save_device(device)
    seed = journal_mod.begin(data.journal_path)
    if ask_pin:
        data.save_pin(_read_pin("Supervisor PIN", confirm=True))
    _emit(
        {
            "enrolled": device.device_id,
            "event": device.event_id,
            "zone": device.zone,
            "bundle_version": bundle.version,
            "supervisor_pin": data.has_pin(),
            # shown once, like `journalctl --setup-keys`: the officer records it with the service
            "verification_key": seal.verification_key(seed),
        }
    )


# the service's `checkin gate add` tells staff to type `checkin-gate enrol`: both spellings work
_enrol = copy.copy(enroll)
_enrol.hidden = True
main.add_command(_enrol, "enrol")


@main.command("run")
@click.option("--camera", type=int, metavar="N", help="webcam index")
@click.option("--video", type=click.Path(dir_okay=False, exists=True, path_type=Path), help="a video file")
@click.option("--images", type=click.Path(file_okay=False, exists=True, path_type=Path), help="a folder of images")
@click.option("--texts", type=click.File("r", encoding="utf-8"), help="one code text per line ('-': stdin)")
@click.option("--headless", is_flag=True, help="no window: one JSON line per verdict on stdout")
@click.option("--direction", type=LazyChoice(directions), help="override the enrolled direction")
@click.option("--zone", help="override the enrolled zone")
@click.option("--operator", callback=_checked_operator, help="who staffs the gate (journalled with each row)")
@now_option
@click.option("--no-sync", is_flag=True, help="do not talk to the service while running")
@click.option("--windowed", is_flag=True, help="a 1280×720 window instead of the full screen (gate.toml: fullscreen)")
@click.option(
    "--screening-input",
    type=click.File("r", encoding="utf-8"),
    help="headless: scripted screening, one JSON line per guest who reaches it ({temperature, answers, dcc})",
)
@pass_data
def run_command(
    data: GateData,
    camera: int | None,
    video: Path | None,
    images: Path | None,
    texts: TextIO | None,
    headless: bool,
    direction: str | None,
    zone: str | None,
    operator: str | None,
    now_text: str | None,
    no_sync: bool,
    windowed: bool,
    screening_input: TextIO | None,
) -> None:
    """The scan loop: decode, decide, journal (committed first), then show or print each verdict."""
    from checkin.core.trust import Direction
    from scanner import decode, runner, sync

    if sum(x is not None for x in (camera, video, images, texts)) != 1:
        raise InputError("give exactly one of --camera N, --video FILE, --images DIR, --texts FILE")
    if texts is not None and not headless:
        raise InputError("--texts runs --headless only")
    if screening_input is not None and not headless:
        raise InputError("--screening-input runs --headless only")
    operator_script = None if screening_input is None else runner.ScriptedOperator(screening_input)
    device, bundle, clock = _enrolled(data, now_text)
    settings = data.settings()
    if windowed:
        settings = dataclasses.replace(settings, fullscreen=False)
    journal = _journal(data, settings)
    _purge_by_policy(journal, bundle, clock())
    gate_ = runner.Gate(
        journal,
        bundle,
        zone=zone if zone is not None else (device.zone or None),
        direction=Direction(direction or device.direction),
        clock=clock,
        operator=operator if operator is not None else settings.operator,
    )
    syncer = (
        None
        if no_sync or not device.server
        else sync.Syncer(data, clock=clock, settings=settings, on_bundle=gate_.set_bundle)
    )
    if syncer is not None:
        gate_.on_commit = syncer.on_commit
        syncer.start()
    try:
        if texts is not None:
            runner.run_texts(gate_, texts, lambda record, _found: _emit(record.to_json()), operator_script)
            return
        dedup = decode.Deduplicator(settings.repeat_seconds * 1000)
        with runner.frame_source(camera=camera, video=video, images=images, settings=settings.camera) as frames:
            if headless:
                runner.run_frames(
                    gate_,
                    frames,
                    decode.decode_frame,
                    dedup=dedup,
                    on_verdict=lambda r, _f: _emit(r.to_json()),
                    entries=operator_script,
                )
                return
            from scanner import ui

            def status() -> ui.StatusView:
                return ui.status_view(gate_, None if syncer is None else syncer.board.get(), frames.last_event)

            ui.run_window(
                gate_,
                frames,
                dedup,
                settings=settings,
                status=status,
                title=f"checkin · {device.name}",
                check_pin=data.check_pin if data.has_pin() else None,
            )
    finally:
        if syncer is not None:
            syncer.stop()
        journal.close()


@main.command("decode")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(dir_okay=False, exists=True, path_type=Path))
def decode_command(inputs: tuple[Path, ...]) -> None:
    """Read QR codes from images or videos: one JSON line per input, texts found and milliseconds taken."""
    from scanner import camera, decode

    for path in inputs:
        if path.suffix.lower() in VIDEO_SUFFIXES:
            frames: Iterable[tuple[Any, float]] = camera.VideoFileSource(path)
        else:
            try:
                frames = [(decode.read_image(path), 0)]
            except CheckinError as error:
                _emit({"input": str(path), "error": error.code, "detail": error.detail})
                continue
        texts: dict[str, str] = {}
        count, spent = 0, 0.0
        try:
            for frame, _ts in frames:
                start = time.perf_counter()
                found = decode.decode_frame(frame)
                spent += time.perf_counter() - start
                count += 1
                for item in found:
                    texts.setdefault(item.text, item.decoder)
        except CheckinError as error:  # a video whose frames are over the budget
            _emit({"input": str(path), "error": error.code, "detail": error.detail})
            continue
        _emit(
            {
                "input": str(path),
                "texts": list(texts),
                "decoders": list(texts.values()),
                "frames": count,
                "ms": round(spent * 1000, 2),
                "ms_per_frame": round(spent * 1000 / max(count, 1), 2),
            }
        )


@main.command("sync")
@now_option
@pass_data
def sync_command(data: GateData, now_text: str | None) -> None:
    """One sync round now: pull a newer bundle, push every row not yet acknowledged."""
    from scanner import sync

    _device, _bundle, clock = _enrolled(data, now_text)
    settings = data.settings()
    syncer = sync.Syncer(data, clock=clock, settings=settings)
    with _journal(data, settings) as journal:
        result = syncer.sync_once(journal)
        _emit(
            {
                "pushed": result.pushed,
                "acked_seq": result.acked_seq,
                "pending": journal.pending(),
                "bundle_version": syncer.bundle_version,
                "new_bundle": result.bundle is not None,
                "peers": result.peers,
            }
        )


@main.command("status")
@now_option
@pass_data
def status_command(data: GateData, now_text: str | None) -> None:
    """The gate's state as JSON: enrolment, bundle, journal, upload and clock."""
    from checkin.core.trust import Direction
    from scanner import gate
    from scanner.journal import Journal

    device, bundle, clock = _enrolled(data, now_text)
    now = clock()
    with Journal(data.journal_path) as journal:
        state = journal.state(device.zone or None, Direction(device.direction))
        checkpoints = journal.checkpoints()
        _emit(
            {
                "device": device.device_id,
                "event": device.event_id,
                "name": device.name,
                "zone": device.zone,
                "direction": device.direction,
                "server": device.server,
                "bundle_version": bundle.version,
                "bundle_issued_at": bundle.issued_at.isoformat(),
                "bundle_expires_at": bundle.expires_at.isoformat(),
                "bundle_freshness": bundle.freshness(now).value,
                "rows": journal.last_seq(),
                "acked_seq": journal.acked_seq,
                "pending": journal.pending(),
                "inside": len(state.inside),
                "peer_passages": journal.peer_count(),
                "checkpoints": len(checkpoints),
                "last_checkpoint_seq": checkpoints[-1].checkpoint.seq if checkpoints else 0,
                "time_floor": gate.from_ms(journal.time_floor_ms).isoformat() if journal.time_floor_ms else None,
                "clock_alarm": gate.clock_suspect(bundle, state, now),
            }
        )


PIN_ENV, OLD_PIN_ENV = "CHECKIN_GATE_PIN", "CHECKIN_GATE_OLD_PIN"


def _read_pin(prompt: str, *, confirm: bool, env: str = PIN_ENV) -> str:
    """A PIN from the environment variable `env` (scripts, tests) or typed without echo."""
    import os

    from scanner import pin

    given = os.environ.get(env)
    typed: str = given if given is not None else click.prompt(prompt, hide_input=True, confirmation_prompt=confirm)
    problem = pin.pin_problem(typed)
    if problem:
        raise InputError(problem)
    return typed


def _require_pin(data: GateData, prompt: str, env: str = PIN_ENV) -> None:
    """Ask for the supervisor PIN when one is set; a wrong one stops the command."""
    if data.has_pin() and not data.check_pin(_read_pin(prompt, confirm=False, env=env)):
        raise InputError("wrong supervisor PIN", Reason.FORBIDDEN)


@main.command("set-pin")
@pass_data
def set_pin(data: GateData) -> None:
    """Set or change the supervisor PIN (4 to 12 digits) that guards supervisor keys in the window.

    The new PIN is typed twice without echo (or read from $CHECKIN_GATE_PIN); changing a PIN asks
    for the current one first (or $CHECKIN_GATE_OLD_PIN). Only an scrypt hash of it is kept.
    """
    data.require_enrolled()
    _require_pin(data, "Current supervisor PIN", OLD_PIN_ENV)
    data.save_pin(_read_pin("New supervisor PIN", confirm=True))
    _emit({"supervisor_pin": True})


@main.command("clock-ack")
@click.option("--operator", default="", callback=_checked_operator, help="who confirms the clock")
@now_option
@pass_data
def clock_ack(data: GateData, operator: str, now_text: str | None) -> None:
    """Confirm the gate's clock after a clock alarm (a journalled row); admissions resume.

    When a supervisor PIN is set, it is asked for (or read from $CHECKIN_GATE_PIN).
    """
    from checkin.core.trust import Direction
    from scanner import runner

    device, bundle, clock = _enrolled(data, now_text)
    _require_pin(data, "Supervisor PIN")
    with _journal(data, data.settings()) as journal:
        gate_ = runner.Gate(
            journal,
            bundle,
            zone=device.zone or None,
            direction=Direction(device.direction),
            clock=clock,
            operator=operator,
        )
        if not gate_.clock_alarm():
            _emit({"clock_alarm": False})
            return
        _emit(gate_.acknowledge_clock().to_json())


@main.group("journal")
def journal_group() -> None:
    """Check and export the gate's journal."""


@journal_group.command("verify")
@click.option(
    "--verification-key",
    metavar="KEY",
    envvar="CHECKIN_GATE_VERIFICATION_KEY",
    help="the key shown at enrolment: also check every row's seal (finds a rewritten past)",
)
@pass_data
def journal_verify(data: GateData, verification_key: str | None) -> None:
    """Check SQLite integrity, the chain, seal coverage and every checkpoint; exit 1 on any fault."""
    from checkin.core import seal
    from scanner import datadir
    from scanner.journal import Journal

    if not data.journal_path.exists():
        raise InputError(f"{data.journal_path}: no journal", Reason.NOT_FOUND)
    seed = None if verification_key is None else seal.parse_verification_key(verification_key)
    public = data.device_public() if data.path(datadir.KEY_FILE).exists() else None
    with Journal(data.journal_path) as journal:
        problems = journal.verify(public, seed)
        for problem in problems:
            click.echo(f"seq {problem.seq}: {problem.kind}: {problem.detail}", err=True)
        _emit(
            {
                "ok": not problems,
                "rows": journal.last_seq(),
                "checkpoints": len(journal.checkpoints()),
                "checkpoints_checked": public is not None,
                "seals_checked": seed is not None,
                "faults": len(problems),
            }
        )
    if problems:
        sys.exit(EXIT_ERROR)


@journal_group.command("purge")
@click.option("--older-than", "days", type=click.IntRange(min=0), required=True, metavar="DAYS", help="age in days")
@now_option
@pass_data
def journal_purge(data: GateData, days: int, now_text: str | None) -> None:
    """Delete the screening details (readings, answers) of rows older than DAYS; the rows and chain stay."""
    from datetime import timedelta

    from scanner import gate
    from scanner.journal import Journal

    if not data.journal_path.exists():
        raise InputError(f"{data.journal_path}: no journal", Reason.NOT_FOUND)
    timezone = data.bundle().event.timezone if data.enrolled() else "UTC"
    now = _clock(now_text, timezone)()
    with Journal(data.journal_path) as journal:
        purged = journal.purge_screening(gate.to_ms(now - timedelta(days=days)))
        _emit({"purged": purged, "kept": journal.details_count()})


@journal_group.command("export")
@click.option("--csv", "csv_path", required=True, type=click.Path(dir_okay=False, path_type=Path))
@pass_data
def journal_export(data: GateData, csv_path: Path) -> None:
    """Write every journal row to a CSV file."""
    from scanner.journal import Journal

    if not data.journal_path.exists():
        raise InputError(f"{data.journal_path}: no journal", Reason.NOT_FOUND)
    with Journal(data.journal_path) as journal:
        count = journal.export_csv(csv_path)
    click.echo(f"{count} rows -> {csv_path}", err=True)


@main.command("dcc")
@click.option(
    "--cert",
    "cert_paths",
    multiple=True,
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="a signer certificate file (DER, or PEM with one or more); repeat for more",
)
@click.option("--at", "at_text", metavar="ISO", help="verify as of this time (default: now)")
@click.option("--timezone", default="UTC", show_default=True, help="read --at and count days in this zone")
@click.option(
    "--policy",
    "policy_text",
    metavar="RULES",
    help="apply health rules: 'default' or name=value,... (e.g. naat_max_hours=48,recovery=no)",
)
@click.argument("inputs", nargs=-1, required=True)
def dcc_command(
    cert_paths: tuple[Path, ...],
    at_text: str | None,
    timezone: str,
    policy_text: str | None,
    inputs: tuple[str, ...],
) -> None:
    """Verify EU Digital COVID Certificates offline against signer certificates (--cert, PEM or DER).

    INPUT is HC1: text, an image file, or - for texts on stdin. One JSON line per certificate:
    signature, reason, expired, type, issuer_country, and the rule outcome with --policy.
    """
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from checkin.core import dcc
    from scanner import decode

    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(f"--timezone: {timezone!r} is not a time zone such as Asia/Ho_Chi_Minh") from None
    signers: list[dcc.Signer] = []
    for path in cert_paths:
        try:
            signers.extend(dcc.load_signers(path.read_bytes()))
        except TrustError as exc:
            raise TrustError(f"{path}: {exc.detail}", exc.reason) from None
    trust_list = dcc.TrustList(tuple(signers))
    policy = None if policy_text is None else dcc.parse_policy(policy_text)
    rules = policy is not None
    now = (parse_time(at_text, timezone, "--at") if at_text else now_or(None, timezone)).astimezone(zone)
    for number, (label, source) in enumerate(_inputs(inputs), 1):
        if isinstance(source, str):  # the text is the holder's health data: named by its position only
            _emit({"input": f"#{number}", **dcc.inspect(source, trust_list, now, policy).to_json(rules=rules)})
            continue
        try:
            found = decode.decode_frame(decode.read_image(source))
        except CheckinError as error:
            _emit({"input": label, "reason": error.code, "detail": error.detail})
            continue
        if not found:
            _emit({"input": label, "reason": Reason.NO_CODE_FOUND.value, "detail": f"{label}: no QR code found"})
        for item in found:
            record = dcc.inspect(item.ascii or "", trust_list, now, policy).to_json(rules=rules)
            _emit({"input": label, **record, "decoder": item.decoder})


def run() -> None:
    """Console entry point."""
    run_guarded(main, exit_codes={TrustError: EXIT_BAD_TRUST})


if __name__ == "__main__":
    run()
