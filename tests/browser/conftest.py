"""Browser tests: the app served on 127.0.0.1 by a live server, driven by
Playwright in Debian's chromium (/usr/bin/chromium, no `playwright install`).

Opt-in: collected only with POOL_BROWSER_TESTS=1 (`make test-browser`, the
last stage of .ci/run), so that `make test` neither needs a browser nor
collects these tests. Screenshots of the key steps go to
artifacts/screenshots/ at the repository root.

The live server has its own SQLite file, CSRF protection on and TESTING off
(a settlement run is a background job the page polls, as in production).
"""
from __future__ import annotations

import functools
import io
import os
import re
import shutil
import tempfile
import threading
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

if os.environ.get("POOL_BROWSER_TESTS") != "1":
    collect_ignore_glob = ["test_*.py"]

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM = os.environ.get("POOL_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking"]


def make_pdf(*lines: str) -> bytes:
    """A small real one-page PDF with the given lines of text."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4)
    for i, line in enumerate(lines):
        pdf.drawString(72, 770 - 18 * i, line)
    pdf.showPage()
    pdf.save()
    return out.getvalue()


@functools.cache
def policy_pdf() -> bytes:
    """The file of the customer's released document."""
    return make_pdf("Versicherungsschein", "Vertrag P-A, Alpha Rente")


@pytest.fixture(scope="session")
def live_server():
    """The app with the extranet world on a free port; yields base URL and ids."""
    from werkzeug.serving import make_server

    from app import create_app
    from app.extensions import db
    from app.services.documents import store_document
    from app.services.ledger import book_correction
    from app.services.settlement import run_settlement
    from app.services.setup import init_database
    from tests.conftest import make_config
    from tests.extranet_world import build_world

    tmp = Path(tempfile.mkdtemp(prefix="pool-browser-"))
    config = make_config(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp}/browser.db",
                         POOL_UPLOAD_DIR=str(tmp / "uploads"), POOL_JOB_DIR=str(tmp / "jobs"),
                         TESTING=False, WTF_CSRF_ENABLED=True)
    app = create_app(config)
    with app.app_context():
        init_database()
        world = build_world()
        a = world["a"]
        # A's statement comes from a final run of September, so that October's
        # bookings (A 120,00, B 80,00) are still open for the preview on screen.
        book_correction(a.id, Decimal("1234.50"), date(2026, 9, 10), "Nachzahlung")
        run_settlement("2026-09", True, today=date(2026, 10, 23))
        document = store_document("contract", world["contracts"]["P-A"], "police.pdf",
                                  policy_pdf(), "Versicherungsschein", released=True)
        ids = {"document": document.id}
        db.session.remove()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield {"url": f"http://127.0.0.1:{server.server_port}", "ids": ids}
    server.shutdown()
    thread.join(timeout=10)
    with app.app_context():
        db.engine.dispose()
    shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="session")
def chromium_browser():
    """Debian's chromium, headless (not named `browser`: see fab-notes)."""
    from playwright.sync_api import sync_playwright

    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (or set POOL_CHROMIUM)")
    SHOTS.mkdir(parents=True, exist_ok=True)
    for old in SHOTS.glob("*.png"):
        old.unlink()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


def _favicon(msg) -> bool:
    # The app has no /favicon.ico; chromium asks for it on every first page.
    return (msg.location.get("url") or "").endswith("/favicon.ico")


@pytest.fixture
def page(request, chromium_browser, live_server):
    """A fresh German browser session on the live server; JavaScript errors
    fail the test, and a failed test leaves a screenshot of where it stood."""
    context = chromium_browser.new_context(
        base_url=live_server["url"], locale="de-DE", timezone_id="Europe/Berlin",
        viewport={"width": 1280, "height": 900}, accept_downloads=True)
    context.set_default_timeout(15_000)
    tab = context.new_page()
    errors = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.on("console", lambda msg: msg.type == "error" and not _favicon(msg)
           and errors.append(f"{msg.text} ({msg.location.get('url')})"))
    yield tab
    report = getattr(request.node, "report_call", None)
    failed = report is not None and report.failed
    if failed:
        name = re.sub(r"^test_", "", request.node.name)
        tab.screenshot(path=SHOTS / f"{name}-FAILED.png", full_page=True)
    context.close()
    if failed:
        print("errors in the browser console:", errors)
    else:
        assert not errors, f"errors in the browser console: {errors}"


@pytest.fixture
def shot(request, page):
    """shot("step") saves a full-page screenshot <test>-<nn>-<step>.png."""
    count = iter(range(1, 100))
    name = re.sub(r"^test_", "", request.node.name)

    def take(step: str) -> Path:
        path = SHOTS / f"{name}-{next(count):02d}-{step}.png"
        page.screenshot(path=path, full_page=True)
        return path

    return take


@pytest.fixture
def login(page, shot):
    """login("makler-a") logs in through the login form."""
    def log_in(username: str):
        from tests.factories import PASSWORD

        page.goto("/login/")
        page.fill("#username", username)
        page.fill("#password", PASSWORD)
        shot("login")
        with page.expect_navigation():
            page.click("input[type=submit], button[type=submit]")
        assert "/login" not in page.url, f"login of {username} failed"
        return page

    return log_in
