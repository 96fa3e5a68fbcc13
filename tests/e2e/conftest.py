"""End-to-end fixtures: the real service (gatekit.LiveService: config, keys, SQLite, waitress on
loopback, stopped and started again on the same port) and the `checkin-gate` command as a real process.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Any]:
    from tests.support.gatekit import LiveService

    svc = LiveService(tmp_path / "service")
    svc.start()
    try:
        yield svc
    finally:
        svc.close()
