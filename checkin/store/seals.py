"""The service's check of gate journal seals (checkin.core.seal), incremental, as each batch is stored.

A gate sends its sealing seed at enrolment; the service keeps the key of the next row to check
(`devices.seal_seq`, `seal_key`) and, in the upload's own transaction and under the device's lock,
checks the rows just stored (in memory: nothing is read back), then moves the key on. A row whose
seal does not hold (rewritten, re-chained, a deny turned into an admit) or that carries none becomes
an alert naming the gate and the seq; rows stay stored, since refusing them would stop the gate's
uploads for good and hide what came after. Consecutive rows with the same problem make one alert
("seq 5 to 12"), so a forged batch cannot flood the table.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from itertools import chain, groupby

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from checkin.core import seal
from checkin.core.chain import JournalRow, ProblemKind
from checkin.core.errors import Reason
from checkin.store.journal import AlertNote
from checkin.store.models import Device, Scan

_KINDS = {ProblemKind.MISSING_SEAL: Reason.MISSING_SEAL}  # every other seal problem: the row is not as sealed
_BATCH = 5000


def check_seals(s: Session, device: Device, stored: Sequence[JournalRow]) -> tuple[AlertNote, ...]:
    """Check the seals of a device's rows past its last check, `stored` (just stored, in seq order)
    the last of them; move the check on; the problems found, as alerts to keep."""
    if not stored or device.seal_seq > stored[-1].seq:
        return ()
    last = stored[-1].seq
    if not device.seal_seed:  # said once, at its first upload: not a finding per batch
        first = device.seal_seq == 1
        _move_on(s, device, last + 1, device.seal_key)
        if not first:
            return ()
        detail = f"gate {device.name} ({device.id}) sent no sealing seed at enrolment: its seals cannot be checked"
        return (AlertNote(Reason.SEALS_UNCHECKED, None, detail),)
    key = seal.SealKey(device.seal_seq, bytes.fromhex(device.seal_key))
    fresh = ((r.seq, r.hash, r.seal) for r in stored if r.seq >= key.seq)
    problems, key = seal.verify(chain(_held(s, device.id, key.seq, stored[0].seq - 1), fresh), key)
    _move_on(s, device, key.seq, key.key.hex())
    notes = []
    for kind, group in groupby(problems, key=lambda p: _KINDS.get(p.kind, Reason.BAD_SEAL)):
        seqs = [p.seq for p in group]
        span = f"seq {seqs[0]}" if len(seqs) == 1 else f"seq {seqs[0]} to {seqs[-1]} ({len(seqs)} rows)"
        what = "no seal" if kind is Reason.MISSING_SEAL else "a seal that does not hold (changed after sealing)"
        notes.append(AlertNote(kind, seqs[0], f"gate {device.name} ({device.id}): {span}: {what}"))
    return tuple(notes)


def _move_on(s: Session, device: Device, seq: int, key: str) -> None:
    """Keep where the check stands (a Core UPDATE: no ORM flush in the upload's transaction)."""
    s.execute(
        update(Device)
        .where(Device.id == device.id)
        .values(seal_seq=seq, seal_key=key)
        .execution_options(synchronize_session=False)
    )
    set_committed_value(device, "seal_seq", seq)  # the loaded copy says the same, without a second UPDATE
    set_committed_value(device, "seal_key", key)


def _held(s: Session, device_id: str, start: int, end: int) -> Iterator[tuple[int, str, str]]:
    """Rows held but not checked yet, before the batch (none unless an older service stored them)."""
    while start <= end:
        query = (
            select(Scan.seq, Scan.hash, Scan.seal)
            .where(Scan.device_id == device_id, Scan.seq >= start, Scan.seq <= end)
            .order_by(Scan.seq)
            .limit(_BATCH)
        )
        rows: Iterable[tuple[int, str, str]] = [(int(q), h, t) for q, h, t in s.execute(query)]
        if not rows:
            return
        yield from rows
        start = int(max(q for q, _, _ in rows)) + 1
