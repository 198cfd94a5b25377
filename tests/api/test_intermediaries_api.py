"""Intermediary rules through the REST API: 422 naming the rule, nothing written."""
from datetime import date

import pytest

from app.extensions import db
from app.models.intermediaries import (
    Combination,
    Intermediary,
    IntermediaryLevel,
    IntermediaryRate,
    IntermediaryStatus,
)
from tests.factories import api_token, make_staff
from tests.masterdata import example_chain, levels, line, person, pool_with_products


@pytest.fixture
def setup(app, client):
    pool, alpha, product = pool_with_products()
    make_staff(pool, "Pool staff", "ps")
    return {"pool": pool, "alpha": alpha, "product": product, "auth": api_token(client, "ps")}


def post(client, setup, resource, body):
    return client.post(f"/api/v1/{resource}/", json=body, headers=setup["auth"])


def put(client, setup, resource, pk, body):
    return client.put(f"/api/v1/{resource}/{pk}", json=body, headers=setup["auth"])


def test_an_intermediary_is_created_with_defaults_and_decimal_strings(client, setup):
    resp = post(client, setup, "intermediary", {
        "name": "Max", "iban": "de89 3704 0044 0532 0130 00", "reserve_rate": "10",
        "reserve_cap": 5000, "fixum": "-50.00", "register_number": "D-1A2B-C3D4E-56",
        "tax_number": "DE123456789"})
    assert resp.status_code == 201, resp.json
    got = client.get(f"/api/v1/intermediary/{resp.json['id']}", headers=setup["auth"]).json["result"]
    assert got["status"] == "ACTIVE"
    assert got["company"]["id"] == setup["pool"].id
    assert got["iban"] == "DE89370400440532013000"
    assert (got["reserve_rate"], got["reserve_cap"], got["fixum"]) == ("10.0000", "5000.00", "-50.00")


@pytest.mark.parametrize("body, field", [
    ({"iban": "DE89370400440532013001"}, "iban"),
    ({"bic": "XX"}, "bic"),
    ({"register_number": "D-12-34"}, "register_number"),
    ({"tax_number": "12345"}, "tax_number"),
    ({"reserve_rate": "10.12345"}, "reserve_rate"),
    ({"reserve_rate": "101"}, "reserve_rate"),
    ({"fixum": "12.345"}, "fixum"),
    ({"fixum": "zwölf"}, "fixum"),
    ({"status": "BOSS"}, "status"),
])
def test_invalid_master_data_is_refused_naming_the_field(client, setup, body, field):
    resp = post(client, setup, "intermediary", {"name": "X", **body})
    assert resp.status_code == 422, resp.json
    assert field in resp.json["message"]
    assert db.session.query(Intermediary).count() == 0


@pytest.mark.parametrize("old, new, ok", [
    ("ACTIVE", "FORMER", True), ("FORMER", "ACTIVE", True), ("PROSPECT", "ACTIVE", True),
    ("ACTIVE", "GROUP", False), ("GROUP", "ACTIVE", False), ("GROUP", "FORMER", False),
    ("PROSPECT", "GROUP", False),
])
def test_status_changes(client, setup, old, new, ok):
    p = person(setup["pool"], "P", IntermediaryStatus(old))
    resp = put(client, setup, "intermediary", p.id, {"status": new})
    assert resp.status_code == (200 if ok else 422), resp.json
    if not ok:
        assert "status" in resp.json["message"]
    db.session.expire_all()
    assert db.session.get(Intermediary, p.id).status.value == (new if ok else old)


def test_the_group_must_be_a_group_and_a_group_has_none(client, setup):
    group = person(setup["pool"], "G", IntermediaryStatus.GROUP)
    other = person(setup["pool"], "O")
    assert post(client, setup, "intermediary", {"name": "M", "group": group.id}).status_code == 201
    resp = post(client, setup, "intermediary", {"name": "N", "group": other.id})
    assert resp.status_code == 422 and "group" in resp.json["message"]
    resp = put(client, setup, "intermediary", group.id, {"group": group.id})
    assert resp.status_code == 422 and "group" in resp.json["message"]


def test_an_ambiguous_rate_row_is_refused(client, setup):
    p = person(setup["pool"], "P")
    body = {"intermediary": p.id, "insurer": setup["alpha"].id,
            "line_of_business": line("010").id, "ap_rate": "80"}
    first = post(client, setup, "intermediary_rate", body)
    assert first.status_code == 201, first.json
    assert first.json["result"]["ap_rate"] == "80.0000"
    resp = post(client, setup, "intermediary_rate", {**body, "ap_rate": 75})
    assert resp.status_code == 422
    assert "Zeilen" in str(resp.json["message"]) or "row" in str(resp.json["message"])
    # a term range makes it more specific: accepted
    assert post(client, setup, "intermediary_rate", {**body, "term_min": 1, "term_max": 60}
                ).status_code == 201
    assert post(client, setup, "intermediary_rate", {**body, "term_min": 60}).status_code == 422
    assert db.session.query(IntermediaryRate).count() == 2


@pytest.mark.parametrize("body, field", [
    ({"ap_rate": "80.12345"}, "ap_rate"), ({"fp_rate": -1}, "fp_rate"),
    ({"term_min": 60, "term_max": 12}, "term_max"),
])
def test_bad_rate_rows_name_the_field(client, setup, body, field):
    p = person(setup["pool"], "P")
    resp = post(client, setup, "intermediary_rate", {"intermediary": p.id, **body})
    assert resp.status_code == 422 and field in resp.json["message"], resp.json


def test_hierarchy_entries_refuse_duplicate_dates_and_cycles(client, setup):
    a, b, c = example_chain(setup["pool"])
    l3 = c.levels[0].career_level
    resp = post(client, setup, "intermediary_level", {
        "intermediary": a.id, "valid_from": "2026-11-01", "career_level": l3.id})
    assert resp.status_code == 422 and "valid_from" in resp.json["message"]
    resp = post(client, setup, "intermediary_level", {
        "intermediary": c.id, "valid_from": "2026-03-01", "career_level": l3.id,
        "supervisor": a.id})
    assert resp.status_code == 422 and "supervisor" in resp.json["message"]
    assert db.session.query(IntermediaryLevel).count() == 4
    resp = post(client, setup, "intermediary_level", {
        "intermediary": b.id, "valid_from": "2026-12-01", "career_level": l3.id})
    assert resp.status_code == 201, resp.json


@pytest.mark.parametrize("day, expected", [
    ("2026-10-31", [("C", 3, [("B", 2, [("A", 1, [])])])]),
    ("2026-11-05", [("C", 3, [("A", 2, []), ("B", 2, [])])]),
    ("2025-12-31", []),
])
def test_the_hierarchy_at_a_date(client, setup, day, expected):
    example_chain(setup["pool"])
    resp = client.get(f"/api/v1/hierarchy/?date={day}", headers=setup["auth"])
    assert resp.status_code == 200, resp.json

    def shape(nodes):
        return [(n["name"], n["career_level"], shape(n["children"])) for n in nodes]
    assert shape(resp.json["result"]) == expected


def test_the_hierarchy_refuses_a_bad_date(client, setup):
    assert client.get("/api/v1/hierarchy/?date=31.12.2026", headers=setup["auth"]).status_code == 400


def test_combinations_need_active_members_summing_to_100(client, setup):
    a, b = person(setup["pool"], "A"), person(setup["pool"], "B")
    former = person(setup["pool"], "F", IntermediaryStatus.FORMER)
    resp = post(client, setup, "combination", {"name": "T", "members": [
        {"intermediary": a.id, "share": "50"}, {"intermediary": b.id, "share": "49.99"}]})
    assert resp.status_code == 422 and "members" in resp.json["message"]
    resp = post(client, setup, "combination", {"name": "T", "members": [
        {"intermediary": a.id, "share": 50}, {"intermediary": former.id, "share": 50}]})
    assert resp.status_code == 422 and "members" in resp.json["message"]
    assert db.session.query(Combination).count() == 0
    resp = post(client, setup, "combination", {"name": "T", "members": [
        {"intermediary": a.id, "share": "33.3333"}, {"intermediary": b.id, "share": "66.6667"}]})
    assert resp.status_code == 201, resp.json
    assert resp.json["result"]["members"] == [
        {"intermediary": a.id, "share": "33.3333"}, {"intermediary": b.id, "share": "66.6667"}]
    pk = resp.json["id"]
    resp = put(client, setup, "combination", pk, {"members": [{"intermediary": a.id, "share": 90}]})
    assert resp.status_code == 422
    resp = put(client, setup, "combination", pk, {"members": [{"intermediary": a.id, "share": 100}]})
    assert resp.status_code == 200
    got = client.get(f"/api/v1/combination/{pk}", headers=setup["auth"]).json["result"]
    assert got["members"] == [{"intermediary": a.id, "share": "100.0000"}]


def test_products_and_product_rates(client, setup):
    pool = setup["pool"]
    resp = post(client, setup, "product", {"insurer": pool.id, "line_of_business": line("040").id,
                                           "key": "X", "name": "X"})
    assert resp.status_code == 422 and "insurer" in resp.json["message"]
    resp = post(client, setup, "product", {"insurer": setup["alpha"].id,
                                           "line_of_business": line("040").id, "key": "PH",
                                           "name": "Haftpflicht", "pool_fp_rate": "20",
                                           "units_per_1000": "2.5"})
    assert resp.status_code == 201, resp.json
    assert resp.json["result"]["units_per_1000"] == "2.5000"
    lv = levels()
    resp = post(client, setup, "product_rate", {"product": resp.json["id"],
                                                "line_of_business": line("040").id,
                                                "career_level": lv[0].id, "ap_rate": 40})
    assert resp.status_code == 422 and "product" in resp.json["message"]
    resp = post(client, setup, "product_rate", {"line_of_business": line("010").id,
                                                "career_level": lv[0].id, "ap_rate": 40})
    assert resp.status_code == 201
    resp = post(client, setup, "product_rate", {"line_of_business": line("010").id,
                                                "career_level": lv[0].id, "ap_rate": 41})
    assert resp.status_code == 422 and "career_level" in resp.json["message"]


@pytest.mark.parametrize("body, field", [
    ({"name": "S", "months": 36, "method": "STAGED"}, "stages"),
    ({"name": "S", "months": 36, "method": "STAGED",
      "stages": [{"months": 24, "percent": 50}, {"months": 12, "percent": 100}]}, "stages"),
    ({"name": "S", "months": 36, "method": "STAGED",
      "stages": [{"months": 12, "percent": 50}, {"months": 24, "percent": 100}]}, "stages"),
    ({"name": "C", "months": 60, "method": "COMBINED"}, "full_months"),
    ({"name": "P", "months": 0, "method": "PRO_RATA"}, "months"),
    ({"name": "P", "months": 60, "method": "PRO_RATA", "stages": [{"months": 1, "percent": 1}]},
     "stages"),
])
def test_liability_models_are_validated(client, setup, body, field):
    resp = post(client, setup, "liability_model", body)
    assert resp.status_code == 422 and field in resp.json["message"], resp.json


def test_a_staged_liability_model_keeps_its_stages(client, setup):
    resp = post(client, setup, "liability_model", {
        "name": "S", "months": 36, "method": "STAGED",
        "stages": [{"months": 12, "percent": 100}, {"months": 36, "percent": "25.5"}]})
    assert resp.status_code == 201, resp.json
    got = client.get(f"/api/v1/liability_model/{resp.json['id']}", headers=setup["auth"]).json
    assert got["result"]["stages"] == [{"months": 12, "percent": "100"},
                                       {"months": 36, "percent": "25.5"}]


def test_a_company_admin_reads_only_its_own_intermediaries(client, setup):
    from app.models.crm import Company
    firm = Company(name="Firma", kind="BROKER_FIRM", parent=setup["pool"])
    db.session.add(firm)
    db.session.commit()
    mine, other = person(firm, "Meiner"), person(setup["pool"], "Fremder")
    make_staff(firm, "Company admin", "ca")
    auth = api_token(client, "ca")
    names = {r["name"] for r in client.get("/api/v1/intermediary/", headers=auth).json["result"]}
    assert names == {"Meiner"}
    assert client.get(f"/api/v1/intermediary/{other.id}", headers=auth).status_code == 404
    assert client.put(f"/api/v1/intermediary/{mine.id}", json={"name": "x"},
                      headers=auth).status_code == 403
    tree = client.get("/api/v1/hierarchy/", headers=auth).json["result"]
    assert all(n["name"] != "Fremder" for n in tree)
    assert date.today()


def test_the_cached_hierarchy_follows_every_change(client, setup):
    a, b, c = example_chain(setup["pool"])
    url = "/api/v1/hierarchy/?date=2026-06-01"

    def parent_of_a():
        tree = client.get(url, headers=setup["auth"]).json["result"]
        stack = [(n, None) for n in tree]
        while stack:
            node, parent = stack.pop()
            if node["name"] == "A":
                return parent
            stack.extend((child, node["name"]) for child in node["children"])
    assert parent_of_a() == "B"
    first = a.levels[0] if a.levels[0].valid_from.month == 1 else a.levels[1]
    assert put(client, setup, "intermediary_level", first.id, {"supervisor": c.id}).status_code == 200
    assert parent_of_a() == "C"
    assert put(client, setup, "intermediary", a.id, {"name": "A2"}).status_code == 200
    tree = client.get(url, headers=setup["auth"]).json["result"]
    assert "A2" in str(tree)
    assert client.delete(f"/api/v1/intermediary_level/{first.id}",
                         headers=setup["auth"]).status_code == 200
    assert "A2" not in str(client.get(url, headers=setup["auth"]).json["result"])
