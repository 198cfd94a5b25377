"""Test-only fault injection: kill a process at its n-th SQL statement.

    POOL_FAULT_AT=17 python -m tests.fault_hook --app run.py pool settle ...

runs the `flask` command line with a hook that counts the statements the
process sends to the database and kills the process with SIGKILL (no
clean-up, no rollback, no exit handlers: as the kernel's OOM killer or a
power cut would) right before the 17th. Without POOL_FAULT_AT it only
counts. POOL_FAULT_COUNT names a file that receives the count when the
process ends normally (the test measures an undisturbed run first).

What counts as a statement (the kill points):
- SQLite: every statement the SQLite library runs on any connection of the
  process, via the driver's trace callback: SQLAlchemy's statements, the
  bulk inserts sent straight to the driver row by row (executemany: one
  point per row), BEGIN and COMMIT.
- PostgreSQL (and any other database): SQLAlchemy's before_cursor_execute
  event, and its commit event (right before COMMIT is sent). The COPY of a
  bulk insert, issued on the driver's cursor, is not a point of its own;
  the statements right before and after it are.

Nothing here is imported by the application: the hook exists only in the
process started through this package.

    python -m tests.fault_hook --serve

is the same, faster for many runs: it imports the application once (run.py,
with the database the environment names; no connection is made), then
forks one process per command it reads on stdin (a JSON line: {"argv":
[...], "at": n, "count_file": path or null, "out": path, "err": path}),
and answers each with a JSON line {"returncode": ...} (-9: killed), as
subprocess does. Each command is a process of its own, killed for real;
only the start-up (about 1.5 s of imports and app building) is shared.
"""
from __future__ import annotations

import os
import signal
import sys
import threading

_lock = threading.Lock()
_state = {"count": 0, "at": 0, "installed": False, "last": ""}


def tick(statement: str) -> None:
    """One more statement; the n-th is never run: the process dies first."""
    with _lock:
        _state["count"] += 1
        _state["last"] = statement
        hit = _state["count"] == _state["at"]
    if hit:
        sys.stdout.flush()
        os.write(2, f"\nFAULT: killed at statement {_state['at']}: "
                    f"{' '.join(statement.split())[:200]}\n".encode())
        os.kill(os.getpid(), signal.SIGKILL)


def count() -> int:
    return _state["count"]


def install(at: int = 0, count_file: str | None = None) -> None:
    """Count (and with `at` > 0 kill at) the statements of every engine made
    after this call."""
    import atexit

    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    if _state["installed"]:
        return
    _state.update(at=at, installed=True)

    @event.listens_for(Engine, "connect")
    def on_connect(dbapi_connection, _record):
        if hasattr(dbapi_connection, "set_trace_callback"):       # sqlite3
            dbapi_connection.set_trace_callback(tick)

    def sqlite(conn) -> bool:
        return conn.dialect.name == "sqlite"

    @event.listens_for(Engine, "before_cursor_execute")
    def before_cursor_execute(conn, cursor, statement, parameters, context, executemany):
        if not sqlite(conn):
            tick(statement)

    @event.listens_for(Engine, "commit")
    def on_commit(conn):
        if not sqlite(conn):
            tick("COMMIT")

    if count_file:
        def write_count() -> None:
            with open(count_file, "w") as fh:
                fh.write(str(_state["count"]))

        atexit.register(write_count)


def main(argv: list[str]) -> None:
    """`flask` with the hook installed from POOL_FAULT_AT / POOL_FAULT_COUNT."""
    if argv == ["--serve"]:
        serve()
        return
    install(int(os.environ.get("POOL_FAULT_AT") or 0), os.environ.get("POOL_FAULT_COUNT"))
    from flask.cli import main as flask_main

    sys.argv = ["flask", *argv]
    flask_main()


def serve() -> None:
    """The forking server (see the module's docstring)."""
    import json

    install()
    import run  # noqa: F401  (the app, built once; `--app run.py` finds it imported)

    for request in sys.stdin:
        job = json.loads(request)
        pid = os.fork()
        if pid == 0:
            _child(job)                      # never returns
        _, status = os.waitpid(pid, 0)
        code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        print(json.dumps({"returncode": code}), flush=True)


def _child(job: dict) -> None:
    """A forked process: the flask command of `job` with the hook set."""
    code = 1
    try:
        for fd, path in ((1, job["out"]), (2, job["err"])):
            target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.dup2(target, fd)
            os.close(target)
        _state.update(count=0, at=int(job.get("at") or 0))
        from flask.cli import main as flask_main

        sys.argv = ["flask", *job["argv"]]
        try:
            flask_main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if job.get("count_file"):
            with open(job["count_file"], "w") as fh:
                fh.write(str(_state["count"]))
    except BaseException:  # noqa: BLE001  (reported on the child's stderr)
        import traceback

        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
