"""The main screens in a real browser (Debian's chromium): the pool's
settlement preview, a broker's application and statement, a customer's
folder. Run with POOL_BROWSER_TESTS=1 (`make test-browser`)."""
from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.conftest import make_pdf, policy_pdf


def pick(page, field: str, typed: str, option: str):
    """Choose `option` in the select2 lookup box of form field `field` by
    typing `typed` (the box asks /lookup/<name>/?q=)."""
    page.click(f"#{field} + .select2-container .select2-selection")
    search = page.locator(".select2-container--open .select2-search__field")
    with page.expect_response(re.compile(r"/lookup/\w+/\?.*q=" + re.escape(typed))) as answer:
        search.fill(typed)
    assert answer.value.ok, f"{answer.value.url} answered HTTP {answer.value.status}"
    page.locator(".select2-results__option", has_text=option).first.click()
    expect(page.locator(f"#select2-{field}-container")).to_contain_text(option)


def test_staff_previews_the_settlement(page, login, shot):
    login("ps")
    page.goto("/settlement/")
    expect(page.locator("#settlement-form")).to_be_visible()
    page.fill("#period", "2026-10")
    shot("month-chosen")
    page.click("button[name=final][value='0']")
    table = page.locator("#preview")
    expect(table).to_be_visible()                   # after the job page has reloaded
    expect(page.locator("#job .panel-title")).to_contain_text("Vorschau 2026-10")
    rows = table.locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.filter(has_text="Anna Acker")).to_contain_text("120,00")
    expect(rows.filter(has_text="Bernd Berg")).to_contain_text("80,00")
    expect(page.locator("#job")).to_contain_text("200,00 €")     # the payout total
    shot("preview")


def test_broker_sees_its_overview_and_downloads_its_statement(page, login, shot, tmp_path):
    login("makler-a")
    expect(page).to_have_url(re.compile(r"/my/$"))
    expect(page.locator("h2")).to_contain_text("Anna Acker")
    chart = page.locator("#commission-chart")
    expect(chart).to_be_visible()
    heights = chart.locator("rect").evaluate_all("bars => bars.map(b => b.getBBox().height)")
    assert len(heights) >= 12 and max(heights) > 0        # a bar per month, some drawn
    expect(chart.locator("title", has_text="1.234,50 €")).to_have_count(1)   # September
    expect(page.locator("#latest-statements")).to_contain_text("1.234,50 €")
    expect(page.locator("body")).not_to_contain_text("Bernd")
    shot("overview")

    page.click("#latest-statements ~ .panel-footer a[href='/my/statements/']")
    expect(page).to_have_url(re.compile(r"/my/statements/$"))
    row = page.locator("#statements tbody tr", has_text="2026-09")
    expect(row).to_contain_text("2026-000001")
    expect(row).to_contain_text("1.234,50")
    shot("statements")
    with page.expect_download() as info:
        row.locator("a[href$='/pdf']").click()
    download = info.value
    assert download.suggested_filename == "Gutschrift-2026-000001.pdf"
    target = tmp_path / download.suggested_filename
    download.save_as(target)
    assert target.read_bytes().startswith(b"%PDF")


def test_broker_creates_an_application_in_the_form(page, login, shot):
    login("makler-a")
    page.click("#open-applications ~ .panel-footer a[href$='/my/applications/add']")
    expect(page).to_have_url(re.compile(r"/my/applications/add"))
    pick(page, "customer", "Xav", "Xaver")
    pick(page, "product", "Alpha", "Alpha Rente")
    page.fill("#premium", "42,50")
    page.click("#start_date")
    expect(page.locator(".datepicker")).to_be_visible()
    shot("datepicker")
    # Typed key by key: the datepicker takes its date from key events, and
    # clears a value set without them when it closes. It wants yyyy-mm-dd.
    page.locator("#start_date").press_sequentially("2027-03-01")
    page.keyboard.press("Escape")
    page.fill("#term_months", "12")
    shot("form")
    page.locator("#model_form [type=submit]").first.click()
    page.wait_for_load_state()
    shot("saved")
    expect(page.locator(".alert-danger")).to_have_count(0)
    expect(page).not_to_have_url(re.compile(r"/add"))
    page.goto("/my/applications/list/")
    row = page.locator("table tr", has_text="42,50")
    expect(row).to_contain_text("Xaver")
    expect(row).to_contain_text("Alpha Rente")
    expect(row).to_contain_text("01.03.2027")
    expect(row).to_contain_text("Entwurf")
    shot("list")


def test_broker_uploads_a_document_and_submits_the_application(page, login, shot):
    login("makler-a")
    # the world's draft (the oldest; the form test may have added another)
    page.locator("#open-applications a", has_text="Xaver").last.click()
    expect(page).to_have_url(re.compile(r"/my/applications/show/\d+$"))
    show_url = page.url
    expect(page.locator("body")).to_contain_text("Entwurf")
    expect(page.locator("#documents")).not_to_contain_text("antrag.pdf")
    shot("draft")

    page.click("#documents a[href*='/documents/upload/application/']")
    expect(page).to_have_url(re.compile(r"/documents/upload/application/\d+$"))
    page.set_input_files("#file", {"name": "antrag.pdf", "mimeType": "application/pdf",
                                   "buffer": make_pdf("Antrag Xaver, Alpha Rente")})
    page.fill("#description", "Unterschriebener Antrag")
    shot("upload-form")
    with page.expect_navigation() as landed:
        page.click("form [type=submit]")
    shot("after-upload")
    problems = []
    if page.url != show_url or landed.value.status != 200:
        # Checked at the end, so that the steps after it still run.
        problems.append(f"after the upload the broker lands on {page.url} "
                        f"(HTTP {landed.value.status}), not on its application {show_url}")
        page.goto(show_url)
    documents = page.locator("#documents")
    expect(documents).to_contain_text("antrag.pdf")
    expect(documents).to_contain_text("Unterschriebener Antrag")
    shot("with-document")

    page.click("#submit-application")
    page.wait_for_load_state()
    expect(page.locator(".alert-success")).to_be_visible()
    expect(page.locator("body")).to_contain_text("Eingereicht")
    expect(page.locator("#submit-application")).to_have_count(0)
    shot("submitted")
    assert not problems


def test_customer_sees_its_folder_and_downloads_a_document(page, login, shot, live_server,
                                                            tmp_path):
    ids = live_server["ids"]
    login("kunde-x")
    expect(page).to_have_url(re.compile(r"/folder/$"))
    contracts = page.locator("#contracts")
    expect(contracts).to_contain_text("P-A")
    expect(contracts).not_to_contain_text("P-B")
    expect(page.locator("h2")).to_contain_text("Xenia Xaver")
    documents = page.locator("#documents")
    row = documents.locator("tr", has_text="Versicherungsschein")
    expect(row).to_contain_text("police.pdf")
    for hidden in ("intern.pdf", "fremd.pdf"):
        expect(documents).not_to_contain_text(hidden)
    shot("folder")
    link = row.locator("a")
    assert link.get_attribute("href") == f"/folder/document/{ids['document']}"
    with page.expect_download() as info:
        link.click()
    download = info.value
    assert download.suggested_filename == "police.pdf"
    target = tmp_path / "police.pdf"
    download.save_as(target)
    assert target.read_bytes() == policy_pdf()
