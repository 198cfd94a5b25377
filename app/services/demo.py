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
from decimal import Decimal

from flask import current_app
from sqlalchemy import select

from app.domain.access import (
    ADMIN,
    COMPANY_ADMIN,
    CUSTOMER,
    INTERMEDIARY,
    POOL_ADMIN,
    POOL_STAFF,
)
from app.extensions import db
from app.models.crm import Company, CompanyKind, Customer, Staff
from app.models.intermediaries import (
    Combination,
    CombinationMember,
    Intermediary,
    IntermediaryLevel,
    IntermediaryRate,
    IntermediaryStatus,
)
from app.models.products import (
    CareerLevel,
    LiabilityMethod,
    LiabilityModel,
    LineOfBusiness,
    Product,
    ProductRate,
)
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
    ("Gruppe Standardcourtage", POOL, IntermediaryStatus.GROUP),
    ("Max Mustermann", FIRM_A, IntermediaryStatus.ACTIVE),
    ("Julia Weber", FIRM_A, IntermediaryStatus.ACTIVE),
    ("Thomas Becker", FIRM_B, IntermediaryStatus.ACTIVE),
    # Left the pool after customers were assigned to him (see create_demo_data).
    ("Klaus Altmann", FIRM_B, IntermediaryStatus.ACTIVE),
]

# Tax numbers, bank accounts and addresses for the credit notes and the SEPA
# file (Klaus Altmann has no tax number: his statement is withheld).
POOL_ACCOUNT = {"tax_number": "DE123456789", "iban": "DE02120300000000202051"}
PAYEES = {
    "Max Mustermann": {"tax_number": "214/5678/1234", "iban": "DE89370400440532013000",
                       "street": "Rheinufer 5", "postcode": "50668", "city": "Köln"},
    "Julia Weber": {"tax_number": "DE811234567", "iban": "DE02500105170137075030",
                    "street": "Goethestraße 17", "postcode": "60313", "city": "Frankfurt am Main"},
    "Thomas Becker": {"tax_number": "103/815/08151", "iban": "DE88100900001234567892",
                      "street": "Am Markt 2", "postcode": "28195", "city": "Bremen"},
}

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
    """Create what is missing; returns the number of new records."""
    sm = current_app.appbuilder.sm
    created = 0
    companies: dict[str, Company] = {}
    for name, kind, parent, street, postcode, city in COMPANIES:
        company = db.session.execute(
            select(Company).where(Company.name == name, Company.kind == kind)
        ).scalar()
        if company is None:
            company = Company(name=name, kind=kind, parent=companies.get(parent),
                              street=street, postcode=postcode, city=city, country="DE",
                              **(POOL_ACCOUNT if kind == CompanyKind.POOL else {}))
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
            person = Intermediary(name=name, company=companies[company], status=status,
                                  **PAYEES.get(name, {}))
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

    db.session.flush()
    # Klaus Altmann has left: his customers stay assigned to him (FORMER).
    if advisors["Klaus Altmann"].status != IntermediaryStatus.FORMER:
        advisors["Klaus Altmann"].status = IntermediaryStatus.FORMER
    created += _master_data(companies, advisors)

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
    # The intermediary login is Max Mustermann's extranet.
    if advisors["Max Mustermann"].user is None:
        advisors["Max Mustermann"].user = users[INTERMEDIARY]
    db.session.commit()
    return created


LIABILITY_MODELS = [
    ("60 Monate ratierlich", 60, LiabilityMethod.PRO_RATA, None, None),
    ("24 Monate voll", 24, LiabilityMethod.FULL, None, None),
    ("36 Monate gestaffelt", 36, LiabilityMethod.STAGED, None,
     [{"months": 12, "percent": "100"}, {"months": 24, "percent": "50"},
      {"months": 36, "percent": "25"}]),
    ("60 Monate kombiniert (12 voll)", 60, LiabilityMethod.COMBINED, 12, None),
]
LEVELS = [(1, "Berater", "20"), (2, "Geschäftsstellenleiter", "26"), (3, "Direktor", "30")]
# (insurer, line, key, name, pool AP %, pool FP %, units per 1,000 €, description)
PRODUCTS = [
    ("Alpha Lebensversicherung AG", "010", "AR-100", "Alpha Rente Plus", "4", "1", "2.5",
     "Private Rentenversicherung mit Beitragsgarantie und flexibler Auszahlung."),
    ("Alpha Lebensversicherung AG", "010", "AL-200", "Alpha Risikoleben", "5", "0", "2",
     "Risikolebensversicherung für Familien und Baufinanzierungen."),
    ("Beta Sachversicherung AG", "040", "PH-1", "Beta Privathaftpflicht", "20", "20", "0",
     "Privathaftpflicht mit Deckung bis 50 Mio. €, Forderungsausfall inklusive."),
    ("Beta Sachversicherung AG", "130", "HR-1", "Beta Hausrat Komfort", "18", "18", "0",
     "Hausratversicherung mit Elementarschutz und Fahrraddiebstahl."),
    ("Beta Sachversicherung AG", "050", "KFZ-1", "Beta Kfz Classic", "6", "6", "0",
     "Kfz-Haftpflicht, Teil- und Vollkasko."),
]
# Worked example 2: AP % by level on line 010.
LINE_RATES = {"010": [(1, "40", "0", "1"), (2, "55", "0", "1.5"), (3, "70", "0", "2")]}


def _master_data(companies, advisors) -> int:
    created = 0
    models = {}
    for name, months, method, full, stages in LIABILITY_MODELS:
        model = db.session.execute(select(LiabilityModel).where(LiabilityModel.name == name)).scalar()
        if model is None:
            model = LiabilityModel(name=name, months=months, method=method, full_months=full,
                                   stages=stages)
            db.session.add(model)
            created += 1
        models[name] = model
    alpha = companies["Alpha Lebensversicherung AG"]
    if alpha.liability_model is None:
        alpha.liability_model = models["60 Monate ratierlich"]
    levels = {}
    for rank, name, value in LEVELS:
        level = db.session.execute(select(CareerLevel).where(CareerLevel.rank == rank)).scalar()
        if level is None:
            level = CareerLevel(rank=rank, name=name, value_per_unit=Decimal(value))
            db.session.add(level)
            created += 1
        levels[rank] = level
    lines = {line.code: line for line in db.session.execute(select(LineOfBusiness)).scalars()}
    for insurer, code, key, name, ap, fp, units, text in PRODUCTS:
        found = db.session.execute(select(Product).where(
            Product.key == key, Product.insurer == companies[insurer])).scalar() \
            if companies[insurer].id else None
        if found is None:
            db.session.add(Product(insurer=companies[insurer], line_of_business=lines[code],
                                   key=key, name=name, description=text, active=True,
                                   pool_ap_rate=Decimal(ap), pool_fp_rate=Decimal(fp),
                                   units_per_1000=Decimal(units)))
            created += 1
    db.session.flush()
    for code, rows in LINE_RATES.items():
        for rank, ap, ap_zv, fp in rows:
            exists = db.session.execute(select(ProductRate).where(
                ProductRate.line_of_business_id == lines[code].id,
                ProductRate.career_level_id == levels[rank].id)).first()
            if not exists:
                db.session.add(ProductRate(line_of_business=lines[code], career_level=levels[rank],
                                           ap_rate=Decimal(ap), ap_zv_rate=Decimal(ap_zv),
                                           fp_rate=Decimal(fp)))
                created += 1
    group = advisors["Gruppe Standardcourtage"]
    max_, julia, thomas = (advisors["Max Mustermann"], advisors["Julia Weber"],
                           advisors["Thomas Becker"])
    for person in (max_, julia):
        if person.group is None:
            person.group = group
    # Worked example 1: Max has AP 80 % on Alpha life; the group FP 70 % on line 040.
    rate_rows = [
        (max_, dict(insurer=alpha, line_of_business=lines["010"], ap_rate=Decimal(80),
                    liability_from_insurer=True)),
        (group, dict(line_of_business=lines["040"], fp_rate=Decimal(70), ap_rate=Decimal(70))),
        (julia, dict(line_of_business=lines["010"], ap_rate=Decimal(75),
                     liability_model=models["60 Monate ratierlich"])),
    ]
    for person, values in rate_rows:
        if not person.rates:
            db.session.add(IntermediaryRate(intermediary=person, **values))
            created += 1
    db.session.flush()
    # Worked examples 2 and 3: Max (1) -> Julia (2) -> Thomas (3); from 2026-11-01
    # Max has level 2 and reports to Thomas directly.
    entries = [(thomas, date(2026, 1, 1), 3, None), (julia, date(2026, 1, 1), 2, thomas),
               (max_, date(2026, 1, 1), 1, julia), (max_, date(2026, 11, 1), 2, thomas)]
    for person, day, rank, sup in entries:
        exists = db.session.execute(select(IntermediaryLevel).where(
            IntermediaryLevel.intermediary_id == person.id,
            IntermediaryLevel.valid_from == day)).first()
        if not exists:
            db.session.add(IntermediaryLevel(intermediary=person, valid_from=day,
                                             career_level=levels[rank], supervisor=sup))
            db.session.flush()
            created += 1
    created += _business(companies, advisors)
    if db.session.execute(select(Combination).where(Combination.name == "Team Essen")).first() is None:
        db.session.add(Combination(name="Team Essen", members=[
            CombinationMember(intermediary=max_, share=Decimal(60)),
            CombinationMember(intermediary=julia, share=Decimal(40))]))
        created += 1
    return created


# (policy number, customer, product key, start, term months, premium, valuation sum)
CONTRACTS = [
    ("AL-2026-0001", "Schulz", "AR-100", date(2026, 1, 1), 360, "150.00", "48000.00"),
    ("AL-2026-0002", "Öztürk", "AL-200", date(2026, 3, 1), 240, "32.50", None),
    ("BS-PH-100234", "Jensen", "PH-1", date(2025, 7, 1), 12, "6.90", None),
    ("BS-HR-100877", "Petersen", "HR-1", date(2024, 10, 1), 12, "11.20", None),
]


def _business(companies, advisors) -> int:
    from app.models.contracts import Application, ApplicationStatus, Contract
    from app.services.crm import pool_company

    created = 0
    db.session.flush()
    for number, customer_name, key, start, term, premium, valuation in CONTRACTS:
        if db.session.execute(select(Contract).where(Contract.policy_number == number)).first():
            continue
        customer = db.session.execute(select(Customer).where(Customer.name == customer_name)).scalar()
        product = db.session.execute(select(Product).where(Product.key == key)).scalar()
        db.session.add(Contract(policy_number=number, customer=customer, product=product,
                                start_date=start, term_months=term, premium=Decimal(premium),
                                valuation_sum=Decimal(valuation) if valuation else None,
                                policed_on=start, managing_company=pool_company()))
        created += 1
    db.session.flush()
    if db.session.execute(select(Application)).first() is None:
        customer = db.session.execute(select(Customer).where(Customer.name == "Wagner")).scalar()
        product = db.session.execute(select(Product).where(Product.key == "HR-1")).scalar()
        application = Application(customer=customer, product=product,
                                  intermediary=advisors["Julia Weber"], premium=Decimal("9.80"),
                                  start_date=date(2026, 12, 1), term_months=12)
        db.session.add(application)
        db.session.flush()
        application._transition_checked = True
        application.status = ApplicationStatus.SUBMITTED
        created += 1
    created += _agreements(companies)
    created += _receipts()
    return created


# (policy number, kind, amount, value date, insurer reference)
RECEIPTS = [
    ("AL-2026-0001", "AP", "1234.56", date(2026, 10, 5), "DEMO-AL-1"),
    ("AL-2026-0001", "FP", "12.40", date(2026, 10, 5), "DEMO-AL-2"),
    ("BS-PH-100234", "FP", "100.00", date(2026, 10, 7), "DEMO-BS-1"),
]


#: the pool's commission agreements with the demo insurers (AP, AP ZV, FP %)
AGREEMENTS = {"Alpha Lebensversicherung AG": ("40", "10", "2.5"),
              "Beta Sachversicherung AG": ("0", "0", "12.5")}


def _agreements(companies) -> int:
    from app.models.products import InsurerAgreement

    made = 0
    for name, (ap, ap_zv, fp) in AGREEMENTS.items():
        insurer = companies[name]
        if db.session.execute(select(InsurerAgreement).where(
                InsurerAgreement.insurer_id == insurer.id)).first() is None:
            db.session.add(InsurerAgreement(insurer=insurer, ap_rate=Decimal(ap),
                                            ap_zv_rate=Decimal(ap_zv), fp_rate=Decimal(fp)))
            made += 1
    return made


def _receipts() -> int:
    """A few booked receipts (each reference once), so the accounts show something."""
    from app.models.contracts import Contract
    from app.services.ledger import book_receipts

    db.session.flush()
    rows = []
    for number, kind, amount, day, reference in RECEIPTS:
        contract = db.session.execute(select(Contract).where(
            Contract.policy_number == number)).scalar()
        rows.append({"contract_id": contract.id, "kind": kind, "amount": amount,
                     "value_date": day, "reference": reference, "source": "demo"})
    return book_receipts(rows)["receipts"]
