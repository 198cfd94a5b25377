"""What a settlement run produces: credit notes (PDF), the payout file (SEPA
pain.001) and the accounting export with every line explained."""
from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from datetime import date, datetime
from decimal import Decimal

from flask_babel import force_locale, gettext
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.domain.errors import N_, InvalidValueError
from app.domain.settlement import parse_period
from app.extensions import db
from app.models.contracts import Contract
from app.models.crm import Company, CompanyKind, Customer
from app.models.intermediaries import Intermediary
from app.models.ledger import (
    Booking,
    Receipt,
    RunStatus,
    SettlementRun,
    Statement,
    StatementPdf,
    StatementStatus,
)
from app.models.products import Product

#: booking kinds as the credit note names them (msgids; German in the PDF)
KIND_NAMES = {
    "AP": N_("Acquisition"),
    "AP_ZV": N_("Acquisition (suppl.)"),
    "FP": N_("Renewal"),
    "OVERRIDE": N_("Override"),
    "STORNO": N_("Charge-back"),
    "RESERVE_RETAIN": N_("Reserve retained"),
    "RESERVE_RELEASE": N_("Reserve released"),
    "FIXUM": N_("Fixum"),
    "CORRECTION": N_("Correction"),
}

#: the columns of the export, in order
EXPORT_COLUMNS = [
    "statement", "statement_number", "period", "intermediary", "intermediary_name",
    "booking", "booking_date", "kind", "amount", "policy_number", "customer", "product",
    "receipt", "receipt_kind", "receipt_reference", "receipt_value_date", "basis", "rate",
    "level", "rule", "reverses", "origin",
]


def _value(v):
    return getattr(v, "value", v)


def explained_lines(run_id: int) -> list[dict]:
    """Every booking the run settled, with where it came from: the receipt,
    the rule, the rate and basis, the hierarchy level."""
    rows = db.session.execute(
        select(Statement.id, Statement.number, Statement.period, Intermediary.id,
               Intermediary.name, Booking, Contract.policy_number, Customer.name,
               Customer.first_name, Product.name, Receipt.reference, Receipt.value_date,
               Receipt.kind)
        .join(Booking, Booking.statement_id == Statement.id)
        .join(Intermediary, Intermediary.id == Statement.intermediary_id)
        .outerjoin(Contract, Contract.id == Booking.contract_id)
        .outerjoin(Customer, Customer.id == Contract.customer_id)
        .outerjoin(Product, Product.id == Contract.product_id)
        .outerjoin(Receipt, Receipt.id == Booking.receipt_id)
        .where(Statement.run_id == run_id)
        .order_by(Statement.id, Booking.booking_date, Booking.id)).all()
    lines = []
    for (sid, number, period, pid, pname, b, policy, cname, cfirst, product, reference,
         value_date, receipt_kind) in rows:
        lines.append({
            "statement": sid, "statement_number": number, "period": period,
            "intermediary": pid, "intermediary_name": pname, "booking": b.id,
            "booking_date": b.booking_date, "kind": _value(b.kind), "amount": b.amount,
            "policy_number": policy,
            "customer": f"{cname}, {cfirst}" if cfirst else cname,
            "product": product, "receipt": b.receipt_id,
            "receipt_kind": b.receipt_kind or _value(receipt_kind),
            "receipt_reference": reference, "receipt_value_date": value_date,
            "basis": b.basis, "rate": b.rate, "level": b.level_rank, "rule": b.rule,
            "reverses": b.reverses_id, "origin": b.origin_id})
    return lines


def _plain(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value


def export_run(run: SettlementRun, fmt: str) -> tuple[bytes, str, str]:
    """(content, mimetype, file name) of the run's lines as csv, json or xlsx."""
    lines = explained_lines(run.id)
    name = f"abrechnung-{run.period}-lauf-{run.id}"
    if fmt == "json":
        body = json.dumps({"run": run.id, "period": run.period, "status": run.status,
                           "lines": [{k: _plain(v) for k, v in line.items()}
                                     for line in lines]}, ensure_ascii=False, indent=1)
        return body.encode(), "application/json", f"{name}.json"
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, delimiter=";")
        writer.writerow(EXPORT_COLUMNS)
        for line in lines:
            writer.writerow(["" if line[c] is None else _plain(line[c]) for c in EXPORT_COLUMNS])
        return out.getvalue().encode("utf-8-sig"), "text/csv", f"{name}.csv"
    if fmt == "xlsx":
        return _xlsx(run, lines), ("application/vnd.openxmlformats-officedocument."
                                   "spreadsheetml.sheet"), f"{name}.xlsx"
    raise InvalidValueError("format", N_("Choose csv, json or xlsx."))


def _xlsx(run: SettlementRun, lines: list[dict]) -> bytes:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet(run.period)
    sheet.append(EXPORT_COLUMNS)
    money, rate = "#,##0.00", "0.0000"
    for line in lines:
        row = []
        for column in EXPORT_COLUMNS:
            value = line[column]
            if isinstance(value, Decimal):
                # openpyxl keeps Decimal exact in the XML; the format shows cents.
                from openpyxl.cell import WriteOnlyCell

                cell = WriteOnlyCell(sheet, value=value)
                cell.number_format = rate if column == "rate" else money
                value = cell
            row.append(value)
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# --- credit notes ---------------------------------------------------------

def pool_company() -> Company | None:
    return db.session.execute(select(Company).where(Company.kind == CompanyKind.POOL)
                              .order_by(Company.id).limit(1)).scalar()


def _party(obj, tax_number=None, iban=None):
    from app.services.statement_pdf import Party

    return Party(name=obj.name, street=obj.street or "", postcode=obj.postcode or "",
                 city=obj.city or "", tax_number=tax_number, iban=iban)


def statement_document(statement: Statement):
    """The plain data a credit note is rendered from."""
    from app.services.statement_pdf import StatementDocument, StatementLine, title_for

    pool = pool_company()
    person = statement.intermediary
    _, last = parse_period(statement.period)
    lines = []
    with force_locale("de"):
        kinds = {}
        # Its bookings by the intermediary's index (intermediary, date): booking.statement_id
        # has none, so that settling a booking stays a HOT update on PostgreSQL (0014).
        # Plain columns, no Booking object per line (the top of a large hierarchy
        # has 50,000 a month).
        for (kind, booking_date, basis, rate, amount, level, reason, policy, cname, cfirst,
             product) in db.session.execute(
                select(Booking.kind, Booking.booking_date, Booking.basis, Booking.rate,
                       Booking.amount, Booking.level_rank, Booking.reason,
                       Contract.policy_number, Customer.name, Customer.first_name,
                       Product.name)
                .outerjoin(Contract, Contract.id == Booking.contract_id)
                .outerjoin(Customer, Customer.id == Contract.customer_id)
                .outerjoin(Product, Product.id == Contract.product_id)
                .where(Booking.intermediary_id == statement.intermediary_id,
                       Booking.booking_date <= last,
                       Booking.statement_id == statement.id)
                .order_by(Booking.booking_date, Booking.id)):
            kind = _value(kind)
            if kind not in kinds:
                kinds[kind] = gettext(KIND_NAMES.get(kind, kind))
            lines.append(StatementLine(
                booking_date=booking_date, policy_number=policy or "",
                customer=(f"{cname}, {cfirst}" if cfirst else cname) or "",
                product=product or "", kind=kinds[kind],
                basis=basis, rate=rate, amount=amount,
                level=level if kind == "OVERRIDE" else None,
                text=reason or ""))
    return StatementDocument(
        title=title_for(False), number=statement.number, issue_date=statement.created_on,
        period=statement.period,
        issuer=_party(pool, pool.tax_number, pool.iban) if pool else _party(person),
        recipient=_party(person, person.tax_number, person.iban), lines=lines,
        opening_balance=statement.opening_balance, total=statement.total,
        payout=statement.payout, carry_forward=statement.carry_forward,
        reserve_balance=statement.reserve_balance)


def statement_pdf(statement: Statement) -> bytes:
    """The issued credit note: rendered once, stored with its SHA-256, then
    always served from storage (never made again in place)."""
    if statement.status != StatementStatus.FINAL.value:
        raise InvalidValueError("statement", N_(
            "This statement awaits its release; it has no credit note yet."))
    stored = db.session.execute(select(StatementPdf.pdf).where(
        StatementPdf.statement_id == statement.id)).scalar()
    if stored is not None:
        return stored
    from app.services.statement_pdf import render_statement_pdf

    pdf = render_statement_pdf(statement_document(statement))
    db.session.add(StatementPdf(statement_id=statement.id, pdf=pdf,
                                sha256=hashlib.sha256(pdf).hexdigest(),
                                created_on=datetime.now()))
    try:
        db.session.commit()
    except IntegrityError:       # another request stored it first: serve that one
        db.session.rollback()
        return db.session.execute(select(StatementPdf.pdf).where(
            StatementPdf.statement_id == statement.id)).scalar_one()
    return pdf


def run_statements(run: SettlementRun) -> list[Statement]:
    return db.session.execute(select(Statement).where(Statement.run_id == run.id)
                              .order_by(Statement.id)).scalars().all()


def render_run(run: SettlementRun, progress=None, workers: int = 1) -> int:
    """Render and store the credit notes of a run not yet stored; the count.
    xhtml2pdf renders one document at a time per process (about 1.3 s for
    100 lines), so a large run is rendered by several processes."""
    stored = set(db.session.execute(select(StatementPdf.statement_id).join(
        Statement, Statement.id == StatementPdf.statement_id).where(
        Statement.run_id == run.id)).scalars())
    todo = [pk for pk in db.session.execute(select(Statement.id).where(
        Statement.run_id == run.id).order_by(Statement.id)).scalars() if pk not in stored]
    if workers > 1 and len(todo) > 1:
        return _render_in_processes(todo, progress, workers)
    for done, pk in enumerate(todo, 1):
        statement_pdf(db.session.get(Statement, pk))
        if progress:
            progress(done, len(todo))
    return len(todo)


_worker_app = None


def _start_worker(config_uri: str) -> None:
    global _worker_app
    from app import create_app
    from config import Config

    _worker_app = create_app(type("WorkerConfig", (Config,), {
        "SQLALCHEMY_DATABASE_URI": config_uri}))


def _render_ids(ids: list[int]) -> int:
    with _worker_app.app_context():
        for pk in ids:
            statement_pdf(db.session.get(Statement, pk))
        db.session.remove()
    return len(ids)


def _render_in_processes(todo: list[int], progress, workers: int) -> int:
    import multiprocessing

    from flask import current_app

    uri = current_app.config["SQLALCHEMY_DATABASE_URI"]
    db.session.remove()
    chunks = [todo[i:i + 10] for i in range(0, len(todo), 10)]
    done = 0
    with multiprocessing.get_context("spawn").Pool(
            workers, initializer=_start_worker, initargs=(uri,)) as pool:
        for count in pool.imap_unordered(_render_ids, chunks):
            done += count
            if progress:
                progress(done, len(todo))
    return done


def run_pdfs_zip(run: SettlementRun) -> bytes:
    _released(run)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for statement in run_statements(run):
            archive.writestr(f"Gutschrift-{statement.number}.pdf", statement_pdf(statement))
    return out.getvalue()


def _released(run: SettlementRun) -> None:
    if run.status != RunStatus.RELEASED.value:
        raise InvalidValueError("run", N_("This settlement run awaits its release."))


# --- payout file ----------------------------------------------------------

def payout_file(run: SettlementRun) -> tuple[bytes, list]:
    """The run's SEPA credit transfer file (made once, then stored) and the
    payouts held back (no or an invalid IBAN)."""
    from app.services.payout import Held, Payout, build_credit_transfer

    _released(run)
    if run.sepa_xml is not None:
        return run.sepa_xml, [Held(**{**h, "amount": Decimal(h["amount"])})
                             for h in json.loads(run.sepa_held or "[]")]
    pool = pool_company()
    if pool is None or not pool.iban:
        raise InvalidValueError("iban", N_(
            "Enter the pool's IBAN (company of kind pool) to make payout files."))
    payouts = [Payout(statement_id=s.id, number=s.number, name=p.name, iban=p.iban,
                      bic=p.bic, amount=s.payout)
               for s, p in db.session.execute(
                   select(Statement, Intermediary).join(
                       Intermediary, Intermediary.id == Statement.intermediary_id)
                   .where(Statement.run_id == run.id, Statement.payout > 0)
                   .order_by(Statement.id))]
    xml, held = build_credit_transfer(
        pool.name, pool.iban, pool.bic, payouts, execution_date=date.today(),
        message_id=f"VP-{run.period}-{run.id}")
    if not xml:
        raise InvalidValueError("iban", N_(
            "No payout of this run can be transferred: every payee lacks a valid IBAN."))
    run.sepa_xml = xml
    run.sepa_sha256 = hashlib.sha256(xml).hexdigest()
    run.sepa_held = json.dumps([{k: _plain(v) for k, v in h.__dict__.items()} for h in held])
    db.session.commit()
    return xml, held
