"""Imports of what insurers send: commission statements (CSV/Excel, by
mapping profile) and GDV files. Each import is one transaction: a file
with a bad line imports nothing; the same file again changes nothing."""
from __future__ import annotations

import hashlib
import json
import sqlite3
import tempfile
from datetime import datetime
from decimal import Decimal
from enum import Enum
from operator import itemgetter

from sqlalchemy import select

from app.domain.errors import N_, InvalidValueError
from app.extensions import db
from app.models.contracts import Contract
from app.models.crm import Company, CompanyKind
from app.models.imports import ClearanceCase, ImportProfile, ImportRun


def spool(stream) -> tuple[tempfile.SpooledTemporaryFile, str]:
    """A seekable copy of an upload and its SHA-256 (files are read twice:
    checked, then imported)."""
    copy = tempfile.SpooledTemporaryFile(max_size=32 * 1024 * 1024)
    digest = hashlib.sha256()
    while True:
        chunk = stream.read(1024 * 1024)
        if not chunk:
            break
        digest.update(chunk)
        copy.write(chunk)
    copy.seek(0)
    return copy, digest.hexdigest()


def already_imported(kind: str, sha256: str) -> ImportRun | None:
    return db.session.execute(select(ImportRun).where(
        ImportRun.kind == kind, ImportRun.sha256 == sha256, ImportRun.status == "DONE")
        .order_by(ImportRun.id)).scalars().first()


def policy_key(number: str | None) -> str:
    from app.domain.gdv import normalise_policy_number

    return normalise_policy_number(number or "")


def insurer_by_vu(vu_number: str | None) -> Company | None:
    if not vu_number:
        return None
    return db.session.execute(select(Company).where(
        Company.kind == CompanyKind.INSURER, Company.vu_number == vu_number.strip())).scalar()


def contract_index(insurer_id: int) -> dict[str, int]:
    """Normalised policy number -> contract id, for the insurer's contracts
    managed by the pool (a broker firm's own copies are not the pool's)."""
    from app.services.crm import pool_company

    pool = pool_company()
    stmt = select(Contract.policy_number, Contract.id).where(Contract.insurer_id == insurer_id)
    if pool is not None:
        stmt = stmt.where(Contract.managing_company_id == pool.id)
    return {policy_key(number): pk for number, pk in db.session.execute(stmt)}


RECEIPT_CHUNK = 10_000


def get_profile(name: str) -> ImportProfile:
    profile = db.session.execute(select(ImportProfile).where(
        ImportProfile.name == (name or "").strip())).scalar()
    if profile is None:
        raise InvalidValueError("profile", N_("There is no import profile of this name."))
    return profile


def import_receipts(stream, filename: str, profile_name: str, user_id: int | None = None,
                    progress=None) -> tuple[ImportRun, bool]:
    """Commission statement: every line is checked first (any bad line: the
    error names line and field, nothing is written); then each line becomes
    a receipt, booked with the batch service; a line without a matching
    contract becomes a clearance case; a reference the insurer has sent
    before is skipped and reported. (run, False), or (the earlier run, True)
    for a file imported before."""
    from app.domain.receipt_import import Profile, parse_all
    from app.services.ledger import book_receipt_chunks

    stored = get_profile(profile_name)
    profile = Profile.from_dict(json.loads(stored.definition))
    copy, sha256 = spool(stream)
    earlier = already_imported("RECEIPTS", sha256)
    if earlier is not None:
        return earlier, True
    lines = parse_all(copy, profile)
    insurer = stored.insurer or insurer_by_vu(profile.insurer_vu_number)
    if insurer is None:
        raise InvalidValueError("profile", N_(
            "The import profile names no insurer known to the pool."))
    run = ImportRun(kind="RECEIPTS", filename=filename[:200], sha256=sha256,
                    profile_id=stored.id, status="DONE", started_on=datetime.now(),
                    user_id=user_id)
    db.session.add(run)
    db.session.flush()
    run_id = run.id
    index = contract_index(insurer.id)
    rows, cases = [], []
    for line in lines:
        contract_id = index.get(policy_key(line.policy_number))
        if contract_id is None:
            cases.append({"run_id": run.id, "reason": "NO_CONTRACT", "line": line.line,
                          "key": line.policy_number, "status": "OPEN",
                          "detail": json.dumps({
                              "insurer_id": insurer.id, "kind": line.kind,
                              "amount": str(line.amount),
                              "value_date": line.value_date.isoformat(),
                              "reference": line.reference,
                              "customer": line.customer_name})})
            continue
        rows.append({"contract_id": contract_id, "kind": line.kind, "amount": line.amount,
                     "value_date": line.value_date, "reference": line.reference,
                     "source": f"import:{stored.name}"[:40]})
    if progress:
        progress(0, len(rows))
    # in chunks, one transaction: memory stays bounded by the chunk; the
    # hierarchy, rates and reserve are loaded once for all of them
    booked = book_receipt_chunks(
        (rows[start:start + RECEIPT_CHUNK] for start in range(0, len(rows), RECEIPT_CHUNK)),
        commit=False, progress=progress and (lambda done: progress(done, len(rows))))
    run = db.session.get(ImportRun, run_id)
    if cases:
        from sqlalchemy import insert

        db.session.execute(insert(ClearanceCase), cases)
    run.report = json.dumps({
        "lines": len(lines), "receipts": booked["receipts"], "bookings": booked["bookings"],
        "skipped_duplicates": booked["skipped"], "clearance_cases": len(cases),
        "missing_rates": booked["missing_rates"]}, default=str)
    run.finished_on = datetime.now()
    db.session.commit()
    if progress:
        progress(len(rows), len(rows))
    return run, False


def report(run: ImportRun) -> dict:
    return json.loads(run.report or "{}")


# --- GDV ---------------------------------------------------------------------

GDV_CHUNK = 1000


class _GdvContext:
    """What the import looks up once: insurers, lines, products, brokers,
    the contracts and customers already there."""

    def __init__(self):
        from app.models.intermediaries import Intermediary
        from app.models.products import LineOfBusiness, Product
        from app.services.crm import pool_company

        self.pool = pool_company()
        self.insurers = {c.vu_number: c for c in db.session.execute(select(Company).where(
            Company.kind == CompanyKind.INSURER, Company.vu_number.isnot(None))).scalars()}
        self.lines = {code: pk for code, pk in db.session.execute(
            select(LineOfBusiness.code, LineOfBusiness.id))}
        self.products: dict[int, list] = {}
        for p in db.session.execute(select(Product)).scalars():
            self.products.setdefault(p.insurer_id, []).append(p)
        self.brokers = {_register(n): pk for n, pk in db.session.execute(
            select(Intermediary.register_number, Intermediary.id).where(
                Intermediary.register_number.isnot(None)))}
        from app.models.imports import InsurerBrokerNumber

        self.broker_numbers = {(i, n.strip()): pk for i, n, pk in db.session.execute(
            select(InsurerBrokerNumber.insurer_id, InsurerBrokerNumber.number,
                   InsurerBrokerNumber.intermediary_id))}
        self.contracts: dict[int, dict] = {}

    def contracts_of(self, insurer_id: int) -> dict:
        if insurer_id not in self.contracts:
            stmt = select(Contract).where(Contract.insurer_id == insurer_id)
            if self.pool is not None:
                stmt = stmt.where(Contract.managing_company_id == self.pool.id)
            self.contracts[insurer_id] = {
                policy_key(c.policy_number): c.id for c in db.session.execute(stmt).scalars()}
        return self.contracts[insurer_id]

    def product_for(self, insurer_id: int, line_code: str, name: str | None):
        candidates = self.products.get(insurer_id, [])
        wanted = (name or "").strip().lower()
        if wanted:
            for p in candidates:
                if wanted in ((p.key or "").lower(), (p.name or "").lower()):
                    return p
        line_id = self.lines.get(line_code)
        in_line = [p for p in candidates if p.line_of_business_id == line_id]
        return in_line[0] if len(in_line) == 1 else None

    def broker_for(self, insurer_id: int, record, key) -> int | None:
        register = _register(getattr(record, "broker_register_number", None))
        if register and register in self.brokers:
            return self.brokers[register]
        return self.broker_numbers.get((insurer_id, (key.broker_number or "").strip()))


def bulk_insert(model, rows: list[dict], want_ids: bool = False) -> list[int]:
    """Insert many rows fast, inside the session's transaction; their ids in
    order if wanted. Straight to the driver, past SQLAlchemy's per-row
    parameter processing (which costs more than the insert itself):
    PostgreSQL takes the rows by COPY, the ids from the table's sequence;
    SQLite by executemany, the ids following the table's largest (SQLite
    gives a new row the largest rowid + 1, and this transaction holds the
    only write lock). Python-side column defaults are filled in as
    SQLAlchemy would. Rows must all have the same keys."""
    from sqlalchemy import text

    if not rows:
        return []
    table = model.__table__.name
    postgres = db.engine.dialect.name == "postgresql"
    ids = []
    if want_ids and postgres:
        ids = db.session.execute(text(
            "SELECT nextval(pg_get_serial_sequence(:t, 'id')) FROM generate_series(1, :n)"),
            {"t": table, "n": len(rows)}).scalars().all()
        rows = [{**row, "id": pk} for row, pk in zip(rows, ids, strict=True)]
    defaults = {}
    for column in model.__table__.columns:
        default = column.default
        if column.name in rows[0] or column.name == "id" or default is None:
            continue
        # the Python-side defaults SQLAlchemy would have filled in
        defaults[column.name] = default.arg if default.is_scalar else (
            default.arg(None) if default.is_callable else None)
    if defaults:
        rows = [{**defaults, **row} for row in rows]
    columns = list(rows[0])
    enums = [c for c in columns if isinstance(rows[0][c], Enum)]
    if enums:
        rows = [{**row, **{c: _plain(row[c]) for c in enums}} for row in rows]
    values = itemgetter(*columns) if len(columns) > 1 else (lambda row: (row[columns[0]],))
    made = insert_tuples(table, columns, map(values, rows), len(rows))
    return ids or (made if want_ids else [])


def insert_tuples(table: str, columns, tuples, count: int) -> list[int]:
    """The driver-level insert behind bulk_insert, for callers that have their
    rows as tuples already (a month's bookings: no dict per row). Values must
    be plain (no enums); ids are not given. On SQLite returns the new rows'
    ids (see bulk_insert), on PostgreSQL nothing."""
    cursor = db.session.connection().connection.driver_connection.cursor()
    if db.engine.dialect.name == "postgresql":
        with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in tuples:
                copy.write_row(row)
        return []
    _sqlite_adapters()
    cursor.executemany(
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
        tuples)
    last = cursor.execute(f"SELECT max(id) FROM {table}").fetchone()[0]
    return list(range(last - count + 1, last + 1)) if count else []


def _plain(value):
    return getattr(value, "value", value)


def _sqlite_adapters() -> None:
    """Values as SQLAlchemy's SQLite types store them, converted by the
    driver: Decimal as a float (SQLAlchemy binds Numeric so on SQLite, and
    reads it back rounded to the column's scale; text would cost a
    conversion by the NUMERIC affinity per value), datetimes as its ISO
    text; dates are ISO text by the driver's default."""
    sqlite3.register_adapter(Decimal, float)
    sqlite3.register_adapter(datetime, lambda v: v.strftime("%Y-%m-%d %H:%M:%S.%f"))


def _register(value: str | None) -> str:
    return "".join(ch for ch in (value or "") if ch.isalnum()).upper()


def _customer_fields(partner, company_id, intermediary_id) -> dict:
    first = (partner.name3 or partner.name2 or "").strip() or None
    return {"name": (partner.name1 or "").strip()[:200] or "?", "first_name": first and first[:100],
            "birth_date": partner.birth_date, "street": (partner.street or None),
            "postcode": (partner.postcode or None), "city": (partner.city or None),
            "country": "DE" if (partner.country or "D") in ("D", "DE", "") else
            partner.country[:2], "company_id": company_id, "intermediary_id": intermediary_id}


def _contract_fields(data, record, insurer_id, product, customer_id, intermediary_id,
                     pool_id) -> dict:
    from app.domain.liability import full_months_between

    start = record.start_date
    term = None
    if start and record.end_date and record.end_date > start:
        term = max(1, full_months_between(start, record.end_date))
    status = "CANCELLED" if record.status == "CANCELLED" else "ACTIVE"
    return {"policy_number": data.key.policy_number.strip()[:40], "insurer_id": insurer_id,
            "customer_id": customer_id, "product_id": product.id,
            "line_of_business_id": product.line_of_business_id,
            "intermediary_id": intermediary_id, "start_date": start, "term_months": term,
            "payment_frequency": record.payment_frequency or "MONTHLY",
            "premium": record.net_premium, "premium_supplementary": 0,
            "status": status,
            "cancelled_on": record.exit_date if status == "CANCELLED" else None,
            "policed_on": record.policed_date or start, "managing_company_id": pool_id}


UPDATABLE = ("start_date", "term_months", "payment_frequency", "premium", "status",
             "cancelled_on")


def import_gdv(stream, filename: str, user_id: int | None = None,
               progress=None) -> tuple[ImportRun, bool]:
    """A GDV file in one transaction: contracts matched by insurer and
    normalised policy number are updated, new ones created with their
    policyholder; unknown insurers, products and brokers become clearance
    cases; the raw lines stay linked to their contract. A malformed line or
    a trailer that does not match: nothing is written, the error names line
    and field. The same file again: nothing changes."""
    copy, sha256 = spool(stream)
    earlier = already_imported("GDV", sha256)
    if earlier is not None:
        return earlier, True
    size = max(1, copy.seek(0, 2) // 1024)
    copy.seek(0)
    try:
        return _import_gdv(copy, filename, sha256, size, user_id, progress), False
    except BaseException:
        db.session.rollback()
        raise


def _import_gdv(copy, filename, sha256, size, user_id, progress) -> ImportRun:
    from sqlalchemy import insert, update

    from app.domain.gdv import GdvSummary, iter_contracts
    from app.models.crm import Customer
    from app.models.imports import GdvRaw

    ctx = _GdvContext()
    if ctx.pool is None:
        raise InvalidValueError("file", N_("Set up the pool company before importing."))
    now = datetime.now()
    run = ImportRun(kind="GDV", filename=filename[:200], sha256=sha256, status="DONE",
                    started_on=now, user_id=user_id)
    db.session.add(run)
    db.session.flush()
    counts = {"contracts": 0, "created": 0, "updated": 0, "unchanged": 0,
              "customers_created": 0, "cases": {}}
    summary = GdvSummary()
    batch: list = []

    def case(reason, key, line, detail=None, contract_id=None):
        cases.append({"run_id": run.id, "reason": reason, "key": str(key)[:100], "line": line,
                      "detail": detail, "contract_id": contract_id, "status": "OPEN"})
        counts["cases"][reason] = counts["cases"].get(reason, 0) + 1

    cases: list[dict] = []

    def flush(batch):
        new_customers, new_contracts, raws, changes = [], [], [], []
        for data, insurer, product, broker in batch:
            record, known = data.contract, ctx.contracts_of(insurer.id)
            existing = known.get(data.policy_number)
            if existing is not None:
                changes.append((existing, data, record))
                raws.append((existing, data))
                continue
            partner = data.partner
            new_customers.append(_customer_fields(partner, ctx.pool.id, broker) if partner
                                 else {"name": "?", "company_id": ctx.pool.id,
                                       "intermediary_id": broker})
            new_contracts.append((data, record, insurer, product, broker))
        ids = []
        if new_customers:
            stamp = {"created_on": now, "changed_on": now, "created_by_fk": user_id,
                     "changed_by_fk": user_id}
            ids = bulk_insert(Customer, [{**c, **stamp} for c in new_customers], True)
            counts["customers_created"] += len(ids)
            rows = [{**_contract_fields(data, record, insurer.id, product, cid, broker,
                                        ctx.pool.id), **stamp}
                    for (data, record, insurer, product, broker), cid
                    in zip(new_contracts, ids, strict=True)]
            made = bulk_insert(Contract, rows, True)
            for (data, _, insurer, _, _), pk in zip(new_contracts, made, strict=True):
                ctx.contracts_of(insurer.id)[data.policy_number] = pk
                raws.append((pk, data))
            counts["created"] += len(made)
        for pk, data, record in changes:
            current = db.session.get(Contract, pk)
            wanted = _contract_fields(data, record, current.insurer_id, current.product,
                                      current.customer_id, current.intermediary_id,
                                      current.managing_company_id)
            diff = {f: wanted[f] for f in UPDATABLE
                    if wanted[f] is not None and _value(getattr(current, f)) != wanted[f]}
            if diff:
                db.session.execute(update(Contract).where(Contract.id == pk).values(
                    **diff, changed_on=now, changed_by_fk=user_id))
                counts["updated"] += 1
            else:
                counts["unchanged"] += 1
        if raws:
            bulk_insert(GdvRaw, [
                {"run_id": run.id, "contract_id": pk, "line_from": d.first_line,
                 "line_to": d.last_line, "raw": "\n".join(text for _, text in d.raw_lines)}
                for pk, d in raws])

    for data in iter_contracts(copy, summary):
        if data.contract is None:
            continue                         # collections or partners only
        counts["contracts"] += 1
        key = data.key
        insurer = ctx.insurers.get(key.vu_number)
        if insurer is None:
            case("UNKNOWN_INSURER", key.vu_number, data.first_line,
                 f"{key.policy_number}")
            continue
        product = ctx.product_for(insurer.id, key.line_of_business, data.contract.product_name)
        if product is None:
            case("UNKNOWN_PRODUCT", f"{key.vu_number}/{key.line_of_business}/"
                 f"{data.contract.product_name or ''}", data.first_line, key.policy_number)
            continue
        broker = ctx.broker_for(insurer.id, data.contract, key)
        if broker is None:
            case("UNKNOWN_BROKER", data.contract.broker_register_number or key.broker_number,
                 data.first_line, key.policy_number)
        batch.append((data, insurer, product, broker))
        if len(batch) >= GDV_CHUNK:
            flush(batch)
            batch = []
            if progress:
                progress(min(size, copy.tell() // 1024), size)
    flush(batch)
    if cases:
        db.session.execute(insert(ClearanceCase), cases)
    run.report = json.dumps({
        "lines": summary.line_count, "records": summary.counts, **counts,
        "warnings": [w.text for w in summary.warnings][:50]}, default=str)
    run.finished_on = datetime.now()
    db.session.commit()
    if progress:
        progress(size, size)
    return run


def _value(v):
    return getattr(v, "value", v)
