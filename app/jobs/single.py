"""One scheduler per installation: a lock the scheduler process holds for as
long as it lives, so that a second `pool scheduler` (another host, a
forgotten terminal) refuses to start instead of running every job twice.

PostgreSQL: a session-level advisory lock on a connection of its own (all
hosts sharing the database see it). SQLite: an exclusive file lock beside the
database file (every process using that file is on this host).
"""
from __future__ import annotations

from sqlalchemy import text

#: advisory lock key of the scheduler (the settlement's is 72_010_001)
SCHEDULER_LOCK_KEY = 72_010_002


class SchedulerRunning(RuntimeError):
    """Another scheduler process holds the lock."""


def hold_scheduler_lock(engine):
    """Take the scheduler's lock or raise SchedulerRunning. Returns what holds it
    (a connection or an open file): keep it referenced while the scheduler runs;
    the lock goes with the process."""
    if engine.dialect.name == "postgresql":
        conn = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        if not conn.execute(text("SELECT pg_try_advisory_lock(:k)"),
                            {"k": SCHEDULER_LOCK_KEY}).scalar():
            conn.close()
            raise SchedulerRunning("another scheduler process holds the lock "
                                   f"(pg advisory lock {SCHEDULER_LOCK_KEY})")
        return conn
    database = engine.url.database
    if engine.dialect.name == "sqlite" and database and database != ":memory:":
        import fcntl

        path = f"{database}.scheduler-lock"
        handle = open(path, "a")  # noqa: SIM115  (held open for the process's life)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            raise SchedulerRunning(f"another scheduler process holds {path}") from None
        return handle
    return None
