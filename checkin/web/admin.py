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
import unicodedata
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import (
    Blueprint,
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
from checkin.core.trust import Label, bilingual
from checkin.keystore import KeyStore
from checkin.services import events as event_service
from checkin.services import gates, guestlist, imports, invitations, issuing, revocation, scansearch
from checkin.services import guests as guest_service
from checkin.services.issuing import Signer
from checkin.services.problems import FieldsInvalid, Problem, RowError
from checkin.store import CredentialStatus, Event, Guest, counters, reports
from checkin.store import devices as stored_devices
from checkin.store import events as stored_events
from checkin.store import guests as stored_guests
from checkin.store import invitations as stored_invitations
from checkin.store import jobs as stored_jobs
from checkin.store import users as stored_users
from checkin.store.actions import action_count, actions, log_action
from checkin.store.events import EARLIEST_EVENT, EVENT_ID, LATEST_EVENT, RESERVED_EVENT_IDS, NewEvent
from checkin.store.guests import GuestRow
from checkin.store.users import Role
from checkin.web import auth
from checkin.web.auth import ADMIN_ONLY, EVERYONE, REGISTRATION, allow, current_user
from checkin.web.context import config, jobs, loaded_signer, now, signer, signer_problem, store
from checkin.web.formatting import attachment, download_name, local_time, short_code
from checkin.web.i18n import describe, language, message, ngettext
from checkin.web.i18n import gettext as _
from checkin.web.limits import KIB, body_limit

bp = Blueprint("admin", __name__, url_prefix="/admin")
auth.install(bp)

PAGE_SIZE = 50


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
    """Where each role starts: the events list, or the audit dashboard for officers."""
    return redirect(auth.home_for())


@bp.route("/events")
@allow(REGISTRATION)
def events() -> ResponseReturnValue:
    """Every event with its counts."""
    return render_template(
        "admin/events.html", events=stored_events.events(store()), counts=reports.event_counts(store())
    )


def _event_form_values() -> dict[str, str]:
    keys = ("id", "name", "venue", "start", "end", "timezone")
    values = {k: _form(k) for k in keys}
    # the names are typed one a line: tidy each line, keep the lines
    for key in ("zones", "categories"):
        values[key] = "\n".join(credential.tidy_text(line) for line in request.form.get(key, "").splitlines())
    if auth.showing():
        values["timezone"] = config().deployment.timezone
        values["zones"] = "hall"
    return values


def _event_values(ev: Event) -> dict[str, str]:
    """An event as its form shows it."""
    stamp = "%Y-%m-%dT%H:%M"
    zone = ZoneInfo(ev.timezone)
    return {
        "id": ev.id,
        "name": ev.name,
        "venue": ev.venue,
        "start": ev.start.astimezone(zone).strftime(stamp),
        "end": ev.end.astimezone(zone).strftime(stamp),
        "timezone": ev.timezone,
        "zones": event_service.labels_text(ev.zone_codes, ev.zone_names),
        "categories": event_service.labels_text(tuple(c.code for c in ev.categories), ev.category_names),
    }


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
    zones: tuple[str, ...] = ()
    zone_names: dict[str, Label] = {}
    category_names: dict[str, Label] = {}
    try:
        zones, zone_names = event_service.parse_labels(values["zones"])
    except InputError:
        errors["zones"] = _("Up to 16 zones of 1 to 32 letters a-z, digits, '-' or '_', one a line.")
    if not zones and "zones" not in errors:
        errors["zones"] = _("Give at least one zone, e.g. hall, vip, press.")
    elif len(zones) > credential.MAX_ZONES:
        errors["zones"] = _("Up to 16 zones of 1 to 32 letters a-z, digits, '-' or '_', one a line.")
    try:
        codes, category_names = event_service.parse_labels(values["categories"], event_service.CATEGORY_CODE)
        category_names = {c: category_names.get(c, Label()) for c in codes}
    except InputError:
        errors["categories"] = _("Categories of 1 to 40 letters a-z, digits, '-' or '_', one a line.")
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
        zone_names=zone_names,
        category_names=category_names,
    )
    return new, errors


@bp.route("/events/new", methods=["GET", "POST"])
@allow(REGISTRATION)
def event_new() -> ResponseReturnValue:
    """The new event form; a POST creates the event with its zones."""
    values = _event_form_values()
    if auth.showing():
        return render_template("admin/event_form.html", values=values, errors={}, editing=False)
    new, errors = _parse_event(values)
    if new is not None:
        try:
            event_service.create_event(store(), new, now(), actor=_actor())
        except InputError as exc:
            if exc.reason is not Reason.ALREADY_EXISTS:
                raise
            errors["id"] = _("An event with this id already exists.")
    if new is None or errors:
        return render_template("admin/event_form.html", values=values, errors=errors, editing=False), 400
    flash(_("Event %(id)s created.", id=new.id), "ok")
    return redirect(url_for("admin.event", event_id=new.id))


@bp.route("/events/<event_id>/edit", methods=["GET", "POST"])
@allow(REGISTRATION)
def event_edit(event_id: str) -> ResponseReturnValue:
    """Change an event's name, venue, times, zones and names; gates get the change in their next bundle."""
    ev = _event_or_404(event_id)
    if auth.showing():
        return render_template("admin/event_form.html", event=ev, values=_event_values(ev), errors={}, editing=True)
    values = {**_event_form_values(), "id": ev.id}
    changed, errors = _parse_event(values)
    if changed is not None:
        try:
            event_service.update_event(store(), changed, now(), actor=_actor())
        except InputError as exc:
            if exc.reason is not Reason.ZONE_IN_USE:
                raise
            errors["zones"] = message(exc.reason, **exc.params)
    if changed is None or errors:
        return render_template("admin/event_form.html", event=ev, values=values, errors=errors, editing=True), 400
    flash(_("Event saved. Gates receive the change with their next bundle."), "ok")
    return redirect(url_for("admin.event", event_id=ev.id))


def _entries_as_seen(event_id: str) -> tuple[list[reports.EntryView], int]:
    """The event's newest scans; a screening reason beside a name for administrators only (issue 11)."""
    rows, total = reports.recent_entries(store(), event_id)
    if not auth.can(ADMIN_ONLY):
        rows = [scansearch.entry_without_screening(row) for row in rows]
    return rows, total


@bp.route("/events/<event_id>")
@allow(REGISTRATION)
def event(event_id: str) -> ResponseReturnValue:
    """One event: its numbers, gates and guests (searchable, without regard to diacritics)."""
    ev = _event_or_404(event_id)
    query = request.args.get("q", "").strip()[:200]
    page = _page()
    found = stored_guests.guest_page(store(), ev.id, query, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE)
    return render_template(
        "admin/event.html",
        event=ev,
        query=query,
        guests=found.views,
        total=found.total,
        page=page,
        pages=max(1, -(-found.total // PAGE_SIZE)),
        pending=found.pending,
        counts=reports.event_counts(store()).get(ev.id, reports.EventCounts()),
        presence=counters.presence_counts(store(), ev.id)[counters.TOTAL],
        gates=stored_devices.devices(store(), ev.id),
        entries=_entries_as_seen(ev.id),
        signer_problem=signer_problem(),
        mail_enabled=config().mail.enabled,
        recent_jobs=stored_jobs.event_jobs(store(), ev.id, limit=5) if auth.can(REGISTRATION) else (),
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


@bp.route("/gates/<device_id>/revoke", methods=["GET", "POST"])
@allow(ADMIN_ONLY)
def gate_revoke(device_id: str) -> ResponseReturnValue:
    """Revoke a gate (a stolen laptop): its token stops working at once. A GET asks first."""
    if auth.showing():
        try:
            device = stored_devices.device(store(), device_id)
        except InputError:
            abort(404)
        ev = _event_or_404(device.event_id)
        return _confirm(
            title=_("Revoke gate"),
            question=_("Revoke the gate %(name)s?", name=device.name),
            consequences=[
                _("It can no longer fetch bundles or upload its journal, from now on."),
                _("Entries it has already uploaded stay in the records."),
                _("This cannot be undone: a new gate needs a new enrolment."),
            ],
            action=url_for("admin.gate_revoke", device_id=device.id),
            button=_("Revoke gate"),
            back=url_for("admin.event", event_id=ev.id),
            event=ev,
        )
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


def _confirm(
    *,
    title: str,
    question: str,
    consequences: Sequence[str],
    action: str,
    button: str,
    back: str,
    event: Event | None = None,
    hidden: dict[str, str] | None = None,
    reason: str | None = None,
    errors: dict[str, str] | None = None,
    danger: bool = True,
    status: int = 200,
) -> ResponseReturnValue:
    """A page that says what an action will do and asks for it once more: a plain form, no script."""
    return render_template(
        "admin/confirm.html",
        title=title,
        question=question,
        consequences=consequences,
        action=action,
        button=button,
        button_class="btn-danger" if danger else "btn-primary",
        back=back,
        event=event,
        hidden=hidden or {},
        reason=reason,
        errors=errors or {},
    ), status


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
@allow(REGISTRATION)
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
        invitation=stored_invitations.live_invitation(store(), row.id),
    ), status


def _printed(row: GuestRow) -> tuple[str, str, str, frozenset[str]]:
    """What a guest's code carries (and their badge shows): an edit of anything else needs no re-issue."""
    return (
        unicodedata.normalize("NFC", row.name),
        unicodedata.normalize("NFC", row.organisation),
        row.category,
        frozenset(row.zones),
    )


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
    before = _printed(stored_guests.guest_row(current))
    if before == _printed(row) and current.email == row.email:
        flash(_("Nothing changed."), "ok")
        return redirect(url_for("admin.guest", guest_id=guest_id))
    try:
        guest_service.edit_guest(store(), current, ev, row, now(), actor=_actor())
    except FieldsInvalid as refused:
        errors = refused.texts(language())
        return render_template(
            "admin/guest_form.html", event=ev, row=row, errors=errors, guest=current, issue_now=False
        ), 400
    if before != _printed(row) and _active_code(guest_id) is not None:
        flash(_("Saved. Re-issue the code so that the badge shows the new details."), "ok")
    else:
        flash(_("Saved."), "ok")
    return redirect(url_for("admin.guest", guest_id=guest_id))


@bp.route("/guests/<int:guest_id>/anonymise", methods=["GET", "POST"])
@allow(REGISTRATION)
def guest_anonymise(guest_id: int) -> ResponseReturnValue:
    """Anonymise a guest (their personal details go, their codes are revoked); a GET asks first."""
    row = _guest_or_404(guest_id)
    if auth.showing():
        return _confirm(
            title=_("Anonymise guest"),
            question=_("Anonymise %(name)s?", name=row.name),
            consequences=[
                _("Their name, organisation and e-mail address are erased; the guest is shown as #%(id)d.", id=row.id),
                _("Their code stops working: gates refuse it once they fetch their next bundle."),
                _("Their category, zones and entries stay, without the name, for the counts."),
                _("This cannot be undone."),
            ],
            action=url_for("admin.guest_anonymise", guest_id=guest_id),
            button=_("Anonymise guest"),
            back=url_for("admin.guest", guest_id=guest_id),
            event=_event_or_404(row.event_id),
        )
    revoked = guest_service.anonymise_guest(store(), guest_id, now(), actor=_actor())
    flash(
        ngettext("Guest anonymised; %(num)d code revoked.", "Guest anonymised; %(num)d codes revoked.", revoked),
        "ok",
    )
    return redirect(url_for("admin.guest", guest_id=guest_id))


@bp.route("/guests/<int:guest_id>/remove", methods=["GET", "POST"])
@allow(REGISTRATION)
def guest_remove(guest_id: int) -> ResponseReturnValue:
    """Remove a guest who never had a code; one who had is anonymised instead. A GET asks first."""
    row = _guest_or_404(guest_id)
    if stored_guests.guest_credentials(store(), guest_id):
        return redirect(url_for("admin.guest_anonymise", guest_id=guest_id)), 303
    if auth.showing():
        return _confirm(
            title=_("Remove guest"),
            question=_("Remove %(name)s from the guest list?", name=row.name),
            consequences=[_("No code was ever issued to this guest, so nothing changes at the gates.")],
            action=url_for("admin.guest_remove", guest_id=guest_id),
            button=_("Remove guest"),
            back=url_for("admin.guest", guest_id=guest_id),
            event=_event_or_404(row.event_id),
        )
    try:
        guest_service.remove_guest(store(), guest_id, now(), actor=_actor())
    except InputError as exc:
        if exc.reason is not Reason.GUEST_HAS_CODES:
            raise
        flash(message(exc.reason), "error")  # a code was issued between the question and the answer
        return redirect(url_for("admin.guest", guest_id=guest_id)), 303
    flash(_("Guest %(name)s removed.", name=row.name), "ok")
    return redirect(url_for("admin.event", event_id=row.event_id))


# ---- the guest's invitation link ------------------------------------------------------------------


@bp.route("/guests/<int:guest_id>/invitation", methods=["POST"])
@allow(REGISTRATION)
def guest_invitation(guest_id: int) -> ResponseReturnValue:
    """Make the guest's link to their own page (ticket, health questions) and show it once; an earlier
    link stops working. The link is the key to the page: it is never flashed, stored or logged."""
    row = _guest_or_404(guest_id)
    token = invitations.new_invitation(store(), guest_id, now(), actor=_actor())
    base = config().service.public_url or request.host_url
    return render_template(
        "admin/invitation_created.html",
        event=_event_or_404(row.event_id),
        guest=row,
        link=invitations.invitation_url(base, token),
    )


@bp.route("/guests/<int:guest_id>/invitation/revoke", methods=["GET", "POST"])
@allow(REGISTRATION)
def guest_invitation_revoke(guest_id: int) -> ResponseReturnValue:
    """Revoke the guest's link: it opens nothing from now on (their code stays valid). A GET asks first."""
    row = _guest_or_404(guest_id)
    if auth.showing():
        return _confirm(
            title=_("Revoke link"),
            question=_("Revoke the link of %(name)s to their own page?", name=row.name),
            consequences=[
                _("The link in their invitation opens nothing from now on; their code stays valid."),
                _("To let them declare again, send them a new link."),
            ],
            action=url_for("admin.guest_invitation_revoke", guest_id=guest_id),
            button=_("Revoke link"),
            back=url_for("admin.guest", guest_id=guest_id),
            event=_event_or_404(row.event_id),
        )
    invitations.revoke_invitations(store(), guest_id, now(), actor=_actor())
    flash(_("Link revoked."), "ok")
    return redirect(url_for("admin.guest", guest_id=guest_id))


@bp.route("/events/<event_id>/import", methods=["GET", "POST"])
@allow(REGISTRATION)
@body_limit(guestlist.MAX_CSV_BYTES + 64 * KIB)  # the file and the multipart around it
def guest_import(event_id: str) -> ResponseReturnValue:
    """Import a guest list (CSV in any of Excel's encodings); report the encoding read and refused rows."""
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
    read = guestlist.GuestList([], [], "")
    if not data:
        errors["file"] = _("Choose a CSV file.")
    else:
        try:
            read = guestlist.read_guest_list(data, ev.zone_codes)
        except InputError as exc:
            errors["file"] = _(exc.detail, **exc.params) if exc.detail else describe(exc)
    if issue_now and problem is not None:
        errors["issue_now"] = describe(problem)
    if errors:
        return render_template(
            "admin/import.html", event=ev, errors=errors, signer_problem=problem, issue_now=issue_now
        ), 400
    if imports.in_background(read):  # a long list: imported by the worker thread, with a progress page
        job = imports.start_import(
            store(),
            ev,
            data,
            read,
            now(),
            actor=_actor(),
            file_name=(upload.filename or "") if upload is not None else "",
            issue_now=issue_now,
        )
        jobs().submit(job.id)
        return redirect(url_for("admin.job_page", event_id=ev.id, job_id=job.id), 303)
    report = issuing.import_guests(
        store(),
        ev,
        read.rows,
        now(),
        actor=_actor(),
        issue_with=(config(), signer()) if issue_now else None,
        refused=read.refused,
    )
    return render_template(
        "admin/import_report.html",
        event=ev,
        added=report.added,
        issued=report.issued,
        refused=report.refused,
        row_error_text=row_error_text,
        file_name=upload.filename if upload is not None else "",
        encoding=read.encoding,
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


def _active_code(guest_id: int) -> Any:
    return next(
        (c for c in stored_guests.guest_credentials(store(), guest_id) if c.status == CredentialStatus.ACTIVE), None
    )


@bp.route("/guests/<int:guest_id>/issue", methods=["GET", "POST"])
@allow(REGISTRATION)
def guest_issue(guest_id: int) -> ResponseReturnValue:
    """Issue a guest's code; with reissue=1, revoke their active code and issue a new one. A GET asks
    before a re-issue."""
    if auth.showing():
        row = _guest_or_404(guest_id)
        active = _active_code(guest_id)
        if active is None:
            return redirect(url_for("admin.guest", guest_id=guest_id))
        return _confirm(
            title=_("Re-issue code"),
            question=_("Re-issue the code of %(name)s?", name=row.name),
            consequences=[
                _(
                    "The current code %(code)s is revoked: gates refuse it once they fetch their next bundle.",
                    code=credential.short_code(bytes.fromhex(active.cti)),
                ),
                _("A new code is issued with the guest's details as they are now; print or send it again."),
            ],
            action=url_for("admin.guest_issue", guest_id=guest_id),
            hidden={"reissue": "1"},
            button=_("Re-issue code"),
            back=url_for("admin.guest", guest_id=guest_id),
            event=_event_or_404(row.event_id),
        )
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


def _credential_back(cred: Any) -> str:
    """Where a code's page actions lead back to: its guest, or its event for a code without one."""
    if cred.guest_id:
        return url_for("admin.guest", guest_id=cred.guest_id)
    return url_for("admin.event", event_id=cred.event_id)


def _confirm_revoke(
    cred: Any, reason: str, errors: dict[str, str] | None = None, status: int = 200
) -> ResponseReturnValue:
    return _confirm(
        title=_("Revoke code"),
        question=_("Revoke the code %(code)s of %(name)s?", code=short_code(cred.cti), name=cred.name),
        consequences=[
            _("Gates refuse it once they fetch their next bundle; a printed badge or a sent e-mail stops working."),
            _("This cannot be undone: to let the guest in again, issue them a new code."),
        ],
        action=url_for("admin.credential_revoke", cti=cred.cti),
        button=_("Revoke code"),
        back=_credential_back(cred),
        event=_event_or_404(cred.event_id),
        reason=reason,
        errors=errors,
        status=status,
    )


@bp.route("/credentials/<cti>/revoke", methods=["GET", "POST"])
@allow(REGISTRATION)
def credential_revoke(cti: str) -> ResponseReturnValue:
    """Revoke one code, with a reason for the log; gates refuse it from their next bundle. A GET asks
    first (with the reason typed on the guest page)."""
    cred = _credential_or_404(cti)
    if auth.showing():
        if cred.status != CredentialStatus.ACTIVE:
            abort(404)
        return _confirm_revoke(cred, credential.tidy_text(request.args.get("reason", ""))[:500])
    try:
        revocation.revoke_credential(store(), cred.cti, _form("reason"), now(), actor=_actor())
    except FieldsInvalid as refused:
        return _confirm_revoke(cred, _form("reason")[:500], refused.texts(language()), 400)
    except InputError as exc:
        if exc.reason is not Reason.ALREADY_REVOKED or cred.guest_id is None:
            raise
        return _guest_page(_guest_or_404(cred.guest_id), {"reason": message(Reason.ALREADY_REVOKED)}, 409)
    back = _credential_back(cred)
    flash(_("Code %(id)s revoked. Gates refuse it once they fetch their next bundle.", id=short_code(cred.cti)), "ok")
    return redirect(back)


def _credential_or_404(cti: str) -> Any:
    if not re.fullmatch(r"[0-9a-f]{32}", cti):
        abort(404)
    try:
        return stored_guests.credential(store(), cti)
    except InputError:
        abort(404)


def _active_text(cti: str) -> tuple[str, str]:
    cred = _credential_or_404(cti)
    if cred.status != CredentialStatus.ACTIVE:
        abort(404)
    return cast(str, cred.text), cast(str, cred.name)


def _active_badge(cti: str) -> tuple[qr.Badge, Event]:
    """The badge of an active code, with its guest's details as they stand, and its event."""
    cred = _credential_or_404(cti)
    if cred.status != CredentialStatus.ACTIVE:
        abort(404)
    row = stored_guests.guest(store(), cred.guest_id) if cred.guest_id is not None else None
    ev = _event_or_404(cred.event_id)
    return issuing.stored_badge(cred, row, ev), ev


@bp.route("/credentials/<cti>.png")
@allow(REGISTRATION)
def credential_png(cti: str) -> ResponseReturnValue:
    """The code as a PNG file to download, with the guest's name, short code and event under it."""
    badge, ev = _active_badge(cti)
    body = qr.badge_png(badge, ev.name, scale=config().qr.scale, border=config().qr.border)
    _log("credential.download", cti, "png")
    return attachment(body, "image/png", download_name(badge.name, cti, "png"))


@bp.route("/credentials/<cti>/badge.pdf")
@allow(REGISTRATION)
def credential_badge(cti: str) -> ResponseReturnValue:
    """One guest's badge as a one-page A6 PDF, for on-site registration."""
    badge, ev = _active_badge(cti)
    body = qr.badge_pdf(badge, ev.name)
    _log("badge.print", cti, "pdf")
    return attachment(body, "application/pdf", download_name(badge.name, cti, "pdf"))


@bp.route("/credentials/<cti>.svg")
@allow(REGISTRATION)
def credential_svg(cti: str) -> ResponseReturnValue:
    """The code as an SVG file to download."""
    text, name = _active_text(cti)
    _log("credential.download", cti, "svg")
    return attachment(
        qr.svg(text, border=config().qr.border).encode(), "image/svg+xml", download_name(name, cti, "svg")
    )


@bp.route("/events/<event_id>/badges.pdf")
@allow(REGISTRATION)
def badge_sheet(event_id: str) -> ResponseReturnValue:
    """The printable A4 badge sheet of every active code of the event."""
    ev = _event_or_404(event_id)
    rows = reports.active_badges(store(), ev.id)
    if not rows:
        flash(_("No active codes to print yet."), "error")
        return redirect(url_for("admin.event", event_id=ev.id)), 303
    names = issuing.EventNames.of(ev)
    badges = (
        issuing.badge((r.name, r.organisation, r.category, r.zones, bytes.fromhex(r.cti)), r.text, names) for r in rows
    )
    pdf = qr.badge_sheet(badges, ev.name)
    _log("badges.print", ev.id, f"{len(rows)} badges")
    return attachment(pdf, "application/pdf", f"badges-{ev.id}.pdf")


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
                zones=tuple(bilingual(ev.zone_names, z) for z in row.zones.split(",") if z),
                png=qr.png(active.text, scale=config().qr.scale, border=config().qr.border),
                file_name=download_name(row.name, active.cti, "png"),
                short_code=short_code(active.cti),
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
    """Change a user: role, enable or disable, or a new generated password (shown once); disabling
    and a new password end the user's sessions at once."""
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
        elif action == "password":
            password = stored_users.generate_secret()
            stored_users.update_user(store(), user_id, now(), actor=_actor(), password=password)
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
@allow(REGISTRATION)
def action_log() -> ResponseReturnValue:
    """The admin action log, newest first."""
    page = _page()
    rows, total = actions(store(), limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE), action_count(store())
    return render_template("admin/log.html", actions=rows, page=page, pages=max(1, -(-total // PAGE_SIZE)), total=total)
