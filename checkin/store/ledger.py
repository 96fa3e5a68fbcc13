"""The service's own copy of the gates' journals, chained: one ledger entry per stored batch.

The gates' hash chains and seals prove what a gate wrote; they say nothing of what the service did
with it afterwards. Someone with the database (a stolen backup, a DBA, an SQL injection) can drop
the triggers and delete or edit rows, checkpoints, even re-chain a gate without a sealing seed. So
each batch stored leaves an entry: the gate and its event, its first and last seq, the last row's
hash, for every row as stored the first 8 bytes of its chain hash and 4 of its seal (the chain hash
binds the row's seq and content, which the audit checks against it, and every row before it: so a
changed, missing, added or swapped row is named by its seq; a second preimage of 64 bits is out of
reach), when it was received, and the mac of the gate's previous entry. The audit also
holds every row's event and time of receipt to its entry's.

Why an HMAC and not a plain hash: a plain hash chain can be recomputed by whoever can write the
table, so editing a row and then the ledger would pass. The mac's key (`keys/ledger-key`, 0600,
made on first need) is a file of the service, never in the database: an attacker with SQL access
alone can neither forge an entry nor re-link the chain after removing one. It does not protect
against whoever also holds the service's key folder, nor against cutting the newest entries of a
gate together with its rows and its acked_seq (the gate's next upload, and every earlier printout
of `checkin audit verify`, still tell).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from checkin import files
from checkin.core.chain import JournalRow
from checkin.core.errors import ConfigError
from checkin.store.engine import Store
from checkin.store.models import LedgerEntry

KEY_FILE = "ledger-key"
DIGEST_BYTES = 12  # per row: 8 of the chain hash, 4 of the seal (12 MB per million rows)
_DOMAIN = b"CKL1 ledger entry\x00"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def ledger_key(store: Store) -> bytes:
    """The ledger's HMAC key, from the store's keys folder; made (0600) the first time it is needed."""
    if store.keys_dir is None:
        raise ConfigError("the store was opened without a keys folder: the ledger key lives there")
    return _key(store.keys_dir.resolve())


@lru_cache(maxsize=8)
def _key(folder: Path) -> bytes:
    path = folder / KEY_FILE
    try:
        return path.read_bytes()
    except FileNotFoundError:
        files.private_folder(folder)
        with suppress(FileExistsError):  # another process made it first: theirs is the key
            files.write_new(path, secrets.token_bytes(32), files.PRIVATE_FILE)
        return path.read_bytes()


def micros(moment: datetime) -> int:
    """A stored time as whole microseconds since 1970: what the digests and macs cover."""
    return (moment - _EPOCH) // _MICROSECOND


def row_digest(row_hash: str, row_seal: str) -> bytes:
    """What an entry keeps of a stored row: the start of its chain hash and of its seal (ValueError
    when either is not hex: the service stores none such)."""
    return bytes.fromhex(row_hash[:16] + (row_seal[:8] or "00000000"))


def _mac(key: bytes, entry: LedgerEntry | dict[str, object]) -> str:
    get = entry.get if isinstance(entry, dict) else lambda name: getattr(entry, name)
    received, digests = get("received_at"), get("digests")
    if not isinstance(received, datetime) or not isinstance(digests, bytes):
        raise TypeError("a ledger entry holds a time and bytes")  # only a hand in the database makes it otherwise
    fields = (get("device_id"), get("event_id"), get("first_seq"), get("last_seq"), get("head"), get("prev"))
    text = "\x00".join((*map(str, fields), str(micros(received)), digests.hex()))
    return hmac.new(key, _DOMAIN + text.encode(), hashlib.sha256).hexdigest()


def append(s: Session, key: bytes, device_id: str, event_id: str, rows: Sequence[JournalRow], now: datetime) -> None:
    """Add the entry of a batch just stored (rows in seq order, received `now`), in the caller's
    transaction, under the gate's lock."""
    digests = b"".join([row_digest(r.hash, r.seal) for r in rows])
    last = select(LedgerEntry.mac).where(LedgerEntry.device_id == device_id)
    prev = s.scalar(last.order_by(LedgerEntry.first_seq.desc()).limit(1)) or ""
    values: dict[str, object] = {
        "device_id": device_id,
        "event_id": event_id,
        "first_seq": rows[0].seq,
        "last_seq": rows[-1].seq,
        "head": rows[-1].hash,
        "digests": digests,
        "received_at": now,
        "prev": prev,
    }
    s.execute(insert(LedgerEntry).values(**values, mac=_mac(key, values)))


@dataclass(frozen=True)
class Entry:
    """A ledger entry as read back, and whether its mac holds."""

    id: int
    event_id: str
    first_seq: int
    last_seq: int
    head: str
    digests: bytes
    received_at: datetime
    prev: str
    mac: str
    intact: bool

    def digest(self, seq: int) -> bytes | None:
        """The digest the entry keeps for row `seq`, or None when the entry does not cover it."""
        if not self.first_seq <= seq <= self.last_seq:
            return None
        at = (seq - self.first_seq) * DIGEST_BYTES
        return self.digests[at : at + DIGEST_BYTES]


def entries(s: Session, key: bytes, device_id: str) -> list[Entry]:
    """A gate's ledger entries in seq order, each with its mac checked."""
    query = select(LedgerEntry).where(LedgerEntry.device_id == device_id).order_by(LedgerEntry.first_seq)
    return [
        Entry(
            e.id, e.event_id, e.first_seq, e.last_seq, e.head, e.digests, e.received_at, e.prev, e.mac, _holds(key, e)
        )
        for e in s.scalars(query)
    ]


def _holds(key: bytes, entry: LedgerEntry) -> bool:
    try:
        return hmac.compare_digest(_mac(key, entry).encode(), entry.mac.encode())
    except (TypeError, ValueError, AttributeError):  # not what the service writes: it does not hold
        return False
