"""Browser fixtures: the service under waitress on 127.0.0.1 (a free port), Debian's Chromium driven
by Playwright with `executable_path` (never a browser download), and screenshots a person can look at.

The deployment is real: encrypted keys opened with CHECKIN_KEY_PASSPHRASE at app start, an admin
created with `checkin user add --generate`, a SQLite file. Only the clock is fixed, so the 2022
event's codes are valid. Tests skip with the reason when Chromium or Playwright cannot start.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from checkin.cli import main
from checkin.config import load
from checkin.keystore import PASSPHRASE_ENV
from checkin.web import create_app

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
NOW = datetime(2022, 3, 20, 2, 0, tzinfo=UTC)  # 09:00 in Hanoi, six days before the event
PASSPHRASE = "browser test passphrase 2022"
SHOTS_COPY = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"


@dataclass
class Site:
    """The running service: its address, the admin's generated password, and where files go."""

    url: str
    admin_password: str
    root: Path


@pytest.fixture(scope="module")
def site(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """`checkin init`, `keys init` (encrypted), `user add --generate`, then the app under waitress.
    A test module's `edit_site_config(text) -> text` changes config.toml first (screening on, ...)."""
    import waitress

    root = tmp_path_factory.mktemp("site")
    env = {PASSPHRASE_ENV: PASSPHRASE}
    when = ["--now", NOW.isoformat()]
    cli = CliRunner()
    assert cli.invoke(main, ["init", "--dir", str(root)], env=env).exit_code == 0
    config_path = str(root / "config.toml")
    result = cli.invoke(main, ["--config", config_path, *when, "keys", "init"], env=env)
    assert result.exit_code == 0, result.output
    result = cli.invoke(main, ["--config", config_path, *when, "user", "add", "admin", "--role", "admin", "--generate"])
    assert result.exit_code == 0, result.output
    password = result.stdout.strip().splitlines()[-1]
    edit = getattr(request.module, "edit_site_config", None)
    if edit is not None:
        written = Path(config_path)
        written.write_text(edit(written.read_text(encoding="utf-8")), encoding="utf-8")
    mp = pytest.MonkeyPatch()
    mp.setenv(PASSPHRASE_ENV, PASSPHRASE)
    app = create_app(load(config_path), {"CLOCK": lambda: NOW})
    mp.undo()  # the key is decrypted at start; the passphrase is not needed afterwards
    server: Any = waitress.create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield Site(f"http://127.0.0.1:{server.effective_port}", password, root)
    finally:
        server.task_dispatcher.shutdown()
        server.close()
        app.extensions["checkin.jobs"].shutdown()
        app.extensions["checkin.store"].dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Debian Chromium, or a skip that says why it cannot run."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: apt-get install -y chromium (make test does it with WITH_BROWSER=1)")
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        pytest.skip(f"playwright is not installed ({exc})")
    with sync_playwright() as playwright:
        try:
            chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        except PlaywrightError as exc:
            pytest.skip(f"Chromium cannot start here: {str(exc).splitlines()[0]}")
        yield chromium
        chromium.close()


class Screens:
    """Full-page screenshots under the test's tmp_path, copied to ./test-output/screenshots/."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0
        folder.mkdir(parents=True, exist_ok=True)
        SHOTS_COPY.mkdir(parents=True, exist_ok=True)

    def take(self, page: Any, name: str) -> Path:
        self.count += 1
        path = self.folder / f"{self.count:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        shutil.copyfile(path, SHOTS_COPY / path.name)
        return path

    def keep(self, path: Path) -> None:
        """Copy another output (a downloaded PDF) beside the screenshots."""
        shutil.copyfile(path, self.folder / path.name)
        shutil.copyfile(path, SHOTS_COPY / path.name)


@pytest.fixture
def screens(tmp_path: Path) -> Screens:
    return Screens(tmp_path / "screenshots")
