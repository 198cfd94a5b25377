"""What keeps lists fast with the large pool (issue 9), and that it changes
nothing of what they show: the company scope without a subquery for the
staff of the only root, counts that stop at a cap, case-insensitive
searches an index can serve, search forms without every intermediary, the
account in pages, an intermediary's combinations by id."""
from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest

from app.extensions import db
from app.models.crm import CompanyKind
from app.security.scope import scope_for_user
from tests.factories import make_company, make_customer, make_intermediary, ui_login
from tests.world import build_world


@pytest.fixture
def world(app):
    return build_world()


def view(app, name):
    return next(v for v in app.appbuilder.baseviews if type(v).__name__ == name)


def test_the_staff_of_the_only_root_read_every_company_without_a_condition(client, world):
    user = world.pool_staff.user
    assert scope_for_user(user).all_companies
    assert not scope_for_user(world.admin_a.user).all_companies
    ui_login(client, "poolstaff")
    page = client.get("/customerview/list/").text
    assert "Kundin A" in page and "Kunde B" in page
    # a second root: its rows stay invisible to the first pool's staff
    other = make_company("Fremdpool AG", CompanyKind.POOL)
    make_customer(other, "Fremdkunde")
    assert not scope_for_user(user).all_companies
    page = client.get("/customerview/list/").text
    assert "Kundin A" in page and "Fremdkunde" not in page
    assert client.get(f"/companyview/show/{other.id}").status_code == 404


def test_a_list_counts_up_to_the_cap_and_pages_on(app, client, world, monkeypatch):
    for i in range(12):
        make_customer(world.firm_b, f"Kunde {i:02d}")
    # counted up to the cap, or ten pages beyond the one shown
    monkeypatch.setattr(view(app, "CustomerView").datamodel, "count_cap", 5)
    monkeypatch.setattr(view(app, "CustomerView"), "page_size", 1)
    ui_login(client, "poolstaff")
    page = client.get("/customerview/list/").text
    assert re.search(r"mehr als 10\b", page), page
    assert "page_CustomerView=9" in page
    page = client.get("/customerview/list/?page_CustomerView=9").text
    assert "mehr als" not in page                             # 14 rows, all counted
    assert "page_CustomerView=13" in page


def test_text_searches_ignore_case_and_take_wildcards_literally(client, world):
    ui_login(client, "poolstaff")
    page = client.get("/customerview/list/?_flt_0_name=kundin").text    # starts with
    assert "Kundin A" in page and "Kunde B" not in page
    page = client.get("/customerview/list/?_flt_2_name=E%20B").text     # contains
    assert "Kunde B" in page and "Kundin A" not in page
    for wildcard in ("_", "%25"):
        page = client.get(f"/customerview/list/?_flt_2_name={wildcard}").text
        assert "Kundin A" not in page and "Kunde B" not in page


def test_the_bookings_search_offers_only_the_chosen_intermediary(client, world):
    ui_login(client, "poolstaff")
    page = client.get(f"/bookingview/list/?_flt_0_intermediary={world.intermediary_a.id}").text
    assert "Vermittler A" in page and "Vermittler B" not in page
    page = client.get("/bookingview/list/").text
    assert "Vermittler A" not in page and "Vermittler B" not in page


def test_the_account_comes_in_pages_with_its_running_balance(client, world, monkeypatch):
    from app.services.ledger import book_correction
    from app.views import ledger

    person = world.intermediary_a
    for day, amount in ((1, "10.00"), (2, "20.00"), (2, "-5.00"), (3, "40.00"), (4, "80.00")):
        book_correction(person.id, Decimal(amount), date(2026, 10, day), "Test")
    monkeypatch.setattr(ledger, "ACCOUNT_PAGE", 2)
    ui_login(client, "poolstaff")

    def balances(url):
        page = client.get(url).text
        return re.findall(r'<td class="text-right">([-\d.,]+)</td></tr>', page), page
    newest, page = balances(f"/account/{person.id}")
    assert newest == ["25,00", "65,00", "145,00"]        # opening, then 40 and 80
    assert f"/account/{person.id}?page=1" in page and "Spätere Buchungen" not in page
    middle, page = balances(f"/account/{person.id}?page=1")
    assert middle == ["10,00", "30,00", "25,00"]          # 20 and -5 after the 10
    oldest, page = balances(f"/account/{person.id}?page=2")
    assert oldest == ["10,00"] and "Frühere Buchungen" not in page
    since, _ = balances(f"/account/{person.id}?from=2026-10-02&page=1")
    assert since == ["10,00", "30,00", "25,00"]          # opening: the day before


def test_an_intermediary_sees_the_contracts_of_its_combinations(app, client):
    from app.models.contracts import Contract
    from app.models.intermediaries import Combination, CombinationMember
    from tests.extranet_world import build_world as extranet_world

    w = extranet_world()
    other = make_intermediary(w["f2"], "Carla Conrad")
    own = Combination(name="A und B", members=[
        CombinationMember(intermediary=w["a"], share=Decimal(50)),
        CombinationMember(intermediary=w["b"], share=Decimal(50))])
    foreign = Combination(name="B und C", members=[
        CombinationMember(intermediary=w["b"], share=Decimal(50)),
        CombinationMember(intermediary=other, share=Decimal(50))])
    db.session.add_all([own, foreign])
    db.session.flush()
    for number, combination in (("K-AB", own), ("K-BC", foreign)):
        db.session.add(Contract(policy_number=number, customer=w["y"], product=w["product"],
                                combination=combination, start_date=date(2026, 1, 1),
                                term_months=120, managing_company=w["pool"]))
    db.session.commit()
    ui_login(client, "makler-a")
    page = client.get("/my/contracts/list/").text
    assert "K-AB" in page and "K-BC" not in page and "P-A" in page and "P-B" not in page
