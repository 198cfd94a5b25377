"""Master data for intermediary and product tests."""
from datetime import date
from decimal import Decimal

from app.extensions import db
from app.models.crm import CompanyKind
from app.models.intermediaries import (
    Intermediary,
    IntermediaryLevel,
    IntermediaryStatus,
)
from app.models.products import CareerLevel, LineOfBusiness, Product
from tests.factories import make_company


def line(code):
    return db.session.query(LineOfBusiness).filter_by(code=code).one()


def levels():
    made = [CareerLevel(rank=r, name=f"Stufe {r}", value_per_unit=Decimal(v))
            for r, v in ((1, 20), (2, 26), (3, 30))]
    db.session.add_all(made)
    db.session.commit()
    return made


def person(company, name, status=IntermediaryStatus.ACTIVE, group=None):
    p = Intermediary(name=name, company=company, status=status, group=group,
                     tax_number="12/345/67890")
    db.session.add(p)
    db.session.commit()
    return p


def entry(who, day, level, supervisor=None):
    e = IntermediaryLevel(intermediary=who, valid_from=day, career_level=level,
                          supervisor=supervisor)
    db.session.add(e)
    db.session.commit()
    return e


def pool_with_products():
    pool = make_company("Pool", CompanyKind.POOL)
    alpha = make_company("Alpha Leben", CompanyKind.INSURER, parent=pool)
    product = Product(insurer=alpha, line_of_business=line("010"), key="AR", name="Alpha Rente")
    db.session.add(product)
    db.session.commit()
    return pool, alpha, product


def example_chain(pool):
    """Worked example 3: A(1) -> B(2) -> C(3); from 2026-11-01 A(2) -> C."""
    l1, l2, l3 = levels()
    a, b, c = person(pool, "A"), person(pool, "B"), person(pool, "C")
    entry(c, date(2026, 1, 1), l3)
    entry(b, date(2026, 1, 1), l2, c)
    entry(a, date(2026, 1, 1), l1, b)
    entry(a, date(2026, 11, 1), l2, c)
    return a, b, c
