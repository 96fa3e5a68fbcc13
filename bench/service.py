"""Service benchmark: the gate API served by `checkin serve` (a real WSGI server on localhost).

Measures, on SQLite and (when CHECKIN_TEST_DATABASE_URL is set) PostgreSQL:
- journal rows ingested per second: gates upload batches of 500 rows at once, each batch's chain
  and checkpoint verified by the service; afterwards every row is counted and every chain checked;
- bundle fetch latency (GET /api/v1/bundle, full signed body, one gate after another);
- issue requests per second over HTTP: a registration system's JSON request with an API token and an
  Idempotency-Key
  (POST /api/v1/events/<id>/credentials: a new guest and their code), beside a registrar's
  re-issue form (logged in, CSRF token) and beside signing and recording in this process.

The same run measures the other WSGI server (waitress against gunicorn gthread) on SQLite, so the
choice in checkin/cli/serve.py stands on numbers from this machine. Prints one table.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import re
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote, urlencode

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from checkin.config import load
from checkin.core import chain, credential
from checkin.core.credential import Credential
from checkin.core.trust import Direction
from checkin.keystore import KeyStore
from checkin.store import Store, sessions, tokens, users
from checkin.store import devices as stored_devices
from checkin.store import events as stored_events
from checkin.store import guests as stored_guests
from checkin.store import journal as stored_journal
from checkin.store.events import NewEvent
from checkin.store.guests import GuestRow

EVENT = "cds-hd-2022"
BATCH = 500
GATES = 4
BATCHES_PER_GATE = 10
ROUNDS = 3
FETCHES = 300
ISSUES = 1200
GUESTS = 2000
REVOKED = 50
NOW = datetime.now(UTC).replace(microsecond=0)
ROWS: list[tuple[str, ...]] = []
TARGET_ROWS, TARGET_FETCH_MS, TARGET_ISSUE = 20_000, 20.0, 300


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def row(*cells: str) -> None:
    ROWS.append(cells)


def verdict(ok: bool) -> str:
    return "MET" if ok else "MISSED"


@dataclass
class Deployment:
    """A config folder with keys, one event, guests with credentials, some revoked."""

    home: Path
    url: str

    @property
    def config_path(self) -> Path:
        return self.home / "config.toml"

    def create_event_only(self) -> Store:
        """The config folder, keys and the event, without guests."""
        self.config_path.write_text(
            f'[deployment]\nid = "hd-stttt"\n\n[paths]\ndatabase = "{self.url}"\n', encoding="utf-8"
        )
        cfg = load(str(self.config_path))
        KeyStore(cfg.keys_dir).init(None, NOW - timedelta(days=30))
        store = Store(cfg.database_url)
        store.migrate()
        start = NOW + timedelta(hours=2)
        end = start + timedelta(hours=10)
        stored_events.create_event(
            store, NewEvent(EVENT, "Ngày Chuyển đổi số", start, end, "Asia/Ho_Chi_Minh", ("hall", "vip")), NOW
        )
        return store

    def create(self) -> Store:
        store = self.create_event_only()
        cfg = load(str(self.config_path))
        keys = KeyStore(cfg.keys_dir)
        info = keys.active_issuing()
        key = keys.load_private(info, None)
        items = []
        for i in range(GUESTS):
            cred = _credential(f"Khách mời {i}")
            items.append((_guest(cred.name), cred, info.kid, credential.sign(cred, key, info.kid_bytes)))
        stored_guests.record_issued(store, items, NOW)
        for _guest_row, cred, _kid, _text in items[:REVOKED]:
            stored_guests.revoke(store, cred.id_hex, "benchmark", NOW)
        return store


def _credential(name: str) -> Credential:
    return Credential.create(
        issuer="hd-stttt",
        event_id=EVENT,
        name=name,
        organisation="Sở Thông tin và Truyền thông",
        category="delegate",
        zones=("hall",),
        not_before=NOW,
        expires_at=NOW + timedelta(days=2),
        issued_at=NOW,
    )


def _guest(name: str) -> GuestRow:
    return GuestRow(0, name, "", "", ("hall",), "")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_cpu(pid: int) -> float:
    """CPU seconds spent so far by a server process and its workers (Linux /proc)."""
    pids = [pid]
    for task in Path(f"/proc/{pid}/task").iterdir():
        pids += [int(p) for p in (task / "children").read_text().split()]
    ticks = 0
    for each in pids:
        try:
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


@contextmanager
def served(deployment: Deployment, server: str) -> Iterator[tuple[int, int]]:
    """`checkin serve` in a subprocess; yields its port and pid once it answers."""
    port = free_port()
    cli = str(Path(sys.executable).with_name("checkin"))
    args = [cli, "--config", str(deployment.config_path), "serve", "--port", str(port), "--server", server]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                status, _headers, _body = request(port, "GET", "/api/v1/openapi.json")
                if status == 200:
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{server} did not start: {proc.stderr.read().decode() if proc.stderr else ''}")
            time.sleep(0.1)
        yield port, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def request(
    port: int, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None,
    conn: http.client.HTTPConnection | None = None,
) -> tuple[int, dict[str, str], bytes]:  # fmt: skip
    own = conn is None
    conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        if own:
            conn.close()


@dataclass
class Gate:
    device_id: str
    token: str
    key: Ed25519PrivateKey
    bodies: list[bytes]


def enrol_gates(store: Store, port: int, count: int, batches: int) -> list[Gate]:
    gates = []
    for i in range(count):
        device, code = stored_devices.create_device(store, EVENT, f"Cổng {i}", "hall", Direction.IN, NOW)
        key = Ed25519PrivateKey.generate()
        body = json.dumps({"code": code, "public_key": key.public_key().public_bytes_raw().hex()}).encode()
        status, _h, answer = request(port, "POST", "/api/v1/devices/enroll", body, {"Content-Type": "application/json"})
        assert status == 200, answer
        gates.append(Gate(device.id, json.loads(answer)["token"], key, journal_bodies(key, batches)))
    return gates


def journal_bodies(key: Ed25519PrivateKey, batches: int) -> list[bytes]:
    """A gate's journal, cut into upload bodies of BATCH rows, each with its signed checkpoint."""
    prev: chain.JournalRow | None = None
    wall = int(NOW.timestamp() * 1000)
    bodies = []
    for _ in range(batches):
        rows = []
        for _ in range(BATCH):
            wall += 700
            prev = chain.append(
                prev,
                wall_ms=wall,
                mono_ms=wall - 1_600_000_000_000,
                cti=secrets.token_hex(16),
                kid="1a2b3c4d5e6f7081",
                verdict="admit",
                reason="admitted",
                direction="in",
                zone="hall",
                operator="gate-staff-1",
            )
            rows.append(prev.to_json())
        assert prev is not None
        signed = chain.sign_checkpoint(chain.Checkpoint(prev.seq, prev.hash, wall), key)
        bodies.append(json.dumps({"rows": rows, "checkpoint": base64.b64encode(signed).decode()}).encode())
    return bodies


def upload(port: int, gates: list[Gate]) -> tuple[float, list[float]]:
    """Every gate uploads its batches in order, all gates at once: (rows per second, batch latencies)."""
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def run(gate: Gate) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        headers = {"Authorization": f"Bearer {gate.token}", "Content-Type": "application/json"}
        for body in gate.bodies:
            start = time.perf_counter()
            status, _h, answer = request(port, "POST", "/api/v1/journal", body, headers, conn)
            spent = time.perf_counter() - start
            with lock:
                latencies.append(spent)
                if status != 200:
                    errors.append(answer.decode()[:200])
        conn.close()

    threads = [threading.Thread(target=run, args=(gate,)) for gate in gates]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise RuntimeError(f"uploads refused: {errors[:3]}")
    return sum(len(g.bodies) for g in gates) * BATCH / elapsed, latencies


def check_held(store: Store, gates: list[Gate]) -> str:
    """Count what the service holds and verify every chain."""
    held = 0
    for gate in gates:
        rows = stored_journal.journal_rows(store, gate.device_id)
        if chain.check(rows):
            return f"chain of {gate.device_id} BROKEN"
        held += len(rows)
    expected = sum(len(g.bodies) for g in gates) * BATCH
    return f"{held:,}/{expected:,} rows held, chains verified" if held == expected else f"LOST rows {held}/{expected}"


def fetch_latencies(port: int, token: str) -> list[float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"Bearer {token}"}
    out = []
    for _ in range(FETCHES):
        start = time.perf_counter()
        status, _h, body = request(port, "GET", "/api/v1/bundle", None, headers, conn)
        out.append(time.perf_counter() - start)
        assert status == 200 and body, status
    conn.close()
    return out


@dataclass(frozen=True)
class ServerRun:
    server: str
    rows_per_s: list[float]
    batch_latency: list[float]
    fetch: list[float]
    held: str
    rows_per_cpu_s: list[float]


def bench_server(deployment: Deployment, store: Store, server: str) -> ServerRun:
    with served(deployment, server) as (port, pid):
        rates: list[float] = []
        latencies: list[float] = []
        per_cpu: list[float] = []
        held = ""
        for _ in range(ROUNDS):
            gates = enrol_gates(store, port, GATES, BATCHES_PER_GATE)
            cpu = server_cpu(pid)
            rate, batch = upload(port, gates)
            per_cpu.append(GATES * BATCHES_PER_GATE * BATCH / max(server_cpu(pid) - cpu, 1e-3))
            rates.append(rate)
            latencies += batch
            held = check_held(store, gates)
        fetch = fetch_latencies(port, gates[0].token)
    return ServerRun(server, rates, latencies, fetch, held, per_cpu)


def bench_issue(deployment: Deployment, store: Store) -> Rate:
    """Sign and record one credential per request, as the service's issuing does."""
    keys = KeyStore(load(str(deployment.config_path)).keys_dir)
    info = keys.active_issuing()
    key = keys.load_private(info, None)
    latencies = []
    start = time.perf_counter()
    for i in range(ISSUES):
        begin = time.perf_counter()
        cred = _credential(f"Người nhận {i}")
        text = credential.sign(cred, key, info.kid_bytes)
        stored_guests.record_issued(store, [(_guest(cred.name), cred, info.kid, text)], NOW)
        latencies.append(time.perf_counter() - begin)
    return ISSUES / (time.perf_counter() - start), latencies


HTTP_CLIENTS = 4
WARMUP = 100  # requests sent before the clock starts
Rate = tuple[float, list[float]]  # requests per second, and each request's latency in seconds
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _cookie(headers: dict[str, str], jar: dict[str, str]) -> None:
    for name, value in headers.items():
        if name.lower() == "set-cookie":
            pair = value.split(";", 1)[0]
            key, _, content = pair.partition("=")
            jar[key.strip()] = content


def _login(port: int, username: str, password: str) -> tuple[dict[str, str], str]:
    """Log in through the real form: a session cookie and a CSRF token, as a browser holds them."""
    jar: dict[str, str] = {}
    _status, headers, body = request(port, "GET", "/admin/login")
    _cookie(headers, jar)
    match = _CSRF.search(body.decode())
    assert match, "no CSRF token on the login page"
    form = urlencode({"username": username, "password": password, "csrf_token": match.group(1)}).encode()
    cookie = "; ".join(f"{k}={v}" for k, v in jar.items())
    status, headers, _body = request(
        port, "POST", "/admin/login", form, {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie}
    )
    assert status == 302, f"login failed: {status}"
    _cookie(headers, jar)
    cookie = "; ".join(f"{k}={v}" for k, v in jar.items())
    _status, headers, body = request(port, "GET", "/admin/events", headers={"Cookie": cookie})
    _cookie(headers, jar)  # the session now holds the CSRF token too
    match = _CSRF.search(body.decode())
    assert match, "no CSRF token on the events page"
    cookie = "; ".join(f"{k}={v}" for k, v in jar.items())
    return {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"}, match.group(1)


Request = tuple[str, bytes, dict[str, str]]  # path, body, headers of this request alone


def _client(job: tuple[int, list[Request], dict[str, str], int]) -> list[float]:
    """One client: its own process and connection, one request after another; the latencies."""
    port, mine, headers, expect = job
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    took = []
    for path, body, own in mine:
        begin = time.perf_counter()
        status, _h, answer = request(port, "POST", path, body, {**headers, **own}, conn)
        if status != expect:
            raise RuntimeError(f"{path} answered {status}: {answer[:200]!r}")
        took.append(time.perf_counter() - begin)
    conn.close()
    return took


def _load(port: int, requests: list[Request], headers: dict[str, str], expect: int) -> Rate:
    """Send the requests from HTTP_CLIENTS client processes at once (threads in one process were
    the bottleneck: py-spy showed the server idle 43% of the time), in ROUNDS rounds; the median
    round's rate and every latency.

    The first WARMUP requests go untimed: a server just started spends its first hundred requests
    opening pooled connections and filling SQLAlchemy's statement caches in every worker thread,
    which a service that has been up for a minute has long done."""
    warm, timed = requests[:WARMUP], requests[WARMUP:]
    rates: list[float] = []
    latencies: list[float] = []
    with ProcessPoolExecutor(max_workers=HTTP_CLIENTS) as pool:
        list(pool.map(_client, [(port, warm[i::HTTP_CLIENTS], headers, expect) for i in range(HTTP_CLIENTS)]))
        for r in range(ROUNDS):
            batch = timed[r::ROUNDS]
            jobs = [(port, batch[i::HTTP_CLIENTS], headers, expect) for i in range(HTTP_CLIENTS)]
            start = time.perf_counter()
            latencies += [t for took in pool.map(_client, jobs) for t in took]
            rates.append(len(batch) / (time.perf_counter() - start))
    return statistics.median(rates), latencies


def bench_issue_http(
    deployment: Deployment, store: Store
) -> tuple[tuple[float, list[float]], tuple[float, list[float]]]:
    """Issue over HTTP on the real server, both ways a person or system does it: a registration
    system's JSON request with an API token (a new guest and their code), and a registrar's
    re-issue form (log in, then revoke + sign + record + redirect per request)."""
    from checkin.cli.serve import DEFAULT_SERVER

    password = secrets.token_urlsafe(16)
    users.create_user(store, "bench", users.Role.REGISTRAR, password, NOW, actor="bench")
    scope = tokens.TokenScope((EVENT,))
    _row, api_secret = tokens.create_api_token(store, "portal", users.Role.REGISTRAR, NOW, actor="bench", scope=scope)
    with served(deployment, DEFAULT_SERVER) as (port, _pid):
        api = [
            (
                f"/api/v1/events/{EVENT}/credentials",
                json.dumps({"name": f"Người đăng ký {i}", "organisation": "Sở TT&TT", "zones": ["hall"]}).encode(),
                {"Idempotency-Key": f"dk-2022-{i:05d}"},  # as a registration system that retries sends it
            )
            for i in range(WARMUP + ISSUES)
        ]
        api_headers = {"Authorization": f"Bearer {api_secret}", "Content-Type": "application/json"}
        by_api = _load(port, api, api_headers, 201)
        headers, csrf = _login(port, "bench", password)
        form = urlencode({"reissue": "1", "csrf_token": csrf}).encode()
        guest_ids = range(1 + REVOKED, 1 + REVOKED + WARMUP + ISSUES)
        by_form = _load(port, [(f"/admin/guests/{g}/issue", form, {}) for g in guest_ids], headers, 302)
    return by_api, by_form


REGISTRAR_GUESTS = 5000
PAGE_VIEWS = 60
TARGET_PAGE_MS, TARGET_IMPORT_S = 150.0, 3.0
SEARCHES = ("uyen", "nguyen van", "ngoc uy", "so thong tin", "khach 4999", "zz-not-there")


def guest_list_csv(count: int) -> bytes:
    """A registrar's guest list of `count` Vietnamese names, as Excel saves it (UTF-8 with a BOM)."""
    families = ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ")
    middles = ("Văn", "Thị", "Ngọc", "Minh", "Đức", "Thu", "Hữu", "Quang")
    givens = ("An", "Bình", "Chi", "Dũng", "Giang", "Hà", "Hải", "Khánh", "Linh", "Mai", "Nam", "Phúc", "Quân",
              "Sơn", "Tâm", "Thảo", "Trang", "Tuấn", "Uyên", "Vy", "Yến")  # fmt: skip
    lines = ["name,organisation,category,zones,email"]
    for i in range(count):
        name = f"{families[i % 13]} {middles[i // 13 % 8]} {givens[i // 104 % 21]} {i}"
        lines.append(f"{name},Sở Thông tin và Truyền thông {i % 40},delegate,hall,guest{i}@example.vn")
    return ("\ufeff" + "\r\n".join(lines) + "\r\n").encode("utf-8")


def bench_registrar(backend: str, url_for: Callable[[Path], str]) -> None:
    """A registrar's 5,000-guest event in the pages (Flask's test client, the app in this process):
    the import of the list with codes, the event page (paged) and searches."""
    from checkin.services import issuing
    from checkin.services.guestlist import read_guest_csv
    from checkin.web import create_app

    with tempfile.TemporaryDirectory() as tmp:
        deployment = Deployment(Path(tmp), url_for(Path(tmp)))
        store = deployment.create_event_only()
        cfg = load(str(deployment.config_path))
        app = create_app(cfg, {"CLOCK": lambda: NOW, "TESTING": True})
        app_store: Store = app.extensions["checkin.store"]
        event = stored_events.event(app_store, EVENT)
        data = guest_list_csv(REGISTRAR_GUESTS)
        start, start_cpu = time.perf_counter(), time.process_time()
        rows, refused = read_guest_csv(data, event.zone_codes)
        signer = issuing.usable_signer(issuing.load_signer(cfg), cfg)
        done = issuing.import_guests(
            app_store, event, rows, NOW, actor="bench", issue_with=(cfg, signer), refused=refused
        )
        import_s = time.perf_counter() - start
        import_cpu = time.process_time() - start_cpu
        assert done.issued == REGISTRAR_GUESTS, done
        password = secrets.token_urlsafe(16)
        user = users.create_user(app_store, "bench-registrar", users.Role.REGISTRAR, password, NOW, actor="bench")
        client = app.test_client()
        with client.session_transaction() as session:  # a staff session as the login page opens it
            session["sid"] = sessions.start(app_store, user.id, NOW)

        cpu: dict[str, list[float]] = {"page": [], "search": []}

        def timed(path: str, kind: str = "page") -> float:
            begin, begin_cpu = time.perf_counter(), time.process_time()
            response = client.get(path)
            spent = time.perf_counter() - begin
            cpu[kind].append(time.process_time() - begin_cpu)  # this process's share: steadier on a busy machine
            assert response.status_code == 200, (path, response.status_code)
            return spent

        for _ in range(5):
            timed(f"/admin/events/{EVENT}")  # warm the caches, as a served app has
        pages = [timed(f"/admin/events/{EVENT}?page={1 + i % 100}") for i in range(PAGE_VIEWS)]
        searches = [
            timed(f"/admin/events/{EVENT}?q={quote(SEARCHES[i % len(SEARCHES)])}", "search") for i in range(PAGE_VIEWS)
        ]
        app_store.dispose()
        store.dispose()
    page_p95, search_p95 = pct(pages, 0.95) * 1e3, pct(searches, 0.95) * 1e3
    row(
        f"{backend}: event page of {REGISTRAR_GUESTS:,} guests med / p95",
        f"{statistics.median(pages) * 1e3:.0f} / {page_p95:.0f} ms",
        f"{PAGE_VIEWS} views, pages 1-100; CPU p95 {pct(cpu['page'], 0.95) * 1e3:.0f} ms",
        "",
        f"p95 <= {TARGET_PAGE_MS:.0f} ms {verdict(page_p95 <= TARGET_PAGE_MS)}",
    )
    row(
        f"{backend}: guest search med / p95",
        f"{statistics.median(searches) * 1e3:.0f} / {search_p95:.0f} ms",
        f"{len(SEARCHES)} queries, ranked; CPU p95 {pct(cpu['search'], 0.95) * 1e3:.0f} ms",
        "",
        f"p95 <= {TARGET_PAGE_MS:.0f} ms {verdict(search_p95 <= TARGET_PAGE_MS)}",
    )
    row(
        f"{backend}: import of {REGISTRAR_GUESTS:,} rows with codes",
        f"{import_s:.2f} s",
        f"read + check + sign + record; CPU {import_cpu:.2f} s",
        "",
        f"<= {TARGET_IMPORT_S:.0f} s {verdict(import_s <= TARGET_IMPORT_S)}",
    )


def report(
    backend: str,
    runs: list[ServerRun],
    issue: Rate,
    issue_http: tuple[Rate, Rate],
) -> None:
    chosen = runs[0]
    rate = statistics.median(chosen.rows_per_s)
    other = runs[1] if len(runs) > 1 else None
    against = ratio = ""
    if other:
        other_rate = statistics.median(other.rows_per_s)
        against, ratio = f"{other.server} {other_rate:,.0f}", f"{rate / other_rate:.2f}"
    row(
        f"{backend}: journal rows/s ingested ({chosen.server})",
        f"{rate:,.0f}",
        against,
        ratio,
        f">= {TARGET_ROWS:,} {verdict(rate >= TARGET_ROWS)}",
    )
    row(
        f"{backend}:   rows per server CPU-second",
        f"{statistics.median(chosen.rows_per_cpu_s):,.0f}",
        f"{other.server} {statistics.median(other.rows_per_cpu_s):,.0f}" if other else "",
        "",
        "what 1 free core ingests; the client shares the cores",
    )
    row(
        f"{backend}:   batch of {BATCH} latency med / p95",
        f"{statistics.median(chosen.batch_latency) * 1e3:.0f} / {pct(chosen.batch_latency, 0.95) * 1e3:.0f} ms",
        f"{GATES} gates at once",
        "",
        chosen.held,
    )
    fetch_p95 = pct(chosen.fetch, 0.95) * 1e3
    against = ratio = ""
    if other:
        other_p95 = pct(other.fetch, 0.95) * 1e3
        against, ratio = f"{other.server} p95 {other_p95:.1f} ms", f"{other_p95 / fetch_p95:.2f}"
    row(
        f"{backend}: bundle fetch med / p95 ({chosen.server})",
        f"{statistics.median(chosen.fetch) * 1e3:.1f} / {fetch_p95:.1f} ms",
        against,
        ratio,
        f"p95 <= {TARGET_FETCH_MS:.0f} ms {verdict(fetch_p95 <= TARGET_FETCH_MS)}",
    )
    by_api, by_form = issue_http
    row(
        f"{backend}: issue requests/s, JSON API over HTTP",
        f"{by_api[0]:,.0f}",
        f"re-issue form {by_form[0]:,.0f}; in-process {issue[0]:,.0f}",
        f"{by_api[0] / by_form[0]:.2f}",
        f">= {TARGET_ISSUE} {verdict(by_api[0] >= TARGET_ISSUE)}",
    )
    row(
        f"{backend}:   issue latency med / p95",
        f"{statistics.median(by_api[1]) * 1e3:.1f} / {pct(by_api[1], 0.95) * 1e3:.1f} ms",
        f"form {statistics.median(by_form[1]) * 1e3:.1f} / {pct(by_form[1], 0.95) * 1e3:.1f} ms",
        "",
        f"{HTTP_CLIENTS} clients at once; API: new guest + code, keyed; form: revoke + sign + record + redirect",
    )


def run_backend(backend: str, url_for: Callable[[Path], str], servers: tuple[str, ...]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        deployment = Deployment(Path(tmp), url_for(Path(tmp)))
        store = deployment.create()
        runs = [bench_server(deployment, store, server) for server in servers]
        issue = bench_issue(deployment, store)
        issue_http = bench_issue_http(deployment, store)
        store.dispose()
    report(backend, runs, issue, issue_http)


def main() -> None:
    from checkin.cli.serve import DEFAULT_SERVER, SERVERS

    pg = os.environ.get("CHECKIN_TEST_DATABASE_URL")
    bench_registrar("SQLite", lambda home: (home / "checkin.db").name)
    if pg:
        from tests.support.scratch import scratch_schema

        with scratch_schema(pg, "bench_registrar") as url:
            bench_registrar("PostgreSQL", lambda _home: url)
    if "--registrar" in sys.argv[1:]:  # only the registrar's pages: the rest takes minutes
        print_table()
        return

    other = next(s for s in SERVERS if s != DEFAULT_SERVER)
    run_backend("SQLite", lambda home: (home / "checkin.db").name, (DEFAULT_SERVER, other))
    if pg:
        from tests.support.scratch import scratch_schema  # the test suite's throw-away schemas

        with scratch_schema(pg, "bench") as url:
            run_backend("PostgreSQL", lambda _home: url, (DEFAULT_SERVER,))
    else:
        row("PostgreSQL", "skipped", "CHECKIN_TEST_DATABASE_URL is not set", "", "")
    print_table()


def print_table() -> None:
    header = ("measured", "value", "alternative (same run)", "ratio", "target")
    widths = [max(len(h), *(len(r[i]) for r in ROWS)) for i, h in enumerate(header)]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for r in ROWS:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))
    print(
        f"\ncpu cores: {os.cpu_count()}; python {sys.version.split()[0]}; {ROUNDS} rounds of {GATES} gates x "
        f"{BATCHES_PER_GATE} batches x {BATCH} rows per server; {FETCHES} bundle fetches "
        f"({GUESTS:,} credentials, {REVOKED} revoked); {ISSUES} issue requests each way, timed in {ROUNDS} rounds "
        f"(the median round) after {WARMUP} untimed; "
        "client and server share the cores; "
        f"load average at the end {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
