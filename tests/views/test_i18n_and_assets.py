"""German by default, English on request; no asset from outside the app."""
import re
from urllib.parse import urlparse

import pytest

from app.models.crm import CompanyKind
from tests.factories import (
    make_admin,
    make_company,
    make_customer,
    make_staff,
    ui_login,
)


def test_the_login_page_speaks_german_by_default(app, client):
    html = client.get("/login/").get_data(as_text=True)
    assert "Benutzername" in html and "Passwort" in html
    assert 'lang="de"' in html or "Anmelden" in html


def test_own_and_fab_strings_are_german_after_login(app, client):
    make_admin("root")
    ui_login(client, "root")
    html = client.get("/companyview/list/").get_data(as_text=True)
    for german in ("Unternehmen", "Kunden", "Mitarbeiter", "Administration", "Abmelden",
                   "Anlegen", "Sicherheit"):
        assert german in html, german
    html = client.get("/companyview/add").get_data(as_text=True)
    assert "Unternehmen anlegen" in html and "Übergeordnetes Unternehmen" in html


def test_english_on_request(app, client):
    make_admin("root")
    ui_login(client, "root")
    client.get("/lang/en")
    html = client.get("/companyview/list/").get_data(as_text=True)
    assert "Companies" in html and "Customers" in html and "Logout" in html
    client.get("/lang/de")
    assert "Kunden" in client.get("/companyview/list/").get_data(as_text=True)


def test_the_german_catalogue_is_complete():
    from pathlib import Path

    from babel.messages.pofile import read_po

    po = Path(__file__).resolve().parents[2] / "translations/de/LC_MESSAGES/messages.po"
    catalog = read_po(po.open("rb"))
    missing = [m.id for m in catalog if m.id and (not m.string or m.fuzzy)]
    assert missing == []


ASSET = re.compile(r'''(?:src|href|action)\s*=\s*["']([^"']+)["']|url\(\s*["']?([^"')]+)''')


def external_urls(html):
    found = []
    for match in ASSET.finditer(html):
        url = match.group(1) or match.group(2)
        parsed = urlparse(url)
        if url.startswith("//") or (parsed.scheme in ("http", "https") and
                                    parsed.hostname not in ("localhost", "127.0.0.1")):
            found.append(url)
    return found


@pytest.mark.parametrize("path", [
    "/login/", "/", "/customerview/list/", "/customerview/add", "/customerview/show/{customer}",
    "/customerview/edit/{customer}", "/companyview/list/", "/companyview/add",
    "/companyview/show/{pool}", "/staffview/list/", "/staffview/add", "/staffview/edit/{staff}",
    "/users/list/", "/roles/list/", "/users/userinfo/", "/swagger/v1",
])
def test_no_page_loads_anything_from_outside_the_app(app, client, path):
    pool = make_company("Pool", CompanyKind.POOL)
    customer = make_customer(pool, "Meier")
    staff = make_staff(pool, "Pool staff", "ps")
    if path != "/login/":
        make_admin("root")
        ui_login(client, "root")
    resp = client.get(path.format(pool=pool.id, customer=customer.id, staff=staff.id))
    assert resp.status_code == 200, path
    html = resp.get_data(as_text=True)
    assert external_urls(html) == []
    # and every local asset the page names is served by the app
    for url in set(re.findall(r'(?:src|href)="(/static/[^"?]+)', html)):
        assert client.get(url).status_code == 200, url
