"""Benchmark: the credit notes (PDF) of a final settlement run, rendered by
xhtml2pdf in worker processes as `pool render-statements --workers N` does,
against the floor of drawing the same statements directly with reportlab.

Target (issue 9): all statements' PDFs within 10 x the reportlab floor per
statement, using both cores: the wall time of rendering them all with 2
workers, per statement, at most 10 times what reportlab needs to draw one
(single process).

    .venv/bin/python bench/bench_pdfs.py [--run ID] [--limit N] [--max-lines N]
        [--workers 2] [--floor-sample 200]
    DATABASE_URL=postgresql+psycopg://... .venv/bin/python bench/bench_pdfs.py
    .venv/bin/python bench/bench_pdfs.py --sqlite instance/vermittlerpool.db
    .venv/bin/python bench/bench_pdfs.py --scale 0.01     # builds its own pool

On the database DATABASE_URL names or the SQLite file --sqlite names it reads
the newest released run (or --run) and changes nothing: the PDFs are rendered
as production renders them (statement_document, render_statement_pdf, the
SHA-256, chunks of 10 to a spawned pool) but kept in memory, not stored, so it
can run again and on a pool whose PDFs are stored already. Without either, it
builds the large demo pool at --scale (default 0.01: 500 intermediaries) in a
temporary SQLite file, runs the month's final settlement and measures that.

The floor is measured on a sample of the statements spread over their sizes
(the largest included) and fitted as a + b * lines, which is what it is; the
fit gives the floor of the statements rendered.

The wall time counts from the first statement to the last, the workers'
start-up (about 2 s) printed apart. The workers' CPU time is printed too:
on a machine other processes are busy on, the wall time is longer than
CPU / workers, and "with 2 cores to itself" is the ratio it would have.
"""
from __future__ import annotations

import argparse
import hashlib
import multiprocessing
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import bench_app  # noqa: E402
from pdf_floor import reportlab_floor  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from app.extensions import db  # noqa: E402

TARGET = 10.0
CHUNK = 10          # statements per task, as statements._render_in_processes


def _render_chunk(ids: list[int]) -> tuple[int, int, float]:
    """In a worker: render these statements' credit notes as production
    does, without storing them; (count, bytes, CPU seconds)."""
    from app.models.ledger import Statement
    from app.services import statements
    from app.services.statement_pdf import render_statement_pdf

    size, cpu = 0, time.process_time()
    with statements._worker_app.app_context():
        for pk in ids:
            pdf = render_statement_pdf(statements.statement_document(
                db.session.get(Statement, pk)))
            hashlib.sha256(pdf).hexdigest()
            size += len(pdf)
        db.session.remove()
    return len(ids), size, time.process_time() - cpu


def _ready(_):
    """In a worker: nothing; the pool has started when every worker answered."""
    time.sleep(0.2)
    return os.getpid()


def render_all(uri: str, ids: list[int], workers: int) -> tuple[float, float, int, float]:
    """(start-up seconds, rendering seconds, bytes, CPU seconds of the
    workers) of rendering `ids` in `workers` spawned processes."""
    from app.services.statements import _start_worker

    t = time.perf_counter()
    with multiprocessing.get_context("spawn").Pool(
            workers, initializer=_start_worker, initargs=(uri,)) as pool:
        pids = set()
        while len(pids) < workers:       # every worker has made its app
            pids.update(pool.map(_ready, range(workers * 2), chunksize=1))
        startup = time.perf_counter() - t
        t = time.perf_counter()
        done = size = cpu = 0
        chunks = [ids[i:i + CHUNK] for i in range(0, len(ids), CHUNK)]
        for count, nbytes, seconds in pool.imap_unordered(_render_chunk, chunks):
            done += count
            size += nbytes
            cpu += seconds
            if sys.stderr.isatty():
                print(f"\r  rendered {done:,} of {len(ids):,}", end="", file=sys.stderr)
        if sys.stderr.isatty():
            print(file=sys.stderr)
        return startup, time.perf_counter() - t, size, cpu


def floor(ids: list[int], lines: dict[int, int]) -> tuple[float, float, list[float]]:
    """Draw these statements with reportlab in this process: the fit
    (a ms, b ms per line) and each one's ms."""
    from app.models.ledger import Statement
    from app.services.statements import statement_document

    docs = [statement_document(db.session.get(Statement, pk)) for pk in ids]
    reportlab_floor(docs[0])                                   # warm
    times = []
    for doc in docs:
        best = None
        for _ in range(3 if len(doc.lines) < 2000 else 1):
            t = time.perf_counter()
            reportlab_floor(doc)
            took = (time.perf_counter() - t) * 1000
            best = took if best is None else min(best, took)
        times.append(best)
    x = [lines[pk] for pk in ids]
    if len(set(x)) > 1:
        slope, intercept = statistics.linear_regression(x, times)
    else:
        slope, intercept = 0.0, statistics.fmean(times)
    return intercept, slope, times


def spread(ids: list[int], count: int) -> list[int]:
    """`count` of `ids`, evenly spaced, the first and the last included."""
    if count >= len(ids):
        return list(ids)
    if count <= 1:
        return ids[-1:]
    step = (len(ids) - 1) / (count - 1)
    return [ids[i] for i in sorted({round(i * step) for i in range(count)})]


def build_pool(scale: float) -> None:
    """The large demo pool at `scale`, settled: a released run."""
    from datetime import date

    from common import fresh_schema

    from app.services.large_demo import create_large_pool
    from app.services.settlement import run_settlement

    t = time.perf_counter()
    fresh_schema()
    made = create_large_pool(scale)
    answer = run_settlement("2026-10", True, today=date(2026, 11, 23))
    print(f"built the demo pool at scale {scale}: {made.get('intermediaries', 0):,} "
          f"intermediaries, {made.get('bookings', 0):,} bookings, "
          f"{len(answer['statements']):,} statements in {time.perf_counter() - t:.0f} s")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sqlite", metavar="PATH", help="an existing SQLite database")
    ap.add_argument("--run", type=int, help="the settlement run (default: newest released)")
    ap.add_argument("--limit", type=int, help="render this many statements, spread over "
                    "the run (default: all)")
    ap.add_argument("--max-lines", type=int, help="leave out statements of more lines "
                    "(to compare with a renderer too slow for the largest)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--floor-sample", type=int, default=200)
    ap.add_argument("--scale", type=float, default=0.01,
                    help="without a database: the demo pool's scale")
    args = ap.parse_args()
    if args.sqlite:
        os.environ["DATABASE_URL"] = f"sqlite:///{Path(args.sqlite).resolve()}"
    existing = bool(os.environ.get("DATABASE_URL"))
    app = bench_app()
    from app.models.ledger import Booking, RunStatus, SettlementRun, Statement

    with app.app_context():
        uri = app.config["SQLALCHEMY_DATABASE_URI"]
        dialect = db.engine.dialect.name
        if not existing:
            build_pool(args.scale)
        run = (db.session.get(SettlementRun, args.run) if args.run else
               db.session.execute(select(SettlementRun).where(
                   SettlementRun.status == RunStatus.RELEASED.value)
                   .order_by(SettlementRun.id.desc()).limit(1)).scalar())
        if run is None:
            sys.exit("No released settlement run: settle a month with --final first.")
        if run.status != RunStatus.RELEASED.value:
            print(f"note: run {run.id} awaits its release; its statements have no number")
        # lines per statement: one pass over the ledger (booking.statement_id
        # has no index; joined per statement, SQLite looped over the table)
        counts = dict.fromkeys(db.session.execute(
            select(Statement.id).where(Statement.run_id == run.id)).scalars(), 0)
        counts.update(db.session.execute(
            select(Booking.statement_id, func.count())
            .where(Booking.statement_id.in_(select(Statement.id)
                                            .where(Statement.run_id == run.id)))
            .group_by(Booking.statement_id)).all())
        ids = sorted(pk for pk, n in counts.items()
                     if args.max_lines is None or n <= args.max_lines)
        if args.limit:
            ids = spread(ids, args.limit)
        if not ids:
            sys.exit(f"Run {run.id} has no statements.")
        lines = [counts[pk] for pk in ids]
        by_size = sorted((pk for pk in counts if args.max_lines is None
                          or counts[pk] <= args.max_lines), key=lambda pk: (counts[pk], pk))
        sample = spread(by_size, args.floor_sample)
        a, b, times = floor(sample, counts)
        db.session.remove()
        db.engine.dispose()

    total_lines = sum(lines)
    mean_lines = total_lines / len(ids)
    floor_ms = a + b * mean_lines                   # per statement, these statements
    print(f"{dialect}: run {run.id} "
          f"({run.period}), {len(ids):,} statements rendered"
          f"{'' if len(ids) == len(counts) else f' of {len(counts):,}'}"
          f"{'' if args.max_lines is None else f' (none over {args.max_lines:,} lines)'}")
    print(f"lines per statement: mean {mean_lines:.1f}, median "
          f"{statistics.median(lines):.0f}, max {max(lines):,} ({total_lines:,} in all)",
          flush=True)
    load = os.getloadavg()[0]
    startup, wall, size, cpu = render_all(uri, ids, args.workers)
    per = wall / len(ids) * 1000
    print(f"xhtml2pdf, {args.workers} workers: {wall:.1f} s wall for {len(ids):,} "
          f"statements = {per:.1f} ms per statement ({size / len(ids) / 1024:.0f} KiB each; "
          f"pool start-up {startup:.1f} s more)")
    cpu_per = cpu / len(ids) * 1000
    print(f"  the workers' CPU: {cpu_per:.1f} ms per statement; the wall time is "
          f"{cpu_per / args.workers / per:.0%} of CPU / {args.workers} (load average before: "
          f"{load:.1f} on {os.cpu_count()} cores; other processes slow the wall time)")
    print(f"reportlab floor, 1 process: {floor_ms:.2f} ms per statement "
          f"(fit over {len(sample)} sampled statements of {counts[sample[0]]:,} to "
          f"{counts[sample[-1]]:,} lines: {a:.2f} ms + {b * 1000:.1f} us per line; sample mean "
          f"{statistics.fmean(times):.2f} ms)")
    ratio = per / floor_ms
    verdict = "met" if ratio <= TARGET else "NOT met"
    print(f"ratio: {ratio:.1f} x the floor per statement; target <= {TARGET:.0f} x: {verdict}")
    print(f"  (with {args.workers} cores to itself, CPU / {args.workers}: "
          f"{cpu_per / args.workers / floor_ms:.1f} x)")


if __name__ == "__main__":
    main()
