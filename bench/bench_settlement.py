"""Benchmark: the month's final settlement run of a large pool, and the
rendering of its credit notes, against the floor of bulk-inserting the same
rows.

Default 50,000 intermediaries with 100 unsettled October bookings each
(5,000,000 bookings) on 250,000 contracts. Measured: a preview, the final
run (Fixum, statements, settling every booking, one transaction), and the
credit notes of a sample of statements (xhtml2pdf, in 1 and in --workers
processes), extrapolated to all statements. The floor is the bulk load of the
5,000,000 booking rows (executemany on SQLite, COPY on PostgreSQL).

    .venv/bin/python bench/bench_settlement.py [--people 50000] [--per 100]
        [--pdf-sample 200] [--workers 2]
    DATABASE_URL=postgresql+psycopg://... .venv/bin/python bench/bench_settlement.py
"""
from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import analyze, bench_app, fresh_schema  # noqa: E402
from pdf_floor import reportlab_floor  # noqa: E402
from sqlalchemy import insert, text  # noqa: E402

from app.extensions import db  # noqa: E402

KINDS = ["AP", "FP", "FP", "OVERRIDE", "FP", "RESERVE_RETAIN", "FP", "STORNO", "FP", "AP_ZV"]
BOOKING_COLUMNS = ("intermediary_id", "kind", "amount", "booking_date", "contract_id",
                   "basis", "rate", "level_rank", "rule", "created_on")


def _load(table: str, columns: tuple, rows) -> None:
    """Bulk load: COPY on PostgreSQL, executemany on SQLite; one transaction."""
    raw = db.engine.raw_connection()
    try:
        cur = raw.cursor()
        if db.engine.dialect.name == "postgresql":
            with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join("?" * len(columns))
            sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"
            batch = []
            for row in rows:
                batch.append(tuple(str(v) if isinstance(v, (Decimal, date)) else v
                                   for v in row))
                if len(batch) == 100_000:
                    cur.executemany(sql, batch)
                    batch.clear()
            cur.executemany(sql, batch)
        raw.commit()
    finally:
        raw.close()


def build(people: int, per: int) -> float:
    """The pool; returns the seconds the bulk load of the bookings took."""
    from app.models.crm import Company, CompanyKind, Customer
    from app.models.intermediaries import Intermediary
    from app.models.products import LineOfBusiness, Product

    fresh_schema()
    pool = Company(name="Bench Pool GmbH", kind=CompanyKind.POOL, street="Hauptstraße 1",
                   postcode="10115", city="Berlin", tax_number="DE123456789",
                   iban="DE02120300000000202051")
    db.session.add(pool)
    db.session.flush()
    insurer = Company(name="Versicherer AG", kind=CompanyKind.INSURER, parent=pool)
    db.session.add(insurer)
    line = db.session.query(LineOfBusiness).filter_by(code="040").one()
    product = Product(insurer=insurer, line_of_business=line, key="PH", name="Privathaftpflicht")
    db.session.add(product)
    db.session.flush()
    db.session.execute(insert(Intermediary), [
        {"name": f"Vermittler {i:05d} Müller", "company_id": pool.id, "status": "ACTIVE",
         "tax_number": "12/345/67890", "iban": "DE89370400440532013000",
         "street": "Lindenweg 3", "postcode": "50667", "city": "Köln",
         "fixum": Decimal("100.00") if i % 10 == 0 else Decimal(0), "reserve_rate": 0}
        for i in range(people)])
    ids = [r[0] for r in db.session.execute(text("SELECT id FROM intermediary ORDER BY id"))]
    db.session.execute(insert(Customer), [{"name": f"Kunde {i}", "first_name": "Erika",
                                           "company_id": pool.id} for i in range(people)])
    first_customer = db.session.execute(text("SELECT min(id) FROM customer")).scalar()
    db.session.commit()
    contracts_each = 5
    _load("contract", ("policy_number", "insurer_id", "customer_id", "product_id",
                       "line_of_business_id", "intermediary_id", "start_date", "term_months",
                       "payment_frequency", "premium", "premium_supplementary", "status",
                       "policed_on", "managing_company_id", "created_on", "changed_on"),
          ((f"H{n:09d}", insurer.id, first_customer + i, product.id, line.id, pid,
            date(2026, 1, 1), 12, "MONTHLY", Decimal("10.00"), Decimal("0.00"), "ACTIVE",
            date(2026, 1, 1), pool.id, "2026-01-01 00:00:00", "2026-01-01 00:00:00")
           for i, pid in enumerate(ids) for n in range(i * contracts_each,
                                                       (i + 1) * contracts_each)))
    first_contract = db.session.execute(text("SELECT min(id) FROM contract")).scalar()
    t = time.perf_counter()
    _load("booking", BOOKING_COLUMNS, (
        (pid, KINDS[k % 10],
         Decimal(f"{(k * 37) % 500 + 1}.{k % 100:02d}") * (-1 if KINDS[k % 10] in (
             "STORNO", "RESERVE_RETAIN") else 1),
         date(2026, 10, 1 + k % 28), first_contract + i * contracts_each + k % contracts_each,
         Decimal("1000.0000"), Decimal("3.5000"), 2 if KINDS[k % 10] == "OVERRIDE" else None,
         "bench", date(2026, 10, 1))
        for i, pid in enumerate(ids) for k in range(per)))
    loaded = time.perf_counter() - t
    analyze()
    return loaded


def _render(ids: list[int]) -> float:
    """Render (not store) the credit notes of these statements in this process."""
    app = bench_app()
    from app.models.ledger import Statement
    from app.services.statement_pdf import render_statement_pdf
    from app.services.statements import statement_document

    with app.app_context():
        render_statement_pdf(statement_document(db.session.get(Statement, ids[0])))  # warm
        t = time.perf_counter()
        for pk in ids:
            render_statement_pdf(statement_document(db.session.get(Statement, pk)))
        return time.perf_counter() - t


def _floor(ids: list[int]) -> float:
    app = bench_app()
    from app.models.ledger import Statement
    from app.services.statements import statement_document

    with app.app_context():
        docs = [statement_document(db.session.get(Statement, pk)) for pk in ids]
        reportlab_floor(docs[0])
        t = time.perf_counter()
        for doc in docs:
            reportlab_floor(doc)
        return (time.perf_counter() - t) / len(docs) * 1000


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--people", type=int, default=50_000)
    ap.add_argument("--per", type=int, default=100)
    ap.add_argument("--pdf-sample", type=int, default=200)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    app = bench_app()
    from app.services.settlement import run_settlement

    with app.app_context():
        dialect = db.engine.dialect.name
        t = time.perf_counter()
        loaded = build(args.people, args.per)
        print(f"{dialect}: built {args.people:,} intermediaries and "
              f"{args.people * args.per:,} bookings in {time.perf_counter() - t:.0f} s")
        print(f"floor: bulk load of {args.people * args.per:,} booking rows in {loaded:.1f} s")
        t = time.perf_counter()
        preview = run_settlement("2026-10", False, today=date(2026, 11, 23))
        took = time.perf_counter() - t
        print(f"preview: {len(preview['statements']):,} statements in {took:.1f} s")
        marks = []
        t = time.perf_counter()
        answer = run_settlement("2026-10", True, today=date(2026, 11, 23),
                                progress=lambda done, total: marks.append(
                                    (done, time.perf_counter() - t)))
        run = time.perf_counter() - t
        settled = db.session.execute(text(
            "SELECT count(*) FROM booking WHERE statement_id IS NOT NULL")).scalar()
        first_step = marks[0][1] if marks else run
        print(f"final run: {len(answer['statements']):,} statements, {settled:,} bookings "
              f"settled in {run:.1f} s (of which reading and computing "
              f"{first_step:.1f} s); "
              f"ratio to the floor {run / loaded:.1f}x")
        again = time.perf_counter()
        repeat = run_settlement("2026-10", True, today=date(2026, 11, 23))
        print(f"the same month again: {len(repeat['statements'])} new statements in "
              f"{time.perf_counter() - again:.1f} s")
        ids = [s["id"] for s in answer["statements"]][:args.pdf_sample]
        db.session.remove()
        db.engine.dispose()
    if not ids:
        return
    one = _render(ids)
    per_pdf = one / len(ids)
    floor_ms = _floor(ids[:20])
    print(f"credit notes: {len(ids)} of {args.per} lines rendered in {one:.1f} s in 1 process "
          f"({per_pdf * 1000:.0f} ms each); all {len(answer['statements']):,} would take "
          f"{per_pdf * len(answer['statements']) / 60:.0f} min")
    print(f"floor: the same statements drawn with reportlab directly: {floor_ms:.1f} ms each; "
          f"xhtml2pdf is {per_pdf * 1000 / floor_ms:.0f}x that")
    if args.workers > 1:
        parts = [ids[i::args.workers] for i in range(args.workers)]
        t = time.perf_counter()
        with multiprocessing.get_context("spawn").Pool(args.workers) as workers:
            workers.map(_render, parts)
        both = time.perf_counter() - t
        print(f"credit notes: the same in {args.workers} processes in {both:.1f} s "
              f"(with start-up); all would take "
              f"{both / len(ids) * len(answer['statements']) / 60:.0f} min")


if __name__ == "__main__":
    main()
