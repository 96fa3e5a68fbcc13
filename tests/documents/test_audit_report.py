"""The officer's signed event report: made from a real store whose gates uploaded real journals
(checkin-gate's journal code: hash chain, forward-secure seals, signed checkpoints) through
`services.ingest.upload_journal`, drawn as a PDF, signed with the report key (pyHanko, PAdES), opened by
PDFium and Ghostscript, and checked by `checkin audit verify-report` run as a user runs it.
"""

from __future__ import annotations

import io
import stat
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import cms
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from checkin import pdfsign, reportpdf
from checkin.config import Config, load
from checkin.core import credential
from checkin.core.errors import KeyStoreError, Reason
from checkin.core.trust import Label
from checkin.keystore import REPORT_CERT, REPORT_PRIVATE, KeyStore, report_certificate
from checkin.services import issuing
from checkin.services.ingest import upload_journal
from checkin.services.report import Chart, EventReport, event_report
from checkin.store import Store, reports
from checkin.store import devices as stored_devices
from checkin.store import events as stored_events
from checkin.store import guests as stored_guests
from checkin.store.events import NewEvent
from checkin.store.guests import GuestRow
from scanner import journal as gate_journal
from tests.support import dockit
from tests.support.apikit import PG_SKIP
from tests.support.cli import CHECKIN, clean_env, ok, run_cli
from tests.support.scratch import postgres_for_tests
from tests.support.world import EVENT_ID, EVENT_NAME, HANOI, ISSUER

PASSPHRASE = "report tests passphrase"
ORGANISATION = "Sở Thông tin và Truyền thông tỉnh Hải Dương"
OPENS = datetime(2022, 3, 26, 7, 30, tzinfo=HANOI)
NOW = datetime(2022, 3, 26, 10, 30, tzinfo=HANOI)
NAMES = (*dockit.NAMES, "Ngô Bảo Châu", "Trịnh Công Sơn")


@dataclass
class Deployment:
    """A deployment on disk: config, encrypted keys, a migrated SQLite store with the event."""

    root: Path
    cfg: Config
    store: Store

    def checkin(self, *args: str | Path, now: datetime = NOW) -> subprocess.CompletedProcess[str]:
        env = clean_env(CHECKIN_KEY_PASSPHRASE=PASSPHRASE)
        return run_cli(
            CHECKIN, "--config", self.cfg.root / "config.toml", "--now", now.isoformat(), *args, cwd=self.root, env=env
        )


class GateUnderTest:
    """A gate enrolled with the service, keeping its journal with the gate's own code."""

    def __init__(self, d: Deployment, name: str, zone: str, direction: str, *, seed: bool = True) -> None:
        device, code = stored_devices.create_device(
            d.store, EVENT_ID, name, zone, direction, OPENS - timedelta(hours=1)
        )
        key = Ed25519PrivateKey.generate()
        path = d.root / f"gate-{device.id}.sqlite"
        sealing_seed = gate_journal.begin(path)
        stored_devices.enrol_device(
            d.store,
            code,
            key.public_key().public_bytes_raw().hex(),
            OPENS - timedelta(hours=1),
            seal_seed=sealing_seed if seed else b"",  # without: an old gate that sends no seed
        )
        self.store, self.device_id, self.zone, self.direction = d.store, device.id, zone, direction
        self.journal = gate_journal.Journal(path, key)
        self.mono = 0

    def scan(self, cti: str, at: datetime, verdict: str = "admit", reason: str = "admitted") -> None:
        self.mono += 1000
        self.journal.append(
            wall_ms=int(at.timestamp() * 1000),
            mono_ms=self.mono,
            cti=cti,
            verdict=verdict,
            reason=reason,
            direction=self.direction,
            zone=self.zone,
        )

    def sync(self, now: datetime) -> None:
        """Upload every row with a checkpoint signed now, as the gate's sync does."""
        device = stored_devices.device(self.store, self.device_id)
        signed = self.journal.checkpoint(int(now.timestamp() * 1000))
        assert signed is not None
        upload_journal(self.store, device, self.journal.rows(after=device.acked_seq), signed.signed, now)


def make_deployment(root: Path, database: str) -> Deployment:
    """config.toml, encrypted keys and the event, over `database` (a file name or a PostgreSQL URL)."""
    (root / "config.toml").write_text(
        f'[deployment]\nid = "{ISSUER}"\nname = "{ORGANISATION}"\n\n[paths]\ndatabase = "{database}"\n',
        encoding="utf-8",
    )
    (root / "config.toml").chmod(0o600)  # as `checkin init` writes it
    cfg = load(str(root / "config.toml"))
    KeyStore(cfg.keys_dir).init(PASSPHRASE.encode(), OPENS - timedelta(days=30))
    store = Store(cfg.database_url, keys_dir=cfg.keys_dir)
    store.migrate()
    stored_events.create_event(
        store,
        NewEvent(
            EVENT_ID,
            EVENT_NAME,
            OPENS,
            OPENS + timedelta(hours=10),
            "Asia/Ho_Chi_Minh",
            ("hall", "vip", "press"),
            "Trung tâm Hội nghị tỉnh Hải Dương",
            zone_names={"hall": Label("Hội trường", "Hall"), "vip": Label("Khu VIP", "VIP area")},
        ),
        OPENS - timedelta(days=20),
    )
    return Deployment(root, cfg, store)


def hold_the_event(d: Deployment) -> list[str]:
    """Twelve guests with codes; three gates and a fourth that sent no sealing seed, their journals
    uploaded. Returns the guests' credential ids, in guest order."""
    rows = [GuestRow(0, name, ORGANISATION, "delegate", ("hall", "vip"), "") for name in NAMES]
    stored_guests.add_guests(d.store, EVENT_ID, rows, OPENS - timedelta(days=2), actor="test")
    signer = issuing.load_signer(d.cfg, PASSPHRASE.encode())
    assert isinstance(signer, issuing.Signer)
    ev = stored_events.event(d.store, EVENT_ID)
    issued = issuing.issue_pending(d.store, d.cfg, lambda: signer, ev, OPENS - timedelta(days=2), actor="test")
    assert issued is not None and issued.count == len(NAMES)
    ctis = [b.cti for b in reports.active_badges(d.store, EVENT_ID)]

    hall = GateUnderTest(d, "Cổng A – sảnh chính", "hall", "in")
    vip = GateUnderTest(d, "Cổng B – khu VIP", "vip", "in")
    out = GateUnderTest(d, "Cổng ra – sảnh", "hall", "out")
    old = GateUnderTest(d, "Cổng cũ – báo chí", "press", "in", seed=False)
    at = OPENS + timedelta(minutes=20)
    for i, cti in enumerate(ctis[:8]):  # eight people enter the hall, 07:50 to 07:57
        hall.scan(cti, at + timedelta(minutes=i))
    hall.scan("ab" * 16, at + timedelta(minutes=9), "deny", "bad_signature")
    hall.scan(ctis[0], at + timedelta(minutes=10), "deny", "already_inside")
    for i, cti in enumerate(ctis[:3]):  # three of them go on to the VIP area, 08:55
        vip.scan(cti, at + timedelta(minutes=65 + i))
    for i, cti in enumerate(ctis[3:5]):  # two others leave, 09:10
        out.scan(cti, at + timedelta(minutes=80 + i))
    old.scan(ctis[9], at + timedelta(minutes=30), "deny", "zone_not_allowed")
    for gate in (hall, vip, out, old):
        gate.sync(NOW - timedelta(minutes=5))
    return ctis


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    d = make_deployment(tmp_path_factory.mktemp("report"), "checkin.db")
    yield d
    d.store.dispose()


@pytest.fixture(scope="module")
def event(deployment: Deployment) -> list[str]:
    return hold_the_event(deployment)


@pytest.fixture(scope="module")
def report(deployment: Deployment, event: list[str]) -> EventReport:
    return event_report(deployment.store, EVENT_ID, NOW)


@pytest.fixture(scope="module")
def signed_pdf(deployment: Deployment, event: list[str]) -> Path:
    """The report as `checkin audit report` writes it (the report key made on this first use)."""
    typo = deployment.checkin("audit", "report", "--event", "cds2023", "--out", deployment.root / "x.pdf")
    assert typo.returncode == 1 and "[not_found]" in typo.stderr and "cds2023" in typo.stderr
    assert not KeyStore(deployment.cfg.keys_dir).has_report_key()  # a wrong event id made no key
    out = deployment.root / "báo-cáo.pdf"
    done = ok(deployment.checkin("audit", "report", "--event", EVENT_ID, "--out", out))
    assert "report signing key" in done.stderr  # made on first use, and said so
    return out


# ---- the value ------------------------------------------------------------------------------------


def test_the_report_counts_people_rows_and_zones(report: EventReport) -> None:
    c = report.counts
    assert (c.guests, c.codes_issued, c.codes_revoked) == (12, 12, 0)
    assert (c.entries, c.exits, c.denials, c.referrals) == (11, 2, 3, 0)
    assert (c.entered, c.inside) == (8, 6)  # 8 came in; 2 left; 3 moved on to VIP
    zones = {z.code: (z.entered, z.inside) for z in report.zones}
    assert zones == {"hall": (8, 3), "vip": (3, 3), "press": (0, 0)}
    assert report.event.start.isoformat() == "2022-03-26T07:30:00+07:00"
    assert report.generated_at.isoformat() == "2022-03-26T10:30:00+07:00"


def test_the_chart_has_each_gates_rows_in_their_quarter_hour(report: EventReport) -> None:
    chart = report.chart
    assert chart.starts[0].strftime("%H:%M") == "07:45" and chart.starts[-1].strftime("%H:%M") == "09:00"
    hall = next(g for g in chart.gates if g.name == "Cổng A – sảnh chính")
    assert [(s.entries, s.denials) for s in hall.slots] == [(8, 1), (0, 1), (0, 0), (0, 0), (0, 0), (0, 0)]
    assert sum(s.exits for g in chart.gates for s in g.slots) == 2


def test_every_gate_has_an_integrity_line_and_the_unsealed_one_is_flagged(report: EventReport) -> None:
    lines = {g.name: (g.rows_held, g.seals_checked, g.checkpoints, g.faults, g.intact) for g in report.gates}
    assert lines["Cổng A – sảnh chính"] == (10, 10, 1, (), True)
    assert lines["Cổng B – khu VIP"] == (3, 3, 1, (), True)
    assert lines["Cổng cũ – báo chí"] == (1, 0, 1, ("seals_unchecked",), False)
    assert [(a.kind, a.gate, a.state) for a in report.alerts] == [("seals_unchecked", "Cổng cũ – báo chí", "open")]


def test_postgresql_gives_the_same_report(tmp_path: Path, report: EventReport) -> None:
    with postgres_for_tests() as url:
        if url is None:
            pytest.skip(PG_SKIP)
        d = make_deployment(tmp_path, url)
        try:
            hold_the_event(d)
            there = event_report(d.store, EVENT_ID, NOW)
        finally:
            d.store.dispose()
    assert (there.counts, there.zones, there.chart.starts) == (report.counts, report.zones, report.chart.starts)
    assert [(g.name, g.slots) for g in there.chart.gates] == [(g.name, g.slots) for g in report.chart.gates]
    assert [replace(g, device_id="", last_seen=None) for g in there.gates] == [
        replace(g, device_id="", last_seen=None) for g in report.gates
    ]


# ---- the PDF --------------------------------------------------------------------------------------


def test_the_signed_report_opens_in_both_renderers_with_its_text(
    signed_pdf: Path, render: dockit.Renderer, tmp_path: Path
) -> None:
    data = signed_pdf.read_bytes()
    pages = render(data)
    assert len(pages) >= 2
    for page in pages:
        assert abs(page.shape[0] - 1754) <= 1 and abs(page.shape[1] - 1240) <= 1  # A4 at 150 dpi
        assert (page < 128).mean() > 0.003, "every page has ink"
    text = " ".join(dockit.pdfium_text(data, i) for i in range(len(pages)))
    assert EVENT_NAME in text and "Báo cáo sự kiện" in text and "Trung tâm Hội nghị tỉnh Hải Dương" in text
    assert "26/03/2022 10:30:00" in text
    for label, value in (("Khách mời", 12), ("Đang ở trong", 6), ("Lượt vào", 11), ("Lượt ra", 2)):
        assert f"{label} {value}" in text, label
    assert f"Trang 1/{len(pages)}" in text and f"Trang {len(pages)}/{len(pages)}" in text
    assert "Cổng cũ – báo chí" in text and "nguyên vẹn" in text and "Hội trường 8 3" in text and "Khu VIP 3 3" in text
    gs = dockit.ghostscript_text(data, tmp_path)
    assert EVENT_NAME in " ".join(gs.split()) and "Cổng A – sảnh chính" in gs


def test_the_english_report_words_everything_in_english(report: EventReport) -> None:
    data = reportpdf.render(report, "en")
    text = " ".join(dockit.pdfium_text(data, i) for i in range(len(dockit.pdfium_pages(data, dpi=30))))
    assert "Event report" in text and "Inside now 6" in text and "Entries 11" in text and "intact" in text
    assert "VIP area 3 3" in text and "Cổng A – sảnh chính · 8 entries, 0 exits, 2 denials" in text
    assert "2022-03-26 10:30:00" in text
    assert "Báo cáo" not in text


# ---- the signature --------------------------------------------------------------------------------


def test_the_signature_verifies_offline_and_names_the_signer(deployment: Deployment, signed_pdf: Path) -> None:
    done = ok(deployment.checkin("audit", "verify-report", signed_pdf))
    assert f"signer: Organization: {ORGANISATION}" in done.stdout
    assert "signed at: 2022-03-26T10:30:00+07:00" in done.stdout
    assert "covers the whole file: yes" in done.stdout
    # an outside checker with only the file and the certificate, no deployment at all
    alone = run_cli(
        CHECKIN,
        "audit",
        "verify-report",
        signed_pdf,
        "--cert",
        deployment.cfg.keys_dir / REPORT_CERT,
        cwd=deployment.root.parent,
    )
    assert alone.returncode == 0, alone.stderr


def _flipped(data: bytes, at: int) -> bytes:
    changed = bytearray(data)
    changed[at] ^= 0x01
    return bytes(changed)


def test_one_changed_byte_anywhere_in_the_signed_content_fails(deployment: Deployment, signed_pdf: Path) -> None:
    data = signed_pdf.read_bytes()
    contents = data.index(b"/Contents <") + len(b"/Contents <")  # the signature container (hex)
    container = cms.ContentInfo.load(bytes.fromhex(data[contents : data.index(b">", contents)].decode()))
    value = container["content"]["signer_infos"][0]["signature"].native  # the ECDSA signature itself
    signature = data.lower().index(value.hex().encode()) + len(value)  # a hex digit in its middle
    places = {
        "a page's stream": data.find(b"stream\n", 200) + 20,
        "the document title": data.find(b"/Title") + 10,
        "the signature dictionary": contents - 40,
    }
    assert all(0 < at < contents for at in places.values())
    changed = {name: _flipped(data, at) for name, at in places.items()}
    changed["the signature itself"] = (
        data[:signature] + (b"1" if data[signature : signature + 1] == b"0" else b"0") + data[signature + 1 :]
    )
    for name, bad_bytes in changed.items():
        assert bad_bytes != data and len(bad_bytes) == len(data)
        bad = deployment.root / "changed.pdf"
        bad.write_bytes(bad_bytes)
        done = deployment.checkin("audit", "verify-report", bad)
        assert done.returncode == 1, (name, done.stdout)
        assert "report_signature_invalid" in done.stderr, name


def test_an_update_appended_after_signing_fails(deployment: Deployment, signed_pdf: Path) -> None:
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    writer = IncrementalPdfFileWriter(io.BytesIO(signed_pdf.read_bytes()))
    writer.root["/Lang"] = generic.TextStringObject("en")  # looks harmless, and is not what was signed
    writer.update_root()
    out = io.BytesIO()
    writer.write(out)
    bad = deployment.root / "appended.pdf"
    bad.write_bytes(out.getvalue())
    done = deployment.checkin("audit", "verify-report", bad)
    assert done.returncode == 1
    assert "covers the whole file: no" in done.stdout
    assert "added to the file after it was signed" in done.stderr


def test_a_report_signed_with_another_key_fails_against_our_certificate(
    deployment: Deployment, report: EventReport
) -> None:
    mallory = ec.generate_private_key(ec.SECP256R1())
    forged = pdfsign.sign_pdf(reportpdf.render(report), mallory, report_certificate(mallory, NOW, ORGANISATION), NOW)
    path = deployment.root / "forged.pdf"
    path.write_bytes(forged)
    done = deployment.checkin("audit", "verify-report", path)
    assert done.returncode == 1
    assert "not the report certificate" in done.stderr
    ours = KeyStore(deployment.cfg.keys_dir).report_certificate()
    assert pdfsign.verify_pdf(forged, ours, NOW).problem == "the signer is not the report certificate given"


def test_the_report_key_is_encrypted_mode_0600_and_apart_from_the_other_keys(
    deployment: Deployment, signed_pdf: Path
) -> None:
    keys = KeyStore(deployment.cfg.keys_dir)
    path = deployment.cfg.keys_dir / REPORT_PRIVATE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert keys.report_key_encrypted()
    with pytest.raises(KeyStoreError) as wrong:
        keys.load_report_key(b"not the passphrase at all")
    assert wrong.value.reason is Reason.WRONG_PASSPHRASE
    key = keys.load_report_key(PASSPHRASE.encode())
    assert isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1)
    assert all(k.file != REPORT_PRIVATE for k in keys.keys())  # noqa: SIM118 - KeyStore.keys() is a list  # not a root or an issuing key
    done = deployment.checkin("keys", "report-key")
    assert done.returncode == 1 and "key_exists" in done.stderr
    # the certificate is public like root.pub, the key private: `checkin doctor` finds nothing loose
    doctor = ok(run_cli(CHECKIN, "--config", deployment.cfg.root / "config.toml", "doctor", cwd=deployment.root))
    assert doctor.stdout.startswith("ok: ")
    assert stat.S_IMODE((deployment.cfg.keys_dir / REPORT_CERT).stat().st_mode) == 0o644


def test_the_report_of_an_event_without_scans_says_so(deployment: Deployment, report: EventReport) -> None:
    empty = reportpdf.render(replace(report, chart=Chart((), ()), alerts=(), gates=()))
    text = dockit.pdfium_text(empty, 0) + dockit.pdfium_text(empty, len(dockit.pdfium_pages(empty, dpi=20)) - 1)
    assert "Chưa có lượt quét nào được tải lên." in text and "Không có cảnh báo." in text


def test_short_codes_are_not_in_the_report(signed_pdf: Path, event: list[str]) -> None:
    """The report names gates and counts people: no credential id or short code leaks into it."""
    text = " ".join(dockit.pdfium_text(signed_pdf.read_bytes(), i) for i in range(2))
    assert not any(credential.short_code(bytes.fromhex(cti)) in text or cti in text for cti in event)
