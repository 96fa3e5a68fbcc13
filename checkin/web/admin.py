"""Admin pages: events, gates, guests, issuing, revocation, badges, e-mail, keys, users, the action log.

Server-rendered, one small CSS file, no JavaScript. Every view names the roles it is open to
(`auth.allow`); the guard installed by `auth.install` refuses everything else. Every change is
written to the admin action log. Forms that fail validation come back with status 400 and a
message under each field at fault.

The issuing key is decrypted once when the app starts (CHECKIN_KEY_PASSPHRASE) and kept in
`app.extensions`; when it cannot be loaded the issuing buttons say why instead of failing.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.blueprints import BlueprintSetupState
from flask.typing import ResponseReturnValue

from checkin import issuing, mail, qr
from checkin.clikit import parse_time
from checkin.config import Config
from checkin.core import credential
from checkin.core.errors import CheckinError, InputError, KeyStoreError, Reason
from checkin.issuing import GuestRow, RowError
from checkin.keystore import PASSPHRASE_ENV, KeyStore
from checkin.store import EARLIEST_EVENT, EVENT_ID, LATEST_EVENT, RESERVED_EVENT_IDS, Event, Guest, NewEvent, people
from checkin.store.people import Role
from checkin.web import auth, config, i18n, now, store
from checkin.web.auth import ADMIN_ONLY, EVERYONE, REGISTRATION, allow, current_user
from checkin.web.i18n import N_, describe, language, message, ngettext
from checkin.web.i18n import gettext as _

bp = Blueprint("admin", __name__, url_prefix="/admin")
auth.install(bp)

SIGNER = "checkin.signer"
PAGE_SIZE = 50
_ZONE = re.compile(r"^[a-z0-9_-]{1,32}$")
_SPLIT = re.compile(r"[;,|\s]+")


# ---- start-up: the issuing key --------------------------------------------------------------------


@dataclass(frozen=True)
class Signer:
    """The issuing key the service signs with, loaded once at start."""

    kid: bytes
    key: Ed25519PrivateKey = field(repr=False)


PASSPHRASE_CONFIG = "CHECKIN_KEY_PASSPHRASE"  # noqa: S105 - a config key name; the value is handed over by `checkin serve` and dropped


def load_signer(cfg: Config, given: bytes | None = None) -> Signer | KeyStoreError:
    """Decrypt the active issuing key with the passphrase given (else CHECKIN_KEY_PASSPHRASE), or say why not."""
    try:
        keystore = KeyStore(cfg.keys_dir)
        info = keystore.active_issuing()
        passphrase = given.decode() if given is not None else os.environ.get(PASSPHRASE_ENV)
        if info.encrypted and not passphrase:
            raise KeyStoreError(f"start the service with {PASSPHRASE_ENV} set to issue codes", Reason.WRONG_PASSPHRASE)
        key = keystore.load_private(info, passphrase.encode() if info.encrypted and passphrase else None)
    except KeyStoreError as exc:
        return exc
    return Signer(info.kid_bytes, key)


def _setup(state: BlueprintSetupState) -> None:
    app = cast(Flask, state.app)
    auth.init_app(app)
    i18n.init_app(app)
    given = cast(bytes | None, app.config.pop(PASSPHRASE_CONFIG, None))
    app.extensions[SIGNER] = load_signer(cast(Config, app.config["CHECKIN_CONFIG"]), given)
    app.jinja_env.filters["local"] = _local_time
    app.jinja_env.globals["reason_text"] = _reason_text


def _reason_text(reason: str) -> str:
    """A reason code in words; a code this version does not know (from a newer gate) as itself."""
    known = Reason._value2member_map_.get(reason)
    return message(Reason(reason)) if known is not None else reason


bp.record_once(_setup)


def signer_problem() -> KeyStoreError | None:
    """Why codes cannot be issued now, or None when they can."""
    loaded = current_app.extensions.get(SIGNER)
    return loaded if isinstance(loaded, KeyStoreError) else None


def _signer() -> Signer:
    loaded = current_app.extensions.get(SIGNER)
    if isinstance(loaded, KeyStoreError):
        raise loaded
    if not isinstance(loaded, Signer):
        raise KeyStoreError("the issuing key was not loaded", Reason.NO_SIGNING_KEY)
    active = KeyStore(config().keys_dir).active_issuing()
    if active.kid_bytes != loaded.kid:
        # `checkin keys rotate` or `keys revoke` ran since the start: the loaded key must not sign
        raise KeyStoreError(
            f"the issuing key changed to {active.kid} since the service started; restart it", Reason.NO_SIGNING_KEY
        )
    return loaded


# ---- helpers --------------------------------------------------------------------------------------


def _local_time(moment: datetime | str | None, timezone: str | None = None) -> str:
    if not moment:
        return ""
    if isinstance(moment, str):  # ISO text, as keys.json keeps times
        moment = datetime.fromisoformat(moment)
    local = moment.astimezone(ZoneInfo(timezone or config().deployment.timezone))
    return local.strftime("%d/%m/%Y %H:%M" if language() == "vi" else "%Y-%m-%d %H:%M")


def _actor() -> str:
    return current_user().username


def _log(action: str, target: str, detail: str = "") -> None:
    store().record_action(_actor(), action, target, detail, now())


MAX_PAGE = 1_000_000  # far past any list's end, and an OFFSET every database takes


def _page() -> int:
    try:
        return min(max(1, int(request.args.get("page", "1"))), MAX_PAGE)
    except ValueError:
        return 1


def _event_or_404(event_id: str) -> Event:
    try:
        return store().event(event_id)
    except InputError:
        abort(404)


def _guest_or_404(guest_id: int) -> Guest:
    try:
        return people.guest(store(), guest_id)
    except InputError:
        abort(404)


def _form(name: str) -> str:
    return credential.tidy_text(request.form.get(name, ""))


def _text_error(value: str, limit: int, *, required: bool) -> str | None:
    if required and not value:
        return _("This field is required.")
    if len(value) > limit:
        return _("At most %(limit)d characters.", limit=limit)
    if credential.has_control(value):
        return _("Control characters are not allowed.")
    return None


def guest_errors(row: GuestRow, event: Event) -> dict[str, str]:
    """Field errors of one guest, with the limits a ticket has: shared by the form, CSV import and
    the issuing API."""
    checks = {
        "name": _text_error(row.name, credential.MAX_NAME, required=True),
        "organisation": _text_error(row.organisation, credential.MAX_ORG, required=False),
        "category": _text_error(row.category, credential.MAX_CATEGORY, required=False),
    }
    errors = {k: v for k, v in checks.items() if v}
    unknown = [z for z in row.zones if z not in event.zone_codes]
    if not row.zones:
        errors["zones"] = _("Choose at least one zone.")
    elif unknown:
        errors["zones"] = _("Unknown zone: %(zones)s.", zones=", ".join(unknown))
    if row.email and (len(row.email) > 254 or not issuing.EMAIL.match(row.email) or credential.has_control(row.email)):
        errors["email"] = _("Not a valid e-mail address.")
    return errors


_ROW_MESSAGES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^the name is empty$"), N_("The name is empty.")),
    (
        re.compile(r"^unknown zone\(s\) (?P<zones>.+); the event has (?P<known>.+)$"),
        N_("Unknown zone(s) %(zones)s; the event has %(known)s."),
    ),
    (re.compile(r"^e-mail address (?P<email>.+) is not valid$"), N_("The e-mail address %(email)s is not valid.")),
    (
        re.compile(r"^(?P<cells>\d+) cells but the header has (?P<columns>\d+)$"),
        N_("%(cells)s cells, but the header has %(columns)s columns."),
    ),
    (re.compile(r"^already on the guest list$"), N_("Already on the guest list.")),
    (re.compile(r"^the same guest as line (?P<line>\d+)$"), N_("The same guest as line %(line)s.")),
    (
        re.compile(r"^a cell runs from line (?P<start>\d+) to line (?P<end>\d+)$"),
        N_("A cell runs from line %(start)s to line %(end)s: a line break in a cell, or a quote left open."),
    ),
    (
        re.compile(r"^the row cannot be read \(.*\); nor what follows$"),
        N_("This row cannot be read (a cell is far too long), nor the rows after it."),
    ),
)


def row_error_text(error: RowError) -> str:
    """A refused row's reason in the page's language (the reader writes English details)."""
    for pattern, template in _ROW_MESSAGES:
        match = pattern.match(error.detail)
        if match:
            return _(template, **match.groupdict())
    return error.detail


# ---- home and events ------------------------------------------------------------------------------


@bp.route("/")
@allow(EVERYONE)
def home() -> ResponseReturnValue:
    """The admin start page is the events list."""
    return redirect(url_for("admin.events"))


@bp.route("/events")
@allow(EVERYONE)
def events() -> ResponseReturnValue:
    """Every event with its counts."""
    return render_template("admin/events.html", events=store().events(), counts=people.event_counts(store()))


def _event_form_values() -> dict[str, str]:
    keys = ("id", "name", "venue", "start", "end", "timezone", "zones")
    values = {k: _form(k) for k in keys}
    if auth.showing():
        values["timezone"] = config().deployment.timezone
        values["zones"] = "hall"
    return values


def _parse_event(values: dict[str, str]) -> tuple[NewEvent | None, dict[str, str]]:
    errors: dict[str, str] = {}
    if not EVENT_ID.fullmatch(values["id"]) or values["id"] in RESERVED_EVENT_IDS:
        errors["id"] = _("1 to 64 letters, digits, '-' or '_' (not “new”).")
    name_error = _text_error(values["name"], 200, required=True)
    if name_error:
        errors["name"] = name_error
    venue_error = _text_error(values["venue"], 200, required=False)
    if venue_error:
        errors["venue"] = venue_error
    tz = values["timezone"] or config().deployment.timezone
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        errors["timezone"] = _("Not a time zone; use a name such as Asia/Ho_Chi_Minh.")
        tz = config().deployment.timezone
    times: dict[str, datetime] = {}
    for key in ("start", "end"):
        try:
            times[key] = parse_time(values[key], tz, key)
        except InputError:
            errors[key] = _("Give a date and time, e.g. 2022-03-26 07:30.")
    for key, moment in times.items():
        if not EARLIEST_EVENT <= moment <= LATEST_EVENT:
            errors[key] = _(
                "Give a date between %(first)d and %(last)d.", first=EARLIEST_EVENT.year, last=LATEST_EVENT.year - 1
            )
    if "start" in times and "end" in times and times["end"] <= times["start"]:
        errors["end"] = _("The event must end after it starts.")
    zones = tuple(dict.fromkeys(z.lower() for z in _SPLIT.split(values["zones"]) if z))
    if not zones:
        errors["zones"] = _("Give at least one zone, e.g. hall, vip, press.")
    elif any(not _ZONE.match(z) for z in zones) or len(zones) > credential.MAX_ZONES:
        errors["zones"] = _("Up to 16 zones of 1 to 32 letters a-z, digits, '-' or '_', separated by commas.")
    if errors:
        return None, errors
    new = NewEvent(
        id=values["id"],
        name=values["name"],
        venue=values["venue"],
        start=times["start"],
        end=times["end"],
        timezone=tz,
        zones=zones,
    )
    return new, errors


@bp.route("/events/new", methods=["GET", "POST"])
@allow(REGISTRATION)
def event_new() -> ResponseReturnValue:
    """The new event form; a POST creates the event with its zones."""
    values = _event_form_values()
    if auth.showing():
        return render_template("admin/event_new.html", values=values, errors={})
    new, errors = _parse_event(values)
    if new is not None:
        try:
            store().create_event(new, now())
        except InputError as exc:
            if exc.reason is not Reason.ALREADY_EXISTS:
                raise
            errors["id"] = _("An event with this id already exists.")
    if new is None or errors:
        return render_template("admin/event_new.html", values=values, errors=errors), 400
    _log("event.create", new.id, f"{new.name}; zones {', '.join(new.zones)}")
    flash(_("Event %(id)s created.", id=new.id), "ok")
    return redirect(url_for("admin.event", event_id=new.id))


@bp.route("/events/<event_id>")
@allow(EVERYONE)
def event(event_id: str) -> ResponseReturnValue:
    """One event: its numbers, gates and guests (searchable, without regard to diacritics)."""
    ev = _event_or_404(event_id)
    query = request.args.get("q", "").strip()[:200]
    views = people.guest_views(store(), ev.id, query)
    page = _page()
    start = (page - 1) * PAGE_SIZE
    everyone = views if not query else people.guest_views(store(), ev.id)
    pending = sum(1 for v in everyone if v.status == "none")
    return render_template(
        "admin/event.html",
        event=ev,
        query=query,
        guests=views[start : start + PAGE_SIZE],
        total=len(views),
        page=page,
        pages=max(1, -(-len(views) // PAGE_SIZE)),
        pending=pending,
        counts=people.event_counts(store()).get(ev.id, people.EventCounts()),
        gates=store().devices(ev.id),
        entries=people.recent_entries(store(), ev.id),
        signer_problem=signer_problem(),
        mail_enabled=config().mail.enabled,
    )


# ---- gates ----------------------------------------------------------------------------------------


@bp.route("/events/<event_id>/gates", methods=["POST"])
@allow(ADMIN_ONLY)
def gate_new(event_id: str) -> ResponseReturnValue:
    """Create a gate and show its one-time enrolment code, once (never in a URL or a log)."""
    ev = _event_or_404(event_id)
    name, zone, direction = _form("name"), _form("zone"), _form("direction") or "in"
    errors: dict[str, str] = {}
    name_error = _text_error(name, 100, required=True)
    if name_error:
        errors["gate_name"] = name_error
    if zone not in ev.zone_codes:
        errors["gate_zone"] = _("Choose one of the event's zones.")
    if direction not in ("in", "out"):
        errors["gate_direction"] = _("Choose in or out.")
    if errors:
        return render_template(
            "admin/gate_error.html", event=ev, errors=errors, values={"name": name, "zone": zone}
        ), 400
    device, code = store().create_device(ev.id, name, zone, direction, now())
    _log("gate.create", f"{ev.id}/{device.id}", f"{name} ({zone}, {direction})")
    return render_template("admin/gate_created.html", event=ev, device=device, code=code)


@bp.route("/gates/<device_id>/revoke", methods=["POST"])
@allow(ADMIN_ONLY)
def gate_revoke(device_id: str) -> ResponseReturnValue:
    """Revoke a gate (a stolen laptop): its token stops working at once."""
    try:
        device = store().device(device_id)
    except InputError:
        abort(404)
    if device.status == "revoked":
        flash(_("This gate is already revoked."), "error")
        return redirect(url_for("admin.event", event_id=device.event_id)), 303
    store().revoke_device(device.id, now())
    _log("gate.revoke", f"{device.event_id}/{device.id}", device.name)
    flash(_("Gate %(name)s revoked: it can no longer fetch bundles or upload its journal.", name=device.name), "ok")
    return redirect(url_for("admin.event", event_id=device.event_id))


# ---- guests ---------------------------------------------------------------------------------------


def _guest_form_row() -> GuestRow:
    zones = tuple(dict.fromkeys(z for z in request.form.getlist("zones") if z))
    return GuestRow(0, _form("name"), _form("organisation"), _form("category"), zones, _form("email"))


@bp.route("/events/<event_id>/guests/new", methods=["GET", "POST"])
@allow(REGISTRATION)
def guest_new(event_id: str) -> ResponseReturnValue:
    """Add one guest, and issue their code at once if asked."""
    ev = _event_or_404(event_id)
    if auth.showing():
        row = GuestRow(0, "", "", "", ev.zone_codes[:1], "")
        return render_template("admin/guest_form.html", event=ev, row=row, errors={}, guest=None, issue_now=True)
    row = _guest_form_row()
    errors = guest_errors(row, ev)
    issue_now = request.form.get("issue_now") == "1"
    if errors:
        return render_template(
            "admin/guest_form.html", event=ev, row=row, errors=errors, guest=None, issue_now=issue_now
        ), 400
    guest_id = people.add_guests(store(), ev.id, [row], now(), actor=_actor())[0]
    flash(_("Guest %(name)s added.", name=row.name), "ok")
    if issue_now:
        _issue_and_report(ev, [people.guest(store(), guest_id)], reissue=False)
    return redirect(url_for("admin.guest", guest_id=guest_id))


@bp.route("/guests/<int:guest_id>")
@allow(EVERYONE)
def guest(guest_id: int) -> ResponseReturnValue:
    """One guest: details, their codes, and (for registrars) the QR code and the actions."""
    return _guest_page(_guest_or_404(guest_id))


def _guest_page(row: Guest, errors: dict[str, str] | None = None, status: int = 200) -> ResponseReturnValue:
    ev = _event_or_404(row.event_id)
    creds = people.guest_credentials(store(), row.id)
    active = next((c for c in creds if c.status == "active"), None)
    svg = qr.svg(active.text, border=config().qr.border) if active is not None and auth.can(REGISTRATION) else None
    return render_template(
        "admin/guest.html",
        event=ev,
        guest=row,
        credentials=creds,
        active=active,
        svg=svg,
        errors=errors or {},
        signer_problem=signer_problem(),
        mail_enabled=config().mail.enabled,
    ), status


@bp.route("/guests/<int:guest_id>/edit", methods=["GET", "POST"])
@allow(REGISTRATION)
def guest_edit(guest_id: int) -> ResponseReturnValue:
    """Change a guest's details (their code shows the old ones until it is re-issued)."""
    current = _guest_or_404(guest_id)
    ev = _event_or_404(current.event_id)
    if auth.showing():
        return render_template(
            "admin/guest_form.html", event=ev, row=people.guest_row(current), errors={}, guest=current, issue_now=False
        )
    row = _guest_form_row()
    errors = guest_errors(row, ev)
    if errors:
        return render_template(
            "admin/guest_form.html", event=ev, row=row, errors=errors, guest=current, issue_now=False
        ), 400
    people.update_guest(store(), guest_id, row, now(), actor=_actor())
    if any(c.status == "active" for c in people.guest_credentials(store(), guest_id)):
        flash(_("Saved. Re-issue the code so that the badge shows the new details."), "ok")
    else:
        flash(_("Saved."), "ok")
    return redirect(url_for("admin.guest", guest_id=guest_id))


@bp.route("/events/<event_id>/import", methods=["GET", "POST"])
@allow(REGISTRATION)
def guest_import(event_id: str) -> ResponseReturnValue:
    """Import a guest list (UTF-8 CSV, with or without BOM, as Excel saves it); report refused rows."""
    ev = _event_or_404(event_id)
    problem = signer_problem()
    if auth.showing():
        return render_template(
            "admin/import.html", event=ev, errors={}, signer_problem=problem, issue_now=problem is None
        )
    issue_now = request.form.get("issue_now") == "1"
    upload = request.files.get("file")
    data = upload.read(issuing.MAX_CSV_BYTES + 1) if upload is not None else b""
    errors: dict[str, str] = {}
    rows: list[GuestRow] = []
    refused: list[RowError] = []
    if not data:
        errors["file"] = _("Choose a CSV file.")
    else:
        try:
            rows, refused = issuing.read_guest_csv(data, ev.zone_codes)
        except InputError as exc:
            errors["file"] = exc.detail
    if issue_now and problem is not None:
        errors["issue_now"] = describe(problem)
    if errors:
        return render_template(
            "admin/import.html", event=ev, errors=errors, signer_problem=problem, issue_now=issue_now
        ), 400
    fresh = _without_repeats(ev, rows, refused)
    issued = 0
    if fresh and issue_now:
        signer, moment, signed, sign_errors = sign_for_event(ev, fresh)
        refused.extend(sign_errors)
        issuing.record(store(), ev, signed, signer.kid, moment)
        issued = len(signed)
        _log("guest.import", ev.id, f"{issued} guests, {issued} codes issued, {len(refused)} rows refused")
    elif fresh:
        people.add_guests(store(), ev.id, fresh, now(), actor=_actor())
    refused.sort(key=lambda e: e.line)
    added = issued if issue_now else len(fresh)
    return render_template(
        "admin/import_report.html",
        event=ev,
        added=added,
        issued=issued,
        refused=refused,
        row_error_text=row_error_text,
        file_name=upload.filename if upload is not None else "",
    )


def _without_repeats(ev: Event, rows: Sequence[GuestRow], refused: list[RowError]) -> list[GuestRow]:
    """Rows that are neither on the list already nor repeated in the file; the others are refused."""
    known = people.existing_guest_keys(store(), ev.id)
    seen: dict[tuple[str, str, str], int] = {}
    fresh: list[GuestRow] = []
    for row in rows:
        key = people.guest_key(row.name, row.organisation, row.email)
        problems = guest_errors(row, ev)
        if problems:
            refused.append(RowError(row.line, Reason.INVALID_INPUT.value, " ".join(problems.values())))
        elif key in known:
            refused.append(RowError(row.line, Reason.ALREADY_EXISTS.value, "already on the guest list"))
        elif key in seen:
            refused.append(RowError(row.line, Reason.ALREADY_EXISTS.value, f"the same guest as line {seen[key]}"))
        else:
            seen[key] = row.line
            fresh.append(row)
    return fresh


# ---- issuing and revocation -------------------------------------------------------------------------


def _window(ev: Event, moment: datetime) -> tuple[datetime, datetime]:
    cfg = config()
    window = issuing.ticket_window(ev, cfg.issuing.valid_before_event_hours, cfg.issuing.valid_after_event_hours)
    if window[1] <= moment:
        raise InputError(_("The event is over: its codes would already have expired."))
    return window


def sign_for_event(
    ev: Event, rows: Sequence[GuestRow]
) -> tuple[Signer, datetime, list[issuing.Issued], list[RowError]]:
    """Sign one code per row with the loaded key, valid for the event's default window."""
    signer = _signer()
    moment = now()
    signed, errors = issuing.sign_rows(
        rows,
        issuer=config().deployment.id,
        event=ev,
        key=signer.key,
        kid=signer.kid,
        window=_window(ev, moment),
        now=moment,
    )
    return signer, moment, signed, errors


def _issue(ev: Event, guests: Sequence[Guest], *, reissue: bool) -> tuple[int, list[RowError]]:
    """Sign a code for each guest and store it; with `reissue`, their active codes are revoked."""
    rows = [people.guest_row(g, line=g.id) for g in guests]  # the line carries the guest id back
    signer, moment, signed, errors = sign_for_event(ev, rows)
    count = people.record_credentials(
        store(),
        [(item.row.line, item.credential, signer.kid.hex(), item.text) for item in signed],
        moment,
        actor=_actor(),
        revoke_active=reissue,
    )
    return count, errors


def _issue_and_report(ev: Event, guests: Sequence[Guest], *, reissue: bool) -> None:
    try:
        count, errors = _issue(ev, guests, reissue=reissue)
    except CheckinError as exc:
        flash(_("No code was issued: %(reason)s", reason=describe(exc)), "error")
        return
    if count:
        flash(ngettext("%(num)d code issued.", "%(num)d codes issued.", count), "ok")
    for error in errors:
        flash(_("Guest #%(id)d: %(reason)s", id=error.line, reason=error.detail), "error")


@bp.route("/events/<event_id>/issue", methods=["POST"])
@allow(REGISTRATION)
def event_issue(event_id: str) -> ResponseReturnValue:
    """Issue codes to every guest of the event who never had one (revoked guests stay revoked)."""
    ev = _event_or_404(event_id)
    pending = [v.guest for v in people.guest_views(store(), ev.id) if v.status == "none"]
    if not pending:
        flash(_("Every guest already has a code."), "ok")
    else:
        _issue_and_report(ev, pending, reissue=False)
    return redirect(url_for("admin.event", event_id=ev.id))


@bp.route("/guests/<int:guest_id>/issue", methods=["POST"])
@allow(REGISTRATION)
def guest_issue(guest_id: int) -> ResponseReturnValue:
    """Issue a guest's code; with reissue=1, revoke their active code and issue a new one."""
    context = people.issue_context(store(), guest_id)
    if context is None:
        abort(404)
    row = context.guest
    reissue = request.form.get("reissue") == "1"
    if context.has_active and not reissue:
        return _guest_page(row, {"issue": _("This guest already has an active code; use Re-issue to replace it.")}, 409)
    _issue_and_report(context.event, [row], reissue=reissue)
    return redirect(url_for("admin.guest", guest_id=guest_id))


@bp.route("/credentials/<cti>/revoke", methods=["POST"])
@allow(REGISTRATION)
def credential_revoke(cti: str) -> ResponseReturnValue:
    """Revoke one code, with a reason for the log; gates refuse it from their next bundle."""
    cred = _credential_or_404(cti)
    reason = _form("reason")
    problem = _text_error(reason, 500, required=True)
    status = 400
    if problem is None and cred.status != "active":
        problem, status = _("This code is already revoked."), 409
    if problem is not None:
        if cred.guest_id is None:
            raise InputError(f"reason: {problem}")
        return _guest_page(_guest_or_404(cred.guest_id), {"reason": problem}, status)
    back = (
        url_for("admin.guest", guest_id=cred.guest_id)
        if cred.guest_id
        else url_for("admin.event", event_id=cred.event_id)
    )
    store().revoke(cred.cti, reason, now())
    _log("credential.revoke", cred.cti, reason)
    flash(_("Code %(id)s revoked. Gates refuse it once they fetch their next bundle.", id=cred.cti[:8]), "ok")
    return redirect(back)


def _credential_or_404(cti: str) -> Any:
    if not re.fullmatch(r"[0-9a-f]{32}", cti):
        abort(404)
    try:
        return people.credential(store(), cti)
    except InputError:
        abort(404)


def _download_name(name: str, cti: str, ext: str) -> str:
    return f"{issuing._slug(name)}-{cti[:8]}.{ext}"


def _active_text(cti: str) -> tuple[str, str]:
    cred = _credential_or_404(cti)
    if cred.status != "active":
        abort(404)
    return cast(str, cred.text), cast(str, cred.name)


@bp.route("/credentials/<cti>.png")
@allow(REGISTRATION)
def credential_png(cti: str) -> ResponseReturnValue:
    """The code as a PNG file to download."""
    text, name = _active_text(cti)
    body = qr.png(text, scale=config().qr.scale, border=config().qr.border)
    _log("credential.download", cti, "png")
    return _attachment(body, "image/png", _download_name(name, cti, "png"))


@bp.route("/credentials/<cti>.svg")
@allow(REGISTRATION)
def credential_svg(cti: str) -> ResponseReturnValue:
    """The code as an SVG file to download."""
    text, name = _active_text(cti)
    _log("credential.download", cti, "svg")
    return _attachment(
        qr.svg(text, border=config().qr.border).encode(), "image/svg+xml", _download_name(name, cti, "svg")
    )


def _attachment(body: bytes, mimetype: str, file_name: str) -> Response:
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{file_name}"'
    return response


@bp.route("/events/<event_id>/badges.pdf")
@allow(REGISTRATION)
def badge_sheet(event_id: str) -> ResponseReturnValue:
    """The printable A4 badge sheet of every active code of the event."""
    ev = _event_or_404(event_id)
    rows = people.active_badges(store(), ev.id)
    if not rows:
        flash(_("No active codes to print yet."), "error")
        return redirect(url_for("admin.event", event_id=ev.id)), 303
    badges = (qr.Badge(r.name, r.organisation, r.category, r.zones, r.text) for r in rows)
    pdf = qr.badge_sheet(badges, ev.name)
    _log("badges.print", ev.id, f"{len(rows)} badges")
    return _attachment(pdf, "application/pdf", f"badges-{ev.id}.pdf")


@bp.route("/guests/<int:guest_id>/email", methods=["POST"])
@allow(REGISTRATION)
def guest_email(guest_id: int) -> ResponseReturnValue:
    """Send the guest their active code by e-mail (PNG attached, Vietnamese and English text)."""
    row = _guest_or_404(guest_id)
    ev = _event_or_404(row.event_id)
    active = next((c for c in people.guest_credentials(store(), guest_id) if c.status == "active"), None)
    back = url_for("admin.guest", guest_id=guest_id)
    if active is None or not row.email:
        flash(_("The guest needs an active code and an e-mail address."), "error")
        return redirect(back), 303
    settings = config().mail
    when = f"{_local_time(ev.start, ev.timezone)} – {_local_time(ev.end, ev.timezone)} ({ev.timezone})"
    try:
        message_ = mail.compose(
            settings,
            mail.CodeMail(
                name=row.name,
                address=row.email,
                event_name=ev.name,
                venue=ev.venue,
                when=when,
                zones=tuple(z for z in row.zones.split(",") if z),
                png=qr.png(active.text, scale=config().qr.scale, border=config().qr.border),
                file_name=_download_name(row.name, active.cti, "png"),
            ),
        )
        mail.send(settings, message_)
    except CheckinError as exc:
        _log("credential.email_failed", active.cti, exc.code)
        flash(_("The e-mail was not sent: %(reason)s", reason=describe(exc)), "error")
        return redirect(back), 303
    _log("credential.email", active.cti, row.email)
    flash(_("The code was sent to %(address)s.", address=row.email), "ok")
    return redirect(back)


# ---- keys, users, the log -------------------------------------------------------------------------


@bp.route("/keys")
@allow(ADMIN_ONLY)
def keys() -> ResponseReturnValue:
    """The keys' public facts (kid, role, status, fingerprint); private material never leaves the folder."""
    try:
        infos = KeyStore(config().keys_dir).keys()
        problem: KeyStoreError | None = None
    except KeyStoreError as exc:
        infos, problem = [], exc
    loaded = current_app.extensions.get(SIGNER)
    return render_template(
        "admin/keys.html",
        keys=infos,
        problem=problem,
        loaded_kid=loaded.kid.hex() if isinstance(loaded, Signer) else None,
        signer_problem=signer_problem(),
    )


def _users_page(
    errors: dict[str, str], values: dict[str, str], new_password: tuple[str, str] | None = None, status: int = 200
) -> ResponseReturnValue:
    return render_template(
        "admin/users.html",
        users=people.users(store()),
        roles=list(Role),
        errors=errors,
        values=values,
        new_password=new_password,
        now=now(),
    ), status


@bp.route("/users", methods=["GET", "POST"])
@allow(ADMIN_ONLY)
def users() -> ResponseReturnValue:
    """Staff accounts; a POST adds one with a generated password, shown once."""
    if auth.showing():
        return _users_page({}, {"username": "", "role": Role.REGISTRAR.value})
    values = {"username": _form("username"), "role": _form("role")}
    errors: dict[str, str] = {}
    try:
        username = people.normalise_username(values["username"])
    except InputError:
        errors["username"] = _("2 to 64 characters: a-z, 0-9, '.', '-' or '_'.")
    if values["role"] not in {r.value for r in Role}:
        errors["role"] = _("Choose a role.")
    if errors:
        return _users_page(errors, values, status=400)
    password = people.generate_secret()
    try:
        people.create_user(store(), username, Role(values["role"]), password, now(), actor=_actor())
    except InputError as exc:
        if exc.reason is not Reason.ALREADY_EXISTS:
            raise
        return _users_page({"username": _("This user name is taken.")}, values, status=400)
    return _users_page({}, {"username": "", "role": Role.REGISTRAR.value}, new_password=(username, password))


def _user_or_404(user_id: int) -> Any:
    user = people.user_by_id(store(), user_id)
    if user is None:
        abort(404)
    return user


@bp.route("/users/<int:user_id>", methods=["POST"])
@allow(ADMIN_ONLY)
def user_change(user_id: int) -> ResponseReturnValue:
    """Change a user: role, enable or disable, unlock, or a new generated password (shown once)."""
    user = _user_or_404(user_id)
    action = _form("action")
    password: str | None = None
    try:
        if action == "role":
            if _form("role") not in {r.value for r in Role}:
                return _users_page({f"role-{user_id}": _("Choose a role.")}, {"username": "", "role": ""}, status=400)
            people.update_user(store(), user_id, now(), actor=_actor(), role=Role(_form("role")))
        elif action in ("enable", "disable"):
            people.update_user(store(), user_id, now(), actor=_actor(), active=action == "enable")
        elif action == "unlock":
            people.update_user(store(), user_id, now(), actor=_actor(), unlock=True)
        elif action == "password":
            password = people.generate_secret()
            people.update_user(store(), user_id, now(), actor=_actor(), password=password, unlock=True)
        else:
            return _users_page({"action": _("Unknown action.")}, {"username": "", "role": ""}, status=400)
    except InputError as exc:
        if exc.reason is not Reason.FORBIDDEN:
            raise
        flash(_("Refused: at least one active administrator must remain."), "error")
        return redirect(url_for("admin.users")), 303
    if password is not None:
        return _users_page({}, {"username": "", "role": Role.REGISTRAR.value}, new_password=(user.username, password))
    flash(_("User %(name)s updated.", name=user.username), "ok")
    return redirect(url_for("admin.users"))


@bp.route("/log")
@allow(EVERYONE)
def action_log() -> ResponseReturnValue:
    """The admin action log, newest first."""
    page = _page()
    rows, total = people.actions(store(), limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    return render_template("admin/log.html", actions=rows, page=page, pages=max(1, -(-total // PAGE_SIZE)), total=total)


@bp.errorhandler(CheckinError)
def _checkin_error(error: CheckinError) -> ResponseReturnValue:
    status = 404 if error.reason is Reason.NOT_FOUND else 400
    return render_template("admin/error.html", status=status, reason=error.reason, detail=error.detail), status
