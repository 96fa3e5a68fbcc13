"""End-to-end fixtures: the real service (gatekit.LiveService: config, keys, SQLite, waitress on
loopback, stopped and started again on the same port) and the `checkin-gate` command as a real process.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

_SCANNER_TESTS = str(Path(__file__).resolve().parents[1] / "scanner")
if _SCANNER_TESTS not in sys.path:  # gatekit, shared with the gate's unit tests
    sys.path.insert(0, _SCANNER_TESTS)


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Any]:
    from gatekit import LiveService

    svc = LiveService(tmp_path / "service")
    svc.start()
    try:
        yield svc
    finally:
        svc.close()
