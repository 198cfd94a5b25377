"""What a final run produces, through the API: four-eyes release, withheld
statements, the explained export, the payout file, the credit notes."""
from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from app.domain.errors import InvalidValueError
from app.extensions import db
from app.models.crm import Company
from app.models.intermediaries import Intermediary
from app.models.ledger import Booking, SettlementRun, Statement, StatementPdf
from app.services.payout import validate_pain001
from tests.api.test_ledger_api import env  # noqa: F401
from tests.api.test_settlement_api import month  # noqa: F401  (the settlement example)
from tests.factories import api_token, make_staff

RUN = "/api/v1/settlement/run"


def final(client, auth, period="2026-10"):
    resp = client.post(RUN, json={"period": period, "final": True}, headers=auth)
    assert resp.status_code == 200, resp.json
    return resp.json


def pool_account(month):  # noqa: F811
    pool = db.session.get(Company, month["a"].company_id)
    pool.iban, pool.bic, pool.tax_number = "DE02120300000000202051", None, "DE123456789"
    person = db.session.get(Intermediary, month["a"].id)
    person.iban = "DE89370400440532013000"
    person.street, person.postcode, person.city = "Lindenweg 3", "50667", "Köln"
    db.session.commit()


def test_the_export_explains_every_line(client, month):  # noqa: F811
    answer = final(client, month["auth"])
    run = answer["run"]
    got = client.get(f"/api/v1/settlement/{run}/export?format=json", headers=month["auth"])
    assert got.status_code == 200 and got.mimetype == "application/json"
    lines = json.loads(got.data)["lines"]
    kinds = sorted(line["kind"] for line in lines)
    assert kinds == ["AP", "FIXUM", "FP", "RESERVE_RETAIN"]
    ap = next(line for line in lines if line["kind"] == "AP")
    assert (ap["policy_number"], ap["amount"], ap["basis"], ap["rate"], ap["receipt_kind"]) == (
        "L-1", "987.65", "1234.5600", "80.0000", "AP")
    assert ap["receipt"] and ap["rule"] and ap["statement_number"] == answer["statements"][0][
        "number"]
    fp = next(line for line in lines if line["kind"] == "FP")
    assert (fp["basis"], fp["rate"], fp["amount"]) == ("100.0000", "70.0000", "70.00")
    assert sum(Decimal(line["amount"]) for line in lines) == Decimal("1208.88")
    as_csv = client.get(f"/api/v1/settlement/{run}/export?format=csv", headers=month["auth"])
    rows = list(csv.DictReader(io.StringIO(as_csv.data.decode("utf-8-sig")), delimiter=";"))
    assert [r["booking"] for r in rows] == [str(line["booking"]) for line in lines]
    as_xlsx = client.get(f"/api/v1/settlement/{run}/export?format=xlsx", headers=month["auth"])
    sheet = load_workbook(io.BytesIO(as_xlsx.data)).active
    values = list(sheet.values)
    amount = values[0].index("amount")
    assert sum(Decimal(str(r[amount])) for r in values[1:]) == Decimal("1208.88")
    bad = client.get(f"/api/v1/settlement/{run}/export?format=pdf", headers=month["auth"])
    assert bad.status_code == 422 and "format" in bad.json["message"]


def test_the_payout_file_validates_and_holds_missing_ibans(client, month):  # noqa: F811
    answer = final(client, month["auth"])
    run = answer["run"]
    no_pool_iban = client.get(f"/api/v1/settlement/{run}/sepa", headers=month["auth"])
    assert no_pool_iban.status_code == 422 and "iban" in no_pool_iban.json["message"]
    pool_account(month)
    got = client.get(f"/api/v1/settlement/{run}/sepa", headers=month["auth"])
    assert got.status_code == 200, got.json
    validate_pain001(got.data)
    assert b"<CtrlSum>1208.88</CtrlSum>" in got.data
    assert answer["statements"][0]["number"].encode() in got.data
    again = client.get(f"/api/v1/settlement/{run}/sepa", headers=month["auth"])
    assert again.data == got.data                     # made once, then stored
    stored = db.session.get(SettlementRun, run)
    assert stored.sepa_sha256 == hashlib.sha256(got.data).hexdigest()


def test_without_an_iban_the_payout_is_held(client, month):  # noqa: F811
    pool_account(month)
    person = db.session.get(Intermediary, month["a"].id)
    person.iban = None
    db.session.commit()
    run = final(client, month["auth"])["run"]
    got = client.get(f"/api/v1/settlement/{run}/sepa", headers=month["auth"])
    assert got.status_code == 422                     # nobody left to pay
    db.session.expire_all()
    assert db.session.get(SettlementRun, run).sepa_xml is None


def test_without_a_tax_number_the_statement_is_withheld(client, month):  # noqa: F811
    person = db.session.get(Intermediary, month["a"].id)
    person.tax_number = None
    db.session.commit()
    answer = final(client, month["auth"])
    assert answer["statements"] == []
    assert [w["intermediary"] for w in answer["withheld"]] == [month["a"].id]
    assert db.session.query(Statement).count() == 0
    assert db.session.query(Booking).filter(Booking.statement_id.is_not(None)).count() == 0
    person = db.session.get(Intermediary, month["a"].id)
    person.tax_number = "DE123456789"
    db.session.commit()
    again = final(client, month["auth"])              # the same month, now issued
    assert [s["payout"] for s in again["statements"]] == ["1208.88"]


@pytest.fixture
def four_eyes(app, client, month, monkeypatch):  # noqa: F811
    monkeypatch.setitem(app.config, "POOL_FOUR_EYES", True)
    make_staff(db.session.get(Company, month["a"].company_id), "Pool staff", "ps2")
    month.update(auth2=api_token(client, "ps2"))
    return month


def test_four_eyes_the_second_person_releases(client, four_eyes):
    auth, auth2 = four_eyes["auth"], four_eyes["auth2"]
    answer = final(client, auth)
    assert answer["status"] == "AWAITING_RELEASE"
    (draft,) = answer["statements"]
    assert draft["number"] is None and draft["payout"] == "1208.88"
    statement = db.session.get(Statement, draft["id"])
    assert (statement.status, statement.sequence) == ("DRAFT", None)
    run = answer["run"]
    assert client.get(f"/api/v1/statement/{draft['id']}/pdf", headers=auth).status_code == 422
    assert client.get(f"/api/v1/settlement/{run}/sepa", headers=auth).status_code == 422
    same = client.post(f"/api/v1/settlement/{run}/release", headers=auth)
    assert same.status_code == 422 and "run" in same.json["message"]
    assert final(client, auth)["statements"] == []     # the month is taken: nothing new
    released = client.post(f"/api/v1/settlement/{run}/release", headers=auth2)
    assert released.status_code == 200 and released.json["status"] == "RELEASED"
    db.session.expire_all()
    statement = db.session.get(Statement, draft["id"])
    assert (statement.status, statement.number) == ("FINAL", "2026-000001")
    twice = client.post(f"/api/v1/settlement/{run}/release", headers=auth2)
    assert twice.status_code == 422
    assert client.post("/api/v1/settlement/999999/release", headers=auth2).status_code == 404


def test_the_credit_note_is_made_once_and_stored(client, month):  # noqa: F811
    pool_account(month)
    answer = final(client, month["auth"])
    pk = answer["statements"][0]["id"]
    got = client.get(f"/api/v1/statement/{pk}/pdf", headers=month["auth"])
    assert got.status_code == 200 and got.mimetype == "application/pdf"
    assert got.data.startswith(b"%PDF")
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(got.data)).pages)
    text = " ".join(text.split())
    number = answer["statements"][0]["number"]
    for expected in ("Gutschrift", number, "Oktober 2026", "Pool", "A", "Lindenweg 3",
                     "50667 Köln", "12/345/67890", "DE123456789", "L-1", "Kunde",
                     "Alpha Rente", "Abschluss", "987,65 €", "1.234,56 €", "80,00 %",
                     "Stornoreserve", "-98,77 €", "Fixum", "250,00 €", "1.208,88 €",
                     "DE89 3704 0044 0532 0130 00",
                     "Steuerfreie Umsätze gemäß § 4 Nr. 11 UStG", "Seite 1 von 1"):
        assert expected in text, expected
    stored = db.session.query(StatementPdf).one()
    assert stored.sha256 == hashlib.sha256(got.data).hexdigest()
    again = client.get(f"/api/v1/statement/{pk}/pdf", headers=month["auth"])
    assert again.data == got.data and db.session.query(StatementPdf).count() == 1
    for row, field in ((stored, "pdf"), (db.session.get(Statement, pk), "payout")):
        setattr(row, field, b"%PDF-forged" if field == "pdf" else Decimal("1"))
        with pytest.raises(InvalidValueError):
            db.session.commit()                     # issued: never changed in place
        db.session.rollback()
    archive = client.get(f"/api/v1/settlement/{answer['run']}/pdfs", headers=month["auth"])
    with zipfile.ZipFile(io.BytesIO(archive.data)) as z:
        assert z.namelist() == [f"Gutschrift-{answer['statements'][0]['number']}.pdf"]
        assert z.read(z.namelist()[0]) == got.data
    assert client.get("/api/v1/statement/999999/pdf", headers=month["auth"]).status_code == 404


def test_a_company_admin_gets_no_settlement_files(client, month):  # noqa: F811
    from tests.factories import make_company

    answer = final(client, month["auth"])
    firm = make_company("Makler GmbH", parent=db.session.get(Company, month["a"].company_id))
    make_staff(firm, "Company admin", "ca")
    auth = api_token(client, "ca")
    run, pk = answer["run"], answer["statements"][0]["id"]
    for url in (f"/api/v1/statement/{pk}/pdf", f"/api/v1/settlement/{run}/sepa",
                f"/api/v1/settlement/{run}/export?format=csv"):
        assert client.get(url, headers=auth).status_code in (401, 403, 404), url
    assert client.post(RUN, json={"period": "2026-10"}, headers=auth).status_code in (401, 403)
    assert client.post(f"/api/v1/settlement/{run}/release",
                       headers=auth).status_code in (401, 403)


def _wait_for_pdfs(run_id, count, seconds=90):
    import time

    from app.models.ledger import StatementPdf
    deadline = time.time() + seconds
    while time.time() < deadline:
        db.session.expire_all()
        stored = db.session.query(StatementPdf).join(
            Statement, Statement.id == StatementPdf.statement_id).filter(
            Statement.run_id == run_id).count()
        if stored >= count:
            return stored
        time.sleep(0.2)
    return stored


def test_a_released_run_has_its_credit_notes_rendered_and_stored_at_once(
        app, client, four_eyes, monkeypatch):
    from tests.factories import ui_login
    pool_account(four_eyes)
    monkeypatch.setitem(app.config, "POOL_RENDER_AFTER_RUN", True)
    monkeypatch.setitem(app.config, "POOL_PDF_WORKERS", 1)
    answer = final(client, four_eyes["auth"])
    assert answer["status"] == "AWAITING_RELEASE"
    assert _wait_for_pdfs(answer["run"], 1, seconds=2) == 0      # no credit note for drafts
    released = client.post(f"/api/v1/settlement/{answer['run']}/release",
                           headers=four_eyes["auth2"])
    assert released.status_code == 200
    assert _wait_for_pdfs(answer["run"], 1) == 1                 # the job rendered it
    ui_login(client, "ps")
    page = client.get("/settlement/").get_data(as_text=True)
    assert "gespeichert: 1 / 1" in page
