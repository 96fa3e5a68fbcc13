"""Issuing codes: the loaded issuing key, signing one code per guest, issuing and re-issuing to
stored guests, importing a guest list, issuing for registration systems, and the ticket files
(PNGs, badge sheet, index) the command line writes.

Signing happens here, outside any view: the admin pages, the issuing API and `checkin issue` call
these functions and word the reasons of what they raise.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from checkin import files, qr
from checkin.config import Config
from checkin.core import credential
from checkin.core.credential import Credential, Declaration
from checkin.core.errors import CheckinError, InputError, KeyStoreError, Reason, shown
from checkin.core.trust import Label, bilingual
from checkin.keystore import PASSPHRASE_ENV, KeyStore
from checkin.services.guests import check_guest, without_repeats
from checkin.services.problems import Problem, RowError
from checkin.store import ApiToken, Event, Guest, IssuedCredential, Store, tokens
from checkin.store import guests as stored
from checkin.store.guests import Earlier, GuestRow
from checkin.store.users import Role

# ---- the issuing key ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Signer:
    """The issuing key the service signs with, loaded once at start."""

    kid: bytes
    key: Ed25519PrivateKey = field(repr=False)


def load_signer(cfg: Config, given: bytes | None = None) -> Signer | KeyStoreError:
    """Decrypt the active issuing key with the passphrase given (else $CHECKIN_KEY_PASSPHRASE), or say why not."""
    try:
        keystore = KeyStore(cfg.keys_dir)
        info = keystore.active_issuing()
        passphrase = given.decode() if given is not None else os.environ.get(PASSPHRASE_ENV)
        if info.encrypted and not passphrase:
            raise KeyStoreError(
                "start the service with the key passphrase (checkin serve --passphrase-file) to issue codes",
                Reason.WRONG_PASSPHRASE,
            )
        key = keystore.load_private(info, passphrase.encode() if info.encrypted and passphrase else None)
    except KeyStoreError as exc:
        return exc
    return Signer(info.kid_bytes, key)


def usable_signer(loaded: Signer | KeyStoreError | None, cfg: Config) -> Signer:
    """The loaded key if it may sign now: it loaded, and it is still the active issuing key."""
    if isinstance(loaded, KeyStoreError):
        raise loaded
    if loaded is None:
        raise KeyStoreError("the issuing key was not loaded", Reason.NO_SIGNING_KEY)
    active = KeyStore(cfg.keys_dir).active_issuing()
    if active.kid_bytes != loaded.kid:
        # `checkin keys rotate` or `keys revoke` ran since the start: the loaded key must not sign
        raise KeyStoreError(
            f"the issuing key changed to {active.kid} since the service started; restart it", Reason.NO_SIGNING_KEY
        )
    return loaded


# ---- signing --------------------------------------------------------------------------------------


def ticket_window(event: Event, before_hours: int, after_hours: int) -> tuple[datetime, datetime]:
    """The default validity of the event's tickets."""
    return event.start - timedelta(hours=before_hours), event.end + timedelta(hours=after_hours)


@dataclass(frozen=True)
class Issued:
    """A signed ticket and the guest it is for."""

    row: GuestRow
    credential: Credential
    text: str


def sign_rows(
    rows: Sequence[GuestRow],
    *,
    issuer: str,
    event: Event,
    key: Ed25519PrivateKey,
    kid: bytes,
    window: tuple[datetime, datetime],
    now: datetime,
    progress: Callable[[int], object] | None = None,
    health: Mapping[int, object] | None = None,
) -> tuple[list[Issued], list[RowError]]:
    """Sign one ticket per row; a row whose claims are refused becomes a row error. `progress` is
    told of each row done; `health` is the declaration claim (claim 5) the tickets carry, if any."""
    issued: list[Issued] = []
    errors: list[RowError] = []
    for row in rows:
        if progress is not None:
            progress(1)
        try:
            cred = Credential.create(
                issuer=issuer,
                event_id=event.id,
                name=row.name,
                organisation=row.organisation,
                category=row.category,
                zones=row.zones,
                not_before=window[0],
                expires_at=window[1],
                issued_at=now,
                health=health,
            )
            issued.append(Issued(row, cred, credential.sign(cred, key, kid)))
        except CheckinError as exc:
            errors.append(RowError(row.line, Problem(exc.reason, detail=exc.detail), row.guest_id, row.name))
    return issued, errors


def sign_for_event(
    cfg: Config,
    signer: Signer,
    event: Event,
    rows: Sequence[GuestRow],
    now: datetime,
    health: Mapping[int, object] | None = None,
) -> tuple[list[Issued], list[RowError]]:
    """Sign one code per row with the service's key, valid for the event's default window; EVENT_OVER
    when that window has ended."""
    window = ticket_window(event, cfg.issuing.valid_before_event_hours, cfg.issuing.valid_after_event_hours)
    if window[1] <= now:
        raise InputError("", Reason.EVENT_OVER)
    return sign_rows(
        rows,
        issuer=cfg.deployment.id,
        event=event,
        key=signer.key,
        kid=signer.kid,
        window=window,
        now=now,
        health=health,
    )


def record(
    store: Store, issued: Sequence[Issued], kid: bytes, now: datetime, *, actor: str | None = None, detail: str = ""
) -> None:
    """Store new guests and their signed credentials (logged as `actor`'s import when given)."""
    stored.record_issued(
        store, [(item.row, item.credential, kid.hex(), item.text) for item in issued], now, actor=actor, detail=detail
    )


# ---- issuing to stored guests ---------------------------------------------------------------------


@dataclass(frozen=True)
class IssueReport:
    """What issuing to stored guests did: how many codes, and the guests refused (by `guest_id`)."""

    count: int
    refused: tuple[RowError, ...]


def issue_to_guests(
    store: Store,
    cfg: Config,
    signer: Callable[[], Signer],
    event: Event,
    guests: Sequence[Guest],
    now: datetime,
    *,
    actor: str,
    reissue: bool = False,
) -> IssueReport:
    """Sign a code for each guest and store it; with `reissue`, their active codes are revoked in the
    same transaction. `signer` gives the key (or raises why there is none) when it is needed."""
    rows = [stored.guest_row(g) for g in guests]
    key = signer()
    signed, errors = sign_for_event(cfg, key, event, rows, now)
    count = stored.record_credentials(
        store,
        [(_guest_id(item.row), item.credential, key.kid.hex(), item.text) for item in signed],
        now,
        actor=actor,
        revoke_active=reissue,
    )
    return IssueReport(count, tuple(errors))


def _guest_id(row: GuestRow) -> int:
    assert row.guest_id is not None, "rows of stored guests carry their id"
    return row.guest_id


def issue_pending(
    store: Store, cfg: Config, signer: Callable[[], Signer], event: Event, now: datetime, *, actor: str
) -> IssueReport | None:
    """Issue codes to every guest of the event who never had one (revoked guests stay revoked); None
    when there is no such guest."""
    pending = stored.pending_guests(store, event.id)
    if not pending:
        return None
    return issue_to_guests(store, cfg, signer, event, pending, now, actor=actor)


def issue_to_guest(
    store: Store, cfg: Config, signer: Callable[[], Signer], guest_id: int, now: datetime, *, actor: str, reissue: bool
) -> IssueReport:
    """Issue one guest's code; with `reissue`, replace their active one. HAS_ACTIVE_CODE when they
    hold one and `reissue` is not asked; NOT_FOUND when there is no such guest."""
    context = stored.issue_context(store, guest_id)
    if context is None:
        raise InputError(f"no guest {guest_id}", Reason.NOT_FOUND)
    if context.has_active and not reissue:
        raise InputError("", Reason.HAS_ACTIVE_CODE)
    return issue_to_guests(store, cfg, signer, context.event, [context.guest], now, actor=actor, reissue=reissue)


def issue_declared(
    store: Store,
    cfg: Config,
    signer: Callable[[], Signer],
    guest_id: int,
    declaration: Declaration,
    now: datetime,
    *,
    actor: str,
) -> Issued:
    """A guest's new code carrying their health declaration (claim 5), in place of their active one.

    As a re-issue does, the active code is revoked ("re-issued") in the transaction that stores the
    new one: a guest holds one valid code, so the one without the declaration cannot be handed on
    or used for a second entry. NOT_FOUND when there is no such guest or they hold no active code
    (a revoked guest gets no code from their own page). The declaration's time must be `now`: it
    is signed as when the guest answered.
    """
    context = stored.issue_context(store, guest_id)
    if context is None or not context.has_active:
        raise InputError(f"guest {guest_id} holds no active code", Reason.NOT_FOUND)
    key = signer()
    signed, errors = sign_for_event(
        cfg, key, context.event, [stored.guest_row(context.guest)], now, declaration.claim()
    )
    if errors:
        raise InputError(errors[0].problem.detail, errors[0].reason)
    item = signed[0]
    if not stored.replace_active(store, guest_id, item.credential, key.kid.hex(), item.text, now, actor=actor):
        raise InputError(f"guest {guest_id} holds no active code", Reason.NOT_FOUND)
    return item


# ---- importing a guest list -----------------------------------------------------------------------


@dataclass(frozen=True)
class ImportReport:
    """What an import did: guests added, codes issued, and the refused rows in line order."""

    added: int
    issued: int
    refused: tuple[RowError, ...]


def import_guests(
    store: Store,
    event: Event,
    rows: Sequence[GuestRow],
    now: datetime,
    *,
    actor: str,
    issue_with: tuple[Config, Signer] | None = None,
    refused: Sequence[RowError] = (),
) -> ImportReport:
    """Add a guest list's rows, refusing those that fail the checks or repeat a guest (on the list
    or in the file) and, given the configuration and a signer, issue their codes at once.
    `refused` are the rows the list's reader refused already, reported with the others."""
    fresh, repeats = without_repeats(store, event, rows)
    errors = [*refused, *repeats]
    issued = 0
    if fresh and issue_with is not None:
        cfg, signer = issue_with
        signed, sign_errors = sign_for_event(cfg, signer, event, fresh, now)
        errors.extend(sign_errors)
        lines = len({e.line for e in errors})
        detail = f"{len(signed)} guests, {len(signed)} codes issued, {lines} rows refused"
        record(store, signed, signer.kid, now, actor=actor, detail=detail)
        issued = len(signed)
    elif fresh:
        stored.add_guests(store, event.id, fresh, now, actor=actor)
    errors.sort(key=lambda e: e.line)
    return ImportReport(issued if issue_with is not None else len(fresh), issued, tuple(errors))


# ---- issuing for registration systems -------------------------------------------------------------


@dataclass(frozen=True)
class IssueRequest:
    """A registration system's request, authorised: its token, the event, the stored form of its
    Idempotency-Key and the guest an earlier request with that key added."""

    token: ApiToken
    event: Event
    request_key: str | None
    earlier: Earlier | None
    scope: tokens.TokenScope


def authorise_issue(store: Store, secret: str, event_id: str, idempotency_key: str | None) -> IssueRequest:
    """The API token a secret belongs to, if it may issue codes (UNAUTHORIZED, FORBIDDEN otherwise),
    and the event it issues for (NOT_FOUND), with what an earlier request with the same key did."""
    reads = tokens.issue_reads(store, secret, event_id, idempotency_key)
    token, ev = reads.token, reads.event
    if token is None or token.revoked_at is not None:
        raise InputError("the API token is not known or was revoked", Reason.UNAUTHORIZED)
    if Role(token.role) not in tokens.TOKEN_ROLES:
        raise InputError("this token may not issue codes", Reason.FORBIDDEN)
    scope = reads.scope
    if not scope.events:  # made before tokens had scopes: deny until an operator scopes it
        raise InputError(f"token {token.name!r} has no scope", Reason.TOKEN_UNSCOPED)
    if event_id not in scope.events:  # before NOT_FOUND: a token learns nothing of other events
        raise InputError(scope.refusal(event_id, "", ()), Reason.OUT_OF_SCOPE)
    if ev is None:
        raise InputError(f"no event {shown(event_id)}", Reason.NOT_FOUND)
    key = None if idempotency_key is None else tokens.request_key(token, idempotency_key)
    return IssueRequest(token, ev, key, reads.earlier, scope)


@dataclass(frozen=True)
class RegistrationIssue:
    """A code issued to a registration system's guest; `replayed` when it is an earlier request's."""

    credential_id: str
    guest_id: int
    code: str
    name: str
    zones: tuple[str, ...]
    valid_from: datetime
    valid_until: datetime
    replayed: bool


def issue_for_registration(
    store: Store, cfg: Config, signer: Callable[[], Signer], request: IssueRequest, row: GuestRow, now: datetime
) -> RegistrationIssue:
    """Add a guest to the event and issue their code, once per Idempotency-Key: a retried request
    gets the first one's guest and code back (ALREADY_EXISTS when the key came with another guest).
    `signer` is asked for the key only when a code is signed: a replay needs none."""
    check_guest(row, request.event)
    outside = request.scope.refusal(request.event.id, row.category, row.zones)
    if outside:
        raise InputError(outside, Reason.OUT_OF_SCOPE)
    if request.earlier is not None:
        return _replay(row, request.earlier)
    key = signer()
    signed, errors = sign_for_event(cfg, key, request.event, [row], now)
    if errors:
        raise InputError(errors[0].problem.detail, errors[0].reason)
    item = signed[0]
    result = stored.issue_to_new_guest(
        store,
        row,
        item.credential,
        key.kid.hex(),
        item.text,
        now,
        actor=f"token:{request.token.name}",
        request_key=request.request_key,
    )
    if result.earlier is not None:  # the same request, retried at the same moment, was stored first
        return _replay(row, result.earlier)
    made = item.credential
    return RegistrationIssue(
        made.id_hex, result.guest_id, item.text, made.name, made.zones, made.not_before, made.expires_at, False
    )


def _replay(row: GuestRow, earlier: Earlier) -> RegistrationIssue:
    """The answer to a request whose Idempotency-Key was used before: the same guest, their code."""
    guest, active = earlier.guest, earlier.active
    stored_row = stored.guest_row(guest)
    if stored_row.details() != row.details():
        raise InputError(
            f"this Idempotency-Key was used for another guest (guest {guest.id}); use a new key", Reason.ALREADY_EXISTS
        )
    if active is None:
        raise InputError(
            f"guest {guest.id}, added by this Idempotency-Key, holds no active code now; "
            "re-issue it in the admin pages",
            Reason.ALREADY_EXISTS,
        )
    return RegistrationIssue(
        active.cti, guest.id, active.text, active.name, stored_row.zones, active.not_before, active.expires_at, True
    )


# ---- ticket files ---------------------------------------------------------------------------------


def slug(name: str) -> str:
    """A file-name-safe ASCII form of a name ("Nguyễn Văn An" -> "nguyen-van-an")."""
    plain = unicodedata.normalize("NFKD", name.replace("đ", "d").replace("Đ", "D"))
    ascii_name = plain.encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name).strip("-")[:40] or "guest"


def png_name(item: Issued) -> str:
    """The PNG file name for a ticket: line, readable name, short credential id."""
    return f"{item.row.line:05d}-{slug(item.credential.name)}-{item.credential.id_hex[:8]}.png"


def _render_chunk(job: tuple[list[tuple[str, str]], str, int, int]) -> list[np.ndarray]:
    pairs, folder, scale, border = job
    symbols = []
    for text, file_name in pairs:
        symbol = qr.modules(text)
        files.write_private(Path(folder) / file_name, qr.png(symbol, scale=scale, border=border))
        symbols.append(symbol)
    return symbols


def render(
    items: Sequence[Issued],
    folder: Path,
    *,
    scale: int,
    border: int,
    event_name: str,
    names: EventNames | None = None,
    progress: Callable[[int], object] | None = None,
) -> bytes:
    """Write one PNG per ticket (0600, in a folder made 0700) on every core and return the badge sheet
    PDF; `progress` is told of each badge laid out.

    Worker processes draw the codes and write the PNGs; this process lays out the sheet from
    the QR modules they send back, in order, while they go on with the next chunks.
    """
    files.private_folder(folder)
    pairs = [(item.text, png_name(item)) for item in items]
    workers = min(os.cpu_count() or 1, max(1, len(pairs) // 200))
    if workers == 1:
        drawn = _counted(_render_chunk((pairs, str(folder), scale, border)), progress)
        return qr.badge_sheet(badges(items, drawn, names), event_name)
    size = max(1, min(250, -(-len(pairs) // (workers * 4))))
    jobs = [(pairs[i : i + size], str(folder), scale, border) for i in range(0, len(pairs), size)]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        symbols = (symbol for chunk in pool.map(_render_chunk, jobs) for symbol in chunk)
        return qr.badge_sheet(badges(items, _counted(symbols, progress), names), event_name)


def _counted(symbols: Iterable[np.ndarray], progress: Callable[[int], object] | None) -> Iterator[np.ndarray]:
    for symbol in symbols:
        yield symbol
        if progress is not None:
            progress(1)


def write_index(path: Path, items: Sequence[Issued]) -> None:
    """index.csv: one line per ticket, for mail merges and the registrar's records (0600, spreadsheet-safe)."""
    header = [
        "line",
        "name",
        "organisation",
        "category",
        "zones",
        "email",
        "credential_id",
        "short_code",
        "png",
        "code",
    ]
    rows = (
        [
            item.row.line,
            item.credential.name,
            item.row.organisation,
            item.row.category,
            ";".join(item.row.zones),
            item.row.email,
            item.credential.id_hex,
            credential.short_code(item.credential.credential_id),
            png_name(item),
            item.text,
        ]
        for item in items
    )
    files.write_csv(path, header, rows, excel_bom=True)


def badge(
    cred: Credential | tuple[str, str, str, tuple[str, ...], bytes],
    text: str,
    names: EventNames | None = None,
    symbol: np.ndarray | None = None,
) -> qr.Badge:
    """What a badge prints for a code: the guest's details with the event's names for zones and
    category (both languages), and the short code; `cred` is the signed credential or, for a stored
    code, (name, organisation, category, zones, credential id) as the guest's details now stand."""
    if isinstance(cred, Credential):
        name, organisation, category, zones, cti = (
            cred.name,
            cred.organisation,
            cred.category,
            cred.zones,
            cred.credential_id,
        )
    else:
        name, organisation, category, zones, cti = cred
    names = names or EventNames()
    return qr.Badge(
        name=name,
        organisation=organisation,
        category=bilingual(names.categories, category.lower()) if category.lower() in names.categories else category,
        zones=tuple(bilingual(names.zones, z) for z in zones),
        text=text,
        symbol=symbol,
        short_code=credential.short_code(cti),
    )


def stored_badge(cred: IssuedCredential, holder: Guest | None, event: Event) -> qr.Badge:
    """The badge of a stored code, with its guest's details as they stand now (the registrar's and the
    guest's downloads)."""
    details = (
        cred.name,
        holder.organisation if holder else "",
        holder.category if holder else "",
        tuple(z for z in holder.zones.split(",") if z) if holder else (),
        bytes.fromhex(cred.cti),
    )
    return badge(details, cred.text, EventNames.of(event))


@dataclass(frozen=True)
class EventNames:
    """An event's display names for its zones and categories, by code."""

    zones: Mapping[str, Label] = field(default_factory=dict)
    categories: Mapping[str, Label] = field(default_factory=dict)

    @classmethod
    def of(cls, event: Event) -> EventNames:
        """The names a stored event gives."""
        return cls(event.zone_names, event.category_names)


def badges(
    items: Sequence[Issued], symbols: Iterable[np.ndarray | None], names: EventNames | None = None
) -> Iterator[qr.Badge]:
    """Badges for the sheet, reusing the QR modules already drawn for each ticket."""
    for item, symbol in zip(items, symbols, strict=True):
        yield badge(item.credential, item.text, names, symbol)
