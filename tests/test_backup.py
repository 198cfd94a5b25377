"""`pool backup` and `pool restore` (SQLite's online backup API): a backup
restored into a fresh database holds the same ledger; bad files and a database
with data are refused, naming the file or the database, and change nothing.
On PostgreSQL both refuse and name pg_dump."""
from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import text

from app import create_app
from app.extensions import db
from tests.conftest import make_config

TABLES = ("booking", "receipt", "contract", "customer", "intermediary", "ab_user",
          "statement", "alembic_version")


def _sqlite_app(path):
    return create_app(make_config(SQLALCHEMY_DATABASE_URI=f"sqlite:///{path}"))


def _sqlite_runner(path, *commands):
    """A CLI runner on a SQLite database of its own at `path`, after these
    commands (skipped where the suite runs on PostgreSQL: pg_dump there)."""
    if make_config().SQLALCHEMY_DATABASE_URI.startswith("postgresql"):
        pytest.skip("SQLite's backup API; PostgreSQL: pg_dump (tested below)")
    app = _sqlite_app(path)
    runner = app.test_cli_runner()
    for command in commands:
        result = runner.invoke(args=command)
        assert result.exit_code == 0, result.output
    with app.app_context():
        db.engine.dispose()
    return runner


def _contents(path) -> dict:
    conn = sqlite3.connect(path)
    try:
        out = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}
        out["bookings"] = conn.execute(
            "SELECT group_concat(id || ':' || amount, ',') FROM "
            "(SELECT id, amount FROM booking ORDER BY id)").fetchone()[0]
        return out
    finally:
        conn.close()


def test_a_backup_restored_into_a_fresh_database_holds_the_same_ledger(tmp_path, _schema):
    runner = _sqlite_runner(tmp_path / "live.db", ["pool", "init"], ["pool", "demo-data"])
    before = _contents(tmp_path / "live.db")
    assert before["booking"] > 0 and before["bookings"]

    result = runner.invoke(args=["pool", "backup", str(tmp_path / "pool.backup")])
    assert result.exit_code == 0, result.output
    assert "Backup written" in result.output
    assert not (tmp_path / "pool.backup.partial").exists()
    # the same name again is refused: a backup is never overwritten
    again = runner.invoke(args=["pool", "backup", str(tmp_path / "pool.backup")])
    assert again.exit_code != 0 and "file:" in again.output

    fresh = _sqlite_app(tmp_path / "restored.db")
    restorer = fresh.test_cli_runner()
    result = restorer.invoke(args=["pool", "restore", str(tmp_path / "pool.backup")])
    assert result.exit_code == 0, result.output
    assert _contents(tmp_path / "restored.db") == before
    # the restored ledger verifies: its hash chain and its statements' balances
    verified = restorer.invoke(args=["pool", "verify-ledger"])
    assert verified.exit_code == 0, verified.output
    assert f"{before['booking']:,} bookings" in verified.output
    assert "no mismatch" in verified.output
    with fresh.app_context():       # the restored database works: the ledger's triggers too
        assert db.session.execute(text("SELECT count(*) FROM booking")).scalar() == \
            before["booking"]
        with pytest.raises(Exception, match="(?i)booking"):
            db.session.execute(text("DELETE FROM booking"))
        db.session.rollback()
        db.engine.dispose()

    # a database with data is replaced only with --force
    refused = restorer.invoke(args=["pool", "restore", str(tmp_path / "pool.backup")])
    assert refused.exit_code != 0 and "database:" in refused.output
    forced = restorer.invoke(args=["pool", "restore", "--force",
                                   str(tmp_path / "pool.backup")])
    assert forced.exit_code == 0, forced.output
    assert _contents(tmp_path / "restored.db") == before


def test_bad_backup_files_are_refused_and_change_nothing(tmp_path, _schema):
    runner = _sqlite_runner(tmp_path / "target.db", ["db", "upgrade"])
    before = (tmp_path / "target.db").read_bytes()

    not_sqlite = tmp_path / "notes.txt"
    not_sqlite.write_text("not a database")
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE anything (id INTEGER)")
    conn.commit()
    conn.close()
    damaged = tmp_path / "damaged.db"
    damaged.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    for bad, message in ((not_sqlite, "not a SQLite database"),
                         (other, "not a backup of Vermittlerpool"),
                         (damaged, "")):
        result = runner.invoke(args=["pool", "restore", str(bad)])
        assert result.exit_code != 0, bad
        assert "file:" in result.output and message in result.output, result.output
    assert (tmp_path / "target.db").read_bytes() == before


def test_postgresql_is_backed_up_with_its_own_tools(app, tmp_path):
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("PostgreSQL only")
    runner = app.test_cli_runner()
    for args in (["pool", "backup", str(tmp_path / "x.backup")],):
        result = runner.invoke(args=args)
        assert result.exit_code != 0 and "pg_dump" in result.output
    assert not (tmp_path / "x.backup").exists()
