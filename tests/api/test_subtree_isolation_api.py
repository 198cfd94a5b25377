"""A company admin sees and changes only its own company subtree, in the REST API."""
import prison
import pytest

from app.extensions import db
from app.models.crm import Company, Customer, Staff
from tests.factories import api_token
from tests.world import build_world

RESOURCES = ["company", "staff", "customer"]


@pytest.fixture
def world(app):
    return build_world()


@pytest.fixture
def auth(client, world):
    return api_token(client, "admin_a")


def ids(w, which):
    if which == "foreign":
        return {"company": w.firm_b.id, "staff": w.staff_b.id, "customer": w.customer_b.id}
    return {"company": w.sub_a.id, "staff": w.staff_a.id, "customer": w.customer_a.id}


@pytest.mark.parametrize("resource", RESOURCES)
def test_lists_hold_only_the_own_subtree(client, world, auth, resource):
    resp = client.get(f"/api/v1/{resource}/", headers=auth)
    assert resp.status_code == 200
    got = {r["id"] for r in resp.json["result"]}
    assert ids(world, "own")[resource] in got
    assert ids(world, "foreign")[resource] not in got


@pytest.mark.parametrize("resource", RESOURCES)
def test_a_rison_filter_cannot_widen_the_list(client, world, auth, resource):
    q = prison.dumps({"filters": [{"col": "id", "opr": "eq", "value": ids(world, "foreign")[resource]}]})
    resp = client.get(f"/api/v1/{resource}/?q={q}", headers=auth)
    assert resp.status_code in (200, 400)
    assert resp.json.get("count", 0) == 0


@pytest.mark.parametrize("resource", RESOURCES)
@pytest.mark.parametrize("which", ["foreign", "guessed"])
def test_get_put_delete_of_foreign_or_unknown_ids_answer_404(client, world, auth, resource, which):
    pk = ids(world, "foreign")[resource] if which == "foreign" else 987654
    assert client.get(f"/api/v1/{resource}/{pk}", headers=auth).status_code == 404
    assert client.put(f"/api/v1/{resource}/{pk}", json={"name": "x"}, headers=auth).status_code == 404
    assert client.delete(f"/api/v1/{resource}/{pk}", headers=auth).status_code == 404


def test_foreign_rows_stay_unchanged(client, world, auth):
    client.delete(f"/api/v1/customer/{world.customer_b.id}", headers=auth)
    client.put(f"/api/v1/company/{world.firm_b.id}", json={"name": "x"}, headers=auth)
    db.session.expire_all()
    assert db.session.get(Customer, world.customer_b.id) is not None
    assert db.session.get(Company, world.firm_b.id).name == "Firma B"


@pytest.mark.parametrize("resource", RESOURCES)
def test_own_rows_are_readable(client, world, auth, resource):
    resp = client.get(f"/api/v1/{resource}/{ids(world, 'own')[resource]}", headers=auth)
    assert resp.status_code == 200


def test_creating_a_customer_in_a_foreign_company_is_refused(client, world, auth):
    resp = client.post("/api/v1/customer/", json={"name": "Neu", "company": world.firm_b.id},
                       headers=auth)
    assert resp.status_code == 422
    assert "company" in resp.json["message"]
    assert db.session.query(Customer).filter_by(name="Neu").count() == 0


def test_a_foreign_id_and_an_unknown_id_get_the_same_answer(client, world, auth):
    foreign = client.post("/api/v1/customer/", json={"name": "Neu", "company": world.firm_b.id},
                          headers=auth)
    unknown = client.post("/api/v1/customer/", json={"name": "Neu", "company": 987654},
                          headers=auth)
    assert foreign.status_code == unknown.status_code == 422
    assert foreign.json == unknown.json
    assert db.session.query(Company).count() == 4  # no company made up from the id


def test_a_customer_without_company_belongs_to_the_callers_company(client, world, auth):
    resp = client.post("/api/v1/customer/", json={"name": "Ohne Firma"}, headers=auth)
    assert resp.status_code == 201, resp.json
    assert db.session.get(Customer, resp.json["id"]).company_id == world.firm_a.id


def test_a_company_admin_creates_a_company_below_its_own_by_api(client, world, auth):
    resp = client.post("/api/v1/company/", json={"name": "API-Filiale", "kind": "BROKER_FIRM",
                                                 "parent": world.sub_a.id}, headers=auth)
    assert resp.status_code == 201, resp.json
    assert db.session.get(Company, resp.json["id"]).parent_id == world.sub_a.id


@pytest.mark.parametrize("parent", ["foreign", None])
def test_a_company_outside_the_subtree_cannot_be_created_by_api(client, world, auth, parent):
    body = {"name": "Fremd", "kind": "BROKER_FIRM"}
    if parent:
        body["parent"] = world.firm_b.id
    resp = client.post("/api/v1/company/", json=body, headers=auth)
    assert resp.status_code == 422
    assert "parent" in resp.json["message"]
    assert db.session.query(Company).filter_by(name="Fremd").count() == 0


def test_a_company_admin_cannot_move_its_own_company_by_api(client, world, auth):
    resp = client.put(f"/api/v1/company/{world.firm_a.id}", json={"parent": world.sub_a.id},
                      headers=auth)
    assert resp.status_code == 422
    db.session.expire_all()
    assert db.session.get(Company, world.firm_a.id).parent_id == world.pool.id


def test_the_home_company_cannot_be_deleted_by_its_admin(client, world, auth):
    resp = client.delete(f"/api/v1/company/{world.firm_a.id}", headers=auth)
    assert resp.status_code == 422
    assert db.session.get(Company, world.firm_a.id) is not None


def test_a_staff_login_outside_the_subtree_cannot_be_set(client, world, auth):
    resp = client.post(f"/api/v1/staff/{world.staff_b.id}/login",
                       json={"username": "x", "password": "x" * 12, "role": "Company admin"},
                       headers=auth)
    assert resp.status_code == 404
    db.session.expire_all()
    assert db.session.get(Staff, world.staff_b.id).user.username == "staff_b"


@pytest.mark.parametrize("resource", RESOURCES)
def test_the_info_endpoint_offers_no_foreign_related_rows(client, world, auth, resource):
    resp = client.get(f"/api/v1/{resource}/_info", headers=auth)
    assert resp.status_code == 200
    text = resp.get_data(as_text=True)
    for foreign in ("Firma B", "Kunde B", "Vermittler B", "Pool AG"):
        assert foreign not in text


@pytest.mark.parametrize("resource, column", [("customer", "company"), ("customer", "intermediary"),
                                              ("company", "parent"), ("staff", "company")])
def test_the_related_endpoint_offers_no_foreign_rows(client, world, auth, resource, column):
    resp = client.get(f"/api/v1/{resource}/related/{column}", headers=auth)
    assert resp.status_code in (200, 404)
    text = resp.get_data(as_text=True)
    for foreign in ("Firma B", "Vermittler B", "Pool AG"):
        assert foreign not in text


def test_field_descriptions_are_not_the_catalogue_header(client, world, auth):
    info = client.get("/api/v1/customer/_info", headers=auth).json
    assert all("Project-Id-Version" not in f["description"] for f in info["add_columns"])
