"""A company admin sees and changes only its own company subtree, in screens."""
import pytest

from app.extensions import db
from app.models.crm import Company, Customer, Staff
from tests.factories import ui_login
from tests.world import build_world

VIEWS = {"company": "companyview", "staff": "staffview", "customer": "customerview"}


def foreign_ids(w):
    return {"company": w.firm_b.id, "staff": w.staff_b.id, "customer": w.customer_b.id}


def own_ids(w):
    return {"company": w.sub_a.id, "staff": w.staff_a.id, "customer": w.customer_a.id}


@pytest.fixture
def world(app):
    return build_world()


@pytest.fixture
def admin_a(client, world):
    return ui_login(client, "admin_a")


@pytest.mark.parametrize("kind", VIEWS)
def test_the_list_shows_only_rows_of_the_own_subtree(world, admin_a, kind):
    html = admin_a.get(f"/{VIEWS[kind]}/list/").get_data(as_text=True)
    assert {"company": "Filiale A1", "staff": "staff_a", "customer": "Kundin A"}[kind] in html
    assert {"company": "Firma B", "staff": "staff_b", "customer": "Kunde B"}[kind] not in html


@pytest.mark.parametrize("kind", VIEWS)
@pytest.mark.parametrize("url", ["/show/{id}", "/edit/{id}"])
@pytest.mark.parametrize("which", ["foreign", "guessed"])
def test_opening_a_foreign_or_unknown_row_answers_404(world, admin_a, kind, url, which):
    pk = foreign_ids(world)[kind] if which == "foreign" else 987654
    assert admin_a.get(f"/{VIEWS[kind]}{url.format(id=pk)}").status_code == 404


@pytest.mark.parametrize("kind", VIEWS)
def test_own_rows_open(world, admin_a, kind):
    assert admin_a.get(f"/{VIEWS[kind]}/show/{own_ids(world)[kind]}").status_code == 200
    assert admin_a.get(f"/{VIEWS[kind]}/edit/{own_ids(world)[kind]}").status_code == 200


@pytest.mark.parametrize("kind", VIEWS)
def test_editing_or_deleting_a_foreign_row_is_refused_and_changes_nothing(world, admin_a, kind):
    pk = foreign_ids(world)[kind]
    model = {"company": Company, "staff": Staff, "customer": Customer}[kind]
    before = db.session.get(model, pk)
    name_attr = "last_name" if kind == "staff" else "name"
    old_name = getattr(before, name_attr)
    resp = admin_a.post(f"/{VIEWS[kind]}/edit/{pk}", data={name_attr: "gehackt", "name": "x"})
    assert resp.status_code == 404
    assert admin_a.post(f"/{VIEWS[kind]}/delete/{pk}").status_code == 404
    db.session.expire_all()
    row = db.session.get(model, pk)
    assert row is not None and getattr(row, name_attr) == old_name


@pytest.mark.parametrize("kind", VIEWS)
def test_actions_on_foreign_rows_answer_404(world, admin_a, kind):
    pk = foreign_ids(world)[kind]
    resp = admin_a.post(f"/{VIEWS[kind]}/action_post", data={"action": "muldelete", "rowid": [pk]})
    assert resp.status_code == 404


def test_a_company_admin_creates_a_company_below_its_own(world, admin_a):
    resp = admin_a.post("/companyview/add", data={"name": "Neue Filiale", "kind": "BROKER_FIRM",
                                                  "parent": world.firm_a.id})
    assert resp.status_code == 302
    created = db.session.query(Company).filter_by(name="Neue Filiale").one()
    assert created.parent_id == world.firm_a.id
    assert created.created_by.username == "admin_a"


@pytest.mark.parametrize("parent", ["foreign", "none"])
def test_a_company_admin_cannot_create_a_company_outside_its_subtree(world, admin_a, parent):
    data = {"name": "Fremdfirma", "kind": "BROKER_FIRM"}
    if parent == "foreign":
        data["parent"] = world.firm_b.id
    resp = admin_a.post("/companyview/add", data=data)
    assert resp.status_code == 200
    assert "Keine gültige Auswahl" in resp.get_data(as_text=True)
    assert db.session.query(Company).filter_by(name="Fremdfirma").count() == 0


def test_a_company_admin_cannot_move_its_own_company(world, admin_a):
    resp = admin_a.post(f"/companyview/edit/{world.firm_a.id}", data={
        "name": "Firma A", "kind": "BROKER_FIRM", "parent": world.sub_a.id})
    assert resp.status_code == 200
    db.session.expire_all()
    assert db.session.get(Company, world.firm_a.id).parent_id == world.pool.id


def test_a_company_admin_cannot_move_a_customer_to_a_foreign_company(world, admin_a):
    c = world.customer_a
    resp = admin_a.post(f"/customerview/edit/{c.id}", data={"name": c.name, "company": world.firm_b.id})
    assert resp.status_code == 200
    db.session.expire_all()
    assert db.session.get(Customer, c.id).company_id == world.sub_a.id


def test_the_pool_admin_sees_every_company_of_the_pool(world, client):
    ui_login(client, "pooladmin")
    html = client.get("/companyview/list/").get_data(as_text=True)
    for name in ("Pool AG", "Firma A", "Filiale A1", "Firma B"):
        assert name in html


def test_lookups_offer_only_rows_of_the_own_subtree(world, admin_a):
    names = {r["text"] for r in admin_a.get("/lookup/company/?q=").json["results"]}
    assert names == {"Firma A", "Filiale A1"}
    names = {r["text"] for r in admin_a.get("/lookup/customer/?q=Kund").json["results"]}
    assert names == {"Kundin A"}
    assert admin_a.get("/lookup/nosuch/").status_code == 404
