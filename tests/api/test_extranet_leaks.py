"""Each place fab-notes.md found base_filters leaking, probed as an
intermediary's login (the company-admin probes are in test_subtree_isolation_*)."""
from __future__ import annotations

import prison
import pytest

from app.extensions import db
from app.models.contracts import Application, Contract
from app.models.crm import Customer
from tests.extranet_world import build_world
from tests.factories import api_token, ui_login


@pytest.fixture
def world(app, client):
    w = build_world()
    w["auth"] = api_token(client, "makler-a")
    return w


def test_actions_do_not_reach_foreign_rows(client, world):
    ui_login(client, "makler-a")
    pb = world["contracts"]["P-B"]
    for url, data in (("/my/contracts/action_post", {"action": "muldelete", "rowid": [pb.id]}),
                      ("/my/customers/action_post", {"action": "muldelete",
                                                      "rowid": [world["y"].id]})):
        resp = client.post(url, data=data)
        assert resp.status_code in (302, 403, 404, 405), url
    assert db.session.get(Contract, pb.id) is not None
    assert db.session.get(Customer, world["y"].id) is not None


def test_dropdowns_and_lookups_offer_only_own_rows(client, world):
    ui_login(client, "makler-a")
    found = client.get("/lookup/customer/?q=").json
    names = {row["text"] for row in found["results"]}
    assert any("Xaver" in n for n in names) and not any("Yilmaz" in n for n in names)
    form = client.get("/my/applications/add").text
    assert "Yilmaz" not in form and "Bernd" not in form
    info = client.get("/api/v1/application/_info", headers=world["auth"])
    assert info.status_code == 200 and "Yilmaz" not in info.text and "Bernd" not in info.text


def test_owner_fields_on_add_and_update_are_refused_or_forced(client, world):
    auth = world["auth"]
    own = client.post("/api/v1/customer/", headers=auth, json={
        "name": "Neukunde", "company": world["f2"].id})
    assert own.status_code == 422 and "company" in own.json["message"]
    made = client.post("/api/v1/customer/", headers=auth, json={"name": "Neukunde"})
    assert made.status_code == 201, made.json
    assert db.session.get(Customer, made.json["id"]).company_id == world["f1"].id
    moved = client.put(f"/api/v1/customer/{world['k1'].id}", headers=auth,
                       json={"company": world["f2"].id})
    assert moved.status_code == 422
    application = world["application"]
    handed = client.put(f"/api/v1/application/{application.id}", headers=auth,
                        json={"intermediary": world["b"].id})
    assert handed.status_code == 422
    db.session.expire_all()
    assert db.session.get(Application, application.id).intermediary_id == world["a"].id
    assert db.session.get(Customer, world["k1"].id).company_id == world["f1"].id


def test_a_none_filter_value_matches_no_foreign_rows(client, world):
    q = prison.dumps({"filters": [{"col": "intermediary", "opr": "rel_o_m", "value": None}]})
    resp = client.get(f"/api/v1/contract/?q={q}", headers=world["auth"])
    assert resp.status_code in (200, 400)
    if resp.status_code == 200:
        ids = {row["id"] for row in resp.json["result"]}
        assert world["contracts"]["P-B"].id not in ids
    q = prison.dumps({"filters": [{"col": "customer", "opr": "rel_o_m",
                                   "value": world["y"].id}]})
    resp = client.get(f"/api/v1/contract/?q={q}", headers=world["auth"])
    assert resp.status_code == 200 and resp.json["result"] == []


def test_errors_in_hooks_are_4xx_not_500(client, world):
    auth = world["auth"]
    for call in (client.post("/api/v1/application/", headers=auth, json={
                     "customer": 10**12, "product": world["product"].id}),
                 client.post(f"/api/v1/contract/{10**12}/convert", headers=auth),
                 client.get(f"/api/v1/statement/{10**12}/pdf", headers=auth)):
        assert 400 <= call.status_code < 500


def test_bad_filter_values_unknown_actions_and_fab_downloads_are_4xx(client, world):
    ui_login(client, "ps")
    assert client.get("/contractview/list/?_flt_0_status=GEHEIM").status_code == 400
    assert client.get("/contractview/download/secret_key").status_code == 404
    assert client.post("/contractview/action_post", data={
        "action": "nonsense", "rowid": [world["contracts"]["P-B"].id]}).status_code == 404
    assert client.post("/groups/action/nonsense/1").status_code in (403, 404)


def test_the_extranet_screens_are_not_for_staff(client, world):
    ui_login(client, "ca1")
    for url in ("/my/", "/my/customers/add", "/folder/"):
        assert client.get(url).status_code == 403, url
