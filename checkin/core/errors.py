"""One error tree for the whole system: every error carries a reason code users see.

The core stays pure, so it words nothing in a language: a reason's message is an English msgid of
the catalogue (`checkin/locale/`), marked with `N_`, and an error carries its reason, an English
detail and the parameters both may name (`%(name)s`). `checkin.i18n` translates them where they are
shown; `CheckinError.text()` is the English line (logs, exceptions, tests).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any


def N_(msgid: str) -> str:
    """Mark an English text for the catalogue where it is written; it is translated where it is shown."""
    return msgid


class _Params(dict[str, object]):
    # A placeholder without a value stays visible rather than losing the whole message.
    def __missing__(self, key: str) -> str:
        return f"%({key})s"


def fill(text: str, params: Mapping[str, object]) -> str:
    """`text` with its %(name)s placeholders filled from `params`; unchanged when there are none."""
    if not params:
        return text
    try:
        return text % _Params(params)
    except (TypeError, ValueError):  # a %d given text, a stray %: the words still reach the person
        return text


class Verdict(StrEnum):
    """What the gate shows: let in, keep out, or send to a person (medical staff, supervisor)."""

    ADMIT = "admit"
    DENY = "deny"
    REFER = "refer"


class Reason(StrEnum):
    """Reason codes: the words on the gate screen, in the journal, the API and the audit pages."""

    # verdict reasons (DESIGN section 6)
    ADMITTED = "admitted"
    MALFORMED = "malformed"
    UNSUPPORTED_FORMAT = "unsupported_format"
    UNSUPPORTED_ALGORITHM = "unsupported_algorithm"
    UNKNOWN_KEY = "unknown_key"
    KEY_REVOKED = "key_revoked"
    KEY_RETIRED = "key_retired"
    BAD_SIGNATURE = "bad_signature"
    WRONG_EVENT = "wrong_event"
    NOT_YET_VALID = "not_yet_valid"
    EXPIRED = "expired"
    REVOKED = "revoked"
    ZONE_NOT_ALLOWED = "zone_not_allowed"
    ALREADY_INSIDE = "already_inside"
    ENTRY_LIMIT_REACHED = "entry_limit_reached"
    SCREENING_REQUIRED = "screening_required"
    SCREENING_FAILED = "screening_failed"
    BUNDLE_STALE = "bundle_stale"
    CLOCK_SUSPECT = "clock_suspect"
    # errors of the tools around the verdicts
    BUNDLE_INVALID = "bundle_invalid"
    BUNDLE_ROLLBACK = "bundle_rollback"
    WRONG_ROOT = "wrong_root"
    KEY_FILE_INVALID = "key_file_invalid"
    WRONG_PASSPHRASE = "wrong_passphrase"  # noqa: S105 - a reason code, not a secret
    NO_SIGNING_KEY = "no_signing_key"
    KEY_EXISTS = "key_exists"
    CONFIG_INVALID = "config_invalid"
    SCHEMA_OUTDATED = "schema_outdated"
    NOT_FOUND = "not_found"
    ALREADY_EXISTS = "already_exists"
    INVALID_INPUT = "invalid_input"
    IMAGE_UNREADABLE = "image_unreadable"
    IMAGE_TOO_LARGE = "image_too_large"
    NO_CODE_FOUND = "no_code_found"
    # people, sessions and delivery (the admin pages and `checkin user`)
    LOGIN_FAILED = "login_failed"
    TOO_MANY_ATTEMPTS = "too_many_attempts"
    FORBIDDEN = "forbidden"
    FORM_EXPIRED = "form_expired"
    WEAK_PASSWORD = "weak_password"  # noqa: S105 - a reason code, not a secret
    MAIL_NOT_CONFIGURED = "mail_not_configured"
    MAIL_FAILED = "mail_failed"
    # gate operator actions, journalled like verdicts
    REFUSED_BY_STAFF = "refused_by_staff"
    CLOCK_ACKNOWLEDGED = "clock_acknowledged"
    # the service's gate API (enrolment, bundle, journal upload)
    ENROLMENT_INVALID = "enrolment_invalid"
    UNAUTHORIZED = "unauthorized"
    DEVICE_REVOKED = "device_revoked"
    JOURNAL_GAP = "gap"
    JOURNAL_FORK = "fork"
    BROKEN_CHAIN = "broken_chain"
    BAD_CHECKPOINT = "bad_checkpoint"
    CLOCK_SKEW = "clock_skew"
    ROW_INVALID = "row_invalid"
    TIME_OUT_OF_RANGE = "time_out_of_range"
    UNKNOWN_REASON = "unknown_reason"
    BAD_SEAL = "bad_seal"
    MISSING_SEAL = "missing_seal"
    SEALS_UNCHECKED = "seals_unchecked"
    # the audit of what the service holds (services.audit): each names the gate and the seq(s)
    ROW_CHANGED = "row_changed"
    ROW_MISSING = "row_missing"
    ROW_ADDED = "row_added"
    JOURNAL_TRUNCATED = "journal_truncated"
    CHECKPOINT_MISSING = "checkpoint_missing"
    LEDGER_BROKEN = "ledger_broken"
    TIME_BACKWARDS = "time_backwards"
    LATE_UPLOAD = "late_upload"
    GATE_SILENT = "gate_silent"
    ROOT_MISMATCH = "root_mismatch"
    INSECURE_TRANSPORT = "insecure_transport"
    TOO_LARGE = "too_large"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    SERVICE_UNAVAILABLE = "service_unavailable"
    # a guest's details, from a form, a guest list or the issuing API (messages take %(name)s parameters)
    FIELD_REQUIRED = "field_required"
    FIELD_TOO_LONG = "field_too_long"
    CONTROL_CHARACTERS = "control_characters"
    ZONE_REQUIRED = "zone_required"
    ZONE_UNKNOWN = "zone_unknown"
    EMAIL_INVALID = "email_invalid"
    # a guest list's rows
    ROW_NAME_EMPTY = "row_name_empty"
    ROW_ZONE_UNKNOWN = "row_zone_unknown"
    ROW_EMAIL_INVALID = "row_email_invalid"
    ROW_TOO_MANY_CELLS = "row_too_many_cells"
    ROW_ON_LIST = "row_on_list"
    ROW_REPEATED = "row_repeated"
    ROW_SPANS_LINES = "row_spans_lines"
    ROW_UNREADABLE = "row_unreadable"
    # issuing and revoking
    EVENT_OVER = "event_over"
    HAS_ACTIVE_CODE = "has_active_code"
    ALREADY_REVOKED = "already_revoked"
    # gates
    GATE_ZONE_INVALID = "gate_zone_invalid"
    DIRECTION_INVALID = "direction_invalid"
    # editing an event
    ZONE_IN_USE = "zone_in_use"
    # removing a guest
    GUEST_HAS_CODES = "guest_has_codes"
    # API tokens' scope (events, categories, zones)
    TOKEN_UNSCOPED = "token_unscoped"  # noqa: S105 - a reason code, not a secret
    OUT_OF_SCOPE = "out_of_scope"
    # the officer's signed report
    REPORT_SIGNATURE_INVALID = "report_signature_invalid"
    # the audit's cross-gate findings about one credential (services.crossgate)
    DOUBLE_ENTRY = "double_entry"
    ENTRY_LIMIT_EXCEEDED = "entry_limit_exceeded"
    REVOKED_ADMITTED = "revoked_admitted"
    REPEATED_FORGERY = "repeated_forgery"
    REPEATED_REVOKED = "repeated_revoked"
    MANUAL_ENTRY = "manual_entry"
    SUPERVISOR_OVERRIDE = "supervisor_override"
    # background jobs (imports, bulk e-mail) and their items
    JOB_INTERRUPTED = "job_interrupted"
    JOB_CRASHED = "job_crashed"
    NO_EMAIL_ADDRESS = "no_email_address"
    NO_ACTIVE_CODE = "no_active_code"
    MAIL_ADDRESS_REFUSED = "mail_address_refused"
    # the officer's alerts and scan search (services.alertdesk, services.scansearch)
    ALERT_STATE_CONFLICT = "alert_state_conflict"
    TIME_INVALID = "time_invalid"
    CODE_PREFIX_INVALID = "code_prefix_invalid"


# English msgids of the catalogue (checkin/locale/); short enough for a gate banner, plain enough for a guest.
MESSAGES: dict[Reason, str] = {
    Reason.ADMITTED: N_("Admitted"),
    Reason.MALFORMED: N_("The code is unreadable or damaged"),
    Reason.UNSUPPORTED_FORMAT: N_("Not a code this system issues"),
    Reason.UNSUPPORTED_ALGORITHM: N_("The code uses a signature algorithm that is not accepted"),
    Reason.UNKNOWN_KEY: N_("The code was issued by an unknown key"),
    Reason.KEY_REVOKED: N_("The key that issued this code has been revoked"),
    Reason.KEY_RETIRED: N_("The code was signed after its key was retired"),
    Reason.BAD_SIGNATURE: N_("Invalid signature: forged or altered code"),
    Reason.WRONG_EVENT: N_("The code is for another event"),
    Reason.NOT_YET_VALID: N_("The code is not valid yet"),
    Reason.EXPIRED: N_("The code has expired"),
    Reason.REVOKED: N_("The code has been revoked"),
    Reason.ZONE_NOT_ALLOWED: N_("Not allowed into this zone"),
    Reason.ALREADY_INSIDE: N_("This code already entered and has not left"),
    Reason.ENTRY_LIMIT_REACHED: N_("The code has no entries left"),
    Reason.SCREENING_REQUIRED: N_("Health screening required"),
    Reason.SCREENING_FAILED: N_("Please see the medical staff"),
    Reason.BUNDLE_STALE: N_("The gate's trust data is out of date: sync needed"),
    Reason.CLOCK_SUSPECT: N_("The gate's clock went backwards: a supervisor must confirm"),
    Reason.BUNDLE_INVALID: N_("The trust bundle is invalid"),
    Reason.BUNDLE_ROLLBACK: N_("The trust bundle is older than the one in use"),
    Reason.WRONG_ROOT: N_("The trust bundle is not signed by the pinned root key"),
    Reason.KEY_FILE_INVALID: N_("The key file is invalid"),
    Reason.WRONG_PASSPHRASE: N_("Wrong key passphrase"),
    Reason.NO_SIGNING_KEY: N_("There is no active issuing key"),
    Reason.KEY_EXISTS: N_("The keys already exist"),
    Reason.CONFIG_INVALID: N_("The configuration is invalid"),
    Reason.NOT_FOUND: N_("Not found"),
    Reason.ALREADY_EXISTS: N_("Already exists"),
    Reason.INVALID_INPUT: N_("Invalid input"),
    Reason.IMAGE_UNREADABLE: N_("The image cannot be read"),
    Reason.IMAGE_TOO_LARGE: N_("The image has too many pixels to decode"),
    Reason.NO_CODE_FOUND: N_("No QR code found in the image"),
    Reason.LOGIN_FAILED: N_("Wrong user name or password"),
    Reason.TOO_MANY_ATTEMPTS: N_("Too many attempts: wait, then try again"),
    Reason.FORBIDDEN: N_("Your role does not allow this"),
    Reason.FORM_EXPIRED: N_("The form has expired or is invalid: reload the page and try again"),
    Reason.WEAK_PASSWORD: N_("The password is too short or too easy to guess"),
    Reason.MAIL_NOT_CONFIGURED: N_("E-mail delivery is not configured"),
    Reason.MAIL_FAILED: N_("The e-mail could not be sent"),
    Reason.REFUSED_BY_STAFF: N_("Refused entry by staff"),
    Reason.CLOCK_ACKNOWLEDGED: N_("A supervisor confirmed the gate's clock"),
    Reason.ENROLMENT_INVALID: N_("The gate enrolment code is wrong, used or expired"),
    Reason.UNAUTHORIZED: N_("Not authenticated: the token is missing or not valid"),
    Reason.DEVICE_REVOKED: N_("The device has been revoked"),
    Reason.JOURNAL_GAP: N_("Journal rows are missing: resend from the row after the acknowledged one"),
    Reason.JOURNAL_FORK: N_("The journal forked: the same sequence number with other content"),
    Reason.BROKEN_CHAIN: N_("The journal's hash chain is broken"),
    Reason.BAD_CHECKPOINT: N_("The journal checkpoint is not signed by the device key or does not match"),
    Reason.CLOCK_SKEW: N_("The gate's clock differs from the server's"),
    Reason.ROW_INVALID: N_("A journal row holds a value no gate writes"),
    Reason.TIME_OUT_OF_RANGE: N_("A journal row's time is outside the plausible range"),
    Reason.UNKNOWN_REASON: N_("A journal row carries a reason this service does not know"),
    Reason.BAD_SEAL: N_("A journal row's seal does not hold: the row was changed after it was written"),
    Reason.MISSING_SEAL: N_("A journal row carries no seal"),
    Reason.SEALS_UNCHECKED: N_("The gate gave no sealing seed at enrolment: its rows' seals cannot be checked"),
    Reason.ROW_CHANGED: N_("A journal row held by the service was changed after it was stored"),
    Reason.ROW_MISSING: N_("Journal rows the service acknowledged are missing from its records"),
    Reason.ROW_ADDED: N_("A journal row in the service's records was never uploaded by the gate"),
    Reason.JOURNAL_TRUNCATED: N_("The newest journal rows the service acknowledged are missing"),
    Reason.CHECKPOINT_MISSING: N_("A checkpoint the gate signed is missing from the service's records"),
    Reason.LEDGER_BROKEN: N_("The service's ledger of stored batches does not hold"),
    Reason.TIME_BACKWARDS: N_("The gate's clock ran backwards between two journal rows"),
    Reason.LATE_UPLOAD: N_("Journal rows reached the service long after they were written"),
    Reason.GATE_SILENT: N_("An active gate has not been heard from for too long"),
    Reason.ROOT_MISMATCH: N_("The service's root key is not the one this gate was told to expect"),
    Reason.INSECURE_TRANSPORT: N_("Plain http is allowed only to this machine: use https"),
    Reason.TOO_LARGE: N_("The request is too large"),
    Reason.METHOD_NOT_ALLOWED: N_("Method not allowed"),
    Reason.SERVICE_UNAVAILABLE: N_("The service is temporarily unavailable"),
    Reason.SCHEMA_OUTDATED: N_("The database has no schema or an older one"),
    Reason.FIELD_REQUIRED: N_("This field is required."),
    Reason.FIELD_TOO_LONG: N_("At most %(limit)d characters."),
    Reason.CONTROL_CHARACTERS: N_("Control characters are not allowed."),
    Reason.ZONE_REQUIRED: N_("Choose at least one zone."),
    Reason.ZONE_UNKNOWN: N_("Unknown zone: %(zones)s."),
    Reason.EMAIL_INVALID: N_("Not a valid e-mail address."),
    Reason.ROW_NAME_EMPTY: N_("The name is empty."),
    Reason.ROW_ZONE_UNKNOWN: N_("Unknown zone(s) %(zones)s; the event has %(known)s."),
    Reason.ROW_EMAIL_INVALID: N_("The e-mail address '%(email)s' is not valid."),
    Reason.ROW_TOO_MANY_CELLS: N_("%(cells)d cells, but the header has %(columns)d columns."),
    Reason.ROW_ON_LIST: N_("Already on the guest list."),
    Reason.ROW_REPEATED: N_("The same guest as line %(line)d."),
    Reason.ROW_SPANS_LINES: N_(
        "A cell runs from line %(start)d to line %(end)d: a line break in a cell, or a quote left open."
    ),
    Reason.ROW_UNREADABLE: N_("This row cannot be read (a cell is far too long), nor the rows after it."),
    Reason.EVENT_OVER: N_("The event is over: its codes would already have expired."),
    Reason.HAS_ACTIVE_CODE: N_("This guest already has an active code; use Re-issue to replace it."),
    Reason.ALREADY_REVOKED: N_("This code is already revoked."),
    Reason.GATE_ZONE_INVALID: N_("Choose one of the event's zones."),
    Reason.DIRECTION_INVALID: N_("Choose in or out."),
    Reason.GUEST_HAS_CODES: N_("A code was issued to this guest, so they cannot be removed; anonymise them instead."),
    Reason.ZONE_IN_USE: N_("Zone %(zone)s is still given to guests or gates; it cannot be removed."),
    Reason.TOKEN_UNSCOPED: N_("This API token names no event: scope it with `checkin token scope`"),
    Reason.OUT_OF_SCOPE: N_("This API token may not issue this code"),
    Reason.REPORT_SIGNATURE_INVALID: N_("This report is not as the report key signed it"),
    Reason.DOUBLE_ENTRY: N_("The same code was admitted twice with no exit between"),
    Reason.ENTRY_LIMIT_EXCEEDED: N_("The code was admitted more times than the entry limit allows"),
    Reason.REVOKED_ADMITTED: N_("A revoked code was admitted: the gate had not yet received the revocation"),
    Reason.REPEATED_FORGERY: N_("A forged code was tried again and again"),
    Reason.REPEATED_REVOKED: N_("A revoked code was tried again and again"),
    Reason.MANUAL_ENTRY: N_("A guest was looked up and let through by hand"),
    Reason.SUPERVISOR_OVERRIDE: N_("A supervisor overrode the gate's clock alarm"),
    Reason.JOB_INTERRUPTED: N_(
        "The service restarted while this ran: %(done)d of %(total)d items were done; run it again for the rest."
    ),
    Reason.JOB_CRASHED: N_("The work stopped on an unexpected error; what was done is kept."),
    Reason.NO_EMAIL_ADDRESS: N_("The guest has no e-mail address."),
    Reason.NO_ACTIVE_CODE: N_("The guest has no active code: issue one first."),
    Reason.MAIL_ADDRESS_REFUSED: N_("The mail server refused the address %(address)s."),
    Reason.ALERT_STATE_CONFLICT: N_(
        "This alert has already moved past that state; reload the page to see where it stands."
    ),
    Reason.TIME_INVALID: N_("Give a date and time, e.g. 2022-03-26 07:30."),
    Reason.CODE_PREFIX_INVALID: N_(
        "Give the start of a code id (4 hex digits or more) or a short code such as 7K3M-Q9XD."
    ),
}

# The reasons a gate may show, with the verdict each leads to; everything else is deny.
_REFER = {Reason.SCREENING_REQUIRED, Reason.SCREENING_FAILED, Reason.CLOCK_SUSPECT}


def verdict_for(reason: Reason) -> Verdict:
    """The verdict a reason leads to: deny by default."""
    if reason is Reason.ADMITTED:
        return Verdict.ADMIT
    if reason in _REFER:
        return Verdict.REFER
    return Verdict.DENY


def message(reason: Reason, **params: object) -> str:
    """The English message of a reason, placeholders filled; `checkin.i18n.message` translates it."""
    return fill(MESSAGES[reason], params)


def shown(value: object, limit: int = 100) -> str:
    """`value` as a refusal may quote it: repr, cut to `limit` characters, so no answer echoes unbounded input."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class CheckinError(Exception):
    """Base of every error we raise: a reason code, a detail naming what and where, and parameters.

    The detail is English; written as an `N_` msgid with %(name)s placeholders it is translated
    where the error is shown, like the reason's message, both filled from `params`.
    """

    default_reason: Reason = Reason.INVALID_INPUT

    def __init__(self, detail: str = "", reason: Reason | None = None, **params: object) -> None:
        self.reason = reason if reason is not None else self.default_reason
        self.detail = detail
        self.params: Mapping[str, object] = params
        super().__init__(self.text())

    @property
    def code(self) -> str:
        """The reason code as the word users see."""
        return self.reason.value

    @property
    def msgid(self) -> str:
        """The reason's message as the catalogue's English msgid, placeholders unfilled."""
        return MESSAGES[self.reason]

    def text(self) -> str:
        """One English line for a person: the reason's message, then the detail."""
        head = fill(self.msgid, self.params)
        return f"{head}: {fill(self.detail, self.params)}" if self.detail else head


class CredentialError(CheckinError):
    """A code failed verification; the reason says at which step.

    `kid` is set once the header was read (a hint only); `credential` only once the signature
    held, so the journal can name whose revoked or expired code was shown.
    """

    default_reason = Reason.MALFORMED
    kid: bytes | None = None
    credential: Any = None


class TrustError(CheckinError):
    """A trust bundle or root key cannot be used."""

    default_reason = Reason.BUNDLE_INVALID


class KeyStoreError(CheckinError):
    """A key file is missing, unreadable, locked or in the wrong state."""

    default_reason = Reason.KEY_FILE_INVALID


class ConfigError(CheckinError):
    """A configuration file or value is wrong; the detail names the file and key."""

    default_reason = Reason.CONFIG_INVALID


class InputError(CheckinError):
    """Bad input from a person or file: a CSV row, a CLI option, a request field."""

    default_reason = Reason.INVALID_INPUT
