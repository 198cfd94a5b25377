"""The pages work under the Content-Security-Policy: the main staff screens,
the extranet and the customer's folder load in chromium without a single
CSP violation (securitypolicyviolation events, console errors), and their
scripts ran. Run with POOL_BROWSER_TESTS=1 (`make test-browser`)."""
from __future__ import annotations

import shutil
import tempfile
import threading
from pathlib import Path

import pytest

#: records every violation of the page into window.__csp (before any script runs)
LISTEN = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', function (e) {
    window.__csp.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline') + ' ' +
                      (e.sourceFile || '') + ':' + (e.lineNumber || ''));
});
"""

STAFF_PAGES = [
    "/", "/companyview/list/", "/customerview/list/",
    "/customerview/add", "/contractview/list/", "/contractview/add", "/intermediaryview/list/",
    "/bookingview/list/", "/settlement/", "/orgchart/", "/messages/", "/messages/new",
    "/imports/", "/reconciliation/", "/contracts/search/", "/catalogue/",
    "/no/such/page",                 # the error page in the layout
]
BROKER_PAGES = ["/my/", "/my/statements/", "/my/applications/list/", "/my/applications/add",
                "/my/customers/list/", "/my/products/", "/my/messages/", "/my/account/",
                "/companyview/list/"]             # refused: the 403 page
CUSTOMER_PAGES = ["/folder/", "/folder/profile", "/folder/upload"]
ADMIN_PAGES = ["/users/list/", "/users/add", "/roles/list/", "/users/userinfo/",
               "/staffview/add", "/productview/add"]


@pytest.fixture(scope="module")
def admin_server():
    """A second live server with an admin "root" (the shared one has none)."""
    from werkzeug.serving import make_server

    from app import create_app
    from app.extensions import db
    from app.services.setup import init_database
    from tests.conftest import make_config
    from tests.factories import make_admin

    tmp = Path(tempfile.mkdtemp(prefix="pool-browser-admin-"))
    app = create_app(make_config(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp}/admin.db",
                                 POOL_UPLOAD_DIR=str(tmp / "uploads"),
                                 POOL_JOB_DIR=str(tmp / "jobs"),
                                 TESTING=False, WTF_CSRF_ENABLED=True))
    with app.app_context():
        init_database()
        make_admin("root")
        db.session.remove()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="admin-server", daemon=True)
    thread.start()
    yield {"url": f"http://127.0.0.1:{server.server_port}"}
    server.shutdown()
    thread.join(timeout=10)
    with app.app_context():
        db.engine.dispose()
    shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture
def csp_page(chromium_browser, live_server):
    """A German browser session that records CSP violations (window.__csp)
    and console errors; "Failed to load resource" is expected only for the
    error pages this test opens on purpose."""
    context = chromium_browser.new_context(base_url=live_server["url"], locale="de-DE",
                                           timezone_id="Europe/Berlin")
    context.set_default_timeout(15_000)
    context.add_init_script(LISTEN)
    tab = context.new_page()
    tab.console_errors = []
    tab.on("pageerror", lambda exc: tab.console_errors.append(str(exc)))
    tab.on("console", lambda msg: msg.type == "error" and not _expected(msg)
           and tab.console_errors.append(f"{msg.text} ({msg.location.get('url')})"))
    yield tab
    context.close()


def _expected(msg) -> bool:
    url = msg.location.get("url") or ""
    return url.endswith("/favicon.ico") or (
        "Failed to load resource" in msg.text and url.endswith(EXPECTED_ERRORS))


EXPECTED_ERRORS = ("/no/such/page", "/companyview/list/")


def log_in(page, username: str, login_url: str = "/login/") -> None:
    from tests.factories import PASSWORD

    page.goto(login_url)
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.click("input[type=submit], button[type=submit]")
    assert "/login" not in page.url, f"login of {username} failed"


def visit(page, path: str) -> list[str]:
    """Open `path`; the CSP violations it caused."""
    page.goto(path)
    page.wait_for_load_state("networkidle")
    assert page.evaluate("typeof window.jQuery") == "function", f"{path}: jQuery did not run"
    return page.evaluate("window.__csp")


def check(page, paths) -> None:
    violations = {}
    for path in paths:
        found = visit(page, path)
        if found:
            violations[path] = found
    assert violations == {}
    assert page.console_errors == []


def test_the_listener_sees_a_violation(csp_page):
    """The check can fail: an inline script without the nonce is blocked and
    reported."""
    log_in(csp_page, "ps")
    assert visit(csp_page, "/companyview/list/") == []
    csp_page.evaluate("""() => { const s = document.createElement('script');
                                 s.textContent = 'window.__injected = 1';
                                 document.body.appendChild(s); }""")
    csp_page.wait_for_function("window.__csp.length > 0")
    assert csp_page.evaluate("window.__injected") is None
    assert any("script-src" in v for v in csp_page.evaluate("window.__csp"))
    assert any("Content Security Policy" in e for e in csp_page.console_errors)


def test_staff_pages_run_under_the_csp(csp_page):
    log_in(csp_page, "ps")
    check(csp_page, STAFF_PAGES)
    # the scripts did their work: select2 lookups, the org chart
    csp_page.goto("/contractview/add")
    assert csp_page.locator(".select2-container").count() > 0
    csp_page.goto("/orgchart/")
    csp_page.wait_for_load_state("networkidle")
    assert csp_page.evaluate("window.__csp") == []


def test_extranet_pages_run_under_the_csp(csp_page):
    log_in(csp_page, "makler-a")
    check(csp_page, BROKER_PAGES)
    csp_page.goto("/my/")
    assert csp_page.locator("#commission-chart rect").count() >= 12


def test_folder_pages_run_under_the_csp(csp_page):
    log_in(csp_page, "kunde-x")
    check(csp_page, CUSTOMER_PAGES)


def test_admin_pages_and_the_swagger_ui_run_under_the_csp(csp_page, admin_server):
    base = admin_server["url"]
    log_in(csp_page, "root", base + "/login/")
    check(csp_page, [base + path for path in ADMIN_PAGES])
    csp_page.goto(base + "/swagger/v1")
    csp_page.locator(".swagger-ui .info").wait_for()     # the UI has drawn the API
    csp_page.wait_for_load_state("networkidle")
    assert csp_page.evaluate("window.__csp") == []
    assert csp_page.console_errors == []
