"""The service's check of gate journal seals (checkin.core.seal), incremental, after each upload.

A gate sends its sealing seed at enrolment; the service keeps the key of the next row to check
(`devices.seal_seq`, `seal_key`) and, under the device's lock, checks every held row from there on,
then moves the key on. A row whose seal does not hold (rewritten, re-chained, a deny turned into an
admit) or that carries none becomes an alert naming the gate and the seq; rows stay stored, since
refusing them would stop the gate's uploads for good and hide what came after. Consecutive rows
with the same problem make one alert ("seq 5 to 12"), so a forged batch cannot flood the table.
"""

from __future__ import annotations

from datetime import datetime
from itertools import groupby

from sqlalchemy import select

from checkin.core import seal
from checkin.core.chain import ProblemKind
from checkin.core.errors import Reason
from checkin.store.engine import Store
from checkin.store.journal import AlertNote, record_alert
from checkin.store.models import Device, Scan

_KINDS = {ProblemKind.MISSING_SEAL: Reason.MISSING_SEAL}  # every other seal problem: the row is not as sealed
_BATCH = 5000


def check_seals(store: Store, device_id: str, now: datetime) -> tuple[AlertNote, ...]:
    """Check the seals of a device's rows held past its last check; the alerts this raised."""
    notes: list[AlertNote] = []
    with store.writing() as s:
        device = s.get(Device, device_id, with_for_update=True, populate_existing=True)
        if device is None or device.seal_seq > device.acked_seq:
            return ()
        if not device.seal_seed:  # said once, at its first upload: not a finding per batch
            detail = f"gate {device.name} ({device.id}) sent no sealing seed at enrolment: its seals cannot be checked"
            if device.seal_seq == 1:
                notes.append(record_alert(s, device, Reason.SEALS_UNCHECKED, None, detail, now))
            device.seal_seq = device.acked_seq + 1
            return tuple(notes)
        key = seal.SealKey(device.seal_seq, bytes.fromhex(device.seal_key))
        problems: list[seal.SealProblem] = []
        while key.seq <= device.acked_seq:
            query = (
                select(Scan.seq, Scan.hash, Scan.seal)
                .where(Scan.device_id == device_id, Scan.seq >= key.seq, Scan.seq <= device.acked_seq)
                .order_by(Scan.seq)
                .limit(_BATCH)
            )
            found, key = seal.verify(((int(q), h, t) for q, h, t in s.execute(query)), key)
            problems.extend(found)
        device.seal_seq, device.seal_key = key.seq, key.key.hex()
        for kind, group in groupby(problems, key=lambda p: _KINDS.get(p.kind, Reason.BAD_SEAL)):
            seqs = [p.seq for p in group]
            span = f"seq {seqs[0]}" if len(seqs) == 1 else f"seq {seqs[0]} to {seqs[-1]} ({len(seqs)} rows)"
            what = "no seal" if kind is Reason.MISSING_SEAL else "a seal that does not hold (changed after sealing)"
            detail = f"gate {device.name} ({device.id}): {span}: {what}"
            notes.append(record_alert(s, device, kind, seqs[0], detail, now))
    return tuple(notes)
