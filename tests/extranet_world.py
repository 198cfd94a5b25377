"""A pool with two broker firms, each with an intermediary login, and two
customers with folder logins: what the extranet tests build on.

    F1 (broker firm) - A (login "makler-a"), own customer K1 with contract E-1
    F2 (broker firm) - B (login "makler-b")
    pool customers X (advisor A, login "kunde-x") and Y (advisor B, "kunde-y"),
    pool contracts P-A (X, A) and P-B (Y, B), an application of A,
    documents on P-A (one released to X, one not), bookings and a statement of A.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from app.extensions import db
from app.models.contracts import Application, Contract
from app.models.crm import CompanyKind, Customer
from app.models.documents import Document
from app.services.crm import set_principal_login
from app.services.ledger import book_correction
from tests.factories import PASSWORD, make_company, make_intermediary, make_staff
from tests.masterdata import pool_with_products


def _doc(name, released, **owner):
    import hashlib
    import secrets

    doc = Document(filename=name, content_type="application/pdf", size=4,
                   sha256=hashlib.sha256(name.encode()).hexdigest(),
                   stored_name=secrets.token_hex(16), released_to_customer=released, **owner)
    db.session.add(doc)
    return doc


def build_world():
    pool, alpha, product = pool_with_products()
    pool.tax_number = "DE123456789"
    f1 = make_company("Makler Eins GmbH", CompanyKind.BROKER_FIRM, parent=pool)
    f2 = make_company("Makler Zwei GmbH", CompanyKind.BROKER_FIRM, parent=pool)
    a = make_intermediary(f1, "Anna Acker")
    b = make_intermediary(f2, "Bernd Berg")
    x = Customer(name="Xaver", first_name="Xenia", company=pool, intermediary=a,
                 birth_date=date(1970, 1, 2))
    y = Customer(name="Yilmaz", first_name="Yara", company=pool, intermediary=b)
    k1 = Customer(name="Eigenkunde", company=f1, intermediary=a)
    db.session.add_all([x, y, k1])
    db.session.flush()
    contracts = {}
    for number, customer, person, company in (("P-A", x, a, pool), ("P-B", y, b, pool),
                                              ("E-1", k1, a, f1)):
        contracts[number] = Contract(policy_number=number, customer=customer, product=product,
                                     intermediary=person, start_date=date(2026, 1, 1),
                                     term_months=120, managing_company=company)
    db.session.add_all(contracts.values())
    application = Application(customer=x, product=product, intermediary=a,
                              premium=Decimal("50.00"), start_date=date(2027, 1, 1))
    db.session.add(application)
    db.session.flush()
    released = _doc("police.pdf", True, contract=contracts["P-A"])
    internal = _doc("intern.pdf", False, contract=contracts["P-A"])
    foreign = _doc("fremd.pdf", True, contract=contracts["P-B"])
    db.session.commit()
    for who, amount in ((a, "120.00"), (b, "80.00")):
        book_correction(who.id, Decimal(amount), date(2026, 10, 5), "Nachzahlung")
    for record, username in ((a, "makler-a"), (b, "makler-b"), (x, "kunde-x"),
                             (y, "kunde-y")):
        set_principal_login(record, username, PASSWORD)
    db.session.commit()
    make_staff(pool, "Pool staff", "ps")
    make_staff(f1, "Company admin", "ca1")
    return dict(pool=pool, f1=f1, f2=f2, a=a, b=b, x=x, y=y, k1=k1, contracts=contracts,
                application=application, product=product, released=released,
                internal=internal, foreign=foreign)
