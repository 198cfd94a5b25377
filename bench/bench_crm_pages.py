"""Benchmark: staff list, add and lookup pages with 100,000 customers.

Target (issue 2): list and add pages under 200 ms with 100,000 customers.
Runs on a fresh SQLite database in a temporary folder, or on the PostgreSQL
database that DATABASE_URL names (its tables are dropped and rebuilt!).

    .venv/bin/python bench/bench_crm_pages.py [--customers 100000] [--requests 30]
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    analyze,
    api_client,
    bench_app,
    fresh_schema,
    staff_client,
)
from sqlalchemy import insert, text  # noqa: E402

from app.extensions import db  # noqa: E402
from app.models.crm import Company, CompanyKind, Customer  # noqa: E402
from app.models.intermediaries import Intermediary  # noqa: E402

LAST = ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker",
        "Schulz", "Hoffmann", "Koch", "Richter", "Klein", "Wolf", "Neumann", "Schwarz"]
FIRST = ["Anna", "Ben", "Clara", "David", "Emma", "Felix", "Greta", "Hans", "Ida", "Jonas"]
CITIES = ["Berlin", "Hamburg", "München", "Köln", "Frankfurt", "Stuttgart", "Essen", "Kiel"]


def build(n_customers: int) -> None:
    from tests.factories import make_staff

    fresh_schema()
    pool = Company(name="Bench Pool", kind=CompanyKind.POOL)
    db.session.add(pool)
    db.session.flush()
    firms = [Company(name=f"Maklerfirma {i:03d}", kind=CompanyKind.BROKER_FIRM, parent=pool)
             for i in range(200)]
    db.session.add_all(firms)
    db.session.flush()
    db.session.execute(insert(Intermediary), [
        {"name": f"Vermittler {i:05d}", "company_id": firms[i % 200].id, "status": "ACTIVE"}
        for i in range(5000)])
    rnd = random.Random(42)
    t = time.perf_counter()
    rows = [{"name": rnd.choice(LAST) + f" {i}", "first_name": rnd.choice(FIRST),
             "company_id": firms[i % 200].id, "intermediary_id": 1 + i % 5000,
             "city": rnd.choice(CITIES), "postcode": f"{10000 + i % 89999}", "country": "DE"}
            for i in range(n_customers)]
    for start in range(0, len(rows), 20000):
        db.session.execute(insert(Customer), rows[start:start + 20000])
    make_staff(pool, "Company admin", "bench")  # scoped to the whole pool, may add
    db.session.commit()
    analyze()
    print(f"built {n_customers:,} customers in {time.perf_counter() - t:.1f} s "
          f"({db.engine.dialect.name})")


def measure(client, url, n):
    from sqlalchemy import event

    statements = []
    count = lambda *a: statements.append(1)  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", count)
    client.get(url)  # warm up, and count the SQL statements of one request
    event.remove(db.engine, "before_cursor_execute", count)
    times = []
    for _ in range(n):
        t = time.perf_counter()
        resp = client.get(url)
        times.append((time.perf_counter() - t) * 1000)
        assert resp.status_code == 200, (url, resp.status_code)
    times.sort()
    return (statistics.median(times), times[max(0, int(len(times) * 0.95) - 1)], len(resp.data),
            len(statements))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=100_000)
    ap.add_argument("--requests", type=int, default=30)
    args = ap.parse_args()
    app = bench_app()
    with app.app_context():
        build(args.customers)
        client = staff_client(app)
        some = db.session.execute(text("SELECT id FROM customer ORDER BY id DESC LIMIT 1")).scalar()
        pages = [
            ("customer list", "/customerview/list/"),
            ("customer list, sorted by city", "/customerview/list/?_oc_CustomerView=city&_od_CustomerView=asc"),
            ("customer list, name starts with", "/customerview/list/?_flt_0_name=Müller"),
            ("customer list, last page", "/customerview/list/?page_CustomerView=3999"),
            ("customer add", "/customerview/add"),
            ("customer edit", f"/customerview/edit/{some}"),
            ("customer show", f"/customerview/show/{some}"),
            ("company list", "/companyview/list/"),
            ("staff add", "/staffview/add"),
            ("lookup customer 'Weber'", "/lookup/customer/?q=Weber"),
            ("lookup intermediary '123'", "/lookup/intermediary/?q=123&status=ACTIVE"),
            ("API customer list", None),
        ]
        print(f"{'page':<36}{'median ms':>10}{'p95 ms':>10}{'bytes':>10}{'SQL':>6}")
        worst = 0.0
        for label, path in pages:
            if path is None:
                med, p95, size, sql = measure(api_client(app), "/api/v1/customer/",
                                              args.requests)
            else:
                med, p95, size, sql = measure(client, path, args.requests)
            if "last page" not in label:
                worst = max(worst, p95)
            print(f"{label:<36}{med:>10.1f}{p95:>10.1f}{size:>10,}{sql:>6}")
        print(f"worst p95 (all but the deep-offset page): {worst:.1f} ms "
              "(target: list and add pages < 200 ms)")


if __name__ == "__main__":
    main()
