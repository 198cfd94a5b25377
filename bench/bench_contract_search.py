"""Benchmark: the contract search with 1,000,000 contracts.

Target (issue 4): each search field answers in under 200 ms. Measured through
the search page (/contracts/search/) as pool staff: median and p95 of 30
requests per field.

    .venv/bin/python bench/bench_contract_search.py [--contracts 1000000]
"""
from __future__ import annotations

import argparse
import io
import random
import statistics
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    analyze,
    bench_app,
    fresh_schema,
    staff_client,
)
from sqlalchemy import insert, text  # noqa: E402

from app.extensions import db  # noqa: E402
from app.models.crm import Company, CompanyKind, Customer  # noqa: E402
from app.models.intermediaries import Intermediary  # noqa: E402
from app.models.products import LineOfBusiness, Product  # noqa: E402

LAST = ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker",
        "Schulz", "Hoffmann", "Koch", "Richter", "Klein", "Wolf", "Neumann", "Schwarz"]
COLUMNS = ["policy_number", "insurer_id", "customer_id", "product_id", "line_of_business_id",
           "intermediary_id", "start_date", "term_months", "payment_frequency", "premium",
           "premium_supplementary", "status", "policed_on", "managing_company_id",
           "created_on", "changed_on"]


def build(n: int) -> None:
    from tests.factories import make_staff

    pg = db.engine.dialect.name == "postgresql"
    fresh_schema()
    rnd = random.Random(11)
    pool = Company(name="Bench Pool", kind=CompanyKind.POOL)
    db.session.add(pool)
    db.session.flush()
    insurers = [Company(name=f"Versicherer {i:02d} AG", kind=CompanyKind.INSURER, parent=pool)
                for i in range(40)]
    db.session.add_all(insurers)
    db.session.flush()
    lines = db.session.query(LineOfBusiness).all()
    products = [Product(insurer=insurers[i % 40], line_of_business=lines[i % len(lines)],
                        key=f"P{i:03d}", name=f"Produkt {i:03d}") for i in range(200)]
    db.session.add_all(products)
    db.session.flush()
    db.session.execute(insert(Intermediary), [
        {"name": f"Vermittler {i:05d}", "company_id": pool.id, "status": "ACTIVE"}
        for i in range(5000)])
    n_customers = max(1, n // 5)
    db.session.execute(insert(Customer), [
        {"name": f"{rnd.choice(LAST)} {i}", "company_id": pool.id} for i in range(n_customers)])
    make_staff(pool, "Pool staff", "bench")
    db.session.commit()
    prod = [(p.id, p.insurer_id, p.line_of_business_id) for p in products]
    first_customer = db.session.execute(text("SELECT min(id) FROM customer")).scalar()
    first_person = db.session.execute(text("SELECT min(id) FROM intermediary")).scalar()
    t = time.perf_counter()
    statuses = ["ACTIVE"] * 8 + ["CANCELLED", "ENDED"]
    now = "2026-11-01 00:00:00"

    def rows(start, stop):
        for i in range(start, stop):
            pid, ins, line = prod[i % 200]
            yield (f"V{i:09d}", ins, first_customer + i % n_customers, pid, line,
                   first_person + (i * 7) % 5000, date(2020 + i % 7, 1 + i % 12, 1), 120,
                   "MONTHLY", "50.00", "0.00", statuses[i % 10], date(2020, 1, 1), pool.id,
                   now, now)
    chunk = 100_000
    raw = db.engine.raw_connection()
    try:
        cur = raw.cursor()
        for start in range(0, n, chunk):
            batch = list(rows(start, min(n, start + chunk)))
            if pg:
                buf = io.StringIO()
                for r in batch:
                    buf.write("\t".join(str(v) for v in r) + "\n")
                with cur.copy(f"COPY contract ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                    copy.write(buf.getvalue())
            else:
                cur.executemany(f"INSERT INTO contract ({', '.join(COLUMNS)}) VALUES "
                                f"({', '.join('?' * len(COLUMNS))})",
                                [tuple(str(v) if isinstance(v, date) else v for v in r)
                                 for r in batch])
        raw.commit()
    finally:
        raw.close()
    analyze()
    print(f"built {n:,} contracts, {n_customers:,} customers in {time.perf_counter() - t:.0f} s "
          f"({db.engine.dialect.name})")
    return dict(insurer=insurers[7].id, line=lines[1].id, person=first_person + 1234)


def measure(client, url, n=30):
    client.get(url)
    times = []
    for _ in range(n):
        t = time.perf_counter()
        resp = client.get(url)
        times.append((time.perf_counter() - t) * 1000)
        assert resp.status_code == 200
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1], resp.get_data(
        as_text=True).count("/contractview/show/")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--contracts", type=int, default=1_000_000)
    args = ap.parse_args()
    app = bench_app()
    with app.app_context():
        ids = build(args.contracts)
        client = staff_client(app)
        searches = [
            ("policy number prefix", "policy_number=V00012345"),
            ("customer name prefix", "customer=Wagner%201234"),
            ("intermediary", f"intermediary={ids['person']}"),
            ("insurer", f"insurer={ids['insurer']}"),
            ("line of business", f"line={ids['line']}"),
            ("status CANCELLED", "status=CANCELLED"),
            ("insurer + status + line", f"insurer={ids['insurer']}&status=ACTIVE&line={ids['line']}"),
            ("page 100 of status ACTIVE", "status=ACTIVE&page=100"),
        ]
        print(f"{'search':<30}{'median ms':>10}{'p95 ms':>10}{'rows':>6}")
        worst = 0.0
        for label, query in searches:
            med, p95, found = measure(client, f"/contracts/search/?{query}")
            if not label.startswith("page"):
                worst = max(worst, p95)
            print(f"{label:<30}{med:>10.1f}{p95:>10.1f}{found:>6}")
        print(f"worst p95 of the search fields: {worst:.1f} ms (target: under 200 ms; the "
              "deep page is shown for information)")


if __name__ == "__main__":
    main()
