"""Conformance of checkin.core.dcc with the EU DCC test data (eu-digital-green-certificates/dgc-testdata).

The data is outside the repository: `../shared/testdata/dgc` from the project root (for a git
worktree elsewhere, set CHECKIN_TESTDATA to the testdata folder). Without it these tests skip.

Every case runs from its PREFIX text and, where it has one, from its PNG (decoded with zxing-cpp);
each stage's expected result is compared with what we obtain, and a table is printed (pytest -s).
The known faults of the data itself are excluded by name with their reason; no check is loosened.
"""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import zxingcpp
from PIL import Image, UnidentifiedImageError

from checkin.core import base45, dcc
from checkin.core.errors import TrustError


def _testdata() -> Path | None:
    candidates = [Path(__file__).resolve().parents[2] / ".." / "shared" / "testdata"]
    if os.environ.get("CHECKIN_TESTDATA"):
        candidates.append(Path(os.environ["CHECKIN_TESTDATA"]))
    return next((c / "dgc" for c in candidates if (c / "dgc").is_dir()), None)


DGC = _testdata()
pytestmark = pytest.mark.skipif(
    DGC is None,
    reason="../shared/testdata/dgc is absent (outside conformance data, see ../shared/testdata/README.md; "
    "or set CHECKIN_TESTDATA)",
)

# Faults of the data itself (../shared/testdata/README.md), by case name: a case listed here does
# not count, every other case must match on every stage it states.
_FI = "the certificate encodes BasicConstraints with an explicit default (ca FALSE): DER forbids it"
_FI_CASES = {f"FI/2DCode/raw/{n}.json": _FI for n in range(1, 11)}
_ES_P384 = "declares ES256 but the certificate holds a P-384 key (96-byte signature): no valid ES256 exists"
EXCLUDED: dict[str, str] = {
    **_FI_CASES,
    "ES/2DCode/raw/401.json": _ES_P384,
    "ES/2DCode/raw/402.json": _ES_P384,
    "ES/2DCode/raw/403.json": _ES_P384,
    "common/2DCode/raw/CO15.json": "the certificate's ExtendedKeyUsage is an empty SEQUENCE, which DER forbids",
}
_ES_PNG = "the PNG encodes another text than PREFIX"
_LV_PNG = "the image is under the misspelt field _2DCODE"
EXCLUDED_PNG: dict[str, str] = {
    "ES/2DCode/raw/501.json": _ES_PNG,
    "ES/2DCode/raw/502.json": _ES_PNG,
    "ES/2DCode/raw/503.json": _ES_PNG,
    "LV/2DCode/raw/1.json": _LV_PNG,
    "LV/2DCode/raw/2.json": _LV_PNG,
    "LV/2DCode/raw/3.json": _LV_PNG,
}
STAGES = ("UNPREFIX", "B45DECODE", "COMPRESSION", "VERIFY", "EXPIRATIONCHECK", "KEYUSAGE")
REQUIRED = ("VERIFY", "EXPIRATIONCHECK")  # the target; the other stages are held too


@dataclass(frozen=True)
class Case:
    name: str
    data: dict[str, Any]

    @property
    def expected(self) -> dict[str, bool]:
        results = self.data.get("EXPECTEDRESULTS", {})
        return {key.removeprefix("EXPECTED"): value for key, value in results.items() if isinstance(value, bool)}

    @property
    def now(self) -> datetime:
        moment = datetime.fromisoformat(self.data["TESTCTX"]["VALIDATIONCLOCK"])
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

    def trust(self) -> dcc.TrustList:
        return dcc.TrustList.load([base64.b64decode(self.data["TESTCTX"]["CERTIFICATE"])])

    @property
    def png(self) -> bytes | None:
        image = self.data.get("2DCODE")
        return base64.b64decode(image) if image else None


def cases() -> Iterator[Case]:
    assert DGC is not None
    for path in sorted(DGC.rglob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and "EXPECTEDRESULTS" in data:
            yield Case(path.relative_to(DGC).as_posix(), data)


def read_png(png: bytes) -> str | None:
    """The text of the QR in a PNG, as the gate reads it (the exact bytes, as ASCII); None if unreadable."""
    try:
        image = Image.open(io.BytesIO(png))
    except UnidentifiedImageError:  # Q1: bytes that are no image at all
        return None
    found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    return bytes(found[0].bytes).decode("ascii") if found else None


def obtained(text: str, case: Case) -> dict[str, bool | None]:
    """What we find at each stage; None where a stage cannot be reached (an earlier one failed)."""
    stages: dict[str, bool | None] = dict.fromkeys(STAGES)
    stages["UNPREFIX"] = text.startswith(dcc.PREFIX)
    try:
        compressed = base45.decode(text.removeprefix(dcc.PREFIX))
        stages["B45DECODE"] = True
    except ValueError:
        stages["B45DECODE"] = False
        return stages
    try:
        dcc.inflate(compressed)
        stages["COMPRESSION"] = True
    except dcc.DccError:
        stages["COMPRESSION"] = False
        return stages
    inspection = dcc.inspect(text, case.trust(), case.now)
    stages["VERIFY"] = inspection.signature_valid
    stages["EXPIRATIONCHECK"] = None if inspection.hcert is None else inspection.window is None
    stages["KEYUSAGE"] = inspection.key_usage_ok
    return stages


def _run(source: str) -> tuple[Counter[tuple[str, str]], list[str], list[str]]:
    table: Counter[tuple[str, str]] = Counter()
    failures: list[str] = []
    excluded: list[str] = []
    for case in cases():
        table[("(cases)", "in the data")] += 1
        if case.name in EXCLUDED or (source == "png" and case.name in EXCLUDED_PNG):
            excluded.append(f"{case.name}: {EXCLUDED.get(case.name) or EXCLUDED_PNG[case.name]}")
            continue
        if source == "png":
            png = case.png
            if png is None:
                table[("PICTUREDECODE", "no PNG in the case")] += 1
                continue
            text = read_png(png)
            picture_ok = text == case.data["PREFIX"] if text is not None else False
            want = case.expected.get("PICTUREDECODE")
            if want is not None:
                table[("PICTUREDECODE", "match" if want == picture_ok else "MISMATCH")] += 1
                if want != picture_ok:
                    failures.append(f"{case.name} PICTUREDECODE: expected {want}, obtained {picture_ok}")
            if text is None:
                continue
        else:
            text = case.data["PREFIX"]
        table[("(cases)", f"run from {source}")] += 1
        got = obtained(text, case)
        for stage in STAGES:
            want = case.expected.get(stage)
            if want is None:
                continue
            if stage == "KEYUSAGE" and got["VERIFY"] is False:
                table[(stage, "n/a: signature invalid")] += 1  # key usage is read from the signer
                continue
            verdict = "match" if got[stage] == want else "MISMATCH"
            table[(stage, verdict)] += 1
            if got[stage] != want:
                failures.append(f"{case.name} {stage}: expected {want}, obtained {got[stage]}")
    return table, failures, excluded


def _print(source: str, table: Counter[tuple[str, str]], failures: list[str], excluded: list[str]) -> None:
    print(f"\nEU DCC conformance from {source}: stage / outcome / cases")
    for (stage, verdict), count in sorted(table.items()):
        print(f"  {stage:<16} {verdict:<24} {count:>4}")
    print(f"  excluded (data faults): {len(excluded)}")
    for line in excluded:
        print(f"    {line}")
    for line in failures:
        print(f"  FAIL {line}")


@pytest.mark.parametrize("source", ["prefix", "png"])
def test_every_case_matches_on_every_stage(source: str) -> None:
    table, failures, excluded = _run(source)
    _print(source, table, failures, excluded)
    assert not failures
    for stage in REQUIRED:  # the run really compared the stages the issue asks for
        assert table[(stage, "match")] > (400 if stage == "VERIFY" else 300)
    assert table[("VERIFY", "match")] > 400


def test_the_excluded_cases_really_fail_to_load() -> None:
    """An exclusion is a fault of the data, not of our verifier: each one's certificate is refused."""
    by_name = {case.name: case for case in cases()}
    for name in EXCLUDED:
        with pytest.raises(TrustError):
            by_name[name].trust()


def test_png_exclusions_are_faults_of_the_data() -> None:
    by_name = {case.name: case for case in cases()}
    for name, why in EXCLUDED_PNG.items():
        case = by_name[name]
        if why == _LV_PNG:
            assert case.png is None and "_2DCODE" in case.data
            continue
        assert case.png is not None
        text = read_png(case.png)
        assert text is not None and text != case.data["PREFIX"]


def test_an_eu_png_through_the_gate_command(tmp_path: Path) -> None:
    """`checkin-gate dcc` with an EU signer certificate file and the case's PNG, decoded by the gate."""
    case = next(c for c in cases() if c.name == "common/2DCode/raw/CO28.json")
    assert case.png is not None
    (tmp_path / "co28.png").write_bytes(case.png)
    (tmp_path / "signer.der").write_bytes(base64.b64decode(case.data["TESTCTX"]["CERTIFICATE"]))
    gate = Path(sys.executable).parent / "checkin-gate"
    at = case.data["TESTCTX"]["VALIDATIONCLOCK"]
    args = [gate, "dcc", "--cert", tmp_path / "signer.der", "--at", at, tmp_path / "co28.png"]
    result = subprocess.run(list(map(str, args)), capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["signature"] == "valid" and record["expired"] is False and record["type"] == "vaccination"
    assert record["reason"] == "dcc_accepted"
