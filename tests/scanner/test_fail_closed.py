"""The gate fails closed (security issue, flaws 6 and 13), through the real `checkin-gate` command:
a USB enrolment names its zone (or says --all-zones); a bundle for another event is refused
wherever a bundle is installed (USB update, network pull), and a refused pull does not stop the
journal upload."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from checkin.core.errors import Reason, TrustError
from scanner.datadir import GateData
from tests.support.gatekit import Clock, ContractService, World, json_lines, run_gate, running

NOW = "2022-03-26T09:00"


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
def service(world: World) -> Iterator[ContractService]:
    with running(ContractService(world, clock=Clock(world.now))) as svc:
        yield svc


def other_event(world: World, version: int) -> bytes:
    """A bundle signed by the same root for another event of the deployment."""
    bundle = world.bundle(version=version)
    return world.signed_bundle(version=version, event=replace(bundle.event, id="hoi-thao-2", name="Hội thảo"))


def test_usb_enrolment_without_a_zone_is_refused(tmp_path: Path, world: World) -> None:
    ckb, pub = world.write_usb(tmp_path / "usb")
    data = tmp_path / "gate"
    refused = run_gate(data, "enroll", "--bundle", str(ckb), "--root-key", str(pub))
    assert refused.returncode != 0 and "--zone" in refused.stderr and "--all-zones" in refused.stderr
    assert not (data / "device.json").exists()
    unknown = run_gate(data, "enroll", "--bundle", str(ckb), "--root-key", str(pub), "--zone", "kitchen")
    assert unknown.returncode != 0 and "not a zone of the event" in unknown.stderr
    both = run_gate(data, "enroll", "--bundle", str(ckb), "--root-key", str(pub), "--zone", "hall", "--all-zones")
    assert both.returncode != 0 and not (data / "device.json").exists()


@pytest.mark.parametrize(
    ("zone_args", "zone", "reason"),
    [(("--zone", "hall"), "hall", "zone_not_allowed"), (("--all-zones",), "", "admitted")],
)
def test_a_press_code_at_a_usb_gate_follows_the_zone_it_was_given(
    tmp_path: Path, world: World, zone_args: tuple[str, ...], zone: str, reason: str
) -> None:
    ckb, pub = world.write_usb(tmp_path / "usb")
    data = tmp_path / "gate"
    enrolled = json_lines(run_gate(data, "enroll", "--bundle", str(ckb), "--root-key", str(pub), *zone_args))
    assert enrolled[0]["zone"] == zone  # --all-zones is said out loud: this gate opens every zone
    press = world.issue("Phóng viên", zones=("press",))
    out = json_lines(run_gate(data, "run", "--texts", "-", "--headless", "--now", NOW, stdin=press + "\n"))
    assert out[0]["reason"] == reason


def test_the_usb_update_path_refuses_another_events_bundle(tmp_path: Path, world: World) -> None:
    ckb, pub = world.write_usb(tmp_path / "usb")
    data = tmp_path / "gate"
    assert json_lines(run_gate(data, "enroll", "--bundle", str(ckb), "--root-key", str(pub), "--zone", "hall"))
    foreign = tmp_path / "other.ckb"
    foreign.write_bytes(other_event(world, version=5))
    refused = run_gate(data, "enroll", "--bundle", str(foreign), "--root-key", str(pub))
    assert refused.returncode == 2 and "wrong_event" in refused.stderr and "hoi-thao-2" in refused.stderr
    assert GateData(data).bundle().version == 1 and GateData(data).bundle().event.id == "cds-hd-2022"
    newer = tmp_path / "v2.ckb"
    newer.write_bytes(world.signed_bundle(version=2))  # this event's next bundle still installs: no false rollback
    assert (
        json_lines(run_gate(data, "enroll", "--bundle", str(newer), "--root-key", str(pub)))[0]["bundle_version"] == 2
    )


def test_a_pulled_bundle_for_another_event_is_refused_and_the_journal_still_goes_up(
    tmp_path: Path, world: World, service: ContractService
) -> None:
    data = tmp_path / "gate"
    enrolled = json_lines(run_gate(data, "enroll", "--server", service.url, "--code", service.add_code("gate-a")))
    codes = [world.issue(f"Khách {i}") for i in range(4)]
    assert len(json_lines(run_gate(data, "run", "--texts", "-", "--headless", "--now", NOW, "--no-sync",
                                   stdin="\n".join(codes) + "\n"))) == 4  # fmt: skip
    service.publish(other_event(world, version=7), 7)
    result = run_gate(data, "sync", "--now", NOW)
    assert result.returncode == 2 and "wrong_event" in result.stderr
    assert [r.seq for r in service.rows_of(enrolled[0]["enrolled"])] == [1, 2, 3, 4]  # uploaded all the same
    assert GateData(data).bundle().event.id == "cds-hd-2022" and GateData(data).bundle().version == 1
    status = json_lines(run_gate(data, "status", "--now", NOW))[0]
    assert (status["pending"], status["acked_seq"]) == (0, 4)


def test_install_bundle_refuses_another_event_in_the_data_folder(tmp_path: Path, world: World) -> None:
    from tests.support.gatekit import enrol_usb

    data = enrol_usb(tmp_path / "gate", world)
    with pytest.raises(TrustError) as caught:
        data.install_bundle(other_event(world, version=3))
    assert caught.value.reason is Reason.WRONG_EVENT
    assert data.bundle().version == 1
