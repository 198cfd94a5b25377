"""Intermediary rules through the screens: a message at the field, nothing written."""
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
from app.models.products import LiabilityModel
from tests.factories import make_staff, ui_login
from tests.masterdata import example_chain, line, person, pool_with_products


@pytest.fixture
def setup(app, client):
    pool, alpha, product = pool_with_products()
    make_staff(pool, "Pool staff", "ps")
    ui_login(client, "ps")
    return {"pool": pool, "alpha": alpha, "product": product}


def html_of(resp):
    return resp.get_data(as_text=True)


def test_an_intermediary_is_entered_with_german_numbers(client, setup):
    resp = client.post("/intermediaryview/add", data={
        "name": "Max Muster", "status": "ACTIVE", "reserve_rate": "10,5",
        "fixum": "1.250,00", "iban": "DE89 3704 0044 0532 0130 00"})
    assert resp.status_code == 302, html_of(resp)[-3000:]
    p = db.session.query(Intermediary).filter_by(name="Max Muster").one()
    assert (str(p.reserve_rate), str(p.fixum), p.company_id) == ("10.5000", "1250.00",
                                                                 setup["pool"].id)
    page = html_of(client.get(f"/intermediaryview/show/{p.id}"))
    assert "Vermittlerdaten" in page and "1.250,00" in page and "10,50" in page


@pytest.mark.parametrize("data, message", [
    ({"iban": "DE89370400440532013001"}, "keine gültige IBAN"),
    ({"register_number": "D-1"}, "D-XXXX-XXXXX-XX"),
    ({"fixum": "12,345"}, "Nachkommastellen"),
    ({"reserve_rate": "abc"}, "keine gültige Zahl"),
])
def test_bad_intermediary_input_shows_at_the_field(client, setup, data, message):
    resp = client.post("/intermediaryview/add", data={"name": "X", "status": "ACTIVE", **data})
    assert resp.status_code == 200
    assert message.lower() in html_of(resp).lower()
    assert db.session.query(Intermediary).count() == 0


def test_a_forbidden_status_change_is_refused_in_the_form(client, setup):
    p = person(setup["pool"], "P")
    resp = client.post(f"/intermediaryview/edit/{p.id}", data={
        "name": "P", "status": "GROUP", "company": setup["pool"].id})
    assert resp.status_code == 200
    assert "Statuswechsel" in html_of(resp)
    db.session.expire_all()
    assert db.session.get(Intermediary, p.id).status == IntermediaryStatus.ACTIVE


def test_the_group_field_refuses_a_non_group(client, setup):
    other = person(setup["pool"], "O")
    resp = client.post("/intermediaryview/add", data={"name": "N", "status": "ACTIVE",
                                                      "group": other.id})
    assert resp.status_code == 200
    assert "GRUPPE" in html_of(resp) or "Gruppe" in html_of(resp)
    assert db.session.query(Intermediary).filter_by(name="N").count() == 0


def test_rates_and_levels_show_as_sub_objects_of_the_intermediary(client, setup):
    a, b, c = example_chain(setup["pool"])
    db.session.add(IntermediaryRate(intermediary=a, line_of_business=line("010"), ap_rate=80))
    db.session.commit()
    page = html_of(client.get(f"/intermediaryview/edit/{a.id}"))
    assert "Provisionssätze" in page or "Sätze" in page
    assert "Hierarchieeinträge" in page
    assert "01.11.2026" in page or "1. Nov. 2026" in page


def test_an_ambiguous_rate_row_is_refused_in_the_form(client, setup):
    p = person(setup["pool"], "P")
    data = {"intermediary": p.id, "line_of_business": line("010").id, "ap_rate": "80"}
    assert client.post("/intermediaryrateview/add", data=data).status_code == 302
    resp = client.post("/intermediaryrateview/add", data={**data, "ap_rate": "75"})
    assert resp.status_code == 200
    assert "denselben Vertrag" in html_of(resp)
    assert db.session.query(IntermediaryRate).count() == 1


def test_a_cycle_and_a_duplicate_date_are_refused_in_the_form(client, setup):
    a, b, c = example_chain(setup["pool"])
    level = c.levels[0].career_level_id
    resp = client.post("/intermediarylevelview/add", data={
        "intermediary": c.id, "valid_from": "2026-03-01", "career_level": level,
        "supervisor": a.id})
    assert resp.status_code == 200 and "Zyklus" in html_of(resp)
    resp = client.post("/intermediarylevelview/add", data={
        "intermediary": a.id, "valid_from": "2026-11-01", "career_level": level})
    assert resp.status_code == 200 and "bereits einen Hierarchieeintrag" in html_of(resp)
    assert db.session.query(IntermediaryLevel).count() == 4


def test_a_combination_is_entered_with_shares_summing_to_100(client, setup):
    a, b = person(setup["pool"], "A"), person(setup["pool"], "B")
    former = person(setup["pool"], "F", IntermediaryStatus.FORMER)
    bad = {"name": "Team", "members-0-intermediary": a.id, "members-0-share": "50",
           "members-1-intermediary": b.id, "members-1-share": "49,99"}
    resp = client.post("/combinationview/add", data=bad)
    assert resp.status_code == 200 and "100 %" in html_of(resp)
    resp = client.post("/combinationview/add", data={**bad, "members-1-intermediary": former.id,
                                                     "members-1-share": "50"})
    assert resp.status_code == 200 and "AKTIV" in html_of(resp).upper()
    assert db.session.query(Combination).count() == 0
    resp = client.post("/combinationview/add", data={**bad, "members-1-share": "50",
                                                     "members-2-intermediary": "",
                                                     "members-2-share": ""})
    assert resp.status_code == 302, html_of(resp)[-2000:]
    combo = db.session.query(Combination).one()
    assert sorted((m.intermediary.name, str(m.share)) for m in combo.members) == [
        ("A", "50.0000"), ("B", "50.0000")]
    page = html_of(client.get(f"/combinationview/edit/{combo.id}"))
    assert 'name="members-0-share" value="50,00"' in page


def test_a_staged_liability_model_is_entered_as_text(client, setup):
    resp = client.post("/liabilitymodelview/add", data={
        "name": "Gestaffelt", "method": "STAGED", "months": "36", "stages": "12:100; 24:50; 36:25"})
    assert resp.status_code == 302, html_of(resp)[-2000:]
    model = db.session.query(LiabilityModel).one()
    assert model.stages == [{"months": 12, "percent": "100"}, {"months": 24, "percent": "50"},
                            {"months": 36, "percent": "25"}]
    resp = client.post("/liabilitymodelview/add", data={
        "name": "Falsch", "method": "STAGED", "months": "36", "stages": "24:50; 12:100"})
    assert resp.status_code == 200 and db.session.query(LiabilityModel).count() == 1


def test_the_org_chart_page_and_its_data(client, setup):
    example_chain(setup["pool"])
    page = client.get("/orgchart/?date=2026-11-05")
    assert page.status_code == 200 and "orgchart" in html_of(page)
    data = client.get("/orgchart/data?date=2026-11-05").json
    assert data["count"] == 3
    levels = {int(k): v for k, v in data["levels"].items()}
    rows = {name: (pid, levels[level][0] if level else None, sup)
            for pid, name, level, sup in data["nodes"]}
    assert rows["C"][1:] == (3, None)
    assert rows["A"][1:] == (2, rows["C"][0]) and rows["B"][1:] == (2, rows["C"][0])
    assert [n[1] for n in data["nodes"]] == ["A", "B", "C"]  # sorted by name
    assert client.get("/orgchart/data?date=kaputt").status_code == 400


def test_the_catalogue_lists_active_products_and_shows_rates(client, setup):
    from app.models.products import CareerLevel, Product, ProductRate
    level = CareerLevel(rank=1, name="Berater", value_per_unit=20)
    db.session.add_all([level, Product(insurer=setup["alpha"], line_of_business=line("010"),
                                       key="OLD", name="Alt-Tarif", active=False)])
    db.session.add(ProductRate(line_of_business=line("010"), career_level=level, ap_rate=40))
    db.session.commit()
    page = html_of(client.get("/catalogue/"))
    assert "Alpha Rente" in page and "Alt-Tarif" not in page
    assert "Alpha Rente" not in html_of(client.get("/catalogue/?q=Haftpflicht"))
    page = html_of(client.get(f"/catalogue/product/{setup['product'].id}"))
    assert "Berater" in page and "40,00" in page
    inactive = db.session.query(Product).filter_by(key="OLD").one()
    assert client.get(f"/catalogue/product/{inactive.id}").status_code == 404


def test_an_intermediary_login_sees_the_catalogue_and_nothing_else(app, client):
    from tests.factories import make_user
    pool_with_products()
    make_user("Intermediary", "vm")
    ui_login(client, "vm")
    assert client.get("/catalogue/").status_code == 200
    for url in ("/intermediaryview/list/", "/productview/list/", "/orgchart/",
                "/orgchart/data", "/customerview/list/"):
        assert client.get(url).status_code in (302, 401, 403), url
    assert date.today()


def test_a_company_admin_sees_only_its_intermediaries_read_only(app, client):
    from app.models.crm import Company
    pool, alpha, product = pool_with_products()
    firm = Company(name="Firma", kind="BROKER_FIRM", parent=pool)
    db.session.add(firm)
    db.session.commit()
    mine, other = person(firm, "Meiner"), person(pool, "Fremder")
    make_staff(firm, "Company admin", "ca")
    ui_login(client, "ca")
    page = html_of(client.get("/intermediaryview/list/"))
    assert "Meiner" in page and "Fremder" not in page
    assert client.get(f"/intermediaryview/show/{other.id}").status_code == 404
    assert client.get(f"/intermediaryview/show/{mine.id}").status_code == 200
    assert client.post(f"/intermediaryview/edit/{mine.id}", data={"name": "x"}).status_code in (302, 403)
    db.session.expire_all()
    assert db.session.get(Intermediary, mine.id).name == "Meiner"
    names = {n[1] for n in client.get("/orgchart/data").json["nodes"]}
    assert "Fremder" not in names
