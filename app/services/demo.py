"""The small demo pool: two broker firms, staff, customers, one login per role.

Idempotent: every record is looked up by its natural key first. Passwords are
derived from the installation's SECRET_KEY, so no installation shares a
known password and the command can print them on every run.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import date

from flask import current_app
from sqlalchemy import select

from app.domain.access import (
    ADMIN, COMPANY_ADMIN, CUSTOMER, INTERMEDIARY, POOL_ADMIN, POOL_STAFF,
)
from app.extensions import db
from app.models.crm import Company, CompanyKind, Customer, Staff
from app.models.intermediaries import Intermediary, IntermediaryStatus
from app.services.crm import hash_password

POOL = "Muster Maklerpool GmbH"
FIRM_A = "Maklerbüro Schmidt GmbH"
FIRM_B = "Finanzkontor Nord OHG"

COMPANIES = [
    (POOL, CompanyKind.POOL, None, "Hansaring 12", "50670", "Köln"),
    ("Alpha Lebensversicherung AG", CompanyKind.INSURER, POOL, "Versicherungsplatz 1", "80331", "München"),
    ("Beta Sachversicherung AG", CompanyKind.INSURER, POOL, "Am Markt 5", "20095", "Hamburg"),
    ("Maklergruppe West", CompanyKind.BROKER_GROUP, POOL, "Königsallee 20", "40212", "Düsseldorf"),
    (FIRM_A, CompanyKind.BROKER_FIRM, "Maklergruppe West", "Lindenstraße 3", "45127", "Essen"),
    (FIRM_B, CompanyKind.BROKER_FIRM, POOL, "Hafenstraße 8", "24103", "Kiel"),
]

# (role, username, first name, last name, company)
STAFF_LOGINS = [
    (ADMIN, "admin", "Anna", "Adler", POOL),
    (POOL_ADMIN, "pooladmin", "Peter", "Paulsen", POOL),
    (POOL_STAFF, "poolstaff", "Sabine", "Sommer", POOL),
    (COMPANY_ADMIN, "firmadmin", "Frank", "Schmidt", FIRM_A),
]
EXTRANET_LOGINS = [
    (INTERMEDIARY, "vermittler", "Max", "Mustermann"),
    (CUSTOMER, "kunde", "Erika", "Musterfrau"),
]

INTERMEDIARIES = [
    ("Max Mustermann", FIRM_A, IntermediaryStatus.ACTIVE),
    ("Julia Weber", FIRM_A, IntermediaryStatus.ACTIVE),
    ("Thomas Becker", FIRM_B, IntermediaryStatus.ACTIVE),
    ("Klaus Altmann", FIRM_B, IntermediaryStatus.FORMER),
]

# (name, first name, birth date, company, advisor, city)
CUSTOMERS = [
    ("Musterfrau", "Erika", date(1964, 8, 12), POOL, "Max Mustermann", "Köln"),
    ("Schulz", "Hans", date(1971, 3, 2), FIRM_A, "Max Mustermann", "Essen"),
    ("Öztürk", "Aylin", date(1988, 11, 30), FIRM_A, "Julia Weber", "Bochum"),
    ("Bäckerei Krume GmbH", None, None, FIRM_A, "Julia Weber", "Essen"),
    ("Jensen", "Ole", date(1979, 6, 15), FIRM_B, "Thomas Becker", "Kiel"),
    ("Petersen", "Maren", date(1993, 1, 24), FIRM_B, "Klaus Altmann", "Flensburg"),
    ("Wagner", "Lena", date(2001, 9, 9), POOL, None, "Bonn"),
]


def demo_password(username: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    digest = hmac.new(key, f"demo-login:{username}".encode(), hashlib.sha256).digest()
    return base64.b32encode(digest).decode()[:16].lower()


def demo_logins():
    return [(role, username, demo_password(username))
            for role, username, *_ in STAFF_LOGINS + EXTRANET_LOGINS]


def _user(sm, username, first, last, role):
    user = sm.find_user(username=username)
    if user is not None:
        return user, 0
    user = sm.user_model(
        username=username, first_name=first, last_name=last, active=True,
        email=f"{username}@demo.vermittlerpool.example",
        password=hash_password(demo_password(username)), roles=[sm.find_role(role)],
    )
    db.session.add(user)
    return user, 1


def create_demo_data() -> int:
    """Create what is missing; returns the number of new records. One commit."""
    sm = current_app.appbuilder.sm
    created = 0
    companies: dict[str, Company] = {}
    for name, kind, parent, street, postcode, city in COMPANIES:
        company = db.session.execute(
            select(Company).where(Company.name == name, Company.kind == kind)
        ).scalar()
        if company is None:
            company = Company(name=name, kind=kind, parent=companies.get(parent),
                              street=street, postcode=postcode, city=city, country="DE")
            db.session.add(company)
            created += 1
        companies[name] = company

    for role, username, first, last, company in STAFF_LOGINS:
        user, n = _user(sm, username, first, last, role)
        created += n
        staff = db.session.execute(select(Staff).where(Staff.user == user)).scalar()
        if staff is None:
            db.session.add(Staff(first_name=first, last_name=last, company=companies[company],
                                 email=user.email, user=user))
            created += 1

    advisors: dict[str, Intermediary] = {}
    for name, company, status in INTERMEDIARIES:
        person = db.session.execute(
            select(Intermediary).where(Intermediary.name == name)
        ).scalar()
        if person is None:
            person = Intermediary(name=name, company=companies[company], status=status)
            db.session.add(person)
            created += 1
        advisors[name] = person

    for name, first, born, company, advisor, city in CUSTOMERS:
        customer = db.session.execute(
            select(Customer).where(Customer.name == name, Customer.company == companies[company])
        ).scalar() if companies[company].id else None
        if customer is None:
            customer = Customer(name=name, first_name=first, birth_date=born,
                                company=companies[company], intermediary=advisors.get(advisor),
                                city=city, country="DE")
            db.session.add(customer)
            created += 1

    users = {}
    for role, username, first, last in EXTRANET_LOGINS:
        users[role], n = _user(sm, username, first, last, role)
        created += n
    # The customer login opens Erika Musterfrau's digital customer folder.
    erika = db.session.execute(
        select(Customer).where(Customer.name == "Musterfrau", Customer.first_name == "Erika")
    ).scalar()
    if erika is not None and erika.user is None:
        erika.user = users[CUSTOMER]
    db.session.commit()
    return created
