"""The extranet through the REST API: logins, what an intermediary and a
customer see and may do, conversion, a former intermediary."""
from __future__ import annotations

from datetime import date

import pytest

from app.extensions import db
from app.models.contracts import Application, Contract
from app.models.crm import Customer
from app.models.intermediaries import Intermediary, IntermediaryStatus
from app.models.ledger import Statement
from app.services.settlement import run_settlement
from tests.extranet_world import build_world
from tests.factories import api_token


@pytest.fixture
def world(app, client):
    w = build_world()
    w["auth"] = {name: api_token(client, name) for name in ("makler-a", "makler-b", "ps")}
    return w


def ids(resp):
    assert resp.status_code == 200, resp.json
    return sorted(row["id"] for row in resp.json["result"])


def test_logins_are_made_by_staff_and_linked(client, world):
    person = Intermediary(name="Clara Clausen", company=world["f1"], tax_number="12/345/67890")
    db.session.add(person)
    db.session.commit()
    url = f"/api/v1/intermediary/{person.id}/login"
    short = client.post(url, json={"username": "clara", "password": "kurz"},
                        headers=world["auth"]["ps"])
    assert short.status_code == 422 and "password" in short.json["message"]
    taken = client.post(url, json={"username": "makler-a", "password": "correct horse battery"},
                        headers=world["auth"]["ps"])
    assert taken.status_code == 422 and "username" in taken.json["message"]
    done = client.post(url, json={"username": "clara", "password": "correct horse battery"},
                       headers=world["auth"]["ps"])
    assert done.status_code == 200 and done.json["role"] == "Intermediary"
    db.session.expire_all()
    assert db.session.get(Intermediary, person.id).user.username == "clara"
    customer = client.post(f"/api/v1/customer/{world['y'].id}/login",
                           json={"username": "yara2", "password": "correct horse battery"},
                           headers=world["auth"]["ps"])
    assert customer.status_code == 200 and customer.json["role"] == "Customer"
    # an intermediary cannot make logins
    assert client.post(url, json={"username": "x", "password": "correct horse battery"},
                       headers=world["auth"]["makler-a"]).status_code in (403, 404)


def test_an_intermediary_sees_only_its_own(client, world):
    auth = world["auth"]["makler-a"]
    c = world["contracts"]
    assert ids(client.get("/api/v1/contract/", headers=auth)) == sorted(
        [c["P-A"].id, c["E-1"].id])
    assert ids(client.get("/api/v1/customer/", headers=auth)) == sorted(
        [world["x"].id, world["k1"].id])
    assert ids(client.get("/api/v1/application/", headers=auth)) == [world["application"].id]
    assert client.get("/api/v1/intermediary/", headers=auth).status_code == 403
    bookings = client.get("/api/v1/booking/", headers=auth).json["result"]
    assert {b["intermediary"]["id"] if isinstance(b.get("intermediary"), dict)
            else b.get("intermediary.id", world["a"].id) for b in bookings} == {world["a"].id}
    for url in (f"/api/v1/contract/{c['P-B'].id}", f"/api/v1/customer/{world['y'].id}",
                f"/api/v1/intermediary/{world['b'].id}", f"/api/v1/document/{world['foreign'].id}"):
        assert client.get(url, headers=auth).status_code in (403, 404), url
    assert client.get("/api/v1/receipt/", headers=auth).status_code == 403
    assert client.get("/api/v1/company/", headers=auth).status_code == 403


def test_an_intermediary_cannot_change_pool_contracts(client, world):
    auth, pa = world["auth"]["makler-a"], world["contracts"]["P-A"]
    for call in (client.put(f"/api/v1/contract/{pa.id}", json={"premium": "1.00"}, headers=auth),
                 client.post(f"/api/v1/contract/{pa.id}/cancel", json={"date": "2026-11-01"},
                             headers=auth),
                 client.put(f"/api/v1/contract/{pa.id}",
                            json={"managing_company": world["f1"].id}, headers=auth)):
        assert call.status_code in (403, 404, 422), call.json
    db.session.expire_all()
    contract = db.session.get(Contract, pa.id)
    assert (str(contract.premium), contract.managing_company_id, contract.status.value) == (
        "0.00", world["pool"].id, "ACTIVE")


def test_an_intermediary_submits_but_does_not_accept(client, world):
    auth = world["auth"]["makler-a"]
    new = client.post("/api/v1/application/", headers=auth, json={
        "customer": world["x"].id, "product": world["product"].id, "intermediary": world["a"].id,
        "premium": "30.00", "start_date": "2027-02-01"})
    assert new.status_code == 201, new.json
    stolen = client.post("/api/v1/application/", headers=auth, json={
        "customer": world["y"].id, "product": world["product"].id, "intermediary": world["a"].id,
        "premium": "30.00"})
    assert stolen.status_code == 422 and "customer" in stolen.json["message"]
    other = client.post("/api/v1/application/", headers=auth, json={
        "customer": world["x"].id, "product": world["product"].id, "intermediary": world["b"].id,
        "premium": "30.00"})
    assert other.status_code == 422 and "intermediary" in other.json["message"]
    url = f"/api/v1/application/{new.json['id']}/transition"
    assert client.post(url, json={"to": "SUBMITTED"}, headers=auth).status_code == 200
    assert client.post(url, json={"to": "IN_REVIEW"}, headers=auth).status_code == 422
    assert db.session.query(Application).count() == 2


def test_conversion_copies_once_into_the_own_firm(client, world):
    auth, pa = world["auth"]["makler-a"], world["contracts"]["P-A"]
    first = client.post(f"/api/v1/contract/{pa.id}/convert", headers=auth)
    assert first.status_code == 200, first.json
    again = client.post(f"/api/v1/contract/{pa.id}/convert", headers=auth)
    assert again.json["id"] == first.json["id"]                 # idempotent
    copy = db.session.get(Contract, first.json["id"])
    assert (copy.managing_company_id, copy.source_contract_id, copy.policy_number) == (
        world["f1"].id, pa.id, "P-A")
    customer = db.session.get(Customer, copy.customer_id)
    assert (customer.company_id, customer.name, customer.birth_date) == (
        world["f1"].id, "Xaver", date(1970, 1, 2))
    # a second contract of the same customer matches the copied customer
    second = Contract(policy_number="P-A2", customer=world["x"], product=world["product"],
                      intermediary=world["a"], start_date=date(2026, 3, 1),
                      managing_company=world["pool"])
    db.session.add(second)
    db.session.commit()
    other = client.post(f"/api/v1/contract/{second.id}/convert", headers=auth)
    assert db.session.get(Contract, other.json["id"]).customer_id == customer.id
    assert db.session.query(Customer).filter_by(company_id=world["f1"].id,
                                                name="Xaver").count() == 1
    # not another broker's contract, not an own one again, not by staff
    pb = world["contracts"]["P-B"]
    assert client.post(f"/api/v1/contract/{pb.id}/convert", headers=auth).status_code == 404
    own = client.post(f"/api/v1/contract/{copy.id}/convert", headers=auth)
    assert own.status_code == 422 and "contract" in own.json["message"]
    staff = client.post(f"/api/v1/contract/{pa.id}/convert", headers=world["auth"]["ps"])
    assert staff.status_code == 422


def test_statements_and_their_pdf_only_for_their_intermediary(client, world):
    answer = run_settlement("2026-10", True, today=date(2026, 11, 23))
    mine = next(s for s in answer["statements"] if s["intermediary"] == world["a"].id)
    theirs = next(s for s in answer["statements"] if s["intermediary"] == world["b"].id)
    auth = world["auth"]["makler-a"]
    assert ids(client.get("/api/v1/statement/", headers=auth)) == [mine["id"]]
    assert client.get(f"/api/v1/statement/{mine['id']}/pdf", headers=auth).status_code == 200
    assert client.get(f"/api/v1/statement/{theirs['id']}/pdf", headers=auth).status_code == 404


def test_a_former_intermediary_keeps_statements_and_bookings_read_only(client, world):
    answer = run_settlement("2026-10", True, today=date(2026, 11, 23))
    person = db.session.get(Intermediary, world["a"].id)
    person.status = IntermediaryStatus.FORMER
    db.session.commit()
    auth = api_token(client, "makler-a")
    mine = next(s["id"] for s in answer["statements"] if s["intermediary"] == world["a"].id)
    assert ids(client.get("/api/v1/statement/", headers=auth)) == [mine]
    assert client.get(f"/api/v1/statement/{mine}/pdf", headers=auth).status_code == 200
    assert len(client.get("/api/v1/booking/", headers=auth).json["result"]) == 1
    assert ids(client.get("/api/v1/contract/", headers=auth)) == []
    assert ids(client.get("/api/v1/customer/", headers=auth)) == []
    refused = client.post("/api/v1/application/", headers=auth, json={
        "customer": world["x"].id, "product": world["product"].id,
        "intermediary": world["a"].id, "premium": "30.00"})
    assert refused.status_code == 422
    assert db.session.query(Statement).count() == 2


def test_a_customer_sees_its_contracts_and_released_documents_only(client, world):
    auth = api_token(client, "kunde-x")
    # the customer folder is a screen; the REST resources are not the customer's
    for url in ("/api/v1/contract/", "/api/v1/customer/", "/api/v1/document/",
                f"/api/v1/contract/{world['contracts']['P-A'].id}"):
        assert client.get(url, headers=auth).status_code in (403, 404), url


def test_the_customer_folder_through_the_api(client, world):
    import io

    auth = api_token(client, "kunde-x")
    contracts = client.get("/api/v1/folder/contracts", headers=auth)
    assert [c["policy_number"] for c in contracts.json["result"]] == ["P-A"]
    documents = client.get("/api/v1/folder/documents", headers=auth).json["result"]
    assert [d["filename"] for d in documents] == ["police.pdf"]
    assert client.get(f"/api/v1/folder/documents/{world['internal'].id}",
                      headers=auth).status_code == 404
    assert client.get(f"/api/v1/folder/documents/{world['foreign'].id}",
                      headers=auth).status_code == 404
    sent = client.post("/api/v1/folder/documents", headers=auth, data={
        "file": (io.BytesIO(b"%PDF-1.4\n%%EOF\n"), "attest.pdf"), "description": "Attest"},
        content_type="multipart/form-data")
    assert sent.status_code == 201, sent.json
    got = client.get(f"/api/v1/folder/documents/{sent.json['id']}", headers=auth)
    assert got.status_code == 200 and got.data.startswith(b"%PDF")
    bad = client.post("/api/v1/folder/documents", headers=auth, data={
        "file": (io.BytesIO(b"MZ\x90\x00 not a document"), "virus.exe")},
        content_type="multipart/form-data")
    assert bad.status_code == 422 and "file" in json_keys(bad)
    changed = client.put("/api/v1/folder/profile", headers=auth, json={"city": "Bonn"})
    assert changed.status_code == 200 and changed.json["city"] == "Bonn"
    renamed = client.put("/api/v1/folder/profile", headers=auth, json={"name": "Gefälscht"})
    assert renamed.status_code == 422 and "name" in renamed.json["message"]
    db.session.expire_all()
    assert db.session.get(Customer, world["x"].id).name == "Xaver"
    # not for a broker's login or staff
    for name in ("makler-a", "ps"):
        other = api_token(client, name)
        assert client.get("/api/v1/folder/contracts", headers=other).status_code == 403


def json_keys(resp):
    message = resp.json.get("message")
    return set(message) if isinstance(message, dict) else {str(message)}
