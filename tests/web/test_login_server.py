"""Login and sessions through the real WSGI server: `checkin serve` under gunicorn with two worker
processes behind a (simulated) TLS proxy, `[service] trusted_proxies = 1`. The throttle is shared
by both workers, an attacker hammering the admin account does not shut the admin out from another
address, and a session cookie copied before logout opens nothing after it."""

from __future__ import annotations

import http.client
import os
import re
import subprocess
import sys
import urllib.parse
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.cookies import SimpleCookie
from pathlib import Path

from checkin.config import Config
from checkin.store import Store, throttle, users
from checkin.store.users import Role
from tests.support.apikit import amended
from tests.support.server import free_port, wait_for_line

PASSWORD = "plum rain over the old harbour"
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Browser:
    """A browser behind the proxy: the proxy writes the client's address into X-Forwarded-For.
    Every request opens a new connection, so gunicorn hands them to either worker."""

    port: int
    address: str
    cookies: dict[str, str] = field(default_factory=dict)

    def request(self, method: str, path: str, form: dict[str, str] | None = None) -> tuple[int, str, str]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        headers = {"X-Forwarded-For": self.address}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            text = response.read().decode()
            for header in response.headers.get_all("Set-Cookie") or []:
                for name, morsel in SimpleCookie(header).items():
                    if morsel.value:
                        self.cookies[name] = morsel.value
                    else:
                        self.cookies.pop(name, None)
            return response.status, response.getheader("Location") or "", text
        finally:
            conn.close()

    def token(self, path: str = "/admin/login") -> str:
        _status, _where, text = self.request("GET", path)
        match = TOKEN.search(text)
        assert match, f"no CSRF token on {path}"
        return match.group(1)

    def log_in(self, username: str, password: str) -> tuple[int, str]:
        form = {"csrf_token": self.token(), "username": username, "password": password}
        status, _where, text = self.request("POST", "/admin/login", form)
        return status, TOKEN.sub("", text).replace(f'value="{username}"', "")


def _guessed_for_minutes(store: Store, address: str, username: str, now: datetime) -> datetime:
    """Count an attacker's guesses from `address` at `username` as the throttle saw them over the
    last minutes (each one as soon as its wait allowed; the table is what every worker and instance
    shares), through the throttle's own code with time as a parameter; returns when the last wait
    ends. The attempts through the server then meet a wait of minutes, whatever the speed of this
    machine: waits of seconds, run up through the server, could elapse while a loaded machine sends
    its requests and let the right password in (CI saw that)."""
    budgets = throttle.login_budgets(address, username)
    moment = now - timedelta(minutes=5)
    for failures in range(1, 14):
        assert throttle.claim(store, budgets, moment)
        moment += throttle.wait_after(failures, throttle.PAIR_FREE)
    return moment


def test_login_and_logout_hold_under_gunicorn_with_two_workers_behind_the_proxy(config: Config) -> None:
    amended(config, "\n[service]\ntrusted_proxies = 1\n")
    config_path = config.root / "config.toml"
    store = Store(config.database_url)
    users.create_user(store, "admin", Role.ADMIN, PASSWORD, datetime.now(UTC), actor="test")
    port = free_port()
    cli = str(Path(sys.executable).with_name("checkin"))
    env = {k: v for k, v in os.environ.items() if k != "CHECKIN_KEY_PASSPHRASE"}
    args = [cli, "--config", str(config_path), "serve", "--port", str(port), "--server", "gunicorn", "--workers", "2"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    try:
        wait_for_line(proc, b"listening on", 60)
        attacker = Browser(port, "203.0.113.9")
        waits_until = _guessed_for_minutes(store, attacker.address, "admin", datetime.now(UTC))
        assert waits_until > datetime.now(UTC) + timedelta(minutes=2)
        unknown = attacker.log_in("nobody", "guess number 0")  # a name this address has not tried: checked
        throttled = attacker.log_in("admin", "guess number 14")
        assert unknown == throttled and unknown[0] == 401  # the same status and page: nothing is confirmed
        for _ in range(4):  # the right password, too soon, at whichever worker: refused, and it looks the same
            assert attacker.log_in("admin", PASSWORD) == unknown

        admin = Browser(port, "198.51.100.7")  # the admin, from the office, meanwhile
        status, _page = admin.log_in("admin", PASSWORD)
        assert status == 302
        assert admin.request("GET", "/admin/users")[0] == 200
        copied = dict(admin.cookies)
        status, where, _text = admin.request("POST", "/admin/logout", {"csrf_token": admin.token("/admin/users")})
        assert status == 302 and where.endswith("/admin/login")
        thief = Browser(port, "198.51.100.66", cookies=copied)
        for _ in range(4):  # whichever worker answers
            status, where, _text = thief.request("GET", "/admin/users")
            assert status == 302 and "/admin/login" in where
    finally:
        proc.terminate()
        proc.wait(30)
        store.dispose()
