"""A small pool with two broker firms, used by the permission tests."""
from dataclasses import dataclass

from app.domain.access import COMPANY_ADMIN, POOL_ADMIN, POOL_STAFF
from app.models.crm import CompanyKind
from tests.factories import make_company, make_customer, make_intermediary, make_staff


@dataclass
class World:
    pool: object
    firm_a: object
    sub_a: object
    firm_b: object
    pool_admin: object
    pool_staff: object
    admin_a: object
    staff_a: object
    staff_b: object
    customer_a: object
    customer_b: object
    intermediary_a: object
    intermediary_b: object


def build_world() -> World:
    pool = make_company("Pool AG", CompanyKind.POOL)
    firm_a = make_company("Firma A", parent=pool)
    sub_a = make_company("Filiale A1", parent=firm_a)
    firm_b = make_company("Firma B", parent=pool)
    return World(
        pool=pool, firm_a=firm_a, sub_a=sub_a, firm_b=firm_b,
        pool_admin=make_staff(pool, POOL_ADMIN, "pooladmin"),
        pool_staff=make_staff(pool, POOL_STAFF, "poolstaff"),
        admin_a=make_staff(firm_a, COMPANY_ADMIN, "admin_a"),
        staff_a=make_staff(sub_a, COMPANY_ADMIN, "staff_a"),
        staff_b=make_staff(firm_b, COMPANY_ADMIN, "staff_b"),
        customer_a=make_customer(sub_a, "Kundin A"),
        customer_b=make_customer(firm_b, "Kunde B"),
        intermediary_a=make_intermediary(firm_a, "Vermittler A"),
        intermediary_b=make_intermediary(firm_b, "Vermittler B"),
    )
