"""Each role sees only its menus, and a hidden menu's URL is refused too."""
import pytest

from app.domain.access import (
    ADMIN,
    COMPANY_ADMIN,
    CUSTOMER,
    INTERMEDIARY,
    POOL_ADMIN,
    POOL_STAFF,
)
from app.models.crm import CompanyKind
from tests.factories import make_company, make_staff, make_user, ui_login

MENU_URLS = {
    "customers": "/customerview/list/",
    "companies": "/companyview/list/",
    "staff": "/staffview/list/",
    "users": "/users/list/",
    "roles": "/roles/list/",
}

EXPECTED = {
    ADMIN: {"customers", "companies", "staff", "users", "roles"},
    POOL_ADMIN: {"customers", "companies", "staff"},
    POOL_STAFF: {"customers", "companies", "staff"},
    COMPANY_ADMIN: {"customers", "companies", "staff"},
    INTERMEDIARY: set(),
    CUSTOMER: set(),
}


@pytest.mark.parametrize("role", list(EXPECTED))
def test_each_role_sees_exactly_its_menus_and_nothing_else_opens(app, client, role):
    pool = make_company("Pool", CompanyKind.POOL)
    if role in (INTERMEDIARY, CUSTOMER, ADMIN):
        make_user(role, "someone")
    else:
        make_staff(pool, role, "someone")
    ui_login(client, "someone")
    home = client.get("/").get_data(as_text=True)
    shown = {name for name, url in MENU_URLS.items() if f'href="{url}"' in home}
    assert shown == EXPECTED[role]
    for name, url in MENU_URLS.items():
        status = client.get(url).status_code
        if name in EXPECTED[role]:
            assert status == 200, url
        else:
            assert status in (302, 403), url


def test_pool_staff_reads_companies_but_cannot_change_them(app, client):
    pool = make_company("Pool", CompanyKind.POOL)
    make_staff(pool, POOL_STAFF, "ps")
    ui_login(client, "ps")
    assert client.get(f"/companyview/show/{pool.id}").status_code == 200
    assert client.get(f"/companyview/edit/{pool.id}").status_code in (302, 403)
    assert client.post("/companyview/add", data={"name": "X", "kind": "POOL"}).status_code in (302, 403)


def test_an_anonymous_visitor_is_sent_to_the_login(app, client):
    resp = client.get("/customerview/list/")
    assert resp.status_code == 302 and "/login/" in resp.headers["Location"]
