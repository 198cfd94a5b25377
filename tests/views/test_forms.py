"""Screens: refused input shows a message at the field, nothing is written."""
import pytest

from app.extensions import db
from app.models.crm import Company, CompanyKind, Customer, Staff
from tests.factories import make_admin, make_company, make_staff, ui_login


@pytest.fixture
def admin(app, client):
    make_admin("root")
    return ui_login(client, "root")


def field_error(html, text):
    return text in html


def test_a_company_without_name_is_refused_at_the_name_field(admin):
    resp = admin.post("/companyview/add", data={"name": "", "kind": "POOL"})
    assert resp.status_code == 200
    assert "Dieses Feld wird benötigt" in resp.get_data(as_text=True)
    assert db.session.query(Company).count() == 0


def test_an_unknown_company_kind_is_refused(admin):
    resp = admin.post("/companyview/add", data={"name": "X", "kind": "BANK"})
    assert resp.status_code == 200
    assert "Keine gültige Auswahl" in resp.get_data(as_text=True)
    assert db.session.query(Company).count() == 0


def test_a_cycle_is_refused_at_the_parent_field_and_the_input_is_kept(admin):
    top = make_company("Oben", CompanyKind.POOL)
    low = make_company("Unten", parent=make_company("Mitte", parent=top))
    resp = admin.post(f"/companyview/edit/{top.id}", data={"name": "Oben neu", "kind": "POOL",
                                                          "parent": low.id})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "Tochterunternehmen" in html
    assert 'value="Oben neu"' in html
    db.session.expire_all()
    top = db.session.get(Company, top.id)
    assert top.parent_id is None and top.name == "Oben"


def test_a_staff_member_with_login_is_created_in_one_step(admin, client):
    pool = make_company("Pool", CompanyKind.POOL)
    resp = admin.post("/staffview/add", data={
        "first_name": "Maria", "last_name": "Muster", "company": pool.id,
        "email": "maria@example.com", "username": "maria",
        "password": "ein sehr langes Passwort", "role": "Pool staff"})
    assert resp.status_code == 302
    staff = db.session.query(Staff).filter_by(last_name="Muster").one()
    assert staff.user.username == "maria"
    assert [r.name for r in staff.user.roles] == ["Pool staff"]
    client.get("/logout/")
    ui_login(client, "maria", "ein sehr langes Passwort")


@pytest.mark.parametrize("data, message", [
    ({"username": "maria", "password": "kurz", "role": "Pool staff"}, "zwischen 12 und 256 Zeichen"),
    ({"username": "maria", "password": "x" * 12, "role": ""}, "benötigt"),
    ({"username": "root", "password": "x" * 12, "role": "Pool staff"}, "bereits vergeben"),
])
def test_bad_staff_logins_are_refused_at_the_field(admin, data, message):
    pool = make_company("Pool", CompanyKind.POOL)
    before = db.session.query(Staff).count()
    resp = admin.post("/staffview/add", data={
        "first_name": "Maria", "last_name": "Muster", "company": pool.id,
        "email": "maria@example.com", **data})
    assert resp.status_code == 200
    assert message in resp.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.query(Staff).count() == before


def test_a_company_admin_may_not_grant_a_pool_role(client, app):
    firm = make_company("Firma")
    make_staff(firm, "Company admin", "chef")
    ui_login(client, "chef")
    page = client.get("/staffview/add").get_data(as_text=True)
    assert "Pool-Administrator" not in page
    resp = client.post("/staffview/add", data={
        "first_name": "Eva", "last_name": "E", "company": firm.id, "email": "eva@example.com",
        "username": "eva", "password": "x" * 12, "role": "Pool admin"})
    assert resp.status_code == 200
    assert db.session.query(Staff).filter_by(first_name="Eva").count() == 0


def test_deleting_staff_deactivates_its_login(admin):
    pool = make_company("Pool", CompanyKind.POOL)
    staff = make_staff(pool, "Pool staff", "weg")
    user_id = staff.user_id
    assert admin.post(f"/staffview/delete/{staff.id}").status_code == 302
    db.session.expire_all()
    from flask import current_app
    user = db.session.get(current_app.appbuilder.sm.user_model, user_id)
    assert user is not None and user.active is False


def test_the_customer_form_holds_no_rows_of_large_tables(admin):
    pool = make_company("Pool", CompanyKind.POOL)
    db.session.add_all([Customer(name=f"Kunde {i}", company=pool) for i in range(300)])
    db.session.commit()
    for url in ("/customerview/add", "/customerview/list/"):
        html = admin.get(url).get_data(as_text=True)
        assert html.count("<option") < 20
        assert "Kunde 299" not in html or url.endswith("list/")
    assert 'class="form-control pool-lookup"' in admin.get("/customerview/add").get_data(as_text=True)
