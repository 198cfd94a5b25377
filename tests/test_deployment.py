"""The production stack (docs/deployment.md): real gunicorn with several workers
on a free 127.0.0.1 port against the test database, the login rate limit in a
redis-server shared by the workers, the scheduler as its own single process.

Which worker served a request is read from gunicorn's access log (its format,
gunicorn.conf.py, ends in `worker=<pid>`): nothing test-only is served.
"""
from __future__ import annotations

import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import make_config
from tests.factories import PASSWORD, make_admin

ROOT = Path(__file__).resolve().parent.parent
WORKERS = 2
LIMIT = 5  # login attempts per minute and client address


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(predicate, seconds: float, what: str, proc=None):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"{what}: the process ended with {proc.returncode}")
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"{what}: not within {seconds} s")


class Client:
    """One browser: its cookies, behind a proxy that reports `address` as the
    client's (POOL_PROXY_FIX=1). A new connection per request, as many clients
    make, so that the requests spread over the workers."""

    def __init__(self, port: int, address: str):
        self.port, self.address, self.cookies = port, address, {}

    def request(self, method: str, path: str, form: dict | None = None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
        headers = {"X-Forwarded-For": self.address}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read().decode("utf-8", "replace")
        finally:
            conn.close()
        return resp, data

    def remember(self, resp) -> None:
        for cookie in resp.headers.get_all("Set-Cookie") or []:
            name, _, value = cookie.split(";", 1)[0].partition("=")
            self.cookies[name.strip()] = value

    def csrf_token(self) -> str:
        resp, page = self.request("GET", "/login/")
        assert resp.status == 200
        self.remember(resp)
        return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)

    def login(self, username: str, password: str, token: str | None = None) -> int:
        resp, _ = self.request("POST", "/login/", {
            "username": username, "password": password,
            "csrf_token": token or self.csrf_token()})
        self.remember(resp)
        return resp.status


def _served_by(log: Path, markers: tuple[str, ...], count: int) -> list[str]:
    """The worker pids of the `count` access-log lines containing every marker
    (a line is written just after its response: wait for the last ones)."""
    pids: list[str] = []

    def logged() -> bool:
        pids[:] = [re.search(r"worker=<(\d+)>", line).group(1)
                   for line in log.read_text().splitlines()
                   if all(marker in line for marker in markers)]
        return len(pids) >= count

    _wait_for(logged, 10, "access log")
    return pids


@pytest.fixture(scope="module")
def redis_uri():
    """A redis-server of the tests' own on a unix socket, or None without one
    (CI must have it: it installs Debian's redis-server)."""
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail("redis-server is missing: .ci/run installs Debian's redis-server")
        yield None
        return
    folder = tempfile.mkdtemp(prefix="pool-redis-")
    sock = f"{folder}/redis.sock"
    proc = subprocess.Popen([binary, "--port", "0", "--unixsocket", sock,
                             "--unixsocketperm", "700", "--save", "", "--appendonly", "no"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(lambda: os.path.exists(sock), 10, "redis-server", proc)
        yield f"redis+unix://{sock}"
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def stack_env(_schema, redis_uri, tmp_path_factory):
    """The environment of the stack's processes: the test database, one
    SECRET_KEY, the shared rate-limit store, one trusted proxy."""
    folder = tmp_path_factory.mktemp("stack")
    env = dict(os.environ)
    env.update({
        "DATABASE_URL": make_config().SQLALCHEMY_DATABASE_URI,
        "SECRET_KEY": "deployment-test-key-" + "x" * 20,
        "POOL_INSTANCE_DIR": str(folder),
        "RATELIMIT_STORAGE_URI": redis_uri or "memory://",
        "AUTH_RATE_LIMIT": f"{LIMIT} per minute",
        "POOL_PROXY_FIX": "1",
        "PYTHONUNBUFFERED": "1",
    })
    return env


@pytest.fixture(scope="module")
def gunicorn(stack_env, tmp_path_factory):
    """gunicorn -c gunicorn.conf.py with WORKERS workers on a free port; yields
    (port, access log)."""
    folder = tmp_path_factory.mktemp("gunicorn")
    port = _free_port()
    access, errors = folder / "access.log", folder / "error.log"
    env = {**stack_env, "POOL_BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": str(WORKERS)}
    output = open(folder / "output.log", "wb")  # the app's own log lines
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py",
                             "--access-logfile", str(access), "--error-logfile", str(errors)],
                            cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)

    def booted() -> bool:
        text = errors.read_text() if errors.exists() else ""
        if text.count("Booting worker") < WORKERS:
            return False
        try:
            return Client(port, "10.0.0.1").request("GET", "/login/")[0].status == 200
        except OSError:
            return False

    try:
        _wait_for(booted, 30, "gunicorn", proc)
        yield port, access
    finally:
        proc.send_signal(signal.SIGINT)     # quick shutdown
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        output.close()


def test_a_session_made_on_one_worker_is_valid_on_every_other(app, gunicorn):
    port, access = gunicorn
    make_admin("deploy-session")
    anonymous = Client(port, "10.1.0.9")
    resp, _ = anonymous.request("GET", "/users/userinfo/")
    assert resp.status == 302 and "/login/" in resp.getheader("Location")

    browser = Client(port, "10.1.0.1")
    assert browser.login("deploy-session", PASSWORD) == 302

    def page(n: int):
        resp, body = browser.request("GET", f"/users/userinfo/?deploy-session={n}")
        return resp.status, "deploy-session" in body

    # Which worker accepts a connection is the kernel's choice: a fast page
    # may go to the same worker 20 times. Ask in rounds of 20 (at most 10)
    # until two workers have served the session; every answer must be its page.
    served_by: list[str] = []
    for round_ in range(10):
        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(page, range(20 * round_, 20 * round_ + 20)))
        assert answers == [(200, True)] * 20
        served_by = _served_by(access, ("deploy-session=",), 20 * (round_ + 1))
        assert len(served_by) == 20 * (round_ + 1)
        if len(set(served_by)) >= 2:
            break
    assert len(set(served_by)) >= 2, "all requests went to one worker"


def test_the_login_limit_counts_across_workers_in_the_shared_store(app, gunicorn, redis_uri):
    if redis_uri is None:
        pytest.skip("no redis-server (Debian package redis-server)")
    port, access = gunicorn
    make_admin("deploy-limit")
    attacker = Client(port, "10.2.0.1")
    token = attacker.csrf_token()

    def attempt(n: int) -> int:
        return attacker.login("deploy-limit", f"wrong password {n}", token)

    with ThreadPoolExecutor(6) as pool:
        codes = list(pool.map(attempt, range(3 * LIMIT)))
    # Per-process counting (memory://) would let up to WORKERS × LIMIT through.
    assert len([c for c in codes if c != 429]) == LIMIT, codes
    served_by = _served_by(access, ('"POST /login/', 'xff="10.2.0.1"'), 3 * LIMIT)
    assert len(served_by) == 3 * LIMIT
    for round_ in range(1, 6):
        # The kernel may have handed every attempt to one worker: more rounds,
        # each refused by the shared count, until two workers have counted.
        if len(set(served_by)) >= 2:
            break
        with ThreadPoolExecutor(6) as pool:
            assert set(pool.map(attempt, range(3 * LIMIT))) == {429}
        served_by = _served_by(access, ('"POST /login/', 'xff="10.2.0.1"'),
                               3 * LIMIT * (round_ + 1))
    assert len(set(served_by)) >= 2, "all attempts went to one worker"
    # The limit is per client address (as the proxy reports it): others log in.
    assert Client(port, "10.2.0.2").login("deploy-limit", PASSWORD) == 302
    assert attacker.login("deploy-limit", PASSWORD, token) == 429


def test_the_scheduler_runs_as_its_own_single_process(stack_env):
    command = [sys.executable, "-m", "flask", "--app", "run.py", "pool", "scheduler"]
    proc = subprocess.Popen(command, cwd=ROOT, env=stack_env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    guard = threading.Timer(30, proc.kill)
    guard.start()
    lines = []
    try:
        for line in proc.stdout:
            lines.append(line.rstrip())
            if line.startswith("Scheduler running"):
                break
        assert proc.poll() is None, "\n".join(lines)
        jobs = sorted(line.split()[1] for line in lines if line.startswith("scheduled:"))
        assert jobs == ["fixum", "reserve-release", "session-purge", "statement-pdfs"]
        # A second scheduler refuses to start while the first runs.
        second = subprocess.run(command, cwd=ROOT, env=stack_env, capture_output=True,
                                text=True, timeout=30)
        assert second.returncode != 0
        assert "another scheduler process holds" in second.stderr + second.stdout
        assert proc.poll() is None
    finally:
        guard.cancel()
        proc.terminate()
        proc.wait(10)
