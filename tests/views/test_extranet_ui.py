"""The broker extranet and the customer folder on the screen."""
from __future__ import annotations

import io
import re
from datetime import date

import pytest

from app.extensions import db
from app.models.contracts import Application, Contract
from app.models.documents import Document
from app.models.intermediaries import Intermediary, IntermediaryStatus
from app.models.ledger import Statement
from app.services.settlement import run_settlement
from tests.extranet_world import build_world
from tests.factories import ui_login

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def world(app, client):
    return build_world()


def test_the_intermediary_lands_on_its_overview(client, world):
    run_settlement("2026-10", True, today=date(2026, 11, 23))
    ui_login(client, "makler-a")
    home = client.get("/", follow_redirects=True)
    assert home.status_code == 200 and 'id="commission-chart"' in home.text
    assert "<rect" in home.text and "120,00" in home.text            # October's booking
    assert "Anna Acker" in home.text and "Bernd" not in home.text
    statements = client.get("/my/statements/").text
    pdf_link = re.search(r'href="(/my/statements/\d+/pdf)"', statements).group(1)
    pdf = client.get(pdf_link)
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    foreign = db.session.query(Statement).filter_by(intermediary_id=world["b"].id).one()
    assert client.get(f"/my/statements/{foreign.id}/pdf").status_code == 404
    assert client.get("/my/account/", follow_redirects=True).status_code == 200
    products = client.get("/my/products/").text
    assert "Alpha Rente" in products


def test_intranet_screens_are_closed_to_extranet_logins(client, world):
    ui_login(client, "makler-a")
    for url in ("/contractview/list/", "/customerview/list/", "/settlement/",
                "/receiptview/list/", f"/contractview/show/{world['contracts']['P-A'].id}"):
        assert client.get(url).status_code == 403, url
    client.get("/logout/")
    ui_login(client, "kunde-x")
    for url in ("/my/", "/my/contracts/list/", "/contractview/list/", "/settlement/"):
        assert client.get(url).status_code == 403, url


def test_the_broker_applies_with_a_document_and_submits(client, world):
    ui_login(client, "makler-a")
    resp = client.post("/my/applications/add", data={
        "customer": world["x"].id, "product": world["product"].id, "premium": "42,00",
        "start_date": "2027-03-01", "term_months": "12",
        "intermediary": world["b"].id})                       # tampered: ignored
    assert resp.status_code == 302, resp.text[:2000]
    application = db.session.query(Application).order_by(Application.id.desc()).first()
    assert (application.intermediary_id, str(application.premium)) == (world["a"].id, "42.00")
    up = client.post(f"/documents/upload/application/{application.id}", data={
        "file": (io.BytesIO(PDF), "antrag.pdf"), "description": "Antrag"},
        content_type="multipart/form-data")
    assert up.status_code in (200, 302)
    assert db.session.query(Document).filter_by(application_id=application.id).count() == 1
    page = client.get(f"/my/applications/show/{application.id}").text
    assert "antrag.pdf" in page and "submit-application" in page
    client.post(f"/my/applications/submit/{application.id}")
    db.session.expire_all()
    assert db.session.get(Application, application.id).status.value == "SUBMITTED"
    stolen = client.post("/my/applications/add", data={
        "customer": world["y"].id, "product": world["product"].id, "premium": "1"})
    assert db.session.query(Application).count() == 2 and stolen.status_code == 200
    assert client.get(f"/my/applications/show/{world['application'].id}").status_code == 200


def test_the_broker_takes_a_pool_contract_into_its_own(client, world):
    ui_login(client, "makler-a")
    pa = world["contracts"]["P-A"]
    page = client.get(f"/my/contracts/show/{pa.id}").text
    assert 'id="convert"' in page
    done = client.post(f"/my/contracts/convert/{pa.id}")
    assert done.status_code == 302
    copy = db.session.query(Contract).filter_by(source_contract_id=pa.id).one()
    assert copy.managing_company_id == world["f1"].id
    client.post(f"/my/contracts/convert/{pa.id}")
    assert db.session.query(Contract).filter_by(source_contract_id=pa.id).count() == 1
    pb = world["contracts"]["P-B"]
    assert client.post(f"/my/contracts/convert/{pb.id}").status_code == 404
    listing = client.get("/my/contracts/list/").text
    assert "P-A" in listing and "P-B" not in listing


def test_a_former_intermediary_keeps_statements_and_account_only(client, world):
    run_settlement("2026-10", True, today=date(2026, 11, 23))
    person = db.session.get(Intermediary, world["a"].id)
    person.status = IntermediaryStatus.FORMER
    db.session.commit()
    ui_login(client, "makler-a")
    assert client.get("/my/").status_code == 200
    assert client.get("/my/statements/").status_code == 200
    assert client.get(f"/account/{world['a'].id}").status_code == 200
    for url in ("/my/applications/list/", "/my/contracts/list/", "/my/products/",
                "/my/customers/list/"):
        assert client.get(url).status_code == 403, url


def test_the_customer_folder(client, world):
    ui_login(client, "kunde-x")
    home = client.get("/", follow_redirects=True).text
    assert "P-A" in home and "P-B" not in home
    assert "police.pdf" in home and "intern.pdf" not in home and "fremd.pdf" not in home
    released, internal = world["released"], world["internal"]
    assert client.get(f"/folder/document/{internal.id}").status_code == 404
    assert client.get(f"/folder/document/{world['foreign'].id}").status_code == 404
    sent = client.post("/folder/upload", data={"file": (io.BytesIO(PDF), "attest.pdf"),
                                              "description": "Attest"},
                       content_type="multipart/form-data")
    assert sent.status_code == 302
    mine = db.session.query(Document).filter_by(filename="attest.pdf").one()
    assert (mine.customer_id, mine.released_to_customer) == (world["x"].id, False)
    assert "attest.pdf" in client.get("/folder/").text
    big = client.post("/folder/upload", data={
        "file": (io.BytesIO(b"%PDF-1.4\n" + b"0" * 11_000_000), "gross.pdf")},
        content_type="multipart/form-data")
    assert big.status_code in (200, 413)
    assert db.session.query(Document).filter_by(filename="gross.pdf").count() == 0
    client.post("/folder/profile", data={"email": "xenia@example.org", "phone": "0221 123",
                                        "street": "Ring 1", "postcode": "50667",
                                        "city": "Köln", "name": "Gefälscht"})
    db.session.expire_all()
    customer = db.session.get(type(world["x"]), world["x"].id)
    assert (customer.email, customer.city, customer.name) == ("xenia@example.org", "Köln",
                                                              "Xaver")
    assert released.id


def test_staff_give_logins_on_the_forms(client, world):
    from app.models.crm import Customer

    ui_login(client, "ps")
    person = world["b"]
    page = client.get(f"/intermediaryview/edit/{person.id}").text
    assert 'name="username"' in page and 'value="makler-b"' in page
    weak = client.post(f"/intermediaryview/edit/{person.id}", data={
        "name": person.name, "status": "ACTIVE", "company": world["f2"].id,
        "username": "bernd", "password": "kurz", "reserve_rate": "0", "fixum": "0"})
    assert weak.status_code == 200                    # refused, the form again
    db.session.expire_all()
    assert db.session.get(Intermediary, person.id).user.username == "makler-b"
    client.post(f"/intermediaryview/edit/{person.id}", data={
        "name": person.name, "status": "ACTIVE", "company": world["f2"].id,
        "username": "bernd", "password": "correct horse battery staple", "reserve_rate": "0",
        "fixum": "0"})
    db.session.expire_all()
    assert db.session.get(Intermediary, person.id).user.username == "bernd"
    k1 = world["k1"]
    client.post(f"/customerview/edit/{k1.id}", data={
        "name": k1.name, "company": world["f1"].id, "username": "eigenkunde",
        "password": "correct horse battery staple"})
    db.session.expire_all()
    customer = db.session.get(Customer, k1.id)
    assert customer.user.username == "eigenkunde" and customer.user.roles[0].name == "Customer"
    client.get("/logout/")
    ui_login(client, "eigenkunde", "correct horse battery staple")
    assert "E-1" in client.get("/folder/").text
