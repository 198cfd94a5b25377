"""Backup and restore of a SQLite installation through SQLite's online backup
API: a consistent copy while the app keeps running, page by page with
progress. PostgreSQL is backed up with its own tools (pg_dump / pg_restore,
docs/deployment.md); these refuse to run there and say so."""
from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy import inspect

from app.domain.errors import N_, InvalidValueError
from app.extensions import db

#: pages copied per step of the backup API (4 MB at SQLite's default page size)
PAGES = 1024


def _require_sqlite() -> None:
    if db.engine.dialect.name != "sqlite":
        raise InvalidValueError("database", N_(
            "pool backup and pool restore are for SQLite; back PostgreSQL up with "
            "pg_dump and restore it with pg_restore (docs/deployment.md)."))


def _copy(source: sqlite3.Connection, target: sqlite3.Connection, progress) -> None:
    def report(_status, remaining, total):
        if progress and total:
            progress(total - remaining, total)

    source.backup(target, pages=PAGES, progress=report)


def _check(path: Path) -> None:
    """A SQLite file of this application, whole: else an error naming `file`."""
    try:
        with open(path, "rb") as stream:
            if stream.read(16) != b"SQLite format 3\x00":
                raise InvalidValueError("file", N_("This file is not a SQLite database."))
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            if conn.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                raise InvalidValueError("file", N_("This database file is damaged."))
            tables = {r[0] for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")}
        finally:
            conn.close()
    except (OSError, sqlite3.DatabaseError):
        raise InvalidValueError("file", N_("This file is not a SQLite database.")) from None
    if not {"alembic_version", "booking", "ab_user"} <= tables:
        raise InvalidValueError("file", N_(
            "This database is not a backup of Vermittlerpool."))


def backup(target: Path, progress=None) -> int:
    """Copy the running database into `target` (a new file); its size in bytes."""
    _require_sqlite()
    target = Path(target)
    if target.exists():
        raise InvalidValueError("file", N_("The backup file exists already; name a new one."))
    raw = db.engine.raw_connection()
    partial = target.with_name(target.name + ".partial")
    try:
        out = sqlite3.connect(partial)
        try:
            _copy(raw.driver_connection, out, progress)
        finally:
            out.close()
        partial.rename(target)          # a backup file is whole or not there
    finally:
        raw.close()
        partial.unlink(missing_ok=True)
    return target.stat().st_size


def restore(source: Path, force: bool = False, progress=None) -> None:
    """Replace the configured database by the backup `source`. Refused when
    the database holds data already, unless `force`: a restore is the only
    way back to an earlier state of the ledger, and it overwrites the present one."""
    _require_sqlite()
    source = Path(source)
    _check(source)
    if not force and inspect(db.engine).has_table("ab_user"):
        with db.engine.connect() as conn:
            users = conn.exec_driver_sql("SELECT count(*) FROM ab_user").scalar()
        if users:
            raise InvalidValueError("database", N_(
                "The database holds data already; restoring replaces all of it "
                "(--force)."))
    db.session.remove()
    db.engine.dispose()
    raw = db.engine.raw_connection()
    try:
        backup_file = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        try:
            _copy(backup_file, raw.driver_connection, progress)
        finally:
            backup_file.close()
    finally:
        raw.close()
        db.engine.dispose()
