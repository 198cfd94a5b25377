"""The settlement screen: preview, confirmed final run, progress status,
history with downloads, four-eyes release; only for pool staff."""
from __future__ import annotations

import re

import pytest

from app.extensions import db
from app.models.crm import Company
from app.models.ledger import SettlementRun, Statement
from tests.api.test_ledger_api import env  # noqa: F401
from tests.api.test_settlement_api import month  # noqa: F401
from tests.factories import make_company, make_staff, ui_login


@pytest.fixture
def staff(app, client, month):  # noqa: F811
    ui_login(client, "ps")
    return month


def start(client, **form):
    resp = client.post("/settlement/start", data=form)
    assert resp.status_code == 302
    return resp.headers["Location"]


def test_preview_then_confirmed_final_run(client, staff):
    page = client.get("/settlement/")
    assert page.status_code == 200 and 'type="month"' in page.text
    where = start(client, period="2026-10", final="0")
    job = re.search(r"job=(\w+)", where).group(1)
    status = client.get(f"/settlement/job/{job}").json
    assert (status["state"], status["done"], status["total"]) == ("done", 1, 1)
    shown = client.get(where).text
    assert "1.208,88" in shown and "A" in shown
    assert db.session.query(Statement).count() == 0               # a preview writes nothing
    refused = start(client, period="2026-10", final="1")           # not confirmed
    assert "job=" not in refused and db.session.query(Statement).count() == 0
    done = client.get(start(client, period="2026-10", final="1", confirm="1")).text
    assert db.session.query(Statement).count() == 1
    run = db.session.query(SettlementRun).one()
    assert f"/settlement/{run.id}/xlsx" in done and f"/settlement/{run.id}/pdfs" in done
    xlsx = client.get(f"/settlement/{run.id}/xlsx")
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK"
    assert client.get(f"/settlement/{run.id}/csv").text.count("\n") == 5   # header + 4 lines
    sepa = client.get(f"/settlement/{run.id}/sepa")              # the pool has no IBAN yet
    assert sepa.status_code == 302
    assert "IBAN" in client.get(sepa.headers["Location"]).text
    assert client.get(f"/settlement/{run.id}/nonsense").status_code == 404


def test_a_bad_month_is_reported(client, staff):
    page = client.get(start(client, period="2026-13", final="0")).text
    assert "JJJJ-MM" in page or "YYYY-MM" in page
    assert db.session.query(Statement).count() == 0


def test_four_eyes_release_on_the_screen(app, client, staff, monkeypatch):
    monkeypatch.setitem(app.config, "POOL_FOUR_EYES", True)
    client.get(start(client, period="2026-10", final="1", confirm="1"))
    run = db.session.query(SettlementRun).one()
    page = client.get("/settlement/").text
    assert f"/settlement/{run.id}/release" not in page            # not for the one who ran it
    make_staff(db.session.get(Company, staff["a"].company_id), "Pool staff", "ps2")
    client.get("/logout/")
    ui_login(client, "ps2")
    assert f"/settlement/{run.id}/release" in client.get("/settlement/").text
    client.post(f"/settlement/{run.id}/release")
    db.session.expire_all()
    assert db.session.query(Statement).one().number == "2026-000001"


def test_the_screen_is_for_pool_staff_only(app, client, month):  # noqa: F811
    firm = make_company("Makler GmbH", parent=db.session.get(Company, month["a"].company_id))
    make_staff(firm, "Company admin", "ca")
    ui_login(client, "ca")
    assert client.get("/settlement/").status_code in (302, 403)
    assert client.post("/settlement/start", data={"period": "2026-10", "final": "1",
                                                  "confirm": "1"}).status_code in (302, 403)
    assert db.session.query(Statement).count() == 0


def test_payouts_held_from_the_sepa_file_are_listed(client, staff):
    from app.models.intermediaries import Intermediary

    pool = db.session.get(Company, staff["a"].company_id)
    pool.iban = "DE02120300000000202051"
    second = Intermediary(name="Zweiter Vermittler", company=pool, tax_number="DE811234567",
                          iban="DE89370400440532013000")
    db.session.add(second)
    db.session.commit()
    from datetime import date

    from app.services.ledger import book_correction

    book_correction(second.id, "50.00", date(2026, 10, 9), "Nachzahlung")
    client.get(start(client, period="2026-10", final="1", confirm="1"))
    run = db.session.query(SettlementRun).one()
    sepa = client.get(f"/settlement/{run.id}/sepa")
    assert sepa.status_code == 200 and b"Zweiter Vermittler" in sepa.data
    page = client.get("/settlement/").text
    assert "Vom SEPA-Auftrag zurückgehalten" in page and "Keine IBAN." in page
