"""Data protection (DSGVO): a customer's data export (Art. 15/20), restriction
of processing (Art. 18) and anonymisation once the retention has ended
(Art. 17 with § 147 AO / § 257 HGB). docs/data-protection.md explains them.

Each use case is one transaction; the anonymisation one per customer (a run
that stops half way has anonymised whole customers only, and is simply run
again). Bookings and receipts are never touched.
"""
from __future__ import annotations

import csv
import enum
import io
import json
import logging
import re
import zipfile
from collections import defaultdict
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal

from flask import current_app
from sqlalchemy import exists, func, or_, select

from app.domain import retention
from app.domain.errors import N_, InvalidValueError, RequiredFieldError
from app.extensions import db
from app.models.audit import ChangeLog
from app.models.contracts import Application, Contract, ContractStatus
from app.models.crm import Customer
from app.models.documents import Document
from app.models.ledger import Booking, Receipt
from app.models.messages import Message, MessageThread
from app.models.mixins import _now, _user_id
from app.security.scope import scope_condition
from app.services.documents import document_path

log = logging.getLogger(__name__)

#: what replaces a name (the other personal fields become empty)
ANONYMISED = "anonymisiert"
PERSONAL_FIELDS = ("first_name", "birth_date", "street", "postcode", "city", "country",
                   "email", "phone", "restriction_reason")
REASON_MAX = 500
CHUNK = 500

Progress = Callable[[str, int, int], None]


# --- reading with the caller's scope ------------------------------------------------

def _visible(stmt, model):
    """`stmt` limited to what the caller may see, restricted customers included
    (the export and the restricted customers' screen are allowed them)."""
    condition = scope_condition(model, include_restricted=True)
    return stmt if condition is None else stmt.where(condition)


def visible_customer(pk, restricted: bool | None = None) -> Customer | None:
    """A customer in the caller's company scope, restricted ones included;
    `restricted` True/False: only a restricted / an unrestricted one."""
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        return None
    if not 0 < pk <= 2**31 - 1:
        return None
    stmt = _visible(select(Customer).where(Customer.id == pk), Customer)
    if restricted is True:
        stmt = stmt.where(Customer.restricted_on.isnot(None))
    elif restricted is False:
        stmt = stmt.where(Customer.restricted_on.is_(None))
    return db.session.execute(stmt).scalar()


def restricted_customers_select():
    """SELECT of the restricted customers in the caller's scope, latest first."""
    return _visible(select(Customer).where(Customer.restricted_on.isnot(None)), Customer) \
        .order_by(Customer.restricted_on.desc(), Customer.id.desc())


# --- export (Art. 15 and 20) -------------------------------------------------------------

CUSTOMER_FIELDS = ("id", "name", "first_name", "birth_date", "street", "postcode", "city",
                   "country", "email", "phone", "company", "advisor", "login", "created_on",
                   "changed_on", "restricted_on", "restriction_reason", "anonymised_on")
CONTRACT_FIELDS = ("id", "policy_number", "insurer", "product", "line_of_business",
                   "intermediary", "combination", "start_date", "term_months",
                   "payment_frequency", "premium", "premium_supplementary", "valuation_sum",
                   "status", "policed_on", "cancelled_on", "managing_company", "created_on",
                   "changed_on")
APPLICATION_FIELDS = ("id", "product", "intermediary", "combination", "premium", "start_date",
                      "term_months", "status", "contract_id", "created_on", "changed_on")
DOCUMENT_FIELDS = ("id", "belongs_to", "filename", "content_type", "size", "sha256",
                   "description", "released_to_customer", "created_on", "file_in_export")
MESSAGE_FIELDS = ("thread_id", "subject", "contract_id", "application_id", "message_id",
                  "from_pool", "created_on", "body")
HISTORY_FIELDS = ("id", "table", "row_id", "action", "changed_on", "user", "changes")
KINDS = {"customer": CUSTOMER_FIELDS, "contracts": CONTRACT_FIELDS,
         "applications": APPLICATION_FIELDS, "documents": DOCUMENT_FIELDS,
         "messages": MESSAGE_FIELDS, "change_history": HISTORY_FIELDS}


def _plain(value):
    """A JSON/CSV value: amounts as decimal strings, dates ISO, enums by name."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (dict, list)):
        return value
    return str(value)


def _name(obj):
    return None if obj is None else (getattr(obj, "name", None) or str(obj))


def _row(fields, values: dict) -> dict:
    return {f: _plain(values.get(f)) for f in fields}


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name or "datei").strip("._") or "datei"


def export_data(customer: Customer) -> tuple[dict, list[tuple[Document, str]]]:
    """All personal data of the customer the caller may see: {kind: [row]}
    (KINDS), and the documents whose files go into the export with their
    names there."""
    c = customer
    data: dict[str, list[dict]] = {kind: [] for kind in KINDS}
    data["customer"].append(_row(CUSTOMER_FIELDS, {
        **{f: getattr(c, f) for f in CUSTOMER_FIELDS if hasattr(Customer, f)},
        "company": _name(c.company), "advisor": _name(c.intermediary),
        "login": c.user.username if c.user is not None else None}))
    contracts = db.session.execute(_visible(select(Contract).where(
        Contract.customer_id == c.id), Contract).order_by(Contract.id)).scalars().all()
    for k in contracts:
        data["contracts"].append(_row(CONTRACT_FIELDS, {
            **{f: getattr(k, f) for f in CONTRACT_FIELDS if hasattr(Contract, f)},
            "insurer": _name(k.insurer), "product": _name(k.product),
            "line_of_business": _name(k.line_of_business),
            "intermediary": _name(k.intermediary), "combination": _name(k.combination),
            "managing_company": _name(k.managing_company)}))
    applications = db.session.execute(_visible(select(Application).where(
        Application.customer_id == c.id), Application).order_by(Application.id)).scalars().all()
    for a in applications:
        data["applications"].append(_row(APPLICATION_FIELDS, {
            **{f: getattr(a, f) for f in APPLICATION_FIELDS if hasattr(Application, f)},
            "product": _name(a.product), "intermediary": _name(a.intermediary),
            "combination": _name(a.combination)}))
    contract_ids = [k.id for k in contracts]
    application_ids = [a.id for a in applications]
    owners = [Document.customer_id == c.id]
    if contract_ids:
        owners.append(Document.contract_id.in_(contract_ids))
    if application_ids:
        owners.append(Document.application_id.in_(application_ids))
    documents = db.session.execute(_visible(select(Document).where(or_(*owners)), Document)
                                   .order_by(Document.id)).scalars().all()
    files = []
    for d in documents:
        arcname = None
        if document_path(d).is_file():
            arcname = f"documents/{d.id}_{_safe_name(d.filename)}"
            files.append((d, arcname))
        owner = d.owner_name
        data["documents"].append(_row(DOCUMENT_FIELDS, {
            **{f: getattr(d, f) for f in DOCUMENT_FIELDS if hasattr(Document, f)},
            "belongs_to": f"{owner}:{getattr(d, f'{owner}_id')}" if owner else None,
            "file_in_export": arcname}))
    about = []
    if contract_ids:
        about.append(MessageThread.contract_id.in_(contract_ids))
    if application_ids:
        about.append(MessageThread.application_id.in_(application_ids))
    if about:
        threads = db.session.execute(_visible(select(MessageThread).where(or_(*about)),
                                              MessageThread)
                                     .order_by(MessageThread.id)).scalars().all()
        messages = defaultdict(list)
        if threads:
            for m in db.session.execute(select(Message).where(Message.thread_id.in_(
                    [t.id for t in threads])).order_by(Message.id)).scalars():
                messages[m.thread_id].append(m)
        for t in threads:
            for m in messages[t.id] or [None]:
                data["messages"].append(_row(MESSAGE_FIELDS, {
                    "thread_id": t.id, "subject": t.subject, "contract_id": t.contract_id,
                    "application_id": t.application_id,
                    "message_id": m.id if m else None, "from_pool": m.from_pool if m else None,
                    "created_on": m.created_on if m else t.created_on,
                    "body": m.body if m else None}))
    rows = [ChangeLog.table_name == "customer", ChangeLog.row_id == c.id]
    history = [select(ChangeLog).where(*rows)]
    if contract_ids:
        history.append(select(ChangeLog).where(ChangeLog.table_name == "contract",
                                               ChangeLog.row_id.in_(contract_ids)))
    if application_ids:
        history.append(select(ChangeLog).where(ChangeLog.table_name == "application",
                                               ChangeLog.row_id.in_(application_ids)))
    entries = [e for stmt in history for e in db.session.execute(stmt).scalars()]
    for e in sorted(entries, key=lambda e: (e.changed_on, e.id)):
        data["change_history"].append(_row(HISTORY_FIELDS, {
            "id": e.id, "table": e.table_name, "row_id": e.row_id, "action": e.action,
            "changed_on": e.changed_on, "user": e.user.username if e.user else None,
            "changes": e.changes}))
    return data, files


def _csv(fields, rows) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow(fields)
    for row in rows:
        writer.writerow(["" if row[f] is None else (
            json.dumps(row[f], ensure_ascii=False) if isinstance(row[f], (dict, list))
            else row[f]) for f in fields])
    return out.getvalue().encode("utf-8-sig")       # Excel reads the umlauts


def write_export(customer: Customer, stream) -> dict:
    """The export as one ZIP into `stream`: export.json (everything), one CSV
    per kind of record, the documents' files under documents/. Answers the
    number of rows per kind and of files."""
    data, files = export_data(customer)
    document = {"format": "vermittlerpool-datenauskunft-1",
                "exported_on": _plain(_now().replace(microsecond=0)), **data}
    with zipfile.ZipFile(stream, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("export.json", json.dumps(document, ensure_ascii=False, indent=2))
        for kind, fields in KINDS.items():
            zf.writestr(f"{kind}.csv", _csv(fields, data[kind]))
        for doc, arcname in files:
            zf.write(document_path(doc), arcname)
    counts = {kind: len(rows) for kind, rows in data.items()}
    counts["files"] = len(files)
    log.info("export of customer %s: %s", customer.id, counts)
    return counts


def export_filename(customer: Customer) -> str:
    return f"datenauskunft-kunde-{customer.id}-{date.today():%Y-%m-%d}.zip"


# --- restriction (Art. 18) ---------------------------------------------------------------

def restrict_customer(customer: Customer, reason) -> Customer:
    """Restrict the processing of the customer's data; one commit."""
    reason = (reason if isinstance(reason, str) else "").strip()
    if not reason:
        raise RequiredFieldError("reason")
    if len(reason) > REASON_MAX:
        raise InvalidValueError("reason", N_("At most %(max)d characters."), max=REASON_MAX)
    if customer.restricted_on is not None:
        raise InvalidValueError("reason", N_(
            "The processing of this customer's data is already restricted."))
    customer.restricted_on = _now()
    customer.restricted_by_fk = _user_id()
    customer.restriction_reason = reason
    db.session.commit()
    log.info("customer %s restricted", customer.id)
    return customer


def lift_restriction(customer: Customer) -> Customer:
    """Lift the restriction: the customer is shown again; one commit."""
    if customer.restricted_on is None:
        raise InvalidValueError("customer", N_(
            "The processing of this customer's data is not restricted."))
    customer.restricted_on = None
    customer.restricted_by_fk = None
    customer.restriction_reason = None
    db.session.commit()
    log.info("restriction of customer %s lifted", customer.id)
    return customer


# --- anonymisation once the retention has ended ----------------------------------------

def retention_periods() -> retention.Periods:
    cfg = current_app.config
    return retention.periods(cfg.get("POOL_RETENTION_BOOKINGS_YEARS", 10),
                             cfg.get("POOL_RETENTION_VOUCHERS_YEARS", 8),
                             cfg.get("POOL_RETENTION_CUSTOMER_YEARS", 10))


def _day(value):
    return value.date() if isinstance(value, datetime) else value


def customer_records(ids: list[int]) -> dict[int, retention.CustomerRecords]:
    """The dates retention counts from, for these customers (a few queries)."""
    created = dict(db.session.execute(select(Customer.id, Customer.created_on).where(
        Customer.id.in_(ids))).all())
    contracts = defaultdict(list)
    for cid, status, start, term, cancelled, changed in db.session.execute(select(
            Contract.customer_id, Contract.status, Contract.start_date, Contract.term_months,
            Contract.cancelled_on, Contract.changed_on).where(Contract.customer_id.in_(ids))):
        contracts[cid].append(retention.ContractTerm(
            getattr(status, "value", status), start, term, cancelled, _day(changed)))

    def latest(column, model):
        """The latest `column` of `model` rows of the customers' contracts."""
        return {cid: _day(day) for cid, day in db.session.execute(
            select(Contract.customer_id, func.max(column))
            .join(model, model.contract_id == Contract.id)
            .where(Contract.customer_id.in_(ids)).group_by(Contract.customer_id))}

    applications = {cid: _day(day) for cid, day in db.session.execute(
        select(Application.customer_id, func.max(Application.changed_on))
        .where(Application.customer_id.in_(ids)).group_by(Application.customer_id))}
    bookings = latest(Booking.booking_date, Booking)
    receipts = latest(Receipt.value_date, Receipt)
    uploads = latest(Document.created_on, Document)
    out = {}
    for cid in ids:
        vouchers = [d for d in (receipts.get(cid), uploads.get(cid)) if d is not None]
        out[cid] = retention.CustomerRecords(
            created_on=_day(created[cid]), contracts=tuple(contracts[cid]),
            last_application=applications.get(cid), last_booking=bookings.get(cid),
            last_voucher=max(vouchers) if vouchers else None)
    return out


def due_customers(today: date, periods: retention.Periods,
                  progress: Progress | None = None) -> tuple[list[int], int, int]:
    """(ids of the customers whose retention has ended, how many were checked,
    how many restricted ones were left alone). Never: anonymised ones, and
    restricted ones (a restriction may be there to keep the data, Art. 18(1)(c))."""
    running = exists().where(Contract.customer_id == Customer.id,
                             Contract.status == ContractStatus.ACTIVE)
    candidates = db.session.execute(select(Customer.id).where(
        Customer.anonymised_on.is_(None), Customer.restricted_on.is_(None), ~running)
        .order_by(Customer.id)).scalars().all()
    restricted = db.session.execute(select(func.count()).select_from(Customer).where(
        Customer.anonymised_on.is_(None), Customer.restricted_on.isnot(None))).scalar()
    due = []
    for start in range(0, len(candidates), CHUNK):
        chunk = candidates[start:start + CHUNK]
        for cid, records in customer_records(chunk).items():
            if retention.may_anonymise(records, periods, today):
                due.append(cid)
        if progress:
            progress("checked", start + len(chunk), len(candidates))
    return sorted(due), len(candidates), restricted


def _owned_documents(customer_id: int):
    return select(Document).where(or_(
        Document.customer_id == customer_id,
        Document.contract_id.in_(select(Contract.id).where(Contract.customer_id == customer_id)),
        Document.application_id.in_(select(Application.id).where(
            Application.customer_id == customer_id))))


def _history_to_blank(customer: Customer) -> list[ChangeLog]:
    """The change-history rows holding the customer's personal data: its own,
    its login's, and those of its contracts and applications that name it."""
    own = [(ChangeLog.table_name == "customer") & (ChangeLog.row_id == customer.id)]
    if customer.user_id is not None:
        own.append((ChangeLog.table_name == "ab_user") & (ChangeLog.row_id == customer.user_id))
    rows = list(db.session.execute(select(ChangeLog).where(or_(*own))).scalars())
    related = select(ChangeLog).where(or_(
        (ChangeLog.table_name == "contract") & ChangeLog.row_id.in_(
            select(Contract.id).where(Contract.customer_id == customer.id)),
        (ChangeLog.table_name == "application") & ChangeLog.row_id.in_(
            select(Application.id).where(Application.customer_id == customer.id))))
    rows += [e for e in db.session.execute(related).scalars() if "customer_id" in (
        e.changes or {})]
    return [e for e in rows if e.changes or getattr(e, "raw_values", None)]


def _blank(entry: ChangeLog) -> None:
    """Empty both change columns: the change log is append-only (database
    triggers) except for exactly this; who changed which row when stays."""
    entry.changes = {}
    if hasattr(entry, "raw_values"):
        entry.raw_values = {}


def anonymise_customer(customer_id: int) -> dict:
    """Anonymise one customer whose retention has ended; one commit, then its
    documents' files are removed. Answers what was changed."""
    customer = db.session.get(Customer, customer_id)
    documents = db.session.execute(_owned_documents(customer_id)).scalars().all()
    paths = [document_path(d) for d in documents]
    existing = len(_history_to_blank(customer))
    try:
        for document in documents:
            db.session.delete(document)
        customer.name = ANONYMISED
        for field in PERSONAL_FIELDS:
            setattr(customer, field, None)
        customer.anonymised_on = _now()
        if customer.user is not None:
            user = customer.user
            user.username = f"{ANONYMISED}-{customer.id}"
            user.first_name = user.last_name = ANONYMISED
            user.email = f"{ANONYMISED}-{customer.id}@{ANONYMISED}.invalid"
            user.active = False
        db.session.flush()              # the history of this very change is written now
        for entry in _history_to_blank(customer):      # that one blanked too
            _blank(entry)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    for path in paths:
        path.unlink(missing_ok=True)
    return {"documents": len(documents), "history": existing}


def anonymise(apply: bool, today: date | None = None,
              progress: Progress | None = None) -> dict:
    """Anonymise every customer whose retention has ended (`apply`), or only
    count them (dry run: nothing written). Running it again changes nothing.
    Answers counts: checked, due, anonymised, documents, history,
    restricted_skipped."""
    today = today or date.today()
    periods = retention_periods()
    due, checked, restricted = due_customers(today, periods, progress)
    counts = {"checked": checked, "due": len(due), "anonymised": 0, "documents": 0,
              "history": 0, "restricted_skipped": restricted}
    if not apply:
        for start in range(0, len(due), CHUNK):
            chunk = due[start:start + CHUNK]
            for cid in chunk:
                customer = db.session.get(Customer, cid)
                counts["documents"] += db.session.execute(select(func.count()).select_from(
                    _owned_documents(cid).subquery())).scalar()
                counts["history"] += len(_history_to_blank(customer))
            if progress:
                progress("counted", start + len(chunk), len(due))
        db.session.rollback()
        log.info("anonymise (dry run, %s): %s", today, counts)
        return counts
    for done, cid in enumerate(due, 1):
        changed = anonymise_customer(cid)
        counts["anonymised"] += 1
        counts["documents"] += changed["documents"]
        counts["history"] += changed["history"]
        if progress:
            progress("anonymised", done, len(due))
    log.info("anonymise (%s): %s", today, counts)
    return counts
