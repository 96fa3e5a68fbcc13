"""Admin pages: events, gates, guests, issuing, revocation, badges, e-mail, keys, users, the action log.

Server-rendered, one small CSS file, no JavaScript. Every view names the roles it is open to
(`auth.allow`); the guard installed by `auth.install` refuses everything else. Every change is
written to the admin action log. Forms that fail validation come back with status 400 and a
message under each field at fault.

The issuing key is decrypted once when the app starts (CHECKIN_KEY_PASSPHRASE) and kept in
`app.extensions`; when it cannot be loaded the issuing buttons say why instead of failing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue

from checkin import mail, qr
from checkin.clikit import parse_time
from checkin.core import credential
from checkin.core.errors import CheckinError, InputError, KeyStoreError, Reason
from checkin.keystore import KeyStore
from checkin.services import events as event_service
from checkin.services import gates, guestlist, issuing, revocation
from checkin.services import guests as guest_service
from checkin.services.issuing import Signer
from checkin.services.problems import FieldsInvalid, Problem, RowError
from checkin.store import CredentialStatus, Event, Guest, reports
from checkin.store import devices as stored_devices
from checkin.store import events as stored_events
from checkin.store import guests as stored_guests
from checkin.store import users as stored_users
from checkin.store.actions import action_count, actions, log_action
from checkin.store.events import EARLIEST_EVENT, EVENT_ID, LATEST_EVENT, RESERVED_EVENT_IDS, NewEvent
from checkin.store.guests import GuestRow
from checkin.store.users import Role
from checkin.web import auth
from checkin.web.auth import ADMIN_ONLY, EVERYONE, REGISTRATION, allow, current_user
from checkin.web.context import config, loaded_signer, now, signer, signer_problem, store
from checkin.web.formatting import local_time
from checkin.web.i18n import describe, language, message, ngettext
from checkin.web.i18n import gettext as _

bp = Blueprint("admin", __name__, url_prefix="/admin")
auth.install(bp)

PAGE_SIZE = 50
_ZONE = re.compile(r"^[a-z0-9_-]{1,32}$")
_SPLIT = re.compile(r"[;,|\s]+")


# ---- helpers --------------------------------------------------------------------------------------


def _actor() -> str:
    return current_user().username


def _log(action: str, target: str, detail: str = "") -> None:
    log_action(store(), _actor(), action, target, detail, now())


MAX_PAGE = 1_000_000  # far past any list's end, and an OFFSET every database takes


def _page() -> int:
    try:
        return min(max(1, int(request.args.get("page", "1"))), MAX_PAGE)
    except ValueError:
        return 1


def _event_or_404(event_id: str) -> Event:
    try:
        return stored_events.event(store(), event_id)
    except InputError:
        abort(404)


def _guest_or_404(guest_id: int) -> Guest:
    try:
        return stored_guests.guest(store(), guest_id)
    except InputError:
        abort(404)


def _form(name: str) -> str:
    return credential.tidy_text(request.form.get(name, ""))


def _text_error(value: str, limit: int, *, required: bool) -> str | None:
    problem = guest_service.text_problem(value, limit, required=required)
    return None if problem is None else problem.text(language())


def _texts(problems: dict[str, Problem]) -> dict[str, str]:
    return {name: problem.text(language()) for name, problem in problems.items()}


def row_error_text(error: RowError) -> str:
    """A refused row's reason in the page's language."""
    return error.text(language())


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
    return render_template(
        "admin/events.html", events=stored_events.events(store()), counts=reports.event_counts(store())
    )


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
            event_service.create_event(store(), new, now(), actor=_actor())
        except InputError as exc:
            if exc.reason is not Reason.ALREADY_EXISTS:
                raise
            errors["id"] = _("An event with this id already exists.")
    if new is None or errors:
        return render_template("admin/event_new.html", values=values, errors=errors), 400
    flash(_("Event %(id)s created.", id=new.id), "ok")
    return redirect(url_for("admin.event", event_id=new.id))


@bp.route("/events/<event_id>")
@allow(EVERYONE)
def event(event_id: str) -> ResponseReturnValue:
    """One event: its numbers, gates and guests (searchable, without regard to diacritics)."""
    ev = _event_or_404(event_id)
    query = request.args.get("q", "").strip()[:200]
    views = stored_guests.guest_views(store(), ev.id, query)
    page = _page()
    start = (page - 1) * PAGE_SIZE
    everyone = views if not query else stored_guests.guest_views(store(), ev.id)
    pending = sum(1 for v in everyone if v.status is None)
    return render_template(
        "admin/event.html",
        event=ev,
        query=query,
        guests=views[start : start + PAGE_SIZE],
        total=len(views),
        page=page,
        pages=max(1, -(-len(views) // PAGE_SIZE)),
        pending=pending,
        counts=reports.event_counts(store()).get(ev.id, reports.EventCounts()),
        gates=stored_devices.devices(store(), ev.id),
        entries=reports.recent_entries(store(), ev.id),
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
    try:
        root_pem = KeyStore(config().keys_dir).root_public_pem()
        made = gates.add_gate(store(), ev, name, zone, direction, now(), actor=_actor(), root_pem=root_pem)
    except FieldsInvalid as refused:
        errors = {f"gate_{field}": text for field, text in refused.texts(language()).items()}
        return render_template(
            "admin/gate_error.html", event=ev, errors=errors, values={"name": name, "zone": zone}
        ), 400
    return render_template("admin/gate_created.html", event=ev, device=made.device, code=made.code)


@bp.route("/gates/<device_id>/revoke", methods=["POST"])
@allow(ADMIN_ONLY)
def gate_revoke(device_id: str) -> ResponseReturnValue:
    """Revoke a gate (a stolen laptop): its token stops working at once."""
    try:
        device = gates.revoke_gate(store(), device_id, now(), actor=_actor())
    except InputError as exc:
        if exc.reason is Reason.NOT_FOUND:
            abort(404)
        if exc.reason is not Reason.DEVICE_REVOKED:
            raise
        flash(_("This gate is already revoked."), "error")
        return redirect(url_for("admin.event", event_id=stored_devices.device(store(), device_id).event_id)), 303
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
    issue_now = request.form.get("issue_now") == "1"
    try:
        added = guest_service.add_guest(store(), ev, row, now(), actor=_actor())
    except FieldsInvalid as refused:
        errors = refused.texts(language())
        return render_template(
            "admin/guest_form.html", event=ev, row=row, errors=errors, guest=None, issue_now=issue_now
        ), 400
    flash(_("Guest %(name)s added.", name=row.name), "ok")
    if issue_now:
        _issue_and_report(ev, [added], reissue=False)
    return redirect(url_for("admin.guest", guest_id=added.id))


@bp.route("/guests/<int:guest_id>")
@allow(EVERYONE)
def guest(guest_id: int) -> ResponseReturnValue:
    """One guest: details, their codes, and (for registrars) the QR code and the actions."""
    return _guest_page(_guest_or_404(guest_id))


def _guest_page(row: Guest, errors: dict[str, str] | None = None, status: int = 200) -> ResponseReturnValue:
    ev = _event_or_404(row.event_id)
    creds = stored_guests.guest_credentials(store(), row.id)
    active = next((c for c in creds if c.status == CredentialStatus.ACTIVE), None)
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
            "admin/guest_form.html",
            event=ev,
            row=stored_guests.guest_row(current),
            errors={},
            guest=current,
            issue_now=False,
        )
    row = _guest_form_row()
    try:
        guest_service.edit_guest(store(), current, ev, row, now(), actor=_actor())
    except FieldsInvalid as refused:
        errors = refused.texts(language())
        return render_template(
            "admin/guest_form.html", event=ev, row=row, errors=errors, guest=current, issue_now=False
        ), 400
    if any(c.status == CredentialStatus.ACTIVE for c in stored_guests.guest_credentials(store(), guest_id)):
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
    data = upload.read(guestlist.MAX_CSV_BYTES + 1) if upload is not None else b""
    errors: dict[str, str] = {}
    rows: list[GuestRow] = []
    refused: list[RowError] = []
    if not data:
        errors["file"] = _("Choose a CSV file.")
    else:
        try:
            rows, refused = guestlist.read_guest_csv(data, ev.zone_codes)
        except InputError as exc:
            errors["file"] = exc.detail
    if issue_now and problem is not None:
        errors["issue_now"] = describe(problem)
    if errors:
        return render_template(
            "admin/import.html", event=ev, errors=errors, signer_problem=problem, issue_now=issue_now
        ), 400
    report = issuing.import_guests(
        store(),
        ev,
        rows,
        now(),
        actor=_actor(),
        issue_with=(config(), signer()) if issue_now else None,
        refused=refused,
    )
    return render_template(
        "admin/import_report.html",
        event=ev,
        added=report.added,
        issued=report.issued,
        refused=report.refused,
        row_error_text=row_error_text,
        file_name=upload.filename if upload is not None else "",
    )


# ---- issuing and revocation -------------------------------------------------------------------------


def _issue_and_report(ev: Event, guests: Sequence[Guest], *, reissue: bool) -> None:
    try:
        report = issuing.issue_to_guests(store(), config(), signer, ev, guests, now(), actor=_actor(), reissue=reissue)
    except CheckinError as exc:
        flash(_("No code was issued: %(reason)s", reason=describe(exc)), "error")
        return
    _report_issued(report)


def _report_issued(report: issuing.IssueReport) -> None:
    if report.count:
        flash(ngettext("%(num)d code issued.", "%(num)d codes issued.", report.count), "ok")
    for error in report.refused:
        flash(_("Guest #%(id)d: %(reason)s", id=error.guest_id or 0, reason=error.text(language())), "error")


@bp.route("/events/<event_id>/issue", methods=["POST"])
@allow(REGISTRATION)
def event_issue(event_id: str) -> ResponseReturnValue:
    """Issue codes to every guest of the event who never had one (revoked guests stay revoked)."""
    ev = _event_or_404(event_id)
    try:
        report = issuing.issue_pending(store(), config(), signer, ev, now(), actor=_actor())
    except CheckinError as exc:
        flash(_("No code was issued: %(reason)s", reason=describe(exc)), "error")
    else:
        if report is None:
            flash(_("Every guest already has a code."), "ok")
        else:
            _report_issued(report)
    return redirect(url_for("admin.event", event_id=ev.id))


@bp.route("/guests/<int:guest_id>/issue", methods=["POST"])
@allow(REGISTRATION)
def guest_issue(guest_id: int) -> ResponseReturnValue:
    """Issue a guest's code; with reissue=1, revoke their active code and issue a new one."""
    reissue = request.form.get("reissue") == "1"
    try:
        report = issuing.issue_to_guest(store(), config(), signer, guest_id, now(), actor=_actor(), reissue=reissue)
    except CheckinError as exc:
        if exc.reason is Reason.NOT_FOUND:
            abort(404)
        if exc.reason is Reason.HAS_ACTIVE_CODE:
            return _guest_page(_guest_or_404(guest_id), {"issue": describe(exc)}, 409)
        flash(_("No code was issued: %(reason)s", reason=describe(exc)), "error")
    else:
        _report_issued(report)
    return redirect(url_for("admin.guest", guest_id=guest_id))


@bp.route("/credentials/<cti>/revoke", methods=["POST"])
@allow(REGISTRATION)
def credential_revoke(cti: str) -> ResponseReturnValue:
    """Revoke one code, with a reason for the log; gates refuse it from their next bundle."""
    cred = _credential_or_404(cti)
    try:
        revocation.revoke_credential(store(), cred.cti, _form("reason"), now(), actor=_actor())
    except (FieldsInvalid, InputError) as exc:
        if isinstance(exc, FieldsInvalid):
            problem, status = exc.texts(language())["reason"], 400
        elif exc.reason is Reason.ALREADY_REVOKED:
            problem, status = message(Reason.ALREADY_REVOKED), 409
        else:
            raise
        if cred.guest_id is None:
            raise InputError(f"reason: {problem}") from None
        return _guest_page(_guest_or_404(cred.guest_id), {"reason": problem}, status)
    back = (
        url_for("admin.guest", guest_id=cred.guest_id)
        if cred.guest_id
        else url_for("admin.event", event_id=cred.event_id)
    )
    flash(_("Code %(id)s revoked. Gates refuse it once they fetch their next bundle.", id=cred.cti[:8]), "ok")
    return redirect(back)


def _credential_or_404(cti: str) -> Any:
    if not re.fullmatch(r"[0-9a-f]{32}", cti):
        abort(404)
    try:
        return stored_guests.credential(store(), cti)
    except InputError:
        abort(404)


def _download_name(name: str, cti: str, ext: str) -> str:
    return f"{issuing.slug(name)}-{cti[:8]}.{ext}"


def _active_text(cti: str) -> tuple[str, str]:
    cred = _credential_or_404(cti)
    if cred.status != CredentialStatus.ACTIVE:
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
    rows = reports.active_badges(store(), ev.id)
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
    active = next(
        (c for c in stored_guests.guest_credentials(store(), guest_id) if c.status == CredentialStatus.ACTIVE), None
    )
    back = url_for("admin.guest", guest_id=guest_id)
    if active is None or not row.email:
        flash(_("The guest needs an active code and an e-mail address."), "error")
        return redirect(back), 303
    settings = config().mail
    when = f"{local_time(ev.start, ev.timezone)} – {local_time(ev.end, ev.timezone)} ({ev.timezone})"
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
    loaded = loaded_signer()
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
        users=stored_users.users(store()),
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
        username = stored_users.normalise_username(values["username"])
    except InputError:
        errors["username"] = _("2 to 64 characters: a-z, 0-9, '.', '-' or '_'.")
    if values["role"] not in {r.value for r in Role}:
        errors["role"] = _("Choose a role.")
    if errors:
        return _users_page(errors, values, status=400)
    password = stored_users.generate_secret()
    try:
        stored_users.create_user(store(), username, Role(values["role"]), password, now(), actor=_actor())
    except InputError as exc:
        if exc.reason is not Reason.ALREADY_EXISTS:
            raise
        return _users_page({"username": _("This user name is taken.")}, values, status=400)
    return _users_page({}, {"username": "", "role": Role.REGISTRAR.value}, new_password=(username, password))


def _user_or_404(user_id: int) -> Any:
    user = stored_users.user_by_id(store(), user_id)
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
            stored_users.update_user(store(), user_id, now(), actor=_actor(), role=Role(_form("role")))
        elif action in ("enable", "disable"):
            stored_users.update_user(store(), user_id, now(), actor=_actor(), active=action == "enable")
        elif action == "unlock":
            stored_users.update_user(store(), user_id, now(), actor=_actor(), unlock=True)
        elif action == "password":
            password = stored_users.generate_secret()
            stored_users.update_user(store(), user_id, now(), actor=_actor(), password=password, unlock=True)
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
    rows, total = actions(store(), limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE), action_count(store())
    return render_template("admin/log.html", actions=rows, page=page, pages=max(1, -(-total // PAGE_SIZE)), total=total)
