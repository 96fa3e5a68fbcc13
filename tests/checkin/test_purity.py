"""The pure core imports no I/O framework (DESIGN section 2's dependency rule)."""

from __future__ import annotations

import json
import subprocess
import sys

FORBIDDEN = ("flask", "cv2", "sqlalchemy", "sqlite3", "numpy", "click")
PURE = ("checkin.core.credential", "checkin.core.trust", "checkin.core.cose", "checkin.core.chain", "scanner.gate")

PROBE = f"""
import importlib, json, sys
for name in {PURE!r}:
    importlib.import_module(name)
loaded = sorted(m for m in sys.modules if m.split(".")[0].lstrip("_") in {FORBIDDEN!r})
print(json.dumps({{"loaded": loaded, "pure": [m for m in {PURE!r} if m in sys.modules]}}))
"""


def test_pure_modules_import_no_io_framework() -> None:
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=False, timeout=60)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["pure"] == list(PURE)  # the probe really imported them
    assert report["loaded"] == []


def test_probe_would_see_a_forbidden_module() -> None:
    """The probe is not vacuous: importing sqlite3 next to the pure modules is reported."""
    probe = PROBE.replace("import importlib, json, sys", "import importlib, json, sys, sqlite3")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=False, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "sqlite3" in json.loads(result.stdout)["loaded"]
