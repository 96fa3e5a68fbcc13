"""Shared by the gate's tests: `gatekit` (deployment, codes, data folder, a contract-speaking service).

The suite runs with --import-mode=importlib, which puts no test folder on sys.path; this one goes
there so the test modules can `import gatekit`.
"""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
