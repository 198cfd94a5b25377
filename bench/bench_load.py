"""Month end in the broker extranet under load: BROKERS brokers at once (200:
gp00001 .. gp00200 of the large demo pool) each log in (form with CSRF token,
then the POST), open their overview and statements, open their newest
statement and download its credit note (PDF), and log out; served by gunicorn
with several workers against PostgreSQL, driven by locust (bench/locustfile.py)
in this process, on 127.0.0.1 only.

    make bench-load        # DATABASE_URL and SECRET_KEY from the environment
    DATABASE_URL=postgresql+psycopg://u:p@127.0.0.1/pool SECRET_KEY=... \\
        .venv/bin/python bench/bench_load.py [--workers 5] [--users 200] [--prepare]

The database needs the large demo pool with October 2026 settled and its credit
notes rendered; `--prepare` does what is missing of

    flask --app run.py pool init
    flask --app run.py pool demo-data --size large [--scale 0.01]
    flask --app run.py pool settle --period 2026-10 --final
    flask --app run.py pool render-statements --run ID --workers 2

(`--scale 0.01`: a 1 % pool for trying it out; the 200 logins are there at any scale).

Without --host it starts the production stack itself: redis-server on a unix
socket for the login rate limit (memory:// without one), gunicorn -c
gunicorn.conf.py with --workers workers (default: WEB_CONCURRENCY or 2 × cores
+ 1) on a free 127.0.0.1 port, POOL_PROXY_FIX=1 (each broker comes from its own
X-Forwarded-For address). With --host http://127.0.0.1:PORT it loads a stack
already running there, which must have the same SECRET_KEY (the passwords are
demo_password(username)) and POOL_PROXY_FIX=1.

Each broker visits --iterations times (default once) with --think seconds (mean)
between clicks, then stops; --time-limit ends the run in any case. Prints per
request kind count, failures, median, p95 and max; the p95 of all pages (HTML
GETs) against the target of 500 ms, the login POST (password hashing: scrypt
costs CPU) and the PDF separately. Exits 1 on any failed request or a broker
that did not finish, 2 when the data is missing.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections import Counter, defaultdict
from pathlib import Path

# Importing locust patches the standard library for gevent (in place: the
# modules imported above become cooperative too).
import gevent
import locust  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import locustfile  # noqa: E402

MONTH = "2026-10"
TARGET_MS = 500


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", help="a running stack, http://127.0.0.1:PORT "
                        "(default: start one)")
    parser.add_argument("--workers", type=int, default=int(
        os.environ.get("WEB_CONCURRENCY") or (os.cpu_count() or 1) * 2 + 1),
        help="gunicorn workers of the stack started here")
    parser.add_argument("--threads", type=int, default=1,
                        help="threads per gunicorn worker (POOL_THREADS)")
    parser.add_argument("--users", type=int, default=200, help="brokers at once")
    parser.add_argument("--spawn-rate", type=float, default=10,
                        help="brokers arriving per second")
    parser.add_argument("--iterations", type=int, default=1, help="visits per broker")
    parser.add_argument("--think", type=float, default=5.0,
                        help="mean seconds between a broker's clicks (0: none)")
    parser.add_argument("--time-limit", type=float, default=600,
                        help="seconds after which the run is ended in any case")
    parser.add_argument("--warm-up", type=int, default=None,
                        help="brokers visiting before the measured run, not counted "
                        "(default: 3 per worker)")
    parser.add_argument("--prepare", action="store_true",
                        help="create what is missing: pool, settlement run, credit notes")
    parser.add_argument("--scale", type=float, default=1.0,
                        help="with --prepare: a fraction of the large demo pool")
    return parser.parse_args()


# --- the data ----------------------------------------------------------------

_STATE = """
import json
from sqlalchemy import inspect, text
from app.extensions import db
from run import app
with app.app_context():
    if not inspect(db.engine).has_table("settlement_run"):  # an empty database
        print(json.dumps({"dialect": db.engine.dialect.name, "logins": 0, "run": None,
                          "statements": 0, "pdfs": 0}))
        raise SystemExit(0)
    q = lambda sql, **kw: db.session.execute(text(sql), kw).scalar()
    run = q("SELECT max(id) FROM settlement_run WHERE period = :p AND status = 'RELEASED'",
            p=%r)
    print(json.dumps({
        "dialect": db.engine.dialect.name,
        "logins": q("SELECT count(*) FROM ab_user WHERE username LIKE 'gp0%%'"),
        "run": run,
        "statements": q("SELECT count(*) FROM statement WHERE run_id = :r", r=run) if run else 0,
        "pdfs": q("SELECT count(*) FROM statement_pdf p JOIN statement s "
                  "ON s.id = p.statement_id WHERE s.run_id = :r", r=run) if run else 0}))
""" % MONTH


def flask(*args: str, capture: bool = False) -> str:
    command = [sys.executable, "-m", "flask", "--app", "run.py", *args]
    if capture:
        return subprocess.run(command, cwd=ROOT, check=True, capture_output=True,
                              text=True).stdout
    subprocess.run(command, cwd=ROOT, check=True)
    return ""


def data_state() -> dict:
    out = subprocess.run([sys.executable, "-c", _STATE], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def prepare(args) -> dict:
    state = data_state()
    if not args.prepare:
        return state
    if not state["logins"]:
        flask("pool", "init")
        scale = [] if args.scale >= 1 else ["--scale", str(args.scale)]
        flask("pool", "demo-data", "--size", "large", *scale)
        state = data_state()
    if not state["run"]:
        flask("pool", "settle", "--period", MONTH, "--final")
        state = data_state()
    if state["run"] and state["pdfs"] < state["statements"]:
        flask("pool", "render-statements", "--run", str(state["run"]),
              "--workers", str(max(1, (os.cpu_count() or 1))))
        state = data_state()
    return state


# --- the stack ---------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(predicate, seconds, what, proc):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise SystemExit(f"{what} ended with {proc.returncode}")
        if predicate():
            return
        time.sleep(0.2)
    raise SystemExit(f"{what} did not start within {seconds} s")


class Stack:
    """redis-server (when there is one) and gunicorn, stopped on exit."""

    def __init__(self, workers: int, threads: int):
        self.folder = Path(tempfile.mkdtemp(prefix="pool-load-"))
        self.procs: list[subprocess.Popen] = []
        self.workers, self.threads = workers, threads
        self.store = "memory://"
        self.access_log = self.folder / "access.log"

    def start(self) -> str:
        env = dict(os.environ)
        redis = shutil.which("redis-server")
        if redis:
            sock = self.folder / "redis.sock"
            proc = subprocess.Popen([redis, "--port", "0", "--unixsocket", str(sock),
                                     "--unixsocketperm", "700", "--save", "",
                                     "--appendonly", "no"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.procs.append(proc)
            _wait(sock.exists, 10, "redis-server", proc)
            self.store = f"redis+unix://{sock}"
        port = _free_port()
        env.update({"RATELIMIT_STORAGE_URI": self.store, "POOL_PROXY_FIX": "1",
                    "POOL_BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": str(self.workers),
                    "POOL_THREADS": str(self.threads)})
        errors = self.folder / "error.log"
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py",
             "--access-logfile", str(self.access_log), "--error-logfile", str(errors)],
            cwd=ROOT, env=env, stdout=open(self.folder / "output.log", "wb"),
            stderr=subprocess.STDOUT)
        self.procs.insert(0, proc)

        def booted():
            log = errors.read_text() if errors.exists() else ""
            if log.count("Booting worker") < self.workers:
                return False
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return True
            except OSError:
                return False

        _wait(booted, 120, "gunicorn", proc)
        time.sleep(1.0)  # the last worker builds its app
        return f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()

    def cpu(self) -> float:
        """CPU seconds so far of the stack's live processes (gunicorn's workers too)."""
        try:
            import psutil  # comes with locust
        except ImportError:
            return 0.0
        total = 0.0
        for proc in self.procs:
            try:
                top = psutil.Process(proc.pid)
                for each in [top, *top.children(recursive=True)]:
                    times = each.cpu_times()
                    total += times.user + times.system
            except psutil.Error:
                pass
        return total

    def served_by(self) -> Counter:
        if not self.access_log.exists():
            return Counter()
        return Counter(m.group(1) for line in self.access_log.read_text().splitlines()
                       for m in [re.search(r"worker=<(\d+)>", line)] if m)


# --- the run -----------------------------------------------------------------

def percentile(values: list[float], p: float) -> float:
    """Nearest rank."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1]


def _postgres_cpu() -> dict[int, float]:
    """CPU seconds by pid of this host's PostgreSQL backends serving DATABASE_URL's
    database (their process title names it: `postgres: user db 127.0.0.1(port) ...`)."""
    try:
        import psutil  # comes with locust
    except ImportError:
        return {}
    name = urllib.parse.urlsplit(os.environ.get("DATABASE_URL", "")).path.lstrip("/")
    if not name:
        return {}
    found = {}
    for proc in psutil.process_iter(["cmdline", "cpu_times"]):
        title, times = " ".join(proc.info.get("cmdline") or []), proc.info.get("cpu_times")
        if title.startswith("postgres: ") and f" {name} " in title and times is not None:
            found[proc.pid] = times.user + times.system
    return found


def warm_up(host: str, users: int) -> None:
    """A few brokers' visits, not counted: every worker has loaded its code,
    compiled its templates and opened its database connections, as on a server
    that has been up for a while."""
    from locust.env import Environment
    from locust.runners import STATE_SPAWNING

    saved = locustfile.THINK, locustfile.USERS
    locustfile.THINK, locustfile.USERS = 0, users
    env = Environment(user_classes=[locustfile.Broker], host=host)
    runner = env.create_local_runner()
    runner.start(users, spawn_rate=users)
    gevent.sleep(0.5)
    end = time.monotonic() + 120
    while time.monotonic() < end and (runner.state == STATE_SPAWNING or runner.user_count):
        gevent.sleep(0.25)
    runner.quit()
    locustfile.THINK, locustfile.USERS = saved
    locustfile.reset()


def run_load(host: str, args, logins: int, stack: Stack | None
             ) -> tuple[dict, dict, int, float, dict]:
    from locust.env import Environment
    from locust.runners import STATE_SPAWNING

    locustfile.ITERATIONS, locustfile.THINK = args.iterations, args.think
    locustfile.USERS = args.users
    # gp00001 .. gp00200, fewer in a small pool; more users than logins share them.
    locustfile.BROKERS = max(1, min(args.users, 200, logins))
    for number in range(1, locustfile.BROKERS + 1):   # before the clock starts
        locustfile.password(f"gp{number:05d}")

    if args.warm_up:
        warm_up(host, args.warm_up)
    times: dict[str, list[float]] = defaultdict(list)
    failures: dict[str, list[str]] = defaultdict(list)

    def on_request(request_type, name, response_time, response_length, exception=None,
                   **_):
        times[name].append(response_time)
        if exception is not None:
            failures[name].append(str(exception)[:200])

    env = Environment(user_classes=[locustfile.Broker], host=host)
    env.events.request.add_listener(on_request)
    runner = env.create_local_runner()
    own = resource.getrusage(resource.RUSAGE_SELF)
    database = _postgres_cpu()
    server = stack.cpu() if stack else 0.0
    started = time.monotonic()
    runner.start(args.users, spawn_rate=args.spawn_rate)
    gevent.sleep(0.5)
    while time.monotonic() - started < args.time_limit:
        if runner.state != STATE_SPAWNING and runner.user_count == 0:
            break
        gevent.sleep(0.25)
    unfinished = runner.user_count
    elapsed = time.monotonic() - started
    runner.quit()
    end = resource.getrusage(resource.RUSAGE_SELF)
    cpu = {"load generator (locust)": end.ru_utime + end.ru_stime - own.ru_utime - own.ru_stime}
    if stack:
        cpu["server (gunicorn, redis)"] = stack.cpu() - server
    after = _postgres_cpu()
    if after:
        cpu["PostgreSQL backends of the database"] = sum(
            t - database.get(pid, 0.0) for pid, t in after.items())
    return times, failures, unfinished, elapsed, cpu


def report(times, failures, unfinished, elapsed, args, stack: Stack | None, host: str,
           state: dict, cpu: dict) -> int:
    names = [n for n in (locustfile.LOGIN_FORM, locustfile.LOGIN_POST, locustfile.OVERVIEW,
                         locustfile.STATEMENTS, locustfile.STATEMENT, locustfile.PDF,
                         locustfile.LOGOUT) if n in times]
    names += sorted(set(times) - set(names))
    pages = [t for n in locustfile.PAGES for t in times.get(n, [])]
    total = sum(len(v) for v in times.values())
    failed = sum(len(v) for v in failures.values())
    where = (f"gunicorn {args.workers} workers ({'gthread ×' + str(args.threads) if args.threads > 1 else 'sync'}), "
             f"rate-limit store {stack.store.split(':')[0]}" if stack else host)
    print(f"Extranet at month end: {args.users} brokers, {args.iterations} visit(s) each, "
          f"arriving {args.spawn_rate:g}/s, think {args.think:g} s; {where}; "
          f"{state.get('dialect', '?')}, {state.get('statements', '?')} statements in run "
          f"{state.get('run')}")
    print(f"{'request':<30}{'count':>7}{'fail':>6}{'median':>9}{'p95':>8}{'max':>8}  (ms)")

    def row(label, values, fails):
        print(f"{label:<30}{len(values):>7}{fails:>6}{percentile(values, 50):>9.0f}"
              f"{percentile(values, 95):>8.0f}{max(values, default=0):>8.0f}")

    for name in names:
        row(name, times[name], len(failures.get(name, [])))
    print("-" * 70)
    row("pages (HTML GETs)", pages, sum(len(failures.get(n, [])) for n in locustfile.PAGES))
    row("all requests", [t for v in times.values() for t in v], failed)
    p95 = percentile(pages, 95)
    print(f"p95 of the pages: {p95:.0f} ms ({'within' if p95 < TARGET_MS else 'OVER'} the "
          f"target of {TARGET_MS} ms); {total} requests in {elapsed:.1f} s "
          f"({total / elapsed:.0f}/s); brokers without a statement: "
          f"{len(locustfile.without_statement)}")
    visits = len(times.get(locustfile.LOGIN_POST, [])) or 1
    print("CPU seconds of the measured run: "
          + "; ".join(f"{k} {v:.1f} ({1000 * v / visits:.0f} ms a visit)"
                      for k, v in cpu.items()))
    print("load average (1, 5, 15 min) at the end: "
          + ", ".join(f"{x:.1f}" for x in os.getloadavg()) + f" on {os.cpu_count()} cores")
    if stack:
        served = stack.served_by()
        print(f"requests per worker: {sorted(served.values(), reverse=True)}; "
              f"access log {stack.access_log}")
    for name, errors in failures.items():
        for text, n in Counter(errors).most_common(3):
            print(f"FAILED {name}: {n}× {text}")
    if unfinished:
        print(f"FAILED: {unfinished} brokers had not finished after {args.time_limit:g} s")
    return 1 if failed or unfinished else 0


def main() -> int:
    args = parse_args()
    if args.warm_up is None:
        args.warm_up = 3 * args.workers
    if args.host:
        parts = urllib.parse.urlsplit(args.host)
        if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
            raise SystemExit("--host: this load test runs on 127.0.0.1 only")
    state = prepare(args)
    if state["logins"] < 1 or not state["run"]:
        print("The database lacks the large demo pool or its settled month "
              f"(logins: {state['logins']}, released run of {MONTH}: {state['run']}); "
              "run with --prepare, or see this script's docstring.", file=sys.stderr)
        return 2
    if state["pdfs"] < state["statements"]:
        print(f"note: {state['statements'] - state['pdfs']} credit notes are not rendered "
              "yet: their first download renders them (pool render-statements)")
    stack = None
    host = args.host
    if not host:
        stack = Stack(args.workers, args.threads)
        host = stack.start()
    try:
        times, failures, unfinished, elapsed, cpu = run_load(host, args, state["logins"], stack)
    finally:
        if stack:
            stack.stop()
    return report(times, failures, unfinished, elapsed, args, stack, host, state, cpu)


if __name__ == "__main__":
    sys.exit(main())
