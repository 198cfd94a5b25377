"""The world of the permission matrix (tests/test_permission_matrix.py).

Two broker firms of one pool: F1 with intermediaries A (the extranet login)
and C, customers X (the customer login, advised by A) and Z; F2 with
intermediaries B and B2 and customer Y. Every object a login must not see
carries a marker `GEHEIM-<kind>-<name>` in its text fields (names, policy
numbers, file contents, message bodies, login names), and is recorded with
the principals it is foreign to:

- everything of F2 is foreign to all three logins (intermediary A, customer
  X, the company admin of F1);
- intermediary C's personal things (its record, rates, hierarchy entries,
  bookings, statement, messages, login) and F1's staff are foreign to A and X;
- customer Z, its contract, application and document, the unreleased
  document of X's contract, A's rates, entries, bookings, statement and
  messages are foreign to the customer X.

Also here: a write log filled by database triggers (every INSERT, UPDATE,
DELETE of every table), and the search of a response for markers.
"""
from __future__ import annotations

import io
import json
import re
import uuid
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import inspect, text

from app.domain.access import COMPANY_ADMIN
from app.extensions import db
from app.models.contracts import Application, Contract
from app.models.crm import Company, CompanyKind, Customer, Staff
from app.models.intermediaries import (
    Combination,
    CombinationMember,
    Intermediary,
    IntermediaryLevel,
    IntermediaryRate,
    IntermediaryStatus,
)
from app.models.ledger import (
    Booking,
    MissingRate,
    Receipt,
    ReceiptKind,
    SettlementRun,
    Statement,
)
from app.models.products import (
    CareerLevel,
    LiabilityMethod,
    LiabilityModel,
    LineOfBusiness,
    Product,
    ProductRate,
)
from tests.factories import PASSWORD, make_user

PRINCIPALS = ("intermediary", "customer", "company_admin")
ALL = frozenset(PRINCIPALS)
EXTRANET = frozenset({"intermediary", "customer"})
CUSTOMER_ONLY = frozenset({"customer"})

MARKER = re.compile(rb"GEHEIM-[A-Za-z_]+-[A-Za-z0-9]+")

#: kind of object -> its table (the kinds the matrix substitutes into URLs)
KIND_TABLES = {
    "company": "company", "staff": "staff", "user": "ab_user", "customer": "customer",
    "intermediary": "intermediary", "contract": "contract", "application": "application",
    "document": "document", "rate": "intermediary_rate", "level": "intermediary_level",
    "combination": "combination", "receipt": "receipt", "booking": "booking",
    "statement": "statement", "run": "settlement_run", "thread": "message_thread",
    "message": "message", "missing_rate": "missing_rate",
}
TABLE_KINDS = {table: kind for kind, table in KIND_TABLES.items()}

#: public master data: never foreign, substituted with an existing id
PUBLIC_KINDS = ("product", "career_level", "line_of_business", "liability_model",
                "product_rate", "insurer")


def pdf_bytes(marker: str) -> bytes:
    """A tiny file that passes the upload type check (PDF magic) and holds
    the marker in plain text."""
    return (b"%PDF-1.4\n1 0 obj <</Type /Catalog>> endobj\n% " + marker.encode()
            + b"\ntrailer <</Root 1 0 R>>\n%%EOF\n")


@dataclass
class Marked:
    kind: str
    id: int
    #: the principals that must not open it
    foreign_to: frozenset
    marker: str | None = None
    #: principals that may see it named (its name or id in a row they see),
    #: though not open it: C, the advisor of customers of the own broker firm
    mentionable_by: frozenset = frozenset()


@dataclass
class World:
    objects: list[Marked] = field(default_factory=list)
    #: principal -> kind -> own id (for valid bodies and the extranet test)
    own: dict = field(default_factory=dict)
    public: dict = field(default_factory=dict)
    #: principal -> (username) of its login
    logins: dict = field(default_factory=dict)
    #: foreign documents' stored names and file names (FAB's download/<filename>)
    file_names: list = field(default_factory=list)
    job_files: list = field(default_factory=list)

    def add(self, kind, obj_id, foreign_to, marker=None, mentionable_by=()):
        self.objects.append(Marked(kind, obj_id, frozenset(foreign_to), marker,
                                   frozenset(mentionable_by)))

    def foreign(self, principal, hidden=False) -> dict[str, list[int]]:
        """kind -> ids the principal must not open (hidden: nor see named)."""
        out: dict[str, list[int]] = {}
        for o in self.objects:
            if principal not in o.foreign_to or (hidden and principal in o.mentionable_by):
                continue
            if o.id not in out.setdefault(o.kind, []):
                out[o.kind].append(o.id)
        return out

    def markers(self, principal) -> dict[str, Marked]:
        """The markers that must not appear in any answer to the principal."""
        return {o.marker: o for o in self.objects
                if o.marker and principal in o.foreign_to and principal not in o.mentionable_by}


def _add(*rows):
    db.session.add_all(rows)
    db.session.commit()
    return rows[0] if len(rows) == 1 else rows


def _company(name, kind=CompanyKind.BROKER_FIRM, parent=None):
    return _add(Company(name=name, kind=kind, parent=parent))


def _person(company, name):
    return _add(Intermediary(name=name, company=company, status=IntermediaryStatus.ACTIVE,
                             tax_number="12/345/67890", street=f"{name} Weg 1"))


def _principal_login(record, username):
    from app.services.crm import set_principal_login

    set_principal_login(record, username, PASSWORD)
    db.session.commit()
    return record.user


def _staff(company, last_name, username):
    user = make_user(COMPANY_ADMIN, username)
    return _add(Staff(first_name="Staff", last_name=last_name, company=company,
                      email=f"{username}@example.com", user=user))


def _document(owner_field, owner, marker, released=False):
    from app.services.documents import store_document

    doc = store_document(owner_field, owner, f"{marker}.pdf", pdf_bytes(marker),
                         description=marker, released=released)
    return doc


def _thread(person, subject, body, contract=None):
    from app.models.messages import Message, MessageThread

    now = datetime(2026, 10, 20, 10, 0)
    thread = _add(MessageThread(intermediary=person, subject=subject, contract=contract,
                                last_message_on=now))
    message = _add(Message(thread=thread, body=body, from_pool=False, created_on=now))
    return thread, message


def _receipt(contract, reference, amount="1000.00"):
    from app.services.ledger import bookings_for_receipt

    receipt = Receipt(contract=contract, kind=ReceiptKind.AP, amount=Decimal(amount),
                      value_date=date(2026, 10, 5), source="manual", reference=reference)
    db.session.add(receipt)
    made, _missing = bookings_for_receipt(receipt)
    db.session.add_all(made)
    db.session.commit()
    return receipt


def build_matrix_world() -> World:
    """Build the world (outside a request: unrestricted) and the three logins."""
    from app.services.ledger import book_correction
    from app.services.settlement import run_settlement

    w = World()
    line = db.session.query(LineOfBusiness).filter_by(code="010").one()
    pool = _company("Pool AG", CompanyKind.POOL)
    insurer = _company("Leben AG", CompanyKind.INSURER, parent=pool)
    liability = _add(LiabilityModel(name="Haftung 24", months=24, method=LiabilityMethod.PRO_RATA))
    level1 = _add(CareerLevel(rank=1, name="Stufe 1", value_per_unit=Decimal(20)))
    product = _add(Product(insurer=insurer, line_of_business=line, key="LR",
                           name="Leben Rente"))
    product_rate = _add(ProductRate(product=product, career_level=level1, ap_rate=Decimal(40)))
    w.public = {"product": product.id, "career_level": level1.id,
                "line_of_business": line.id, "liability_model": liability.id,
                "product_rate": product_rate.id, "insurer": insurer.id}

    f1 = _company("Firma Eins", parent=pool)
    f2 = _company("GEHEIM-company-F2", parent=pool)
    f2sub = _company("GEHEIM-company-F2sub", parent=f2)
    w.add("company", f2.id, ALL, "GEHEIM-company-F2")
    w.add("company", f2sub.id, ALL, "GEHEIM-company-F2sub")

    # staff and their logins
    admin_f1 = _staff(f1, "GEHEIM-staff-F1", "matrix_admin_f1")
    w.add("staff", admin_f1.id, EXTRANET, "GEHEIM-staff-F1")
    w.add("user", admin_f1.user_id, EXTRANET)
    staff_f2 = _staff(f2, "GEHEIM-staff-F2", "GEHEIM-user-staffF2")
    w.add("staff", staff_f2.id, ALL, "GEHEIM-staff-F2")
    w.add("user", staff_f2.user_id, ALL, "GEHEIM-user-staffF2")

    # intermediaries
    a = _person(f1, "Vermittlerin A")
    c = _person(f1, "GEHEIM-intermediary-C")
    b = _person(f2, "GEHEIM-intermediary-B")
    b2 = _person(f2, "GEHEIM-intermediary-B2")
    # C advises customer Z of the own broker firm: A sees its name there.
    w.add("intermediary", c.id, EXTRANET, "GEHEIM-intermediary-C",
          mentionable_by={"intermediary"})
    w.add("intermediary", b.id, ALL, "GEHEIM-intermediary-B")
    w.add("intermediary", b2.id, ALL, "GEHEIM-intermediary-B2")
    user_a = _principal_login(a, "matrix_verm_a")
    w.add("user", user_a.id, CUSTOMER_ONLY)
    user_b = _principal_login(b, "GEHEIM-user-B")
    w.add("user", user_b.id, ALL, "GEHEIM-user-B")
    user_c = _principal_login(c, "GEHEIM-user-C")
    w.add("user", user_c.id, EXTRANET, "GEHEIM-user-C")

    # rates and hierarchy entries
    for person, foreign in ((a, CUSTOMER_ONLY), (c, EXTRANET), (b, ALL)):
        rate = _add(IntermediaryRate(intermediary=person, line_of_business=line,
                                     ap_rate=Decimal(50), liability_model=liability))
        entry = _add(IntermediaryLevel(intermediary=person, valid_from=date(2026, 1, 1),
                                       career_level=level1))
        w.add("rate", rate.id, foreign)
        w.add("level", entry.id, foreign)

    combination = Combination(name="GEHEIM-combination-1")
    combination.members = [CombinationMember(intermediary=b, share=Decimal(50)),
                           CombinationMember(intermediary=b2, share=Decimal(50))]
    _add(combination)
    w.add("combination", combination.id, ALL, "GEHEIM-combination-1")

    # customers, their logins, applications, contracts
    x = _add(Customer(name="Kundin X", company=f1, intermediary=a))
    z = _add(Customer(name="GEHEIM-customer-Z", company=f1, intermediary=c))
    y = _add(Customer(name="GEHEIM-customer-Y", company=f2, intermediary=b))
    w.add("customer", z.id, CUSTOMER_ONLY, "GEHEIM-customer-Z")
    w.add("customer", y.id, ALL, "GEHEIM-customer-Y")
    user_x = _principal_login(x, "matrix_kunde_x")
    user_y = _principal_login(y, "GEHEIM-user-Y")
    w.add("user", user_y.id, ALL, "GEHEIM-user-Y")

    def contract(customer, person, company, number):
        return _add(Contract(policy_number=number, customer=customer, product=product,
                             intermediary=person, start_date=date(2026, 1, 1),
                             term_months=120, premium=Decimal("100.00"),
                             managing_company=company))

    cx = contract(x, a, f1, "PX-1")
    cz = contract(z, c, f1, "GEHEIM-contract-Z")
    cy = contract(y, b, f2, "GEHEIM-contract-Y")
    w.add("contract", cz.id, CUSTOMER_ONLY, "GEHEIM-contract-Z")
    w.add("contract", cy.id, ALL, "GEHEIM-contract-Y")

    app_x = _add(Application(customer=x, product=product, intermediary=a,
                             premium=Decimal("10.00")))
    app_z = _add(Application(customer=z, product=product, intermediary=c,
                             premium=Decimal("10.00")))
    app_y = _add(Application(customer=y, product=product, intermediary=b,
                             premium=Decimal("10.00")))
    w.add("application", app_x.id, CUSTOMER_ONLY)
    w.add("application", app_z.id, CUSTOMER_ONLY)
    w.add("application", app_y.id, ALL)

    # messages
    thread_a, message_a = _thread(a, "GEHEIM-thread-A", "GEHEIM-message-A", contract=cx)
    thread_c, message_c = _thread(c, "GEHEIM-thread-C", "GEHEIM-message-C")
    thread_b, message_b = _thread(b, "GEHEIM-thread-B", "GEHEIM-message-B", contract=cy)
    for thread, message, foreign, name in ((thread_a, message_a, CUSTOMER_ONLY, "A"),
                                           (thread_c, message_c, EXTRANET, "C"),
                                           (thread_b, message_b, ALL, "B")):
        w.add("thread", thread.id, foreign, f"GEHEIM-thread-{name}")
        w.add("message", message.id, foreign, f"GEHEIM-message-{name}")

    # documents with stored files
    # not foreign to anyone: the customer's folder shows it (the matrix checks
    # that it finds this marker where it belongs)
    own_released = _document("contract", cx, "GEHEIM-own-released", released=True)
    # the telling ones first (the matrix takes the first few of a kind)
    docs = [("contract", cx, "GEHEIM-file-Xunreleased", CUSTOMER_ONLY),
            ("contract", cy, "GEHEIM-file-Ycontract", ALL),
            ("message", message_b, "GEHEIM-file-Bmessage", ALL),
            ("customer", z, "GEHEIM-file-Zcustomer", CUSTOMER_ONLY),
            ("application", app_y, "GEHEIM-file-Yapplication", ALL),
            ("customer", y, "GEHEIM-file-Ycustomer", ALL),
            ("message", message_c, "GEHEIM-file-Cmessage", EXTRANET)]
    own_doc_a = None
    for owner_field, owner, marker, foreign in docs:
        doc = _document(owner_field, owner, marker)
        w.add("document", doc.id, foreign, marker)
        w.file_names += [doc.stored_name, doc.filename]
        if marker == "GEHEIM-file-Xunreleased":
            own_doc_a = doc

    # receipts, bookings, missing rates
    receipt_y = _receipt(cy, "GEHEIM-receipt-Y")
    receipt_z = _receipt(cz, "GEHEIM-receipt-Z")
    w.add("receipt", receipt_y.id, ALL, "GEHEIM-receipt-Y")
    w.add("receipt", receipt_z.id, EXTRANET, "GEHEIM-receipt-Z")
    missing = _add(MissingRate(receipt=receipt_y, contract=cy, intermediary=b2))
    w.add("missing_rate", missing.id, ALL)
    day = date(2026, 10, 15)
    for person, name in ((a, "A"), (c, "C"), (b, "B")):
        book_correction(person.id, Decimal("123.45"), day, f"GEHEIM-booking-{name}")
    for booking in db.session.query(Booking).all():
        foreign = {a.id: CUSTOMER_ONLY, c.id: EXTRANET, b.id: ALL, b2.id: ALL}[
            booking.intermediary_id]
        marker = booking.reason if (booking.reason or "").startswith("GEHEIM-") else None
        w.add("booking", booking.id, foreign, marker)

    # the final settlement: statements and the run
    run_settlement("2026-10", True, today=date(2026, 11, 23))
    db.session.expire_all()
    for statement in db.session.query(Statement).all():
        foreign = {a.id: CUSTOMER_ONLY, c.id: EXTRANET, b.id: ALL, b2.id: ALL}[
            statement.intermediary_id]
        w.add("statement", statement.id, foreign)
    for run in db.session.query(SettlementRun).all():
        # an intermediary's own statement names its run
        w.add("run", run.id, ALL, mentionable_by={"intermediary"})
    assert db.session.query(Statement).count() >= 3, "the world needs statements"
    assert db.session.query(Booking).filter(Booking.receipt_id.isnot(None)).count() >= 2

    # a finished settlement job of someone else (its status file)
    from app.jobs import background

    job_id = uuid.uuid4().hex
    path = background._dir() / f"{job_id}.json"
    path.write_text(json.dumps({"id": job_id, "kind": "settlement", "state": "done",
                                "period": "2026-10", "done": 1, "total": 1,
                                "result": {"note": "GEHEIM-job-1"}}))
    w.job_files.append(path)
    w.public["job"] = job_id

    w.logins = {"intermediary": "matrix_verm_a", "customer": "matrix_kunde_x",
                "company_admin": "matrix_admin_f1"}
    statement_of = {s.intermediary_id: s.id for s in db.session.query(Statement)}
    booking_of = {}
    for booking in db.session.query(Booking).order_by(Booking.id):
        booking_of.setdefault(booking.intermediary_id, booking.id)
    rate_a = db.session.query(IntermediaryRate).filter_by(intermediary_id=a.id).one().id
    level_a = db.session.query(IntermediaryLevel).filter_by(intermediary_id=a.id).one().id
    staff_own = {"company": f1.id, "customer": x.id, "intermediary": a.id,
                 "contract": cx.id, "application": app_x.id}
    w.own = {
        "company_admin": {**staff_own, "staff": admin_f1.id, "user": admin_f1.user_id,
                          "document": own_doc_a.id, "rate": rate_a, "level": level_a,
                          "thread": thread_a.id, "message": message_a.id,
                          "booking": booking_of[a.id], "statement": statement_of[a.id]},
        "intermediary": {**staff_own, "user": user_a.id, "document": own_doc_a.id,
                         "rate": rate_a, "level": level_a, "thread": thread_a.id,
                         "message": message_a.id, "booking": booking_of[a.id],
                         "statement": statement_of[a.id]},
        "customer": {"customer": x.id, "contract": cx.id, "user": user_x.id,
                     "document": own_released.id, "intermediary": a.id, "company": f1.id},
    }
    return w


def clean_matrix_world(world: World | None) -> None:
    """What conftest's clean-up does not know: the message tables, job files."""
    db.session.rollback()
    with db.engine.begin() as conn:
        tables = set(inspect(conn).get_table_names())
        conn.execute(text("DELETE FROM document WHERE message_id IS NOT NULL"))
        for table in ("message_read", "message", "message_thread"):
            if table in tables:
                conn.execute(text(f"DELETE FROM {table}"))
    for path in (world.job_files if world else []):
        path.unlink(missing_ok=True)


# --- the write log ---------------------------------------------------------------

LOG = "matrix_write_log"


def _data_tables(conn) -> list[str]:
    return [t for t in inspect(conn).get_table_names()
            if t not in (LOG, "alembic_version")]


def install_write_log() -> None:
    """Triggers that record every INSERT, UPDATE and DELETE of every table.
    A write that is rolled back leaves no entry."""
    dialect = db.engine.dialect.name
    with db.engine.begin() as conn:
        tables = _data_tables(conn)
        if dialect == "sqlite":
            conn.execute(text(f"CREATE TABLE IF NOT EXISTS {LOG} (id INTEGER PRIMARY KEY "
                              "AUTOINCREMENT, tbl TEXT, op TEXT, rid INTEGER)"))
            for table in tables:
                for op, ref in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD")):
                    conn.execute(text(
                        f'CREATE TRIGGER IF NOT EXISTS "{LOG}_{table}_{op}" AFTER {op} ON '
                        f'"{table}" BEGIN INSERT INTO {LOG} (tbl, op, rid) VALUES '
                        f"('{table}', '{op}', {ref}.rowid); END"))
        elif dialect == "postgresql":
            conn.execute(text(f"CREATE TABLE IF NOT EXISTS {LOG} (id SERIAL PRIMARY KEY, "
                              "tbl TEXT, op TEXT, rid BIGINT)"))
            conn.execute(text(
                f"CREATE OR REPLACE FUNCTION {LOG}_fn() RETURNS trigger AS $$ "
                "DECLARE r json; BEGIN "
                "IF TG_OP = 'DELETE' THEN r := row_to_json(OLD); ELSE r := row_to_json(NEW); "
                f"END IF; INSERT INTO {LOG} (tbl, op, rid) VALUES "
                "(TG_TABLE_NAME, TG_OP, (r->>'id')::bigint); RETURN NULL; END $$ "
                "LANGUAGE plpgsql"))
            for table in tables:
                conn.execute(text(f'DROP TRIGGER IF EXISTS "{LOG}_{table}" ON "{table}"'))
                conn.execute(text(
                    f'CREATE TRIGGER "{LOG}_{table}" AFTER INSERT OR UPDATE OR DELETE ON '
                    f'"{table}" FOR EACH ROW EXECUTE FUNCTION {LOG}_fn()'))
        else:  # pragma: no cover
            raise RuntimeError(f"no write log for {dialect}")


def remove_write_log() -> None:
    db.session.rollback()
    dialect = db.engine.dialect.name
    with db.engine.begin() as conn:
        tables = _data_tables(conn)
        if dialect == "sqlite":
            for table in tables:
                for op in ("INSERT", "UPDATE", "DELETE"):
                    conn.execute(text(f'DROP TRIGGER IF EXISTS "{LOG}_{table}_{op}"'))
        else:
            for table in tables:
                conn.execute(text(f'DROP TRIGGER IF EXISTS "{LOG}_{table}" ON "{table}"'))
            conn.execute(text(f"DROP FUNCTION IF EXISTS {LOG}_fn() CASCADE"))
        conn.execute(text(f"DROP TABLE IF EXISTS {LOG}"))


class WriteLog:
    """Reads the entries written since the last read."""

    def __init__(self):
        self.last = self._max()

    def _max(self) -> int:
        with db.engine.connect() as conn:
            return conn.execute(text(f"SELECT COALESCE(MAX(id), 0) FROM {LOG}")).scalar()

    def new_entries(self) -> list[tuple[str, str, int]]:
        with db.engine.connect() as conn:
            rows = conn.execute(text(f"SELECT id, tbl, op, rid FROM {LOG} WHERE id > :last "
                                     "ORDER BY id"), {"last": self.last}).all()
        if rows:
            self.last = rows[-1][0]
        return [(tbl, op, rid) for _id, tbl, op, rid in rows]


def describe_write(entry, foreign: dict[str, list[int]]) -> str:
    """What a logged write touched, naming the foreign ids it concerns."""
    table, op, rid = entry
    kind = TABLE_KINDS.get(table)
    notes = []
    if kind and rid in foreign.get(kind, ()):
        notes.append(f"foreign {kind} {rid} itself")
    if op != "DELETE":
        from flask_appbuilder import Model

        metadata_table = db.metadata.tables.get(table)
        if metadata_table is None:
            metadata_table = Model.metadata.tables.get(table)
        if metadata_table is not None:
            try:
                with db.engine.connect() as conn:
                    row = conn.execute(text(f'SELECT * FROM "{table}" WHERE id = :id'),
                                       {"id": rid}).mappings().first()
            except Exception:  # noqa: BLE001  (a table without an id column)
                row = None
            for column in getattr(metadata_table, "columns", ()):
                for fk in column.foreign_keys:
                    target = TABLE_KINDS.get(fk.column.table.name)
                    if row is not None and target and row[column.name] in foreign.get(
                            target, ()):
                        notes.append(f"{column.name}={row[column.name]} (foreign {target})")
    return f"{op} {table} id={rid}" + (f" [{'; '.join(notes)}]" if notes else "")


# --- markers in responses -----------------------------------------------------------

def _pdf_text(data: bytes) -> bytes:
    try:
        from pypdf import PdfReader

        reader = PdfReader(io.BytesIO(data))
        return "\n".join(page.extract_text() or "" for page in reader.pages).encode()
    except Exception:  # noqa: BLE001  (not a PDF we can read: the raw bytes count)
        return b""


def response_blobs(resp) -> list[bytes]:
    """The bytes of a response to search: body, headers, PDF text, ZIP members."""
    data = resp.get_data()
    blobs = [data, "\n".join(f"{k}: {v}" for k, v in resp.headers.items()).encode()]
    if data.startswith(b"%PDF"):
        blobs.append(_pdf_text(data))
    if data.startswith(b"PK"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                for name in archive.namelist():
                    member = archive.read(name)
                    blobs += [name.encode(), member]
                    if member.startswith(b"%PDF"):
                        blobs.append(_pdf_text(member))
        except zipfile.BadZipFile:
            pass
    return blobs


def markers_in(resp) -> set[str]:
    found = set()
    for blob in response_blobs(resp):
        found.update(m.decode() for m in MARKER.findall(blob))
    return found
