"""Secure defaults: CSRF, login rate limit, cookies, password rule, no default admin."""
import pytest

from app import create_app
from app.extensions import db
from app.models.crm import Company, CompanyKind
from tests.conftest import make_config
from tests.factories import PASSWORD, make_admin, make_company


@pytest.fixture
def strict_app(_schema):
    app = create_app(make_config(WTF_CSRF_ENABLED=True, AUTH_RATE_LIMITED=True,
                                 RATELIMIT_ENABLED=True, AUTH_RATE_LIMIT="5 per minute"))
    with app.app_context():
        yield app
        from tests.conftest import clean_database
        clean_database()
        db.session.remove()


def test_a_form_post_without_csrf_token_is_refused_and_writes_nothing(strict_app):
    client = strict_app.test_client()
    make_admin("root")
    login_page = client.get("/login/").get_data(as_text=True)
    import re
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', login_page).group(1)
    resp = client.post("/login/", data={"username": "root", "password": PASSWORD,
                                        "csrf_token": token})
    assert resp.status_code == 302
    resp = client.post("/companyview/add", data={"name": "Ohne Token", "kind": "POOL"})
    assert resp.status_code == 400
    assert db.session.query(Company).count() == 0


def test_a_get_on_a_delete_url_deletes_nothing(strict_app):
    client = strict_app.test_client()
    make_admin("root")
    company = make_company("Bleibt", CompanyKind.POOL)
    import re
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"',
                      client.get("/login/").get_data(as_text=True)).group(1)
    client.post("/login/", data={"username": "root", "password": PASSWORD, "csrf_token": token})
    client.get(f"/companyview/delete/{company.id}")
    db.session.expire_all()
    assert db.session.get(Company, company.id) is not None


def test_the_api_login_works_with_csrf_protection_on(strict_app):
    client = strict_app.test_client()
    make_admin("root")
    resp = client.post("/api/v1/security/login",
                       json={"username": "root", "password": PASSWORD, "provider": "db"})
    assert resp.status_code == 200 and "access_token" in resp.json


def test_repeated_failed_logins_are_rate_limited(strict_app):
    client = strict_app.test_client()
    codes = [client.post("/api/v1/security/login",
                         json={"username": "x", "password": "wrong password!", "provider": "db"}
                         ).status_code for _ in range(8)]
    assert 429 in codes
    assert codes[0] == 401
    import re
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"',
                      client.get("/login/").get_data(as_text=True)).group(1)
    form = [client.post("/login/", data={"username": "x", "password": "wrong password!",
                                         "csrf_token": token}).status_code for _ in range(8)]
    assert 429 in form


def test_session_cookies_are_httponly_and_samesite(app, client):
    make_admin("root")
    resp = client.post("/login/", data={"username": "root", "password": PASSWORD})
    cookie = resp.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_pool_init_creates_no_login(app):
    sm = app.appbuilder.sm
    assert db.session.query(sm.user_model).count() == 0
    assert sm.find_role("Admin") is not None


@pytest.mark.parametrize("password, ok", [("kurz", False), ("elf zeichen", False),
                                          ("zwölf zeichen", True), ("a" * 100, True)])
def test_the_fab_user_form_applies_the_length_rule(app, client, password, ok):
    make_admin("root")
    from tests.factories import ui_login
    ui_login(client, "root")
    role = app.appbuilder.sm.find_role("Pool staff")
    resp = client.post("/users/add", data={
        "first_name": "A", "last_name": "B", "username": "neu", "email": "neu@example.com",
        "active": "y", "roles": [role.id], "password": password, "conf_password": password})
    created = app.appbuilder.sm.find_user(username="neu") is not None
    assert created is ok, resp.get_data(as_text=True)[-2000:]


def test_the_secret_key_is_generated_once_and_kept(tmp_path, monkeypatch):
    import importlib

    import config
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setattr(config, "INSTANCE_DIR", tmp_path)
    first = config._secret_key()
    assert len(first) >= 64 and first == config._secret_key()
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
    monkeypatch.setenv("SECRET_KEY", "from-the-environment")
    assert config._secret_key() == "from-the-environment"
    importlib.reload(config)
