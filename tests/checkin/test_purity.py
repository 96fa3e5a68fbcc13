"""The import contracts (pyproject.toml's [tool.importlinter], DESIGN section 2's dependency rule) hold,
and each one catches the breach it is there for."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")  # from .[dev]'s import-linter


def lint_imports(root: Path, *contracts: str) -> subprocess.CompletedProcess[str]:
    """Run lint-imports in `root` (its pyproject.toml, its packages), on the contracts named or all."""
    selected = [arg for contract in contracts for arg in ("--contract", contract)]
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo", *selected],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def contract_ids() -> list[str]:
    """The ids of the contracts pyproject.toml declares."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return [contract["id"] for contract in config["tool"]["importlinter"]["contracts"]]


def test_every_contract_is_kept() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Contracts: {len(contract_ids())} kept, 0 broken." in result.stdout


# One breach per contract: (contract id, module file, the line added to it; a missing file is made).
# Each line is a real import of the kind the contract forbids; together they cover every contract.
BREACHES = [
    ("layers", "checkin/store/models.py", "from checkin.web import i18n"),
    ("core-pure", "checkin/core/base45.py", "import sqlite3"),
    ("core-pure", "checkin/core/errors.py", "from checkin import files"),
    ("gate-uses-core", "scanner/sync.py", "from checkin import keystore"),
    ("gate-uses-core", "checkin/clikit.py", "from checkin import config"),
    ("gate-no-service-libraries", "scanner/journal.py", "import sqlalchemy"),
    ("gate-click-in-cli", "scanner/runner.py", "import click"),
    ("gate-settings-no-camera", "scanner/settings.py", "import numpy"),
    ("gate-settings-no-camera", "scanner/sync.py", "from scanner import camera"),
    ("checkin-not-scanner", "checkin/files.py", "from scanner import gate"),
    ("web-modules", "checkin/web/audit.py", "from checkin.web import declare"),
    ("web-modules", "checkin/web/i18n.py", "from checkin.web import auth"),
    ("web-init", "checkin/web/openapi.py", "from checkin import web"),
    ("store-init", "checkin/store/models.py", "import checkin.store"),
    ("services-init", "checkin/services/events.py", "from checkin import services"),
    ("cli-init", "checkin/cli/breach.py", "from checkin import cli"),
    ("layers", "checkin/services/events.py", "from checkin.web import context"),
    ("no-cycles", "checkin/cli/db.py", "from checkin.cli import serve"),
    ("no-cycles", "scanner/gate.py", "from scanner import journal"),
    ("no-cycles", "checkin/core/cose.py", "from checkin.core import chain"),
]


def test_the_breaches_cover_every_contract() -> None:
    assert sorted({contract for contract, _file, _line in BREACHES}) == sorted(contract_ids())


@pytest.fixture(scope="module")
def copy_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the packages and the contracts, to break."""
    root = tmp_path_factory.mktemp("tree")
    for package in ("checkin", "scanner"):
        shutil.copytree(ROOT / package, root / package, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    result = lint_imports(root)  # the copy is what lint-imports reads, and it is clean
    assert result.returncode == 0, result.stdout + result.stderr
    return root


@pytest.mark.parametrize(
    ("contract", "module", "line"), [pytest.param(*breach, id=f"{breach[0]}:{breach[1]}") for breach in BREACHES]
)
def test_a_breach_is_caught(copy_root: Path, contract: str, module: str, line: str) -> None:
    path = copy_root / module
    original = path.read_text(encoding="utf-8") if path.exists() else None
    try:
        path.write_text(f"{original or ''}\n{line}  # noqa\n", encoding="utf-8")
        result = lint_imports(copy_root, contract)
    finally:
        if original is None:
            path.unlink()
        else:
            path.write_text(original, encoding="utf-8")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "BROKEN" in result.stdout and "0 kept, 1 broken" in result.stdout
