"""Sessions: cookie flags, a new session on login, idle and absolute timeouts,
and the end of sessions on the server (logout, deactivation, deletion,
password change) for screens and JWTs alike."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from app.domain.access import ADMIN, INTERMEDIARY, POOL_STAFF
from app.extensions import db
from app.models.auth import AuthSession
from app.security import sessions
from tests.factories import PASSWORD, api_token, make_admin, make_user, ui_login

PAGE = "/users/userinfo/"
API = "/api/v1/company/"


class Clock:
    def __init__(self):
        self.now = datetime(2026, 12, 7, 8, 0, 0)

    def __call__(self):
        return self.now

    def advance(self, **delta):
        self.now += timedelta(**delta)


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(sessions, "utcnow", clock)
    return clock


def logged_in(client) -> bool:
    resp = client.get(PAGE)
    if resp.status_code == 200:
        return True
    assert resp.status_code == 302 and "/login/" in resp.headers["Location"], resp.status_code
    return False


def session_cookie(client):
    cookie = client.get_cookie("session")
    return cookie.value if cookie else None


def rows(user):
    db.session.expire_all()
    return db.session.execute(select(AuthSession).where(AuthSession.user_id == user.id)
                              .order_by(AuthSession.id)).scalars().all()


# --- cookies -----------------------------------------------------------------------

def test_the_session_cookie_is_secure_httponly_and_samesite(app, client):
    make_admin("root")
    resp = client.post("/login/", data={"username": "root", "password": PASSWORD})
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie
    assert "Expires" not in cookie             # a browser-session cookie
    assert "remember_token" not in "".join(resp.headers.getlist("Set-Cookie"))
    assert app.config["REMEMBER_COOKIE_SECURE"] and app.config["REMEMBER_COOKIE_HTTPONLY"]


@pytest.mark.parametrize("env, secure", [
    ({}, True), ({"FLASK_RUN_FROM_CLI": "true"}, False), ({"FLASK_DEBUG": "1"}, False),
    ({"FLASK_RUN_FROM_CLI": "true", "SESSION_COOKIE_SECURE": "1"}, True),
    ({"SESSION_COOKIE_SECURE": "0"}, False)])
def test_cookies_are_secure_except_on_the_development_server(monkeypatch, env, secure):
    import config

    for name in ("FLASK_RUN_FROM_CLI", "FLASK_DEBUG", "SESSION_COOKIE_SECURE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    setting = config._bool("SESSION_COOKIE_SECURE", not config._development_server())
    assert setting is secure


# --- a new session on login --------------------------------------------------------

def test_login_starts_a_new_session_and_keeps_nothing_of_the_old_one(app, client):
    make_admin("root")
    client.get("/login/")
    with client.session_transaction() as sess:
        sess["planted"] = "by an attacker"
        sess["_fresh"] = True
    before = session_cookie(client)
    ui_login(client, "root")
    after = session_cookie(client)
    assert after != before
    with client.session_transaction() as sess:
        assert "planted" not in sess
        first_sid = sess[sessions.SID_KEY]
    # the cookie from before the login is not logged in
    other = app.test_client()
    other.set_cookie("session", before)
    assert not logged_in(other)
    # each login its own session
    second = ui_login(app.test_client(), "root")
    with second.session_transaction() as sess:
        assert sess[sessions.SID_KEY] != first_sid
    assert len(rows(db.session.execute(select(app.appbuilder.sm.user_model)).scalar())) == 2


def test_a_session_cookie_without_a_server_session_is_not_logged_in(app, client):
    user = make_admin("root")
    with client.session_transaction() as sess:   # forged with the key, never logged in
        sess["_user_id"] = str(user.id)
        sess["_fresh"] = True
    assert not logged_in(client)
    with client.session_transaction() as sess:
        sess["_user_id"] = str(user.id)
        sess[sessions.SID_KEY] = "made-up"
    assert not logged_in(client)


# --- timeouts ------------------------------------------------------------------------

def test_a_staff_session_ends_after_30_idle_minutes(app, client, clock, caplog):
    user = make_user(POOL_STAFF, "sachbearbeiter")
    ui_login(client, "sachbearbeiter")
    clock.advance(minutes=29)
    assert logged_in(client)
    clock.advance(minutes=29)                   # 58 minutes since login, 29 idle
    assert logged_in(client)
    clock.advance(minutes=30, seconds=1)
    with caplog.at_level(logging.INFO, logger="pool.security"):
        resp = client.get("/companyview/list/")
    assert resp.status_code == 302
    assert "/login/?next=" in resp.headers["Location"] and "companyview" in resp.headers["Location"]
    assert "session expired (idle)" in caplog.text
    (row,) = rows(user)
    assert row.end_reason == "idle" and row.ended is not None
    assert "Ihre Sitzung ist beendet" in client.get("/login/").get_data(as_text=True)
    clock.advance(minutes=1)
    assert not logged_in(client)


def test_a_staff_session_ends_after_12_hours_however_busy(app, client, clock):
    user = make_user(POOL_STAFF, "fleissig")
    ui_login(client, "fleissig")
    for _ in range(35):                          # a request every 20 minutes
        clock.advance(minutes=20)
        assert logged_in(client)
    clock.advance(minutes=20)                    # 12 hours after the login
    assert not logged_in(client)
    assert rows(user)[0].end_reason == "absolute"
    ui_login(client, "fleissig")                 # a new login works at once
    assert logged_in(client)


def test_an_extranet_session_ends_after_15_idle_minutes_and_8_hours(app, clock):
    make_user(INTERMEDIARY, "makler")
    client = ui_login(app.test_client(), "makler")
    clock.advance(minutes=14)
    assert logged_in(client)
    clock.advance(minutes=15, seconds=1)
    assert not logged_in(client)

    busy = ui_login(app.test_client(), "makler")
    for _ in range(34):                          # 7 h 56 min of requests
        clock.advance(minutes=14)
        assert logged_in(busy)
    clock.advance(minutes=14)                    # 8 h 10 min after the login
    assert not logged_in(busy)


def test_the_timeouts_are_configurable(_schema, clock):
    from app import create_app
    from tests.conftest import clean_database, make_config

    app = create_app(make_config(POOL_SESSION_IDLE_MINUTES_STAFF=5))
    with app.app_context():
        try:
            make_user(POOL_STAFF, "kurz")
            client = ui_login(app.test_client(), "kurz")
            clock.advance(minutes=4)
            assert logged_in(client)
            clock.advance(minutes=5)
            assert not logged_in(client)
        finally:
            clean_database()
            db.session.remove()


def test_an_expired_session_gets_401_from_the_api(app, client, clock):
    make_admin("root")
    ui_login(client, "root")
    clock.advance(minutes=31)
    resp = client.get(API)
    assert resp.status_code == 401 and resp.is_json


def test_an_api_login_ends_after_the_absolute_timeout(app, client, clock):
    make_admin("root")
    headers = api_token(client, "root")
    assert client.get(API, headers=headers).status_code == 200
    clock.advance(hours=11, minutes=59)
    assert client.get(API, headers=headers).status_code == 200
    clock.advance(minutes=1)
    assert client.get(API, headers=headers).status_code == 401


# --- the end of sessions on the server ----------------------------------------------

def test_logout_ends_the_session_on_the_server(app, client, caplog):
    user = make_admin("root")
    with caplog.at_level(logging.INFO, logger="pool.security"):
        ui_login(client, "root")
        copied = session_cookie(client)
        assert client.get("/logout/").status_code == 302
    assert "login succeeded: username='root' channel=web" in caplog.text
    assert "logout: username='root'" in caplog.text
    assert not logged_in(client)
    thief = app.test_client()
    thief.set_cookie("session", copied)          # the cookie copied before the logout
    assert not logged_in(thief)
    assert [r.end_reason for r in rows(user)] == ["logout"]


def test_logout_ends_every_session_of_the_user_api_included(app, client):
    make_admin("root")
    other = ui_login(app.test_client(), "root")
    headers = api_token(app.test_client(), "root")
    ui_login(client, "root")
    client.get("/logout/")
    assert not logged_in(other)
    assert client.get(API, headers=headers).status_code == 401


def test_deactivation_ends_screen_sessions_and_jwts(app, client, caplog):
    admin = make_admin("root")
    user = make_user(POOL_STAFF, "geht")
    screen = ui_login(app.test_client(), "geht")
    api = app.test_client()
    resp = api.post("/api/v1/security/login", json={
        "username": "geht", "password": PASSWORD, "provider": "db", "refresh": True})
    access, refresh = resp.json["access_token"], resp.json["refresh_token"]
    assert api.get("/users/userinfo/").status_code in (200, 302)
    ui_login(client, "root")
    role = app.appbuilder.sm.find_role(POOL_STAFF)
    with caplog.at_level(logging.INFO, logger="pool.security"):
        resp = client.post(f"/users/edit/{user.id}", data={
            "first_name": "Test", "last_name": "geht", "username": "geht",
            "email": "geht@example.com", "roles": [role.id]})  # "active" unticked
    assert resp.status_code == 302, resp.get_data(as_text=True)[-1500:]
    db.session.expire_all()
    assert db.session.get(app.appbuilder.sm.user_model, user.id).active is False
    assert "sessions ended (deactivated)" in caplog.text
    assert not logged_in(screen)
    assert api.get("/api/v1/company/",
                   headers={"Authorization": f"Bearer {access}"}).status_code == 401
    assert api.post("/api/v1/security/refresh",
                    headers={"Authorization": f"Bearer {refresh}"}).status_code == 401
    # reactivated: the old sessions stay ended, a new login works
    u = db.session.get(app.appbuilder.sm.user_model, user.id)
    u.active = True
    db.session.commit()
    assert not logged_in(screen)
    assert api.get("/api/v1/company/",
                   headers={"Authorization": f"Bearer {access}"}).status_code == 401
    assert logged_in(ui_login(app.test_client(), "geht"))
    assert logged_in(client) and admin.active


def test_deleting_a_user_ends_its_sessions(app):
    user = make_user(POOL_STAFF, "weg")
    screen = ui_login(app.test_client(), "weg")
    assert logged_in(screen)
    db.session.delete(db.session.get(app.appbuilder.sm.user_model, user.id))
    db.session.commit()
    assert not logged_in(screen)


def test_a_password_change_ends_the_other_sessions_but_not_the_own(app):
    user = make_user(POOL_STAFF, "neues-passwort")
    here = ui_login(app.test_client(), "neues-passwort")
    there = ui_login(app.test_client(), "neues-passwort")
    headers = api_token(app.test_client(), "neues-passwort")
    new = "ein ganz neues Kennwort"
    resp = here.post("/resetmypassword/form", data={"password": new, "conf_password": new})
    assert resp.status_code == 302, resp.get_data(as_text=True)[-1500:]
    assert logged_in(here)
    assert not logged_in(there)
    assert here.get(API, headers=headers).status_code in (401, 403)
    assert sorted(r.end_reason or "open" for r in rows(user)) == ["open", "password",
                                                                  "password"]
    ui_login(app.test_client(), "neues-passwort", new)


def test_an_admin_setting_a_password_ends_every_session_of_that_user(app, client):
    user = make_user(POOL_STAFF, "vergesslich")
    screen = ui_login(app.test_client(), "vergesslich")
    make_admin("root")
    ui_login(client, "root")
    new = "vom Admin gesetzt 2026"
    resp = client.post(f"/resetpassword/form?pk={user.id}",
                       data={"password": new, "conf_password": new})
    assert resp.status_code == 302, resp.get_data(as_text=True)[-1500:]
    assert not logged_in(screen)
    assert logged_in(client)


def test_a_refresh_token_gives_tokens_of_the_same_session(app, client):
    make_user(ADMIN, "skript")
    resp = client.post("/api/v1/security/login", json={
        "username": "skript", "password": PASSWORD, "provider": "db", "refresh": True})
    refresh = {"Authorization": f"Bearer {resp.json['refresh_token']}"}
    fresh = client.post("/api/v1/security/refresh", headers=refresh)
    assert fresh.status_code == 200
    headers = {"Authorization": f"Bearer {fresh.json['access_token']}"}
    assert client.get(API, headers=headers).status_code == 200
    ui = ui_login(app.test_client(), "skript")
    ui.get("/logout/")
    assert client.get(API, headers=headers).status_code == 401
    assert client.post("/api/v1/security/refresh", headers=refresh).status_code == 401


def test_a_jwt_without_a_session_is_refused(app, client):
    from flask_jwt_extended import create_access_token

    user = make_admin("root")
    token = create_access_token(identity=str(user.id), fresh=True)
    assert client.get(API, headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_deleting_a_staff_record_deactivates_its_login_and_ends_its_sessions(app):
    from app.models.crm import CompanyKind
    from tests.factories import make_company, make_staff

    staff = make_staff(make_company("Pool", CompanyKind.POOL), POOL_STAFF, "ausgeschieden")
    screen = ui_login(app.test_client(), "ausgeschieden")
    headers = api_token(app.test_client(), "ausgeschieden")
    assert logged_in(screen)
    db.session.delete(staff)
    db.session.commit()
    assert not logged_in(screen)
    assert screen.get(API, headers=headers).status_code == 401
    assert {r.end_reason for r in rows(staff.user)} == {"deactivated"}


def test_old_session_rows_are_purged_and_open_ones_kept(app, clock):
    user = make_admin("root")
    ended_long_ago = app.test_client()
    ui_login(ended_long_ago, "root")
    ended_long_ago.get("/logout/")
    clock.advance(days=31)
    recent = app.test_client()          # ended today: kept
    ui_login(recent, "root")
    clock.advance(minutes=10)
    recent.get("/logout/")
    still_open = app.test_client()
    ui_login(still_open, "root")
    assert len(rows(user)) == 3
    assert sessions.purge_sessions() == 1
    db.session.expire_all()
    assert sorted(str(r.end_reason) for r in rows(user)) == ["None", "logout"]
    assert logged_in(still_open)
    clock.advance(days=31)              # never ended, long beyond 12 hours: purged too
    assert sessions.purge_sessions() == 2
    assert rows(user) == []
