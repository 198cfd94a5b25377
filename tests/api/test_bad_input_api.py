"""Invalid API input: 422 naming the field, nothing written."""
import pytest

from app.extensions import db
from app.models.crm import Company, CompanyKind, Customer, Staff
from tests.factories import api_token, make_admin, make_company, make_staff


@pytest.fixture
def admin(app, client):
    make_admin("root")
    return api_token(client, "root")


def count(model):
    db.session.expire_all()
    return db.session.query(model).count()


@pytest.mark.parametrize("body, field", [
    ({"kind": "POOL"}, "name"),
    ({"name": "   ", "kind": "POOL"}, "name"),
    ({"name": "X"}, "kind"),
    ({"name": "X", "kind": "BANK"}, "kind"),
    ({"name": "X", "kind": "POOL", "parent": "abc"}, "parent"),
    ({"name": "X", "kind": "POOL", "parent": {"name": "Neu"}}, "parent"),
    ({"name": "X", "kind": "POOL", "parent": 10**30}, "parent"),
    ({"name": "X", "kind": "POOL", "nonsense": 1}, "nonsense"),
])
def test_invalid_company_input_names_the_field(client, admin, body, field):
    before = count(Company)
    resp = client.post("/api/v1/company/", json=body, headers=admin)
    assert resp.status_code == 422, resp.json
    assert field in resp.json["message"]
    assert count(Company) == before


def test_a_parent_that_would_close_a_cycle_is_refused(client, admin):
    top = make_company("Oben", CompanyKind.POOL)
    mid = make_company("Mitte", parent=top)
    low = make_company("Unten", parent=mid)
    resp = client.put(f"/api/v1/company/{top.id}", json={"parent": low.id}, headers=admin)
    assert resp.status_code == 422
    assert "parent" in resp.json["message"]
    assert "Tochterunternehmen" in resp.json["message"]["parent"][0]
    resp = client.put(f"/api/v1/company/{top.id}", json={"parent": top.id}, headers=admin)
    assert resp.status_code == 422
    db.session.expire_all()
    assert db.session.get(Company, top.id).parent_id is None


def test_a_duplicate_insurer_number_is_refused(client, admin):
    make_company("Alpha", CompanyKind.INSURER, vu_number="9999")
    resp = client.post("/api/v1/company/", json={"name": "Beta", "kind": "INSURER",
                                                 "vu_number": "9999"}, headers=admin)
    assert resp.status_code == 422
    assert count(Company) == 1


def test_a_customer_needs_a_name(client, admin):
    pool = make_company("Pool", CompanyKind.POOL)
    resp = client.post("/api/v1/customer/", json={"company": pool.id}, headers=admin)
    assert resp.status_code == 422 and "name" in resp.json["message"]
    resp = client.post("/api/v1/customer/", json={"name": "Ok", "birth_date": "31.12.1990"},
                       headers=admin)
    assert resp.status_code == 422 and "birth_date" in resp.json["message"]
    assert count(Customer) == 0


def test_a_duplicate_login_name_is_refused(client, admin):
    pool = make_company("Pool", CompanyKind.POOL)
    make_staff(pool, "Pool staff", "erika")
    staff = Staff(first_name="Max", last_name="M", company=pool, email="max@example.com")
    db.session.add(staff)
    db.session.commit()
    resp = client.post(f"/api/v1/staff/{staff.id}/login",
                       json={"username": "erika", "password": "x" * 12, "role": "Pool staff"},
                       headers=admin)
    assert resp.status_code == 422
    assert "username" in resp.json["message"]
    db.session.expire_all()
    assert db.session.get(Staff, staff.id).user is None


@pytest.mark.parametrize("body, field", [
    ({"username": "neu", "password": "kurz", "role": "Pool staff"}, "password"),
    ({"username": "neu", "password": "x" * 12}, "role"),
    ({"username": "neu", "password": "x" * 12, "role": "Kaiser"}, "role"),
])
def test_a_staff_login_needs_a_long_password_and_a_grantable_role(client, admin, body, field):
    pool = make_company("Pool", CompanyKind.POOL)
    staff = Staff(first_name="Max", last_name="M", company=pool, email="max@example.com")
    db.session.add(staff)
    db.session.commit()
    resp = client.post(f"/api/v1/staff/{staff.id}/login", json=body, headers=admin)
    assert resp.status_code == 422
    assert field in resp.json["message"]


def test_a_staff_login_is_created_and_works(client, admin):
    pool = make_company("Pool", CompanyKind.POOL)
    resp = client.post("/api/v1/staff/", json={"first_name": "Max", "last_name": "M",
                                               "email": "max@example.com"}, headers=admin)
    assert resp.status_code == 201, resp.json
    pk = resp.json["id"]
    assert db.session.get(Staff, pk).company_id == pool.id
    resp = client.post(f"/api/v1/staff/{pk}/login", json={
        "username": "max", "password": "ein langes passwort", "role": "Pool staff"}, headers=admin)
    assert resp.status_code == 200, resp.json
    token = api_token(client, "max", "ein langes passwort")
    assert client.get("/api/v1/customer/", headers=token).status_code == 200


def test_without_a_token_the_api_answers_401(client, app):
    assert client.get("/api/v1/customer/").status_code == 401
    assert client.post("/api/v1/company/", json={"name": "x"}).status_code == 401
