"""Security headers on every route, generic error pages, refused access logged.

The header test walks `app.url_map` (every rule, every method but HEAD and
OPTIONS; new routes are picked up by themselves) as an anonymous visitor,
as an admin and as an intermediary (screens with the session, /api/ with a
token), over HTTPS, and checks every answer: the CSP directives with a
nonce that is new on every request and carried by every script of the page,
no inline event handlers, nosniff, Referrer-Policy, frame denial, HSTS, and
`no-store` on everything but static files.
"""
from __future__ import annotations

import logging
import re
from datetime import date
from decimal import Decimal

import pytest
from flask import abort

from app import create_app
from app.extensions import db
from tests.conftest import clean_database, make_config
from tests.factories import PASSWORD, api_token, make_admin, ui_login

HTTPS = "https://localhost"
CSP_DIRECTIVES = {
    "default-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "frame-ancestors": "'none'",
    "form-action": "'self'",
}
NONCE = re.compile(r"'nonce-([A-Za-z0-9_\-]{16,})'")
SCRIPT_TAG = re.compile(r"<script\b[^>]*>", re.I)
#: an attribute like onclick= inside a tag, or a javascript: URL
INLINE_HANDLER = re.compile(r"<[a-zA-Z][^>]*\son[a-z]+\s*=", re.S)
JS_URL = re.compile(r"""(?:href|src|action)\s*=\s*["']\s*javascript:""", re.I)
STATIC = ("static", "appbuilder.static")
#: the value a URL converter gets (ids no row has: nothing is changed or shown)
VALUES = {"locale": "de", "version": "v1", "kind": "csv", "owner": "contract",
          "name": "probe", "filename": "probe.txt", "job_id": "probe", "group_by": "probe"}
STATIC_FILES = {"static": "js/lookup.js", "appbuilder.static": "css/bootstrap.min.css"}
NO_ROW = 2_000_000


def csp_of(resp) -> dict[str, str]:
    header = resp.headers.get("Content-Security-Policy", "")
    out = {}
    for part in header.split(";"):
        name, _, value = part.strip().partition(" ")
        if name:
            out[name] = value
    return out


def header_problems(resp, static: bool) -> list[str]:
    """What is wrong with the security headers of one answer."""
    problems = []
    csp = csp_of(resp)
    for name, value in CSP_DIRECTIVES.items():
        if csp.get(name) != value:
            problems.append(f"CSP {name} is {csp.get(name)!r}")
    script = csp.get("script-src", "")
    if not script.startswith("'self'") or not NONCE.search(script) or "unsafe" in script:
        problems.append(f"CSP script-src is {script!r}")
    if resp.headers.get("X-Content-Type-Options") != "nosniff":
        problems.append("no nosniff")
    if resp.headers.get("Referrer-Policy") not in ("strict-origin-when-cross-origin",
                                                  "no-referrer"):
        problems.append(f"Referrer-Policy {resp.headers.get('Referrer-Policy')!r}")
    if resp.headers.get("X-Frame-Options") != "DENY":
        problems.append(f"X-Frame-Options {resp.headers.get('X-Frame-Options')!r}")
    hsts = resp.headers.get("Strict-Transport-Security", "")
    if hsts != "max-age=31536000; includeSubDomains":
        problems.append(f"HSTS {hsts!r}")
    cache = resp.headers.get("Cache-Control", "")
    if static:
        if "no-store" in cache or "max-age=" not in cache:
            problems.append(f"static file with Cache-Control {cache!r}")
    elif "no-store" not in cache:
        problems.append(f"Cache-Control {cache!r}")
    return problems


def page_problems(resp) -> list[str]:
    """An HTML page: every script carries this answer's nonce; no inline
    event handler, no javascript: URL."""
    html = resp.get_data(as_text=True)
    nonce = NONCE.search(csp_of(resp).get("script-src", ""))
    problems = []
    for tag in SCRIPT_TAG.findall(html):
        if not nonce or f'nonce="{nonce.group(1)}"' not in tag:
            problems.append(f"script without the nonce: {tag[:120]}")
    problems += [f"inline handler: {m[-80:]}" for m in INLINE_HANDLER.findall(html)]
    problems += [f"javascript: URL {m}" for m in JS_URL.findall(html)]
    return problems


def url_for_rule(rule) -> str:
    values = {}
    for name, conv in rule._converters.items():
        if rule.endpoint in STATIC_FILES and name == "filename":
            values[name] = STATIC_FILES[rule.endpoint]
        elif type(conv).__name__ in ("IntegerConverter", "NumberConverter"):
            values[name] = NO_ROW
        else:
            values[name] = VALUES.get(name, str(NO_ROW))
    return rule.build(values, append_unknown=False)[1]


@pytest.fixture
def world(_app):
    """The extranet world (tests/extranet_world.py) and an admin "root"; the
    requests run outside an app context, each in its own as in production
    (inside the `app` fixture's context, `g` and with it flask_login's
    loaded user would carry over from one test client to the next)."""
    from tests.extranet_world import build_world

    with _app.app_context():
        built = build_world()
        make_admin("root")
        ids = {"a": built["a"].id, "contract": built["contracts"]["P-A"].id,
               "root": _app.appbuilder.sm.find_user(username="root").id,
               "makler-a": _app.appbuilder.sm.find_user(username="makler-a").id}
        db.session.remove()
    yield ids
    with _app.app_context():
        clean_database()
        db.session.remove()


def sweep(app, client, api_auth: dict) -> dict:
    """Every rule and method once; returns what was seen."""
    seen = {"calls": 0, "pages": 0, "statuses": {}, "nonces": [], "problems": []}
    rules = sorted(app.url_map.iter_rules(), key=lambda r: (r.endpoint == "AuthDBView.logout",
                                                           r.rule))
    for rule in rules:
        url = url_for_rule(rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            api = rule.rule.startswith("/api/")
            kwargs = {"base_url": HTTPS, "headers": api_auth if api else {}}
            if method in ("POST", "PUT"):
                kwargs["json" if api else "data"] = {}
            resp = client.open(url, method=method, **kwargs)
            seen["calls"] += 1
            seen["statuses"][resp.status_code] = seen["statuses"].get(resp.status_code, 0) + 1
            where = f"{method} {url} ({resp.status_code})"
            problems = header_problems(resp, rule.endpoint in STATIC)
            nonce = NONCE.search(csp_of(resp).get("script-src", ""))
            if nonce:
                seen["nonces"].append(nonce.group(1))
            if resp.mimetype == "text/html" and rule.endpoint not in STATIC:
                seen["pages"] += 1
                problems += page_problems(resp)
            if api and resp.status_code >= 400 and resp.mimetype != "application/json":
                problems.append(f"an API error as {resp.mimetype}")
            if resp.status_code >= 500:
                problems.append("a server error")
            seen["problems"] += [f"{where}: {p}" for p in problems]
    return seen




@pytest.mark.parametrize("who", ["anonymous", "admin", "intermediary"])
def test_every_route_sends_the_security_headers(_app, world, who, monkeypatch):
    app = _app
    # a failing route answers the 500 page (checked too) instead of raising here
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)
    client = app.test_client()
    auth = {}
    if who != "anonymous":
        username = "root" if who == "admin" else "makler-a"
        ui_login(client, username)
        auth = api_token(app.test_client(), username)
    seen = sweep(app, client, auth)
    assert seen["problems"] == [], "\n".join(seen["problems"][:40])
    # the walk tested something: every rule, rendered pages, the refusals
    assert seen["calls"] >= len(list(app.url_map.iter_rules()))
    assert seen["pages"] >= 100, seen
    assert len(set(seen["nonces"])) == len(seen["nonces"]) == seen["calls"]
    if who == "admin":
        assert seen["statuses"].get(200, 0) >= 60, seen["statuses"]
    else:
        assert seen["statuses"].get(403 if who == "intermediary" else 401, 0) >= 50, \
            seen["statuses"]


def test_the_nonce_is_new_on_every_request_and_is_the_one_of_the_scripts(_app, world):
    client = _app.test_client()
    ui_login(client, "makler-a")
    nonces = []
    for _ in range(3):
        resp = client.get("/my/")
        assert resp.status_code == 200
        nonce = NONCE.search(csp_of(resp)["script-src"]).group(1)
        tags = SCRIPT_TAG.findall(resp.get_data(as_text=True))
        assert len(tags) >= 5 and all(f'nonce="{nonce}"' in tag for tag in tags)
        nonces.append(nonce)
    assert len(set(nonces)) == 3
    # a page refused by the gate before its view ran has the nonce too
    refused = client.get("/companyview/list/")
    assert refused.status_code == 403
    assert page_problems(refused) == []


def test_hsts_only_over_https_and_no_redirect_to_https_by_default(app, client):
    plain = client.get("/login/")
    assert plain.status_code == 200
    assert "Strict-Transport-Security" not in plain.headers
    assert plain.headers["X-Frame-Options"] == "DENY"
    proxied = client.get("/login/", headers={"X-Forwarded-Proto": "https"})
    assert proxied.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert client.get("/login/", base_url=HTTPS).headers["Strict-Transport-Security"]


def test_force_https_redirects_when_configured(_schema):
    strict = create_app(make_config(POOL_FORCE_HTTPS=True))
    client = strict.test_client()
    resp = client.get("/login/")
    assert resp.status_code == 302 and resp.location.startswith("https://")
    assert client.get("/login/", headers={"X-Forwarded-Proto": "https"}).status_code == 200


def test_static_files_keep_their_caching(app, client):
    resp = client.get("/static/js/lookup.js")
    assert resp.status_code == 200
    assert "max-age=3600" in resp.headers["Cache-Control"]
    assert "no-store" not in resp.headers["Cache-Control"]
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in client.get("/login/").headers["Cache-Control"]


# --- downloads ---------------------------------------------------------------------

def test_every_download_is_no_store(_app, world):
    from app.models.contracts import Contract
    from app.models.ledger import SettlementRun, Statement
    from app.services.documents import store_document
    from app.services.ledger import book_correction
    from app.services.settlement import run_settlement
    from tests.browser.conftest import make_pdf

    app = _app
    with app.app_context():
        book_correction(world["a"], Decimal("1234.50"), date(2026, 9, 10), "Nachzahlung")
        run_settlement("2026-09", True, today=date(2026, 10, 23))
        run = db.session.query(SettlementRun).filter_by(period="2026-09").one().id
        statement = db.session.query(Statement).filter_by(intermediary_id=world["a"]).one().id
        document = store_document("contract", db.session.get(Contract, world["contract"]),
                                  "police.pdf", make_pdf("Police"), "Versicherungsschein",
                                  released=True).id
        db.session.remove()
    staff = ui_login(app.test_client(), "ps")
    broker = ui_login(app.test_client(), "makler-a")
    customer = ui_login(app.test_client(), "kunde-x")
    staff_token = api_token(app.test_client(), "ps")
    broker_token = api_token(app.test_client(), "makler-a")
    downloads = [
        (staff, f"/documents/{document}/download", {}),
        (customer, f"/folder/document/{document}", {}),
        (broker, f"/my/statements/{statement}/pdf", {}),
        (staff, f"/settlement/{run}/csv", {}),
        (staff, f"/settlement/{run}/json", {}),
        (staff, f"/settlement/{run}/xlsx", {}),
        (staff, f"/settlement/{run}/pdfs", {}),
        (staff, "/reconciliation/claims.csv", {}),
        (app.test_client(), f"/api/v1/document/{document}/download", staff_token),
        (app.test_client(), f"/api/v1/statement/{statement}/pdf", broker_token),
        (app.test_client(), f"/api/v1/settlement/{run}/export?format=csv", staff_token),
    ]
    for client, url, headers in downloads:
        resp = client.get(url, headers=headers, base_url=HTTPS)
        assert resp.status_code == 200, (url, resp.status_code, resp.data[:300])
        assert resp.mimetype != "text/html", url
        assert "no-store" in resp.headers["Cache-Control"], url
        assert header_problems(resp, static=False) == [], url


# --- error pages -------------------------------------------------------------------

SECRET = "geheimes-detail-4711"


@pytest.fixture
def prod_app(_schema):
    """An app as in production: exceptions are not raised into the test,
    CSRF protection on; with routes that fail."""
    app = create_app(make_config(TESTING=False, PROPAGATE_EXCEPTIONS=False,
                                 WTF_CSRF_ENABLED=True, MAX_CONTENT_LENGTH=5000))

    def boom():
        raise RuntimeError(f"database password {SECRET}")

    def teapot():
        abort(400)

    app.add_url_rule("/boom", "boom", boom)
    app.add_url_rule("/api/v1/boom", "api_boom", boom)
    app.add_url_rule("/bad", "bad", teapot)
    with app.app_context():
        yield app
        clean_database()
        db.session.remove()


def assert_generic_page(resp, status, german):
    html = resp.get_data(as_text=True)
    assert resp.status_code == status
    assert resp.mimetype == "text/html"
    assert german in html, html[-1500:]
    assert f"Fehlercode {status}" in html
    for leak in ("Traceback", "RuntimeError", SECRET, 'File "', "werkzeug", "Werkzeug"):
        assert leak not in html, leak
    assert page_problems(resp) == []
    assert "no-store" in resp.headers["Cache-Control"]


def test_an_unhandled_error_gives_a_german_500_page_and_logs_the_traceback(prod_app, caplog):
    client = prod_app.test_client()
    with caplog.at_level(logging.ERROR):
        resp = client.get("/boom")
    assert_generic_page(resp, 500, "Interner Fehler")
    assert "Bei uns ist etwas schiefgegangen" in resp.get_data(as_text=True)
    assert 'class="navbar' in resp.get_data(as_text=True)      # in the pool's layout
    logged = [r for r in caplog.records if r.exc_info and r.exc_info[0] is RuntimeError]
    assert logged, caplog.text
    assert SECRET in caplog.text and "Traceback" in caplog.text


def test_an_unhandled_api_error_answers_json(prod_app, caplog):
    resp = prod_app.test_client().get("/api/v1/boom")
    assert resp.status_code == 500 and resp.mimetype == "application/json"
    assert resp.json == {"message": "Bei uns ist etwas schiefgegangen. Der Fehler wurde "
                                    "protokolliert; bitte versuchen Sie es später noch einmal."}
    assert SECRET not in resp.get_data(as_text=True)


def test_the_plain_page_when_the_layout_itself_fails(prod_app, monkeypatch):
    import app.security.errors as errors

    real = errors.render_template

    def broken(name, **kw):
        if name == "errors/error.html":
            raise RuntimeError(SECRET)
        return real(name, **kw)

    monkeypatch.setattr(errors, "render_template", broken)
    resp = prod_app.test_client().get("/boom")
    assert_generic_page(resp, 500, "Interner Fehler")
    assert 'class="navbar' not in resp.get_data(as_text=True)


def test_404_405_and_400_pages_are_german_and_generic(prod_app):
    client = prod_app.test_client()
    assert_generic_page(client.get("/no/such/page"), 404, "Seite nicht gefunden")
    resp = client.get("/settlement/start")            # POST only
    assert_generic_page(resp, 405, "Hier nicht zulässig")
    assert "POST" in resp.headers["Allow"]
    assert_generic_page(client.get("/bad"), 400, "Ungültige Anfrage")


def test_a_missing_csrf_token_gets_the_400_page_saying_so(prod_app):
    client = prod_app.test_client()
    resp = client.post("/login/", data={"username": "x", "password": "y"})
    assert_generic_page(resp, 400, "Das Formular ist abgelaufen")


def test_a_too_large_request_gets_the_413_page(prod_app):
    client = prod_app.test_client()
    resp = client.post("/login/", data={"username": "x" * 10_000, "password": "y"})
    assert_generic_page(resp, 413, "Zu groß")


def test_a_too_large_api_upload_answers_413_json(_app, world, monkeypatch):
    import io

    monkeypatch.setitem(_app.config, "MAX_CONTENT_LENGTH", 5000)
    monkeypatch.setitem(_app.config, "PROPAGATE_EXCEPTIONS", False)
    token = api_token(_app.test_client(), "ps")
    resp = _app.test_client().post(
        "/api/v1/document/upload", headers=token,
        data={"owner": "contract", "owner_id": str(world["contract"]),
              "file": (io.BytesIO(b"%PDF" + b"x" * 20_000), "gross.pdf")})
    assert resp.status_code == 413 and resp.mimetype == "application/json"
    assert resp.json["message"].startswith("Die Datei ist größer als erlaubt")


def test_english_on_request(prod_app):
    client = prod_app.test_client()
    client.get("/lang/en")
    html = client.get("/no/such/page").get_data(as_text=True)
    assert "Page not found" in html and "error code 404" in html


def test_api_errors_answer_json(app, client):
    resp = client.get("/api/v1/no/such/thing")
    assert resp.status_code == 404 and resp.mimetype == "application/json"
    assert resp.json == {"message": "Diese Seite gibt es nicht, oder der Datensatz wurde "
                                    "entfernt oder ist für Sie nicht sichtbar."}
    resp = client.delete("/api/v1/settlement/run")
    assert resp.status_code == 405 and resp.mimetype == "application/json"
    assert resp.json["message"] == "Diese Adresse nimmt diese Art von Anfrage nicht an."


def test_a_refused_screen_gets_the_403_page(_app, world):
    client = ui_login(_app.test_client(), "makler-a")
    resp = client.get("/companyview/list/")
    assert_generic_page(resp, 403, "Zugriff verweigert")


# --- refused access logged -----------------------------------------------------------

def refusals(caplog):
    return [r for r in caplog.records if r.name == "pool.security" and
            r.levelno == logging.WARNING and "access refused" in r.getMessage()]


def test_every_refusal_is_logged_without_secrets(_app, world, caplog):
    app = _app
    client = ui_login(app.test_client(), "makler-a")
    user_id = world["makler-a"]
    caplog.set_level(logging.WARNING, logger="pool.security")

    # a screen refused to a logged-in intermediary, with personal data in the query
    client.get("/customerview/list/?_flt_0_name=Xaver-Geheim", base_url=HTTPS,
               environ_base={"REMOTE_ADDR": "203.0.113.7"})
    # the API without a token, with a bad token, and with a token lacking the permission
    api = app.test_client()
    api.get("/api/v1/company/?q=(filters:!((col:name,opr:eq,value:Geheim)))")
    api.get("/api/v1/company/", headers={"Authorization": "Bearer not-a-token-123"})
    token = api_token(app.test_client(), "makler-a")
    api.get("/api/v1/staff/", headers=token)
    # a failed API login
    api.post("/api/v1/security/login", json={"username": "makler-a",
                                             "password": "wrong password 99", "provider": "db"})
    lines = [r.getMessage() for r in refusals(caplog)]
    assert len(lines) == 5, lines
    screen, anonymous, bad_token, no_permission, login = lines
    assert "status=403" in screen and "method=GET" in screen
    assert "path=/customerview/list/" in screen and "remote=203.0.113.7" in screen
    assert f"user={user_id} " in screen
    assert "status=401" in anonymous and "user=anonymous" in anonymous
    assert "path=/api/v1/company/" in anonymous
    assert "status=401" in bad_token and "user=anonymous" in bad_token
    assert "status=403" in no_permission and f"user={user_id} " in no_permission
    assert "path=/api/v1/staff/" in no_permission
    assert "status=401" in login
    text = "\n".join(lines)
    for secret in ("Geheim", "Xaver", "wrong password 99", PASSWORD, "not-a-token-123",
                   token["Authorization"].split()[1], "_flt_", "?"):
        assert secret not in text, secret


def test_allowed_requests_log_no_refusal(_app, world, caplog):
    caplog.set_level(logging.WARNING, logger="pool.security")
    client = ui_login(_app.test_client(), "makler-a")
    assert client.get("/my/").status_code == 200
    assert refusals(caplog) == []
