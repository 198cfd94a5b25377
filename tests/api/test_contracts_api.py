"""Applications and contracts through the REST API."""
from datetime import date

import pytest

from app.extensions import db
from app.models.contracts import Application, Contract
from app.models.crm import CompanyKind, Customer
from app.models.intermediaries import IntermediaryStatus
from app.models.products import Product
from tests.factories import api_token, make_company, make_customer, make_staff
from tests.masterdata import line, person, pool_with_products


@pytest.fixture
def env(app, client):
    pool, alpha, product = pool_with_products()
    beta = make_company("Beta", CompanyKind.INSURER, parent=pool)
    other = Product(insurer=beta, line_of_business=line("040"), key="PH", name="Haftpflicht")
    db.session.add(other)
    db.session.commit()
    max_ = person(pool, "Max")
    customer = make_customer(pool, "Kunde", intermediary=max_)
    make_staff(pool, "Pool staff", "ps")
    return dict(pool=pool, alpha=alpha, product=product, other=other, max=max_,
                customer=customer, auth=api_token(client, "ps"))


def post(client, env, resource, body):
    return client.post(f"/api/v1/{resource}/", json=body, headers=env["auth"])


def contract_body(env, **kw):
    return {"policy_number": "LV-1", "customer": env["customer"].id,
            "product": env["product"].id, "start_date": "2026-01-01", **kw}


def test_a_contract_gets_sensible_defaults_and_the_customers_advisor(client, env):
    resp = post(client, env, "contract", contract_body(env, premium="100.00"))
    assert resp.status_code == 201, resp.json
    got = client.get(f"/api/v1/contract/{resp.json['id']}", headers=env["auth"]).json["result"]
    assert got["status"] == "ACTIVE" and got["payment_frequency"] == "MONTHLY"
    assert got["managing_company"]["id"] == env["pool"].id
    assert got["intermediary"]["id"] == env["max"].id
    assert got["insurer"]["id"] == env["alpha"].id
    assert got["policed_on"] == date.today().isoformat()
    assert got["premium"] == "100.00"


@pytest.mark.parametrize("extra, field", [
    ({"term_months": 0}, "term_months"),
    ({"cancelled_on": "2025-12-31", "status": "CANCELLED"}, "cancelled_on"),
    ({"premium": "-1"}, "premium"),
    ({"premium": "1.234"}, "premium"),
    ({"valuation_sum": -5}, "valuation_sum"),
    ({"policy_number": "  "}, "policy_number"),
    ({"payment_frequency": "WEEKLY"}, "payment_frequency"),
])
def test_bad_contract_input_names_the_field(client, env, extra, field):
    body = contract_body(env, **extra)
    if "cancelled_on" in extra:
        body_ok = contract_body(env)
        pk = post(client, env, "contract", body_ok).json["id"]
        resp = client.put(f"/api/v1/contract/{pk}", json=extra, headers=env["auth"])
    else:
        resp = post(client, env, "contract", body)
    assert resp.status_code == 422, resp.json
    assert field in resp.json["message"]


def test_the_policy_number_is_unique_per_insurer(client, env):
    assert post(client, env, "contract", contract_body(env)).status_code == 201
    resp = post(client, env, "contract", contract_body(env))
    assert resp.status_code == 422 and "policy_number" in resp.json["message"]
    resp = post(client, env, "contract", contract_body(env, product=env["other"].id))
    assert resp.status_code == 201  # the same number at another insurer
    assert db.session.query(Contract).count() == 2


def test_assignment_rules_for_new_contracts(client, env):
    prospect = person(env["pool"], "Pia", IntermediaryStatus.PROSPECT)
    resp = post(client, env, "contract", contract_body(env, intermediary=prospect.id))
    assert resp.status_code == 422 and "intermediary" in resp.json["message"]
    # The advisor leaves: the customer keeps him, a new contract takes him over.
    env["max"].status = IntermediaryStatus.FORMER
    db.session.commit()
    resp = post(client, env, "contract", contract_body(env, policy_number="LV-2"))
    assert resp.status_code == 201, resp.json
    assert db.session.get(Contract, resp.json["id"]).intermediary_id == env["max"].id
    other_former = person(env["pool"], "Otto", IntermediaryStatus.FORMER)
    resp = post(client, env, "contract", contract_body(env, policy_number="LV-3",
                                                      intermediary=other_former.id))
    assert resp.status_code == 422 and "intermediary" in resp.json["message"]
    # and the customer record itself stays valid when edited
    resp = client.put(f"/api/v1/customer/{env['customer'].id}", json={"city": "Köln"},
                      headers=env["auth"])
    assert resp.status_code == 200


def test_a_customer_is_newly_assigned_only_to_active_intermediaries(client, env):
    former = person(env["pool"], "Ferdinand", IntermediaryStatus.FORMER)
    resp = post(client, env, "customer", {"name": "Neu", "intermediary": former.id})
    assert resp.status_code == 422 and "intermediary" in resp.json["message"]
    resp = client.put(f"/api/v1/customer/{env['customer'].id}",
                      json={"intermediary": former.id}, headers=env["auth"])
    assert resp.status_code == 422
    assert db.session.query(Customer).count() == 1


def test_the_application_workflow_and_acceptance(client, env):
    resp = post(client, env, "application", {"customer": env["customer"].id,
                                             "product": env["product"].id,
                                             "intermediary": env["max"].id,
                                             "premium": "50", "start_date": "2026-12-01",
                                             "term_months": 120})
    assert resp.status_code == 201, resp.json
    pk = resp.json["id"]
    url = f"/api/v1/application/{pk}/transition"
    assert client.post(url, json={"to": "ACCEPTED", "policy_number": "X"},
                       headers=env["auth"]).status_code == 422
    for to in ("SUBMITTED", "IN_REVIEW"):
        resp = client.post(url, json={"to": to}, headers=env["auth"])
        assert resp.status_code == 200 and resp.json["status"] == to
    resp = client.post(url, json={"to": "ACCEPTED"}, headers=env["auth"])
    assert resp.status_code == 422 and "policy_number" in resp.json["message"]
    assert db.session.query(Contract).count() == 0
    resp = client.post(url, json={"to": "ACCEPTED", "policy_number": "LV-777"},
                       headers=env["auth"])
    assert resp.status_code == 200, resp.json
    contract = db.session.get(Contract, resp.json["contract"])
    assert (contract.policy_number, contract.customer_id, contract.term_months,
            str(contract.premium)) == ("LV-777", env["customer"].id, 120, "50.00")
    assert db.session.get(Application, pk).contract_id == contract.id
    resp = client.post(url, json={"to": "WITHDRAWN"}, headers=env["auth"])
    assert resp.status_code == 422


def test_an_application_status_cannot_be_set_by_edit(client, env):
    pk = post(client, env, "application", {"customer": env["customer"].id,
                                           "product": env["product"].id,
                                           "intermediary": env["max"].id}).json["id"]
    resp = client.put(f"/api/v1/application/{pk}", json={"status": "ACCEPTED"},
                      headers=env["auth"])
    assert resp.status_code in (400, 422)
    assert db.session.get(Application, pk).status.value == "DRAFT"


def test_a_duplicate_policy_number_on_acceptance_rolls_everything_back(client, env):
    post(client, env, "contract", contract_body(env, policy_number="DUP"))
    pk = post(client, env, "application", {"customer": env["customer"].id,
                                           "product": env["product"].id,
                                           "intermediary": env["max"].id}).json["id"]
    url = f"/api/v1/application/{pk}/transition"
    client.post(url, json={"to": "SUBMITTED"}, headers=env["auth"])
    client.post(url, json={"to": "IN_REVIEW"}, headers=env["auth"])
    resp = client.post(url, json={"to": "ACCEPTED", "policy_number": "DUP"}, headers=env["auth"])
    assert resp.status_code == 422 and "policy_number" in resp.json["message"]
    db.session.expire_all()
    assert db.session.get(Application, pk).status.value == "IN_REVIEW"
    assert db.session.query(Contract).count() == 1


def test_foreign_applications_and_contracts_are_invisible(client, env):
    firm = make_company("Firma", parent=env["pool"])
    mine = make_customer(firm, "Meiner")
    fritz = person(firm, "Fritz")
    make_staff(firm, "Company admin", "ca")
    theirs = post(client, env, "contract", contract_body(env)).json["id"]
    app_theirs = post(client, env, "application", {"customer": env["customer"].id,
                                                   "product": env["product"].id,
                                                   "intermediary": env["max"].id}).json["id"]
    auth = api_token(client, "ca")
    assert client.get(f"/api/v1/contract/{theirs}", headers=auth).status_code == 404
    assert client.get(f"/api/v1/application/{app_theirs}", headers=auth).status_code == 404
    assert client.post(f"/api/v1/application/{app_theirs}/transition", json={"to": "SUBMITTED"},
                       headers=auth).status_code == 404
    resp = client.post("/api/v1/contract/", json={
        "policy_number": "F-1", "customer": mine.id, "product": env["product"].id,
        "start_date": "2026-01-01", "intermediary": fritz.id}, headers=auth)
    assert resp.status_code == 201, resp.json
    assert db.session.get(Contract, resp.json["id"]).managing_company_id == firm.id
    resp = client.post("/api/v1/contract/", json={
        "policy_number": "F-2", "customer": mine.id, "product": env["product"].id,
        "start_date": "2026-01-01", "intermediary": fritz.id,
        "managing_company": env["pool"].id}, headers=auth)
    assert resp.status_code == 422
