"""Benchmark: booking a month of receipts in a batch over a 10-level hierarchy,
against the floor of bulk-inserting the same number of booking rows.

Target (issue 5/9): the ratio of batch booking to bulk insert, in the note.
Default 100,000 receipts (--receipts 1000000 for the full month; it takes a
while to build).

    .venv/bin/python bench/bench_booking.py [--receipts 100000]
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    analyze,
    bench_app,
    fresh_schema,
)
from sqlalchemy import insert, text  # noqa: E402

from app.extensions import db  # noqa: E402


def build(n_contracts: int, depth: int = 10):
    from app.models.crm import Company, CompanyKind, Customer
    from app.models.intermediaries import Intermediary, IntermediaryLevel
    from app.models.products import CareerLevel, LineOfBusiness, Product, ProductRate

    fresh_schema()
    rnd = random.Random(5)
    pool = Company(name="Bench Pool", kind=CompanyKind.POOL)
    db.session.add(pool)
    db.session.flush()
    insurer = Company(name="Versicherer AG", kind=CompanyKind.INSURER, parent=pool)
    db.session.add(insurer)
    levels = [CareerLevel(rank=r, name=f"Stufe {r}", value_per_unit=r) for r in range(1, depth + 1)]
    db.session.add_all(levels)
    db.session.flush()
    line = db.session.query(LineOfBusiness).filter_by(code="040").one()
    products = [Product(insurer=insurer, line_of_business=line, key=f"P{i}", name=f"P{i}",
                        commission_model="product_rate") for i in range(20)]
    db.session.add_all(products)
    db.session.add_all([ProductRate(line_of_business=line, career_level=lvl,
                                    ap_rate=Decimal(30 + 5 * lvl.rank),
                                    fp_rate=Decimal(10 + 2 * lvl.rank)) for lvl in levels])
    db.session.flush()
    n_people = 10_000
    db.session.execute(insert(Intermediary), [
        {"name": f"V{i}", "company_id": pool.id, "status": "ACTIVE"} for i in range(n_people)])
    ids = [r[0] for r in db.session.execute(text("SELECT id FROM intermediary ORDER BY id"))]
    # a tree `depth` levels deep: each person reports to someone one level up
    per_level = [ids[i::depth] for i in range(depth)]
    rows = []
    for lvl_index, people in enumerate(per_level):
        for who in people:
            boss = rnd.choice(per_level[lvl_index + 1]) if lvl_index + 1 < depth else None
            rows.append({"intermediary_id": who, "valid_from": date(2025, 1, 1),
                         "career_level_id": levels[lvl_index].id, "supervisor_id": boss})
    db.session.execute(insert(IntermediaryLevel), rows)
    db.session.execute(insert(Customer), [{"name": f"K{i}", "company_id": pool.id}
                                          for i in range(n_contracts // 5 + 1)])
    first_customer = db.session.execute(text("SELECT min(id) FROM customer")).scalar()
    closers = per_level[0]
    db.session.commit()
    raw = db.engine.raw_connection()
    try:
        cur = raw.cursor()
        ph = "%s" if db.engine.dialect.name == "postgresql" else "?"
        sql = ("INSERT INTO contract (policy_number, insurer_id, customer_id, product_id, "
               "line_of_business_id, intermediary_id, start_date, term_months, "
               "payment_frequency, premium, premium_supplementary, status, policed_on, "
               f"managing_company_id, created_on, changed_on) VALUES ({', '.join([ph] * 16)})")
        batch = [(f"C{i:08d}", insurer.id, first_customer + i // 5, products[i % 20].id, line.id,
                  closers[i % len(closers)], "2026-01-01", 12, "MONTHLY", "10.00", "0.00",
                  "ACTIVE", "2026-01-01", pool.id, "2026-01-01 00:00:00",
                  "2026-01-01 00:00:00") for i in range(n_contracts)]
        cur.executemany(sql, batch)
        raw.commit()
    finally:
        raw.close()
    analyze()
    return [r[0] for r in db.session.execute(text("SELECT id FROM contract ORDER BY id"))]


def floor(n_rows: int, contract_id: int, person: int) -> float:
    """Bulk insert of n booking rows in one transaction: the physical floor."""
    rows = [{"intermediary_id": person, "kind": "FP", "amount": Decimal("1.00"),
             "booking_date": date(2026, 10, 1), "contract_id": contract_id, "rule": "floor",
             "created_on": date(2026, 10, 1), "row_hash": "0" * 64} for _ in range(n_rows)]
    from app.models.ledger import Booking
    t = time.perf_counter()
    for start in range(0, n_rows, 20_000):
        db.session.execute(insert(Booking), rows[start:start + 20_000])
    db.session.commit()
    return time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--receipts", type=int, default=100_000)
    args = ap.parse_args()
    app = bench_app()
    from app.services.ledger import book_receipts
    with app.app_context():
        contracts = build(args.receipts)
        rows = [{"contract_id": contracts[i % len(contracts)], "kind": "FP" if i % 4 else "AP",
                 "amount": "100.00", "value_date": date(2026, 10, 5), "reference": f"R{i}",
                 "source": "bench"} for i in range(args.receipts)]
        t = time.perf_counter()
        report = book_receipts(rows)
        booking = time.perf_counter() - t
        person = db.session.execute(text("SELECT min(id) FROM intermediary")).scalar()
        base = floor(report["bookings"], contracts[0], person)
        print(f"{db.engine.dialect.name}: booked {report['receipts']:,} receipts into "
              f"{report['bookings']:,} bookings in {booking:.1f} s "
              f"({report['receipts'] / booking:,.0f} receipts/s)")
        print(f"floor: bulk insert of {report['bookings']:,} booking rows in {base:.1f} s; "
              f"ratio {booking / base:.1f}x")


if __name__ == "__main__":
    main()
