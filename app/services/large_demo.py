"""The large demo pool (`pool demo-data --size large`): the month end of the
largest German pools, generated deterministically (seeded).

At scale 1: 50,000 intermediaries in a hierarchy up to 10 levels deep (with
level history), 1,000,000 contracts of 500,000 customers over 200 products
of 40 insurers (product rate model: overrides up the chain), and one month
of 1,250,000 receipts, booked (about 5 bookings each). `scale` shrinks every
count (tests use 0.001). Rows are written set-based; the receipts go through
the commission engine's batch service in chunks.
"""
from __future__ import annotations

import random
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import select

from app.extensions import db
from app.models.crm import Company, CompanyKind
from app.services.imports import bulk_insert

POOL_NAME = "Großpool Demo AG"
SIZES = {"intermediaries": 50_000, "contracts": 1_000_000, "insurers": 40, "products": 200,
         "receipts": 1_250_000}
LEVELS = 10
RECEIPT_CHUNK = 50_000
MONTH = date(2026, 10, 1)
#: Extranet logins of the first intermediaries (gp00001 ...) and one staff
#: login (gpstaff, Pool staff): the load test and the page benchmarks log in
#: as them. Passwords as in the small demo (`demo_password`).
BROKER_LOGINS = 200
STAFF_LOGIN = "gpstaff"


def sizes(scale: float) -> dict[str, int]:
    out = {k: max(1, int(v * scale)) for k, v in SIZES.items()}
    out["insurers"] = max(2, min(out["insurers"], SIZES["insurers"]))
    out["products"] = max(out["insurers"], min(out["products"], SIZES["products"]))
    out["intermediaries"] = max(out["intermediaries"], LEVELS * 2)
    return out


def broker_login(number: int) -> str:
    """The username of the n-th (1-based) intermediary's extranet login."""
    return f"gp{number:05d}"


def _logins(pool, person_ids) -> None:
    from flask import current_app

    from app.domain.access import INTERMEDIARY, POOL_STAFF
    from app.models.crm import Staff
    from app.models.intermediaries import Intermediary
    from app.services.crm import hash_password
    from app.services.demo import demo_password

    sm = current_app.appbuilder.sm
    broker_role, staff_role = sm.find_role(INTERMEDIARY), sm.find_role(POOL_STAFF)
    staff = sm.user_model(username=STAFF_LOGIN, first_name="Grete", last_name="Großpool",
                          active=True, email=f"{STAFF_LOGIN}@demo.vermittlerpool.example",
                          password=hash_password(demo_password(STAFF_LOGIN)),
                          roles=[staff_role])
    db.session.add(staff)
    db.session.add(Staff(first_name="Grete", last_name="Großpool", company=pool,
                         email=staff.email, user=staff))
    for number, pid in enumerate(person_ids, 1):
        name = broker_login(number)
        user = sm.user_model(username=name, first_name="Vermittler", last_name=f"{number:05d}",
                             active=True, email=f"{name}@demo.vermittlerpool.example",
                             password=hash_password(demo_password(name)), roles=[broker_role])
        db.session.add(user)
        db.session.get(Intermediary, pid).user = user
    db.session.flush()


def create_large_pool(scale: float = 1.0, seed: int = 2026, progress=None,
                      book: bool = True) -> dict:
    """Build the pool once; if it is there already, nothing changes.
    `progress(step, done, total)` reports each step. book=False leaves the
    month's receipts to `book_month` (the benchmark times that alone)."""
    from app.models.crm import Customer
    from app.models.intermediaries import Intermediary, IntermediaryLevel
    from app.models.products import CareerLevel, LineOfBusiness, Product, ProductRate

    if db.session.execute(select(Company.id).where(Company.name == POOL_NAME)).first():
        return {"created": False}
    n = sizes(scale)
    rnd = random.Random(seed)
    now = datetime(2026, 1, 1)
    stamp = {"created_on": now, "changed_on": now}

    def report(step, done, total):
        if progress:
            progress(step, done, total)

    pool = Company(name=POOL_NAME, kind=CompanyKind.POOL, street="Königsallee 1",
                   postcode="40212", city="Düsseldorf", tax_number="DE123456789",
                   iban="DE02120300000000202051")
    db.session.add(pool)
    db.session.flush()
    insurer_ids = bulk_insert(Company, [
        {"name": f"Versicherer {i + 1:02d} AG", "kind": "INSURER", "parent_id": pool.id,
         "vu_number": f"{8000 + i:05d}", **stamp} for i in range(n["insurers"])], True)
    lines = db.session.execute(select(LineOfBusiness.id).order_by(
        LineOfBusiness.code)).scalars().all()[:8]
    levels = [CareerLevel(rank=r, name=f"Karrierestufe {r}", value_per_unit=r)
              for r in range(1, LEVELS + 1)]
    existing = {c.rank: c for c in db.session.execute(select(CareerLevel)).scalars()}
    levels = [existing.get(lv.rank) or lv for lv in levels]
    db.session.add_all([lv for lv in levels if lv.id is None])
    db.session.flush()
    product_ids = bulk_insert(Product, [
        {"insurer_id": insurer_ids[i % len(insurer_ids)], "line_of_business_id":
         lines[i % len(lines)], "key": f"T{i + 1:03d}", "name": f"Tarif {i + 1:03d}",
         "active": True, "commission_model": "product_rate", "pool_ap_rate": 0,
         "pool_ap_zv_rate": 0, "pool_fp_rate": 0, "units_per_1000": 0, **stamp}
        for i in range(n["products"])], True)
    bulk_insert(ProductRate, [
        {"line_of_business_id": line, "career_level_id": lv.id,
         "ap_rate": Decimal(30 + 4 * lv.rank), "ap_zv_rate": Decimal(10 + lv.rank),
         "fp_rate": Decimal(5 + lv.rank), **stamp}
        for line in set(lines) for lv in levels])
    report("master data", 1, 1)

    people = n["intermediaries"]
    person_ids = bulk_insert(Intermediary, [
        {"name": f"Vermittler {i + 1:05d}", "company_id": pool.id, "status": "ACTIVE",
         "tax_number": f"{10 + i % 89}/{100 + i % 899}/{10000 + i}",
         "iban": "DE89370400440532013000", "reserve_rate": Decimal(10), "fixum": 0, **stamp}
        for i in range(people)], True)
    # a pyramid: few at the top (level 10), most at the bottom (level 1)
    weights = [2 ** (LEVELS - r) for r in range(1, LEVELS + 1)]
    ranks = rnd.choices(range(1, LEVELS + 1), weights=weights, k=people)
    ranks[:LEVELS] = list(range(LEVELS, 0, -1))      # every level is there
    by_rank: dict[int, list[int]] = {r: [] for r in range(1, LEVELS + 1)}
    for pid, rank in zip(person_ids, ranks, strict=True):
        by_rank[rank].append(pid)
    entries = []
    for rank in range(LEVELS, 0, -1):
        for pid in by_rank[rank]:
            # a supervisor of any higher level: chains of 1 to 10 levels, about
            # 3 overrides per receipt on average (the largest pools' mix)
            higher = [r for r in range(rank + 1, LEVELS + 1) if by_rank[r]]
            boss = rnd.choice(by_rank[rnd.choice(higher)]) if higher else None
            if rank > 1:     # level history: promoted in mid-2025
                entries.append({"intermediary_id": pid, "valid_from": date(2024, 1, 1),
                                "career_level_id": levels[rank - 2].id, "supervisor_id": boss})
            entries.append({"intermediary_id": pid, "valid_from": date(2025, 7, 1),
                            "career_level_id": levels[rank - 1].id, "supervisor_id": boss})
    bulk_insert(IntermediaryLevel, entries)
    _logins(pool, person_ids[:BROKER_LOGINS])
    report("intermediaries", people, people)

    contracts = n["contracts"]
    customers = max(1, contracts // 2)
    closers = by_rank[1] + by_rank[2]
    customer_ids = []
    for start in range(0, customers, 100_000):
        customer_ids += bulk_insert(Customer, [
            {"name": f"Kunde {i + 1:07d}", "first_name": "Erika", "company_id": pool.id,
             "intermediary_id": closers[i % len(closers)], "birth_date": date(1960, 1, 1),
             **stamp} for i in range(start, min(customers, start + 100_000))], True)
        report("customers", len(customer_ids), customers)
    from app.models.contracts import Contract

    contract_ids = []
    frequencies = ("MONTHLY", "MONTHLY", "QUARTERLY", "YEARLY")
    for start in range(0, contracts, 100_000):
        rows = []
        for i in range(start, min(contracts, start + 100_000)):
            product = i % len(product_ids)
            rows.append({
                "policy_number": f"GP{i + 1:09d}", "insurer_id": insurer_ids[product %
                                                                          len(insurer_ids)],
                "customer_id": customer_ids[i // 2 % len(customer_ids)],
                "product_id": product_ids[product],
                "line_of_business_id": lines[product % len(lines)],
                "intermediary_id": closers[(i // 2) % len(closers)],
                "start_date": date(2025 + (i % 2), 1 + i % 9, 1), "term_months": 120,
                "payment_frequency": frequencies[i % 4],
                "premium": Decimal(20 + i % 180), "premium_supplementary": 0,
                "status": "ACTIVE", "policed_on": date(2025, 1, 1),
                "managing_company_id": pool.id, **stamp})
        contract_ids += bulk_insert(Contract, rows, True)
        report("contracts", len(contract_ids), contracts)
    db.session.commit()

    booked = book_month(progress) if book else {"receipts": 0, "bookings": 0}
    return {"created": True, **n, **booked, "logins": min(BROKER_LOGINS, people)}


def book_month(progress=None) -> dict:
    """Book the month's receipts (RECEIPT_CHUNK at a time, each chunk its
    own transaction, one BookingContext for all): deterministic, from the
    pool's contracts and the receipt count its scale gives."""
    from app.models.contracts import Contract
    from app.services.ledger import book_receipt_chunks

    pool_id = db.session.execute(select(Company.id).where(Company.name == POOL_NAME)).scalar_one()
    contract_ids = db.session.execute(select(Contract.id).where(
        Contract.managing_company_id == pool_id).order_by(Contract.id)).scalars().all()
    # 1.25 receipts a contract, as SIZES has it
    receipts = len(contract_ids) * SIZES["receipts"] // SIZES["contracts"]

    def chunks():
        for start in range(0, receipts, RECEIPT_CHUNK):
            yield [{"contract_id": contract_ids[i % len(contract_ids)],
                    "kind": "AP" if i % 5 == 0 else "FP",
                    "amount": Decimal(f"{(i * 7919) % 900 + 10}.{i % 100:02d}"),
                    "value_date": date(MONTH.year, MONTH.month, 1 + i % 28),
                    "reference": f"GP-{i + 1:08d}", "source": "demo-large"}
                   for i in range(start, min(receipts, start + RECEIPT_CHUNK))]

    # each chunk its own transaction; on PostgreSQL the next one is computed
    # while the database takes the last
    booked = book_receipt_chunks(chunks(), progress=progress and (
        lambda done: progress("receipts", done, receipts)))
    return booked
