"""The README's walkthrough, run as a newcomer runs it: every ```sh block, top to bottom, in a fresh
folder laid out like the checkout (its .venv and examples/), on the 2022 timeline the commands give."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# a command that needs a camera or the network, or runs until stopped, says so on its line
SKIP = "# not run by the README test"
_BLOCK = re.compile(r"^```sh\n(.*?)^```", re.MULTILINE | re.DOTALL)


def readme_script() -> str:
    """The README's shell blocks as one script, without the commands marked SKIP."""
    blocks = _BLOCK.findall((REPO / "README.md").read_text(encoding="utf-8"))
    lines = [line for block in blocks for line in block.splitlines() if SKIP not in line]
    return "\n".join(lines) + "\n"


def test_every_block_has_commands_and_only_the_marked_ones_are_skipped() -> None:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    skipped = [line.split()[0:4] for block in _BLOCK.findall(text) for line in block.splitlines() if SKIP in line]
    # the long-running and the networked ones, nothing else
    assert {" ".join(words) for words in skipped} == {
        "make demo # sets",
        "make test # sets",
        "checkin --now 2022-03-26T07:00 serve",
        "checkin-gate --data gate-data enroll",
        "checkin-gate --data gate-data run",
        "checkin-gate --data gate-data sync",
    }
    assert " revoke " in readme_script()


def test_the_walkthrough_runs_as_written_in_a_fresh_folder(tmp_path: Path) -> None:
    (tmp_path / ".venv").symlink_to(Path(sys.executable).parent.parent)
    (tmp_path / "examples").symlink_to(REPO / "examples")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHECKIN_")}
    result = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", readme_script()],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    printed = [json.loads(line) for line in result.stdout.splitlines() if line.startswith('{"input"')]
    verdicts = [v for v in printed if "verdict" in v]  # `verify`; `decode` prints what it read
    by_input = {v["input"]: v for v in verdicts}
    assert by_input["anh.png"]["verdict"] == "admit"  # a guest with a vip zone at the vip gate, on the day
    assert "revoked" in {v["reason"] for v in verdicts}  # the code revoked by its short code
    assert len(verdicts) == 1 + len(list((tmp_path / "ev" / "codes").glob("*.png")))
    assert "read as UTF-8" in result.stderr
    # the gate enrolled from the USB stick and its journal verifies
    assert (tmp_path / "gate-data").is_dir() and (tmp_path / "rows.csv").is_file()
    # run inside the checkout, nothing it writes would be left untracked: git ignores all of it
    written = sorted(
        p.name + ("/" if p.is_dir() else "") for p in tmp_path.iterdir() if p.name not in {".venv", "examples"}
    )
    assert written, "the walkthrough wrote nothing"
    ignored = subprocess.run(
        ["git", "-C", str(REPO), "check-ignore", "--no-index", "--stdin"],
        input="\n".join(written) + "\n",
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    assert sorted(ignored) == written
