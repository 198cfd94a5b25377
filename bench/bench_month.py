"""Benchmark: the largest pool's month end on this machine, against the
physical floor measured in the same run.

Builds the large demo pool (`pool demo-data --size large`: 50,000
intermediaries 10 levels deep, 1,000,000 contracts) without its month, then
times
  1. booking the month's 1,250,000 receipts in a batch (about 5 million
     bookings: closer, overrides up the chain, cancellation reserve), and
  2. the final settlement run of the month (Fixum, reserve releases,
     50,000 statements, every booking settled; one transaction),
and, as the floor, inserting the same booking rows in bulk into a copy of
the booking table with the same indexes and constraints (PostgreSQL COPY;
SQLite executemany in one transaction). Target (issue 9): booking plus
settlement within 2x the floor.

    .venv/bin/python bench/bench_month.py [--scale 1.0] [--sqlite FILE]
    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:54330/pool_bench \\
        .venv/bin/python bench/bench_month.py        # drops that database's tables!
    (the pool stays: bench_pages, bench_pdfs and the load test use it;
     --build-only builds it without its month, --reuse measures on that)
"""
from __future__ import annotations

import argparse
import io
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import analyze, bench_app, fresh_schema  # noqa: E402
from sqlalchemy import text  # noqa: E402

from app.extensions import db  # noqa: E402

COLUMNS = ("intermediary_id", "kind", "amount", "booking_date", "contract_id", "receipt_id",
           "basis", "rate", "receipt_kind", "level_rank", "liability_model_id", "rule",
           "created_on")


def _progress(step, done, total):
    print(f"\r  {step}: {done:,} / {total:,}", end="", flush=True)
    if done >= total:
        print()


def floor_postgres() -> tuple[int, float]:
    """COPY the month's booking rows into booking_floor (LIKE booking: same
    columns, defaults, indexes, fillfactor and foreign keys); seconds of the
    COPY and its commit. The rows are read out first (not timed)."""
    raw = db.engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("DROP TABLE IF EXISTS booking_floor")
        cur.execute("CREATE TABLE booking_floor (LIKE booking INCLUDING ALL) "
                    "WITH (fillfactor = 50)")
        cur.execute("SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                    "WHERE conrelid = 'booking'::regclass AND contype = 'f'")
        for name, definition in cur.fetchall():
            cur.execute(f"ALTER TABLE booking_floor ADD CONSTRAINT {name}_floor {definition}")
        buffer = io.BytesIO()
        with cur.copy(f"COPY (SELECT {', '.join(COLUMNS)} FROM booking) TO STDOUT") as copy:
            for chunk in copy:
                buffer.write(chunk)
        raw.commit()
        rows = buffer.getvalue().count(b"\n")
        data = buffer.getvalue()
        t = time.perf_counter()
        with cur.copy(f"COPY booking_floor ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for start in range(0, len(data), 1 << 20):
                copy.write(data[start:start + (1 << 20)])
        raw.commit()
        took = time.perf_counter() - t
        cur.execute("DROP TABLE booking_floor")
        raw.commit()
        return rows, took
    finally:
        raw.close()


def floor_sqlite() -> tuple[int, float]:
    """executemany of the month's booking rows into booking_floor (booking's
    own CREATE TABLE and indexes, renamed), one transaction; seconds of the
    inserts and the commit. The rows are read out first (not timed)."""
    raw = db.engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("DROP TABLE IF EXISTS booking_floor")
        ddl = cur.execute("SELECT type, name, sql FROM sqlite_master WHERE tbl_name = 'booking' "
                          "AND type IN ('table', 'index') AND sql IS NOT NULL "
                          "ORDER BY type DESC").fetchall()
        for kind, name, sql in ddl:
            if kind == "table":
                sql = sql.replace("CREATE TABLE booking ", "CREATE TABLE booking_floor ", 1)
            else:
                sql = sql.replace(f"INDEX {name} ON booking ",
                                  f"INDEX {name}_floor ON booking_floor ", 1)
            cur.execute(sql)
        raw.commit()
        rows = cur.execute(f"SELECT {', '.join(COLUMNS)} FROM booking").fetchall()
        marks = ", ".join("?" * len(COLUMNS))
        sql = f"INSERT INTO booking_floor ({', '.join(COLUMNS)}) VALUES ({marks})"
        t = time.perf_counter()
        for start in range(0, len(rows), 100_000):
            cur.executemany(sql, rows[start:start + 100_000])
        raw.commit()
        took = time.perf_counter() - t
        cur.execute("DROP TABLE booking_floor")
        raw.commit()
        return len(rows), took
    finally:
        raw.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--sqlite", help="a SQLite file to use (default: a temporary one)")
    ap.add_argument("--build-only", action="store_true",
                    help="build the pool without its month and stop (measure later)")
    ap.add_argument("--reuse", action="store_true",
                    help="use the pool --build-only left (its month not booked yet)")
    args = ap.parse_args()
    if args.sqlite:
        import os
        os.environ["DATABASE_URL"] = f"sqlite:///{Path(args.sqlite).resolve()}"
    app = bench_app()
    from app.models.ledger import Receipt
    from app.services.large_demo import create_large_pool

    with app.app_context():
        dialect = db.engine.dialect.name
        if args.reuse:
            if db.session.query(Receipt).limit(1).count():
                sys.exit("--reuse: this pool's month is booked already; build it again")
            print(f"{dialect}: the pool --build-only left")
        else:
            fresh_schema()
            t = time.perf_counter()
            built = create_large_pool(args.scale, progress=_progress, book=False)
            analyze()
            print(f"{dialect}: built the pool ({built['intermediaries']:,} intermediaries, "
                  f"{built['contracts']:,} contracts) in {time.perf_counter() - t:.0f} s")
            if args.build_only:
                return
        measure(dialect)


def measure(dialect: str) -> None:
    from app.services.large_demo import book_month
    from app.services.settlement import run_settlement

    t = time.perf_counter()
    booked = book_month(progress=_progress)
    booking = time.perf_counter() - t
    print(f"booking: {booked['receipts']:,} receipts into {booked['bookings']:,} bookings "
          f"in {booking:.1f} s ({booked['receipts'] / booking:,.0f} receipts/s)")

    t = time.perf_counter()
    analyze()          # what autovacuum does after a bulk load, counted here
    answer = run_settlement("2026-10", True, today=date(2026, 11, 23))
    settling = time.perf_counter() - t
    settled = db.session.execute(text(
        "SELECT count(*) FROM booking WHERE statement_id IS NOT NULL")).scalar()
    print(f"final settlement: {len(answer['statements']):,} statements, {settled:,} "
          f"bookings settled in {settling:.1f} s (with ANALYZE)")
    db.session.remove()

    rows, floor = floor_postgres() if dialect == "postgresql" else floor_sqlite()
    total = booking + settling
    print(f"floor: {rows:,} booking rows inserted in bulk "
          f"({'COPY' if dialect == 'postgresql' else 'executemany, one transaction'}) "
          f"in {floor:.1f} s")
    print(f"booking + settlement: {total:.1f} s = {total / floor:.2f}x the floor "
          f"(target <= 2x: {'met' if total <= 2 * floor else 'MISSED'})")
    db.session.remove()


if __name__ == "__main__":
    main()
