"""Credential benchmark: ticket size, sign/verify rates against bare Ed25519, QR rendering
against other writers, and the time to issue 10,000 tickets with PNGs and a badge sheet.

Prints one table. Rates are medians over repeated batches on one core; each figure stands
beside the alternative or limit measured in the same run.
"""

from __future__ import annotations

import csv
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from checkin import qr
from checkin.core import base45, cose, credential, trust
from checkin.core.credential import Credential

NAME = "Nguyễn Thị Ánh Tuyết Hồng Nhung"[:25]
ORG = "Sở Thông tin và Truyền thông tỉnh Hải Dương"
NOW = datetime(2022, 3, 26, 2, 0, tzinfo=UTC)
ROWS: list[tuple[str, str, str, str]] = []


def rate(fn: Callable[[], object], batch: int, repeats: int = 9) -> tuple[float, float]:
    """(median, p95) operations per second over `repeats` batches of `batch` calls."""
    fn()
    per_op = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(batch):
            fn()
        per_op.append((time.perf_counter() - start) / batch)
    per_op.sort()
    p95 = per_op[min(len(per_op) - 1, round(0.95 * (len(per_op) - 1)))]
    return 1 / statistics.median(per_op), 1 / p95


def row(what: str, value: str, against: str = "", ratio: str = "", target: str = "") -> None:
    ROWS.append((what, value, against, ratio + (f"  {target}" if target else "")))


def setup() -> tuple[Ed25519PrivateKey, trust.TrustBundle, str, Credential]:
    key = Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes_raw()
    bundle = trust.TrustBundle(
        version=1,
        issued_at=NOW,
        expires_at=NOW + timedelta(days=3),
        issuer="hd-stttt",
        event=trust.EventInfo("cds-hd-2022", "Ngày Chuyển đổi số", "Asia/Ho_Chi_Minh", NOW, NOW + timedelta(hours=10)),
        keys=(trust.BundleKey(cose.kid_of(public), public, NOW - timedelta(days=30), None, trust.KeyStatus.ACTIVE),),
    )
    cred = Credential.create(
        issuer="hd-stttt",
        event_id="cds-hd-2022",
        name=NAME,
        organisation=ORG,
        category="delegate",
        zones=("hall", "vip"),
        not_before=NOW - timedelta(days=1),
        expires_at=NOW + timedelta(days=1),
        issued_at=NOW - timedelta(days=6),
    )
    return key, bundle, credential.sign(cred, key), cred


def bench_crypto(key: Ed25519PrivateKey, bundle: trust.TrustBundle, text: str, cred: Credential) -> None:
    row("ticket: CK1 text length", f"{len(text)} chars", f"QR version {qr.version(text)}-Q", "", "alphanumeric")
    sign1 = cose.decode_sign1(base45.decode(text[len(credential.PREFIX) :]))
    message, signature = sign1.to_be_signed(), sign1.signature
    public = key.public_key()
    verifier = cose.verifier(public)
    sign_full = rate(lambda: credential.sign(cred, key), 2000)
    sign_bare = rate(lambda: key.sign(message), 2000)
    verify_full = rate(lambda: credential.verify(text, bundle, NOW), 2000)
    verify_bare = rate(lambda: public.verify(signature, message), 2000)
    verify_sodium = rate(lambda: verifier.verify(message, signature), 2000)
    row(
        "sign/s: full CK1 (claims, CBOR, Base45)",
        f"{sign_full[0]:,.0f}",
        f"bare Ed25519 sign {sign_bare[0]:,.0f}",
        f"{sign_full[0] / sign_bare[0]:.2f}",
    )
    row(
        "verify/s: full CK1 (Base45, CBOR, checks, sig)",
        f"{verify_full[0]:,.0f}",
        f"bare verify, cryptography {verify_bare[0]:,.0f}",
        f"{verify_full[0] / verify_bare[0]:.2f}",
        "target >= 0.80 " + ("MET" if verify_full[0] >= 0.8 * verify_bare[0] else "MISSED"),
    )
    row(
        "verify/s: same, against libsodium's bare verify",
        f"{verify_full[0]:,.0f}",
        f"bare verify, libsodium {verify_sodium[0]:,.0f}",
        f"{verify_full[0] / verify_sodium[0]:.2f}",
        "(our parsing overhead)",
    )
    row("verify p95 latency", f"{1e6 / verify_full[1]:.0f} us", f"bare {1e6 / verify_bare[1]:.0f} us")


def bench_png(text: str) -> None:
    import qrcode
    import segno

    def qrcode_png(mask: int | None) -> bytes:
        code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_Q, box_size=8, border=4, mask_pattern=mask)
        code.add_data(qrcode.util.QRData(text, mode=qrcode.util.MODE_ALPHA_NUM))
        code.make(fit=True)
        out = io.BytesIO()
        code.make_image().save(out)
        return out.getvalue()

    def segno_png() -> bytes:
        out = io.BytesIO()
        segno.make_qr(text, error="q", mode="alphanumeric", boost_error=False).save(out, kind="png", scale=8, border=4)
        return out.getvalue()

    ours = rate(lambda: qr.png(text), 50, 5)
    seg = rate(segno_png, 10, 3)
    auto = rate(lambda: qrcode_png(None), 5, 3)
    fixed = rate(lambda: qrcode_png(0), 10, 3)
    row("PNG renders/s, zxing-cpp writer (ours)", f"{ours[0]:,.0f}", f"segno {seg[0]:,.0f}", f"{ours[0] / seg[0]:.1f}x")
    row("", "", f"qrcode auto mask {auto[0]:,.0f}", f"{ours[0] / auto[0]:.1f}x")
    row("", "", f"qrcode fixed mask {fixed[0]:,.0f}", f"{ours[0] / fixed[0]:.1f}x")


NAMES = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi", "Đỗ", "Ngô"]
MIDDLE = ["Thị", "Văn", "Đức", "Minh", "Ngọc", "Quốc", "Thanh", "Hải"]
GIVEN = ["Ánh", "Bình", "Cẩm Tú", "Dũng", "Hồng Nhung", "Huy", "Lan Hương", "Khải", "Mai", "Phong"]


def bench_issue(count: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        guests = work / "guests.csv"
        with guests.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["name", "organisation", "category", "zones", "email"])
            for i in range(count):
                name = f"{NAMES[i % 10]} {MIDDLE[i % 8]} {GIVEN[(i // 10) % 10]}"
                writer.writerow([name, ORG, "delegate", "hall;vip", f"guest{i}@example.vn"])
        env = {**os.environ, "CHECKIN_KEY_PASSPHRASE": "benchmark passphrase"}
        cli = [str(Path(sys.executable).with_name("checkin")), "--config", str(work / "config.toml")]

        def run(*args: str) -> float:
            start = time.perf_counter()
            subprocess.run([*cli, *args], check=True, env=env, capture_output=True)
            return time.perf_counter() - start

        subprocess.run([cli[0], "init", "--dir", str(work)], check=True, env=env, capture_output=True)
        run("--now", "2022-03-01T09:00", "keys", "init")
        run(
            "--now",
            "2022-03-01T09:00",
            "event",
            "create",
            "--id",
            "big",
            "--name",
            "Ngày Chuyển đổi số",
            "--start",
            "2022-03-26T07:30",
            "--end",
            "2022-03-26T17:30",
            "--zones",
            "hall,vip,press",
        )
        seconds = run(
            "--now", "2022-03-20T09:00", "issue", "--event", "big", "--csv", str(guests), "--out", str(work / "out")
        )
        pngs = len(list((work / "out").glob("*.png")))
        sheet = (work / "out" / "badges.pdf").stat().st_size / 1e6
        row(
            f"issue {count:,} tickets: CSV -> signed, stored, PNGs,",
            f"{seconds:.1f} s",
            f"{pngs:,} PNGs, badge sheet {sheet:.1f} MB",
            f"{count / seconds:,.0f}/s",
            "target <= 30 s " + ("MET" if seconds <= 30 else "MISSED"),
        )
        row("  badge sheet, index.csv (the real CLI, 2 cores)", "", "", "")


def main() -> None:
    count = int(os.environ.get("BENCH_TICKETS", "10000"))
    key, bundle, text, cred = setup()
    bench_crypto(key, bundle, text, cred)
    bench_png(text)
    bench_issue(count)
    widths = [max(len(r[i]) for r in ROWS) for i in range(4)]
    header = ("measured", "value", "alternative / limit (same run)", "ratio")
    widths = [max(w, len(h)) for w, h in zip(widths, header, strict=True)]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for r in ROWS:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))
    print(f"\ncpu cores: {os.cpu_count()}; python {sys.version.split()[0]}; medians of repeated batches")


if __name__ == "__main__":
    main()
