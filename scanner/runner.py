"""The scan loop: frames in, codes decoded, decided, journalled, then shown. No window here.

`Gate` holds what a verdict needs (bundle, state, journal, clocks) and turns a text into a
committed row: decide, journal (fsynced), then update the state; the caller shows the verdict
only after `scan` returns. The state belongs to the scan loop's thread: what the sync thread learns
(a newer bundle aside) reaches it through the journal file, read before each decision, so no
decision sees a state another thread is changing. `run_frames` drives it from any frame source, with the decoder's
`Deduplicator` so a code held in front of the camera for many frames is one scan. The window (scanner/ui.py) and
the headless JSON printer sit on top of the same loop.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from checkin import clikit
from checkin.core import credential
from checkin.core.chain import JournalRow
from checkin.core.credential import Credential
from checkin.core.errors import InputError
from checkin.core.text import fold
from checkin.core.trust import Direction, TrustBundle
from scanner import gate, screening
from scanner.gate import Decision
from scanner.journal import Journal
from scanner.settings import CameraSettings

if TYPE_CHECKING:  # OpenCV, NumPy and the decoders load only where frames are read: texts, status, sync need none
    import numpy as np

    from scanner.camera import FrameSource
    from scanner.decode import Deduplicator, Found

Clock = Callable[[], datetime]
Operator = Callable[[], "screening.Entry | None"]  # the next guest's screening input (a script)
MonoClock = Callable[[], int]
Frame = tuple["np.ndarray", float]  # (image, timestamp in ms)


def system_clock() -> datetime:
    """The machine's wall clock, UTC."""
    return datetime.now(UTC)


def monotonic_ms() -> int:
    """The machine's monotonic clock in ms."""
    return time.monotonic_ns() // 1_000_000


def shifted_clock(start: datetime, mono: MonoClock = monotonic_ms) -> Clock:
    """A clock that starts at `start` and runs at the gate's monotonic pace (demos, replays, tests)."""
    return clikit.shifted_clock(start, lambda: mono() / 1000.0)


@dataclass(frozen=True)
class Recorded:
    """A committed verdict: the decision, the journal row that records it, the text it was about."""

    decision: Decision
    row: JournalRow
    text: str = ""
    decoder: str = ""

    def to_json(self) -> dict[str, Any]:
        """The headless JSON line: `checkin-gate verify`'s fields plus seq, direction and zone."""
        body = self.decision.to_json(self.text)
        body.update(seq=self.row.seq, direction=self.row.direction, zone=self.row.zone, wall_ms=self.row.wall_ms)
        if self.decoder:
            body["decoder"] = self.decoder
        if self.row.operator:
            body["operator"] = self.row.operator
        return body


def match(query: str, names: dict[bytes, str]) -> list[bytes]:
    """The credential ids a typed query names, best first: short code, then hex id prefix, then name.

    Names match word by word without diacritics: a whole word ranks above a word's beginning, which
    ranks above a piece inside a word ("an" finds An before Lan).
    """
    typed = query.strip()
    found: list[bytes] = []
    try:
        code = credential.parse_short_code(typed)
    except InputError:
        code = ""
    if code:
        found += [
            cti for cti in names if len(cti) >= credential.SHORT_CODE_BYTES and credential.short_code(cti) == code
        ]
    hexed = typed.lower()
    if len(hexed) >= 4 and all(c in "0123456789abcdef" for c in hexed):
        found += [cti for cti in names if cti.hex().startswith(hexed) and cti not in found]
    words = fold(typed).split()
    if len("".join(words)) < 2:
        return found
    ranked: list[tuple[int, str, bytes]] = []
    for cti, name in names.items():
        parts = fold(name).split()
        score = 0
        for word in words:
            if word in parts:
                continue
            if any(part.startswith(word) for part in parts):
                score += 1
            elif any(word in part for part in parts):
                score += 3
            else:
                break
        else:
            if cti not in found:
                ranked.append((score, fold(name), cti))
    return found + [cti for _score, _name, cti in sorted(ranked)]


@dataclass(frozen=True)
class Candidate:
    """A credential a damaged-badge lookup found: from a code seen at this gate or the bundle's names."""

    cti: bytes
    name: str
    credential: Credential | None


class Gate:
    """Decide, journal, update state: the one path every verdict takes, window or headless."""

    def __init__(
        self,
        journal: Journal,
        bundle: TrustBundle,
        *,
        zone: str | None,
        direction: Direction,
        clock: Clock = system_clock,
        mono: MonoClock = monotonic_ms,
        operator: str = "",
        on_commit: Callable[[Recorded], None] | None = None,
    ) -> None:
        self.journal = journal
        self._bundle = bundle
        self._lock = threading.Lock()
        self.clock = clock
        self.mono = mono
        self.operator = operator
        self.on_commit = on_commit  # told of every committed row (the sync thread is poked to push it)
        self.state, self._peer_mark = journal.snapshot(zone, direction)
        self.seen: dict[bytes, Credential] = {}
        self.last_seq = journal.last_seq()

    # ---- what the loop reads --------------------------------------------------------------------

    @property
    def bundle(self) -> TrustBundle:
        """The bundle in force (the sync thread may swap it at any time)."""
        with self._lock:
            return self._bundle

    def set_bundle(self, bundle: TrustBundle) -> None:
        """Put a newer bundle in force; an older one is ignored. Safe from any thread."""
        with self._lock:
            if bundle.version >= self._bundle.version:
                self._bundle = bundle

    @property
    def direction(self) -> Direction:
        """Which way this gate counts now."""
        return self.state.direction

    def set_direction(self, direction: Direction) -> None:
        """Switch entry/exit."""
        self.state = replace(self.state, direction=direction)

    def clock_alarm(self) -> bool:
        """True while the clock is below the time floor and no operator has confirmed it."""
        self._refresh()
        return gate.clock_suspect(self.bundle, self.state, self.clock())

    # ---- the paths to a row ----------------------------------------------------------------------

    def _refresh(self) -> None:
        # the sync thread (server time) or `checkin-gate clock-ack` may have moved the floor, and the
        # sync thread may have pulled other gates' passages: both are read from the journal file
        floor = self.journal.time_floor_ms
        if floor != self.state.time_floor_ms:
            self.state = replace(self.state, time_floor_ms=floor)
        peers, self._peer_mark = self.journal.peers_after(self._peer_mark)
        if peers:
            self.state = self.state.with_peers(peers)

    def _commit(self, decision: Decision, text: str, decoder: str = "", *, resets_floor: bool = False) -> Recorded:
        wall = self.clock()
        row = self.journal.record(
            decision,
            wall_ms=gate.to_ms(wall),
            mono_ms=self.mono(),
            direction=self.state.direction,
            zone=self.state.zone,
            operator=self.operator,
            resets_floor=resets_floor,
        )
        self.last_seq = row.seq
        self.state = self.state.acknowledged(row.wall_ms) if resets_floor else self.state.after(decision, row.wall_ms)
        if decision.credential is not None and decision.kid is not None:
            self.seen[decision.credential.credential_id] = decision.credential
        recorded = Recorded(decision, row, text, decoder)
        if self.on_commit is not None:
            self.on_commit(recorded)
        return recorded

    def scan(
        self, text: str, decoder: str = "", entry: screening.Entry | None = None, *, entries: Operator | None = None
    ) -> Recorded:
        """Decide on a scanned text (screened with `entry`, or the next of `entries`, when the event
        screens) and commit its row; show the verdict only after this returns."""
        decision = self.examine(text)
        if entry is None and entries is not None and self.needs_screening(decision):
            entry = entries()  # one scripted line per guest who reaches screening; a denied code takes none
        return self.finish(decision, text, decoder, entry=entry)

    def examine(self, text: str) -> Decision:
        """The decision on a scanned text before screening, committed to nothing: the window asks
        `needs_screening` next, runs a `screening.Session`, then calls `finish`."""
        self._refresh()
        return gate.decide(text, self.bundle, self.state, self.clock())

    def needs_screening(self, decision: Decision) -> bool:
        """True when `decision` admits only once the guest is screened."""
        return gate.needs_screening(decision, self.bundle, self.state)

    def start_screening(self, decision: Decision) -> screening.Session:
        """A screening session for the guest `decision` is about (check `needs_screening` first)."""
        assert decision.credential is not None
        tolerance = timedelta(seconds=self.bundle.policy.clock_tolerance_seconds)
        now = gate.event_time(self.bundle, self.clock())
        return screening.Session.start(decision.credential, self.bundle.policy.screening, now, tolerance)

    def finish(
        self,
        decision: Decision,
        text: str,
        decoder: str = "",
        *,
        entry: screening.Entry | None = None,
        result: screening.Result | None = None,
    ) -> Recorded:
        """Screen (a finished session's `result`, or a scripted `entry`) when needed, then commit the row."""
        return self._commit(self._screen(decision, entry, result), text, decoder)

    def _screen(self, decision: Decision, entry: screening.Entry | None, result: screening.Result | None) -> Decision:
        if result is not None and self.needs_screening(decision):
            return gate.screened(decision, result)
        return gate.screen(decision, self.bundle, self.state, self.clock(), entry)

    def refuse(self, shown: Decision | None) -> Recorded:
        """Staff refused the person last shown: journal `refused_by_staff` about them."""
        return self._commit(gate.refused_by_staff(shown), "")

    def acknowledge_clock(self) -> Recorded:
        """An operator confirmed the clock: journal it; the time floor restarts at the current time."""
        return self._commit(gate.clock_acknowledged(), "", resets_floor=True)

    def lookup(self, query: str, limit: int = 8) -> list[Candidate]:
        """Guests a typed query names: the short code on the badge (7K3M-Q9XD, hyphen optional), a name
        typed with or without diacritics, or a hex id prefix; codes seen at this gate, then the bundle's
        names (the bundle carries names when the event allows it)."""
        known: dict[bytes, Candidate] = {cti: Candidate(cti, cred.name, cred) for cti, cred in self.seen.items()}
        for cti, name in self.bundle.names.items():
            known.setdefault(cti, Candidate(cti, name, None))
        return [known[cti] for cti in match(query, {cti: c.name for cti, c in known.items()})][:limit]

    def examine_manual(self, candidate: Candidate) -> Decision:
        """The decision on a looked-up credential before screening, committed to nothing (see `examine`)."""
        self._refresh()
        return gate.decide_manual(candidate.cti, self.bundle, self.state, self.clock(), candidate.credential)

    def manual(
        self,
        candidate: Candidate,
        entry: screening.Entry | None = None,
        *,
        decision: Decision | None = None,
        result: screening.Result | None = None,
    ) -> Recorded:
        """Decide on a looked-up credential (damaged badge; `decision` when `examine_manual` made it),
        screen it like `finish`, and commit it, marked as manual."""
        decision = self._screen(decision or self.examine_manual(candidate), entry, result)
        decision = replace(decision, detail=("manual lookup; " + decision.detail).rstrip("; "))
        operator, self.operator = self.operator, f"manual:{self.operator}" if self.operator else "manual"
        try:
            return self._commit(decision, f"manual:{candidate.cti.hex()}")
        finally:
            self.operator = operator


def frame_source(
    *, camera: int | None, video: Path | None, images: Path | None, settings: CameraSettings | None = None
) -> FrameSource:
    """The one source the options name (scanner/camera.py): webcam (with gate.toml's [camera]
    settings), video file or image folder."""
    from scanner import camera as camera_mod

    return camera_mod.open_source(camera=camera, video=video, images=images, settings=settings)


Decoder = Callable[["np.ndarray"], "list[Found]"]
OnVerdict = Callable[[Recorded, "Found | None"], None]
OnFrame = Callable[["np.ndarray", "list[Found]"], bool]
Scan = Callable[[str, str], "Recorded | None"]  # a scanned text and its decoder in, a committed row (None: not yet)


def run_frames(
    gate_: Gate,
    frames: Iterable[Frame],
    decoder: Decoder,
    *,
    dedup: Deduplicator,
    on_verdict: OnVerdict,
    on_frame: OnFrame | None = None,
    entries: Operator | None = None,
    scan: Scan | None = None,
) -> int:
    """Decode each frame, decide and journal each new code, then hand it on; return the scans made.

    `on_frame` sees every frame after its verdicts were committed; it returns False to stop.
    `entries` gives the scripted screening input of each guest who reaches screening. `scan` replaces
    `Gate.scan` (the window screens a guest with the operator before the row is committed: it returns
    None then, and `on_verdict` is not called).
    """

    def scripted(text: str, decoder_name: str) -> Recorded | None:
        return gate_.scan(text, decoder_name, entries=entries)

    take = scan or scripted
    scans = 0
    for frame, ts_ms in frames:
        found = decoder(frame)
        for item in dedup.fresh(found, ts_ms):
            record = take(item.text, item.decoder)
            if record is not None:
                on_verdict(record, item)
            scans += 1
        if on_frame is not None and not on_frame(frame, found):
            break
    return scans


def run_texts(gate_: Gate, lines: Iterable[str], on_verdict: OnVerdict, entries: Operator | None = None) -> int:
    """One scan per non-empty line: for tests, rehearsals and a scanner that types into a terminal."""
    scans = 0
    for line in lines:
        text = line.strip()
        if text:
            on_verdict(gate_.scan(text, "text", entries=entries), None)
            scans += 1
    return scans


class ScriptedOperator:
    """Scripted screening input: one JSON object per guest who reaches screening, in order (`--screening-input`)."""

    def __init__(self, lines: Iterable[str], source: str = "screening input") -> None:
        import json

        from checkin.core.errors import InputError

        self._entries: list[screening.Entry] = []
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            where = f"{source} line {number}"
            try:
                data = json.loads(line)
            except ValueError as exc:
                raise InputError(f"{where}: not JSON ({exc})") from None
            self._entries.append(screening.Entry.from_json(data, where))
        self._next = 0

    def __call__(self) -> screening.Entry | None:
        """The next guest's entry; None once the script ran out (that guest is referred as not screened)."""
        if self._next >= len(self._entries):
            return None
        self._next += 1
        return self._entries[self._next - 1]

    @property
    def used(self) -> int:
        """How many entries were taken."""
        return self._next
