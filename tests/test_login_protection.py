"""Login protection: the growing delay per account (form and API), common
passwords refused, long passwords accepted, the TOTP second factor, and
the auth events in the "pool.security" log."""
from __future__ import annotations

import logging
import re

import pytest
from sqlalchemy import select

from app.domain.access import INTERMEDIARY, POOL_STAFF
from app.extensions import db
from app.models.auth import LoginThrottle, UserTotp
from app.security import sessions, totp
from tests.factories import PASSWORD, make_admin, make_user, ui_login
from tests.test_sessions import Clock, logged_in

DELAY_DE = "Zu viele fehlgeschlagene Anmeldungen"


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(sessions, "utcnow", clock)
    return clock


def form_login(client, username, password):
    """The flashed message after a refused login, or None when logged in."""
    resp = client.post("/login/", data={"username": username, "password": password})
    assert resp.status_code == 302
    if "/login/" not in resp.headers["Location"]:
        return None
    return client.get("/login/").get_data(as_text=True)


def api_login(client, username, password, **extra):
    return client.post("/api/v1/security/login", json={
        "username": username, "password": password, "provider": "db", **extra})


def failures(key_part):
    db.session.expire_all()
    rows = db.session.execute(select(LoginThrottle)).scalars().all()
    return {r.key: r.failures for r in rows if key_part in r.key}


# --- the growing delay ---------------------------------------------------------------

def test_after_three_failures_the_delay_doubles_and_then_the_password_works(app, client,
                                                                             clock, caplog):
    user = make_user(POOL_STAFF, "ziel")
    with caplog.at_level(logging.INFO, logger="pool.security"):
        for n in range(3):
            page = form_login(client, "ziel", f"falsch {n}")
            assert "Ungültige Anmeldedaten" in page
    assert "login failed: username='ziel'" in caplog.text
    assert PASSWORD not in caplog.text and "falsch 0" not in caplog.text
    # 3 failures: 1 second; an attempt within it is refused unchecked, even
    # with the right password, and does not count
    assert DELAY_DE in form_login(client, "ziel", PASSWORD)
    assert failures(f"user:{user.id}") == {f"user:{user.id}": 3}
    clock.advance(seconds=1)
    assert "Ungültige" in form_login(client, "ziel", "falsch 4")        # 4th: 2 s
    clock.advance(seconds=1)
    assert DELAY_DE in form_login(client, "ziel", PASSWORD)
    clock.advance(seconds=1)
    assert "Ungültige" in form_login(client, "ziel", "falsch 5")        # 5th: 4 s
    clock.advance(seconds=3)
    assert DELAY_DE in form_login(client, "ziel", PASSWORD)
    assert "login refused (delay" in caplog.text
    clock.advance(seconds=1)
    assert form_login(client, "ziel", PASSWORD) is None
    assert logged_in(client)
    # a success resets the count
    assert failures(f"user:{user.id}") == {}
    db.session.expire_all()
    assert db.session.get(app.appbuilder.sm.user_model, user.id).fail_login_count == 0


def test_no_permanent_lockout_the_delay_stops_at_15_minutes(app, client, clock):
    make_user(POOL_STAFF, "angegriffen")
    for n in range(40):
        form_login(client, "angegriffen", f"falsch {n}")
        clock.advance(minutes=15)                # each attempt after the longest delay
    clock.advance(minutes=14, seconds=59)
    form_login(client, "angegriffen", "noch einmal falsch")
    clock.advance(minutes=14, seconds=59)
    assert DELAY_DE in form_login(client, "angegriffen", PASSWORD)
    clock.advance(seconds=1)
    assert form_login(client, "angegriffen", PASSWORD) is None


def test_the_refusal_does_not_tell_whether_the_account_exists(app, clock):
    make_user(POOL_STAFF, "gibt-es")
    pages = {}
    for name in ("gibt-es", "gibt-es-nicht"):
        client = app.test_client()
        for n in range(3):
            form_login(client, name, f"falsch {n}")
        pages[name] = form_login(client, name, PASSWORD)
        assert DELAY_DE in pages[name]
    api = app.test_client()
    answers = {name: api_login(api, name, PASSWORD) for name in ("gibt-es", "gibt-es-nicht")}
    assert {a.status_code for a in answers.values()} == {429}
    assert answers["gibt-es"].json == answers["gibt-es-nicht"].json


def test_the_api_login_counts_and_waits_like_the_form(app, client, clock):
    user = make_user(POOL_STAFF, "skript")
    for n in range(2):
        assert api_login(client, "skript", f"falsch {n}").status_code == 401
    assert "Ungültige" in form_login(app.test_client(), "skript", "falsch 2")  # shared count
    refused = api_login(client, "skript", PASSWORD)
    assert refused.status_code == 429 and "Zu viele" in refused.json["message"]
    clock.advance(seconds=1)
    ok = api_login(client, "skript", PASSWORD)
    assert ok.status_code == 200 and "access_token" in ok.json
    assert failures(f"user:{user.id}") == {}


def test_an_inactive_account_is_refused_like_a_wrong_password(app, client):
    user = make_user(POOL_STAFF, "ruhend")
    user.active = False
    db.session.commit()
    assert "Ungültige" in form_login(client, "ruhend", PASSWORD)
    assert api_login(client, "ruhend", PASSWORD).status_code == 401


def test_the_api_login_refuses_bad_input_with_400(app, client):
    make_user(POOL_STAFF, "skript")
    assert client.post("/api/v1/security/login", data="kein json").status_code == 400
    resp = api_login(client, "skript", PASSWORD, totp=123456)
    assert resp.status_code == 400 and "totp" in resp.json["message"]
    resp = client.post("/api/v1/security/login", json={"username": "skript"})
    assert resp.status_code == 400 and "password" in resp.json["message"]


# --- passwords -----------------------------------------------------------------------

def add_user_form(client, role, username, password):
    return client.post("/users/add", data={
        "first_name": "A", "last_name": "B", "username": username,
        "email": f"{username}@example.com", "active": "y", "roles": [role.id],
        "password": password, "conf_password": password})


@pytest.mark.parametrize("password", ["passwort1234", "Qwertzuiop123", "123456789012"])
def test_a_common_password_is_refused_with_a_message_naming_the_field(app, client, password):
    make_admin("root")
    ui_login(client, "root")
    role = app.appbuilder.sm.find_role(POOL_STAFF)
    page = add_user_form(client, role, "neu", password).get_data(as_text=True)
    assert app.appbuilder.sm.find_user(username="neu") is None
    assert "zu den häufigsten Passwörtern" in page
    # next to the password field
    field = page.index('name="password"')
    assert "häufigsten" in page[field:field + 1500]


def test_a_common_password_is_refused_on_the_staff_screen(app, client):
    from app.models.crm import CompanyKind, Staff
    from tests.factories import make_company

    make_admin("root")
    ui_login(client, "root")
    pool = make_company("Pool", CompanyKind.POOL)
    resp = client.post("/staffview/add", data={
        "first_name": "Max", "last_name": "Muster", "company": pool.id,
        "email": "max@example.com", "username": "max", "password": "hallo1234567",
        "role": "Pool staff"})
    page = resp.get_data(as_text=True)
    assert "zu den häufigsten Passwörtern" in page
    assert db.session.query(Staff).count() == 0


@pytest.mark.parametrize("length", [64, 200])
def test_long_passwords_are_accepted_and_log_in(app, client, length):
    make_admin("root")
    ui_login(client, "root")
    role = app.appbuilder.sm.find_role(POOL_STAFF)
    password = ("Ein langer Satz als Passwort, " * 10)[:length]
    assert len(password) == length
    assert add_user_form(client, role, "lang", password).status_code == 302
    assert app.appbuilder.sm.find_user(username="lang") is not None
    other = app.test_client()
    assert form_login(other, "lang", password) is None
    assert api_login(other, "lang", password).status_code == 200


# --- the second factor ---------------------------------------------------------------

def enrol(app, client, clock, username):
    """Enrol `username` (logged in with `client`) and return its secret."""
    resp = client.post("/login-security/totp/setup")
    assert resp.status_code == 302 and "/login-security/totp/confirm" in resp.headers["Location"]
    page = client.get("/login-security/totp/confirm").get_data(as_text=True)
    user = app.appbuilder.sm.find_user(username=username)
    db.session.expire_all()
    secret = db.session.get(UserTotp, user.id).secret
    assert secret in page and '<svg width="' in page
    wrong = client.post("/login-security/totp/confirm", data={"code": "000000"})
    assert "nicht richtig" in wrong.get_data(as_text=True)
    assert db.session.get(UserTotp, user.id).confirmed is None
    resp = client.post("/login-security/totp/confirm",
                       data={"code": totp.code_for(secret, clock.now)})
    assert resp.status_code == 302
    db.session.expire_all()
    assert db.session.get(UserTotp, user.id).confirmed is not None
    return secret


def test_totp_enrolment_and_the_two_step_login(app, clock, caplog):
    make_user(POOL_STAFF, "zweifach")
    client = ui_login(app.test_client(), "zweifach")
    with caplog.at_level(logging.INFO, logger="pool.security"):
        secret = enrol(app, client, clock, "zweifach")
    assert "TOTP enrolled: user=zweifach" in caplog.text
    assert "eingerichtet" in client.get("/login-security/").get_data(as_text=True)
    client.get("/logout/")

    browser = app.test_client()
    resp = browser.post("/login/", data={"username": "zweifach", "password": PASSWORD})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/login/code")
    assert not logged_in(browser)                # not logged in before the code
    assert "6-stellige Code" in browser.get("/login/code").get_data(as_text=True)
    # the code used for the enrolment does not work again
    browser.post("/login/code", data={"code": totp.code_for(secret, clock.now)})
    assert not logged_in(browser)
    with caplog.at_level(logging.INFO, logger="pool.security"):
        browser.post("/login/code", data={"code": "123456"})
    assert "TOTP code refused: username='zweifach'" in caplog.text
    clock.advance(seconds=30)
    resp = browser.post("/login/code", data={"code": totp.code_for(secret, clock.now)})
    assert resp.status_code == 302
    assert logged_in(browser)
    # each code once: the same code cannot start a second login
    other = app.test_client()
    other.post("/login/", data={"username": "zweifach", "password": PASSWORD})
    other.post("/login/code", data={"code": totp.code_for(secret, clock.now)})
    assert not logged_in(other)


def test_the_code_step_expires_and_needs_the_password_step(app, clock):
    make_user(POOL_STAFF, "zweifach")
    secret = enrol(app, ui_login(app.test_client(), "zweifach"), clock, "zweifach")
    browser = app.test_client()
    assert browser.get("/login/code").headers["Location"].endswith("/login/")
    browser.post("/login/", data={"username": "zweifach", "password": PASSWORD})
    clock.advance(minutes=6)
    resp = browser.post("/login/code", data={"code": totp.code_for(secret, clock.now)})
    assert resp.headers["Location"].endswith("/login/")
    assert not logged_in(browser)


def test_wrong_codes_count_towards_the_account_delay(app, clock):
    user = make_user(POOL_STAFF, "zweifach")
    secret = enrol(app, ui_login(app.test_client(), "zweifach"), clock, "zweifach")
    clock.advance(seconds=30)
    browser = app.test_client()
    browser.post("/login/", data={"username": "zweifach", "password": PASSWORD})
    for _ in range(3):
        browser.post("/login/code", data={"code": "000000"})
    assert failures(f"user:{user.id}") == {f"user:{user.id}": 3}
    resp = browser.post("/login/code", data={"code": totp.code_for(secret, clock.now)})
    assert "/login/" in resp.headers["Location"]
    assert DELAY_DE in browser.get("/login/").get_data(as_text=True)
    assert not logged_in(browser)
    clock.advance(seconds=1)
    browser.post("/login/", data={"username": "zweifach", "password": PASSWORD})
    browser.post("/login/code", data={"code": totp.code_for(secret, clock.now)})
    assert logged_in(browser)


def test_the_api_login_asks_for_the_code_of_an_enrolled_user(app, clock):
    make_user(POOL_STAFF, "zweifach")
    secret = enrol(app, ui_login(app.test_client(), "zweifach"), clock, "zweifach")
    clock.advance(seconds=30)
    api = app.test_client()
    resp = api_login(api, "zweifach", PASSWORD)
    assert resp.status_code == 401 and resp.json["totp_required"] is True
    assert "access_token" not in resp.json
    assert api_login(api, "zweifach", PASSWORD, totp="000000").status_code == 401
    resp = api_login(api, "zweifach", PASSWORD, totp=totp.code_for(secret, clock.now))
    assert resp.status_code == 200 and "access_token" in resp.json
    assert api_login(api, "zweifach", PASSWORD,
                     totp=totp.code_for(secret, clock.now)).status_code == 401  # used


def test_an_admin_resets_the_second_factor_others_may_not(app, clock, caplog):
    user = make_user(POOL_STAFF, "verloren")
    enrol(app, ui_login(app.test_client(), "verloren"), clock, "verloren")
    make_user(POOL_STAFF, "neugierig")
    nosy = ui_login(app.test_client(), "neugierig")  # staff, not admin
    assert nosy.post(f"/login-security/totp/reset/{user.id}").status_code == 403
    make_admin("root")
    admin = ui_login(app.test_client(), "root")
    page = admin.get("/login-security/").get_data(as_text=True)
    assert "verloren" in page and f"/login-security/totp/reset/{user.id}" in page
    with caplog.at_level(logging.INFO, logger="pool.security"):
        assert admin.post(f"/login-security/totp/reset/{user.id}").status_code == 302
    assert "TOTP reset: user=verloren by=root" in caplog.text
    assert db.session.get(UserTotp, user.id) is None
    assert form_login(app.test_client(), "verloren", PASSWORD) is None


def test_an_enrolled_factor_cannot_be_replaced_without_a_reset(app, clock):
    user = make_user(POOL_STAFF, "zweifach")
    client = ui_login(app.test_client(), "zweifach")
    secret = enrol(app, client, clock, "zweifach")
    client.post("/login-security/totp/setup")
    db.session.expire_all()
    assert db.session.get(UserTotp, user.id).secret == secret


def test_extranet_logins_have_no_totp_screen(app):
    make_user(INTERMEDIARY, "makler")
    client = ui_login(app.test_client(), "makler")
    assert client.get("/login-security/").status_code == 403
    assert client.post("/login-security/totp/setup").status_code == 403
    assert 'href="/login-security/"' not in client.get("/").get_data(as_text=True)


def test_staff_find_their_login_security_in_the_user_menu(app):
    make_user(POOL_STAFF, "sachbearbeiter")
    client = ui_login(app.test_client(), "sachbearbeiter")
    page = client.get("/").get_data(as_text=True)
    assert 'href="/login-security/"' in page and "Anmeldesicherheit" in page


def test_the_qr_code_is_inline_svg_of_the_otpauth_uri(app):
    svg = totp.qr_svg("otpauth://totp/Vermittlerpool:x?secret=JBSWY3DPEHPK3PXP")
    assert svg.startswith("<svg") and "<script" not in svg and "http" not in svg.replace(
        "http://www.w3.org/2000/svg", "")
    assert re.search(r'width="\d+"', svg)
