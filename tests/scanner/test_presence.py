"""The other gates' passages on a gate: how they count in its decisions (scanner.gate), where they are
kept (beside the journal's chain, scanner.journal), how the scan loop learns of them (scanner.runner)
and what the gate accepts from the service's answer (scanner.sync)."""

from __future__ import annotations

import random
import sqlite3
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from checkin.core.errors import ConfigError, Reason
from checkin.core.trust import Direction, GatePolicy
from scanner import gate, sync
from scanner.datadir import GateData
from scanner.gate import GateState, Passage, decide
from scanner.journal import Journal, Peer
from scanner.runner import Gate, Recorded
from scanner.settings import Settings, parse_settings
from scanner.sync import Syncer, SyncError
from tests.support.gatekit import Clock, ContractService, World, enrol_usb, running

IN, OUT = Direction.IN, Direction.OUT
T0 = 1_648_260_000_000


@pytest.fixture(scope="module")
def world() -> World:
    return World()


def cti_of(world: World, text: str) -> bytes:
    decision = decide(text, world.bundle(), GateState(), world.now)
    assert decision.credential is not None
    return decision.credential.credential_id


# ---- how the other gates' passages count ----------------------------------------------------------------


def test_an_admission_at_another_gate_is_already_inside_here(world: World) -> None:
    text = world.issue()
    cti = cti_of(world, text)
    state = GateState(zone="hall").with_peers([Passage(cti, IN, T0, "hall", "gate-a")])
    assert cti in state.inside and state.entries_of(cti) == 1
    assert decide(text, world.bundle(), state, world.now).reason is Reason.ALREADY_INSIDE
    left = state.with_peers([Passage(cti, OUT, T0 + 60_000, "hall", "gate-exit")])
    assert cti not in left.inside
    assert decide(text, world.bundle(), left, world.now).reason is Reason.ADMITTED


def test_another_zones_passages_do_not_count_here(world: World) -> None:
    """A guest inside the hall may still enter the VIP room: presence is per zone."""
    text = world.issue()
    cti = cti_of(world, text)
    vip = GateState(zone="vip").with_peers([Passage(cti, IN, T0, "hall", "gate-a")])
    assert vip == GateState(zone="vip")
    assert decide(text, world.bundle(), vip, world.now).reason is Reason.ADMITTED


def test_entries_at_other_gates_count_toward_the_limit(world: World) -> None:
    text = world.issue()
    cti = cti_of(world, text)
    bundle = world.bundle(policy=GatePolicy(entries_per_credential=2))
    state = GateState(zone="hall").with_peers(
        [
            Passage(cti, IN, T0, "hall", "a"),
            Passage(cti, OUT, T0 + 1, "hall", "x"),
            Passage(cti, IN, T0 + 2, "hall", "b"),
        ]
    )
    state = state.with_peers([Passage(cti, OUT, T0 + 3, "hall", "x")])
    decision = decide(text, bundle, state, world.now)
    assert (decision.reason, decision.detail) == (Reason.ENTRY_LIMIT_REACHED, "2 of 2 entries used")


def test_the_latest_passage_by_wall_time_says_where_a_person_is(world: World) -> None:
    text = world.issue()
    cti = cti_of(world, text)
    bundle = world.bundle()
    here = GateState(zone="hall")
    admitted = here.after(decide(text, bundle, here, world.now), T0)
    # an exit at another gate before this admission (uploaded late) does not take the person out
    assert cti in admitted.with_peers([Passage(cti, OUT, T0 - 5_000, "hall", "x")]).inside
    # an exit after it does
    assert cti not in admitted.with_peers([Passage(cti, OUT, T0 + 5_000, "hall", "x")]).inside
    # the order they arrive in does not matter
    passages = [Passage(cti, IN, T0 + 10, "hall", "a"), Passage(cti, OUT, T0 + 20, "hall", "x")]
    one, other = here.with_peers(passages), here.with_peers(passages[::-1])
    assert one == other and cti not in one.inside and one.entries_of(cti) == 1


def test_this_gates_own_passages_keep_their_order_when_its_clock_is_set_back(world: World) -> None:
    """After an operator confirmed a clock set back, an exit here still follows the entry before it."""
    text = world.issue()
    cti = cti_of(world, text)
    bundle = world.bundle()
    state = GateState(zone="hall")
    state = state.after(decide(text, bundle, state, world.now), T0)
    out = replace(state, direction=OUT)
    state = out.after(decide(text, bundle, out, world.now), T0 - 3_600_000)
    assert cti not in state.inside
    rebuilt = gate.rebuild([(cti, IN, T0), (cti, OUT, T0 - 3_600_000)], zone="hall", direction=IN, time_floor_ms=0)
    assert rebuilt == replace(state, direction=IN, time_floor_ms=0)


# ---- kept in the journal file, beside the chain ----------------------------------------------------------


def peer(n: int, cti: bytes, way: str = "in", *, gate_id: str = "gate-a", zone: str = "hall") -> Peer:
    return Peer(n, gate_id, cti.hex(), way, T0 + n, zone)


def test_pulled_passages_are_kept_once_and_survive_a_restart(tmp_path: Path, world: World) -> None:
    data = enrol_usb(tmp_path / "gate", world)
    cti = cti_of(world, world.issue())
    with Journal(data.journal_path, data.device_key()) as journal:
        assert journal.take_peers([peer(7, cti)], 9) == 1
        assert journal.take_peers([peer(7, cti), peer(8, cti, "out"), peer(9, cti)], 12) == 2  # 7 again: kept once
        assert (journal.peer_cursor, journal.peer_count()) == (12, 3)
        rows = journal.last_seq()
    with Journal(data.journal_path, data.device_key()) as journal:  # the gate restarted
        assert journal.peer_cursor == 12
        state = journal.state("hall", IN)
        assert cti in state.inside and state.entries_of(cti) == 2
        assert journal.last_seq() == rows == 0  # not the gate's scans: no row, nothing to upload
        assert journal.verify(data.device_public()) == []


def test_passages_sent_again_write_nothing(tmp_path: Path, world: World) -> None:
    """On PostgreSQL the service sends recent passages again until they settle: the gate writes (and
    syncs to disk) only what is new to it."""
    data = enrol_usb(tmp_path / "gate", world)
    cti = cti_of(world, world.issue())
    with Journal(data.journal_path, data.device_key()) as journal:
        assert journal.take_peers([peer(1, cti), peer(2, cti, "out")], 0) == 2
        changes = journal._db.total_changes
        assert journal.take_peers([peer(1, cti), peer(2, cti, "out")], 0) == 0
        assert journal._db.total_changes == changes
        assert journal.take_peers([peer(2, cti, "out")], 2) == 0 and journal.peer_cursor == 2  # the cursor moved


def test_a_journal_from_before_presence_opens_with_none(tmp_path: Path, world: World) -> None:
    data = enrol_usb(tmp_path / "gate", world)
    with sqlite3.connect(data.journal_path) as db:
        db.execute("DROP TABLE peers")
        db.execute("DELETE FROM meta WHERE key = 'peer_cursor'")
    with Journal(data.journal_path) as journal:
        assert (journal.peer_cursor, journal.peer_count(), journal.state("hall", IN)) == (0, 0, GateState("hall"))


def test_the_scan_loop_learns_what_the_sync_thread_pulled_before_its_next_decision(
    tmp_path: Path, world: World
) -> None:
    """The sync thread writes through its own connection; the scan loop reads the journal file before
    each decision, so its state is never changed under it by another thread."""
    data = enrol_usb(tmp_path / "gate", world)
    text = world.issue()
    with Journal(data.journal_path, data.device_key()) as mine, Journal(data.journal_path) as syncs:
        loop = Gate(mine, data.bundle(), zone="hall", direction=IN, clock=Clock(world.now))
        assert loop.examine(text).reason is Reason.ADMITTED
        syncs.take_peers([peer(1, cti_of(world, text))], 1)
        assert loop.examine(text).reason is Reason.ALREADY_INSIDE
        syncs.take_peers([peer(2, cti_of(world, text), "out")], 2)
        assert loop.scan(text).decision.reason is Reason.ADMITTED  # left through the exit, back in here


def test_after_a_restart_the_gate_counts_as_it_did_live(tmp_path: Path, world: World) -> None:
    """Passages pulled while scanning are counted after the rows they followed, also when the journal
    is read again at start: a clock running behind the other gates' changes nothing after a restart."""
    data = enrol_usb(tmp_path / "gate", world)
    texts = [world.issue(f"Khách {i}") for i in range(3)]
    ctis = [cti_of(world, text) for text in texts]
    behind = Clock(world.now - timedelta(minutes=2))  # this gate's clock is two minutes slow
    with Journal(data.journal_path, data.device_key()) as mine, Journal(data.journal_path) as syncs:
        loop = Gate(mine, data.bundle(), zone="hall", direction=IN, clock=behind)
        syncs.take_peers([peer(1, ctis[0]), peer(2, ctis[1])], 2)  # entered at other gates (on time)
        syncs.take_peers([peer(3, ctis[0], "out")], 3)
        loop.examine(texts[0])
        assert loop.scan(texts[0]).decision.reason is Reason.ADMITTED  # left there, came in here
        assert loop.scan(texts[1]).decision.reason is Reason.ALREADY_INSIDE
        loop.set_direction(OUT)
        loop.scan(texts[1])  # out here, two minutes "before" it went in elsewhere by the clocks
        loop.set_direction(IN)
        assert loop.scan(texts[2]).decision.reason is Reason.ADMITTED
        live = loop.state
    assert live.inside == {ctis[0], ctis[2]}
    with Journal(data.journal_path) as journal:
        assert journal.state("hall", IN) == live


def test_an_admission_pokes_the_sync_thread_a_denial_does_not(tmp_path: Path, world: World) -> None:
    data = enrol_usb(tmp_path / "gate", world)
    syncer = Syncer(data, clock=Clock(world.now))
    text = world.issue()
    poked: list[bool] = []

    def committed(record: Recorded) -> None:
        syncer.on_commit(record)
        poked.append(syncer._wake.is_set())
        syncer._wake.clear()

    with Journal(data.journal_path, data.device_key()) as journal:
        loop = Gate(journal, data.bundle(), zone="hall", direction=IN, clock=Clock(world.now), on_commit=committed)
        loop.scan(text)
        loop.scan(text)
        loop.set_direction(OUT)
        loop.scan(text)
    assert poked == [True, False, True]  # admitted, already inside, an exit


def test_a_poke_starts_a_round_at_once_but_never_cuts_a_backoff_short(tmp_path: Path, world: World) -> None:
    syncer = Syncer(enrol_usb(tmp_path / "gate", world), clock=Clock(world.now))
    syncer.poke()
    started = time.monotonic()
    syncer._sleep(60, wakeable=True)  # the short round's wait: a poke ends it
    assert time.monotonic() - started < 30
    syncer.poke()
    started = time.monotonic()
    syncer._sleep(0.3, wakeable=False)  # a backoff after a failure runs out whatever the pokes
    assert time.monotonic() - started >= 0.3


# ---- what the gate takes from the service's answer -------------------------------------------------------


def test_only_well_formed_passages_of_other_gates_are_taken() -> None:
    good = {"id": 5, "gate": "gate-a", "cti": "ab" * 16, "direction": "in", "wall_ms": T0, "zone": "hall"}
    bad = [
        {**good, "id": 0},
        {**good, "id": "5"},
        {**good, "id": True},
        {**good, "gate": "gate-b"},  # this gate's own
        {**good, "gate": ""},
        {**good, "cti": "AB" * 16},
        {**good, "cti": "abc"},
        {**good, "cti": "ab" * 40},
        {**good, "direction": "sideways"},
        {**good, "wall_ms": -1},
        {**good, "wall_ms": 1.5},
        {**good, "zone": None},
        "not an object",
    ]
    peers, cursor, more = sync.read_presence({"passages": [*bad, good], "next": 9, "more": True}, "gate-b")
    assert peers == [Peer(5, "gate-a", "ab" * 16, "in", T0, "hall")] and (cursor, more) == (9, True)
    for body in ({"passages": [], "next": "9"}, {"next": 9}, {"passages": [], "next": -1}):
        with pytest.raises(SyncError):
            sync.read_presence(body, "gate-b")


def test_a_service_without_presence_still_takes_the_journal(tmp_path: Path, world: World) -> None:
    """A service from before presence answers 404: the round still pushes, and the gate stops asking."""
    clock = Clock(world.now)
    with running(ContractService(world, clock=clock)) as service:
        data = GateData(tmp_path / "gate")
        sync.enroll_network(data, service.url, service.add_code("gate-a"))
        with Journal(data.journal_path, data.device_key()) as journal:
            Gate(journal, data.bundle(), zone="hall", direction=IN, clock=clock).scan(world.issue())
            syncer = Syncer(data, clock=clock, settings=Settings(), rng=random.Random(7))
            result = syncer.sync_once(journal)
            assert (result.pushed, result.peers, syncer.presence) == (1, 0, False)
            assert syncer.board.get().online and not syncer.board.get().last_error
            assert syncer.exchange(journal).pushed == 0


def test_the_short_round_is_a_setting_with_bounds() -> None:
    assert Settings().presence_interval_seconds == 2.0
    assert parse_settings("[gate]\npresence_interval_seconds = 5\n", "gate.toml").presence_interval_seconds == 5.0
    for bad in ("0", "-1", "1e10", "nan", "true", '"2"'):
        with pytest.raises(ConfigError, match="presence_interval_seconds"):
            parse_settings(f"[gate]\npresence_interval_seconds = {bad}\n", "gate.toml")
