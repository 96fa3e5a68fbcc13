"""The two console scripts run as a user runs them: subprocesses, an environment without CHECKIN_*."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent
CHECKIN = str(BIN / "checkin")
GATE = str(BIN / "checkin-gate")


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any CHECKIN_* variable, plus `extra`."""
    return {**{k: v for k, v in os.environ.items() if not k.startswith("CHECKIN_")}, **extra}


def run_cli(
    program: str, *args: str | Path, cwd: Path, env: dict[str, str] | None = None, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """Run `program` with the umask most shells have (022), so the modes seen are the program's own."""
    return subprocess.run(
        [program, *map(str, args)],
        cwd=cwd,
        env=clean_env() if env is None else env,
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        check=False,
        umask=0o022,
    )


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    """The result, once it is known to have succeeded without a traceback."""
    assert result.returncode == 0, f"{result.args}\n{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stderr
    return result


def modes(root: Path) -> dict[str, int]:
    """Every path under `root` (itself included, as ".") with its permission bits."""
    found = {".": stat.S_IMODE(root.lstat().st_mode)}
    for path in root.rglob("*"):
        found[str(path.relative_to(root))] = stat.S_IMODE(path.lstat().st_mode)
    return found
