"""Provisionskontrolle on the screen and as a claims export, on the demo pool."""
from __future__ import annotations

import csv
import io

from app.services.demo import create_demo_data
from app.services.reconciliation import reconcile
from tests.factories import make_staff, ui_login


def demo(app):
    from app.extensions import db
    from app.models.crm import Company, CompanyKind

    create_demo_data()
    pool = db.session.query(Company).filter_by(kind=CompanyKind.POOL).first()
    make_staff(pool, "Pool staff", "ps-reco")


def test_the_demo_month_shows_expected_against_received(app, client):
    demo(app)
    rows = reconcile("2026-10")
    assert rows, "the demo pool expects and receives commission in October"
    by = {(r["policy_number"], r["kind"]): r for r in rows}
    assert by[("BS-PH-100234", "FP")]["received"] > 0
    assert {r["reason"] for r in rows} <= {"OK", "NO_RECEIPT", "AMOUNT_DIFFERS",
                                            "NOT_EXPECTED"}
    ui_login(client, "ps-reco")
    page = client.get("/reconciliation/?period=2026-10")
    assert page.status_code == 200 and "BS-PH-100234" in page.text
    claims = client.get("/reconciliation/claims.csv?period=2026-10")
    lines = list(csv.reader(io.StringIO(claims.data.decode("utf-8-sig")), delimiter=";"))
    assert lines[0][0] == "Versicherer"
    missing = [r for r in rows if r["reason"] in ("NO_RECEIPT", "AMOUNT_DIFFERS")
               and r["difference"] < 0]
    assert len(lines) - 1 == len(missing)
    bad = client.get("/reconciliation/?period=2026-13")
    assert bad.status_code == 200 and "alert-danger" in bad.text


def test_reconciliation_is_for_pool_staff(app, client):
    from app.extensions import db
    from app.models.crm import Company
    from tests.factories import make_company

    demo(app)
    firm = make_company("Fremd GmbH", parent=db.session.query(Company).first())
    make_staff(firm, "Company admin", "ca-reco")
    ui_login(client, "ca-reco")
    assert client.get("/reconciliation/?period=2026-10").status_code == 403
