"""The credit note PDF: every mandatory field is in the text of the PDF."""
from __future__ import annotations

import io
import re
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pypdf import PdfReader

from app.services import statement_pdf
from app.services.statement_pdf import (
    Party,
    StatementDocument,
    StatementLine,
    euro,
    period_label,
    render_statement_pdf,
    title_for,
)

POOL = Party("Nordlicht Maklerpool GmbH", "Große Bleichen 12", "20354", "Hamburg",
             tax_number="22/456/78901")
BROKER = Party("Müller & Söhne GmbH", "Königsallee 7", "40212", "Düsseldorf",
               tax_number="DE123456789", iban="DE89 3704 0044 0532 0130 00")

CUSTOMERS = ["Jürgen Weiß", "Bäckerei Öztürk KG", "Anna Schäfer", "Dr. Björn Groß",
             "Zoë Krämer", "Hans-Peter Müßig"]
PRODUCTS = ["Berufsunfähigkeit Premium", "Privathaftpflicht Komfort", "Wohngebäude Plus",
            "Fondsgebundene Rente", "Kfz-Vollkasko"]


def make_lines(count: int) -> list[StatementLine]:
    """`count` lines: commission, one override with a level, one charge-back."""
    lines = [
        StatementLine(date(2026, 10, 1), "OVR-2026-0001", "Anna Schäfer", "Wohngebäude Plus",
                      "Override", Decimal("30000.00"), Decimal("4.1234"), Decimal("1234.56"),
                      level=3, text="Differenz Stufe 3 zu Stufe 1"),
        StatementLine(date(2026, 10, 2), "STO-2026-0002", "Bäckerei Öztürk KG",
                      "Berufsunfähigkeit Premium", "Storno", Decimal("21634.29"),
                      Decimal("3.5"), Decimal("-757.20"), level=None,
                      text="Kündigung im 2. Versicherungsjahr"),
    ]
    for i in range(count - len(lines)):
        basis = Decimal(1000 + 137 * i) + Decimal("0.50")
        lines.append(StatementLine(
            date(2026, 10, 3 + i % 28), f"LV-{2026000 + i:07d}", CUSTOMERS[i % len(CUSTOMERS)],
            PRODUCTS[i % len(PRODUCTS)], "Abschluss" if i % 3 else "Bestand", basis,
            Decimal("2.5"), (basis * Decimal("0.025")).quantize(Decimal("0.01")), level=None))
    return lines


def make_document(count: int = 64, correction: bool = False) -> StatementDocument:
    lines = make_lines(count)
    opening = Decimal("-150.00")
    total = opening + sum(line.amount for line in lines)
    return StatementDocument(
        title=title_for(correction), number="2026-000123", issue_date=date(2026, 11, 3),
        period="2026-10", issuer=POOL, recipient=BROKER, lines=lines,
        opening_balance=opening, total=total, payout=total, carry_forward=Decimal("0"),
        reserve_balance=Decimal("4321.09"), is_correction=correction,
        corrected_number="2026-000042" if correction else None)


def pdf_pages(data: bytes) -> list[str]:
    """Each page's text, with the whitespace pypdf extracts made single spaces."""
    reader = PdfReader(io.BytesIO(data))
    return [re.sub(r"\s+", " ", page.extract_text().replace("\xa0", " "))
            for page in reader.pages]


@pytest.fixture(scope="module")
def rendered(_app):
    with _app.app_context():
        doc = make_document()
        return doc, render_statement_pdf(doc)


def test_helpers_format_german():
    assert euro(Decimal("1234.56")) == "1.234,56 €"
    assert euro(Decimal("-757.2")) == "-757,20 €"
    assert euro(Decimal("1234567.005")) == "1.234.567,01 €"
    assert euro(Decimal("-0.001")) == "0,00 €"
    assert statement_pdf.percent(Decimal("3.5")) == "3,50 %"
    assert statement_pdf.percent(Decimal("4.1234")) == "4,1234 %"
    assert statement_pdf.day(date(2026, 10, 31)) == "31.10.2026"
    assert period_label("2026-10") == "Oktober 2026"
    assert period_label("2026-03") == "März 2026"
    assert statement_pdf.iban_groups("de89370400440532013000") == "DE89 3704 0044 0532 0130 00"


def test_every_template_label_is_translated(app):
    from pathlib import Path

    from flask_babel import force_locale, gettext

    source = Path(app.root_path, "templates", statement_pdf.TEMPLATE).read_text()
    msgids = set(re.findall(r"""_\(["']([^"']+)["']\)""", source))
    assert len(msgids) > 30
    with force_locale("de"):
        untranslated = {m for m in msgids if gettext(m) == m and m != "Basis"}
    assert not untranslated


def test_titles():
    assert title_for(False) == "Gutschrift"
    correction = title_for(True)
    assert correction != "Gutschrift"
    assert "Korrektur" in correction


def test_pdf_has_every_mandatory_field(rendered):
    doc, data = rendered
    assert data.startswith(b"%PDF-")
    pages = pdf_pages(data)
    text = " ".join(pages)
    count = len(pages)
    assert count > 1

    assert pages[0].find("Gutschrift") < pages[0].find("Für den Abrechnungszeitraum")
    for party in (POOL, BROKER):
        for value in (party.name, party.street, f"{party.postcode} {party.city}"):
            assert value in text, value
    assert "Gutschrift-Nr. 2026-000123" in pages[0]
    assert "Ihre Steuer-Nr./USt-IdNr. DE123456789" in pages[0]
    assert "Unsere Steuernummer 22/456/78901" in pages[0]
    assert "Datum 03.11.2026" in pages[0]
    assert "Abrechnungszeitraum Oktober 2026" in pages[0]
    assert "Für den Abrechnungszeitraum Oktober 2026 schreiben wir Ihnen folgende " \
           "Courtage gut:" in pages[0]
    for header in ("Datum", "Vers.-Nr.", "Kunde", "Produkt", "Art", "Basis", "Satz",
                   "Stufe", "Betrag"):
        assert header in pages[0], header
        assert header in pages[1], header      # the header row repeats

    for line in doc.lines:
        assert line.policy_number in text, line.policy_number
        assert f"{line.booking_date:%d.%m.%Y}" in text
        assert euro(line.amount) in text, line.amount
    assert "Müller & Söhne GmbH" in text
    assert "OVR-2026-0001 Anna Schäfer Wohngebäude Plus" in text
    assert "Override 30.000,00 € 4,1234 % 3 1.234,56 €" in text
    assert "Storno 21.634,29 € 3,50 % -757,20 €" in text
    assert "Kündigung im 2. Versicherungsjahr" in text

    last = pages[-1]
    assert f"Vortrag {euro(doc.opening_balance)}" in last
    assert f"Summe der Buchungen {euro(doc.lines_sum)}" in last
    assert doc.lines_sum == sum(line.amount for line in doc.lines)
    assert f"Gesamt {euro(doc.total)}" in last
    assert f"Auszahlung auf IBAN {BROKER.iban} {euro(doc.payout)}" in last
    assert "Vortrag in den Folgemonat 0,00 €" in last
    assert "Stornoreserve 4.321,09 €" in last
    assert "-150,00 €" in last
    assert "Steuerfreie Umsätze gemäß § 4 Nr. 11 UStG" in last
    assert "Gutschrift im Sinne des § 14 Abs. 2 Satz 2 UStG" in last

    for number, page in enumerate(pages, start=1):
        assert f"Seite {number} von {count}" in page
        assert "2026-000123" in page
    assert f"Seite {count} von {count}" in pages[-1]


def test_pdf_embeds_dejavu(rendered):
    _doc, data = rendered
    reader = PdfReader(io.BytesIO(data))
    fonts = set()
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            descriptor = font.get("/FontDescriptor")
            embedded = descriptor is not None and any(
                key in descriptor.get_object() for key in ("/FontFile", "/FontFile2"))
            fonts.add((str(font["/BaseFont"]).split("+")[-1], embedded))
    assert ("DejaVuSans", True) in fonts
    assert ("DejaVuSans-Bold", True) in fonts
    assert not any(name.startswith("Helvetica") for name, _ in fonts)


def test_amounts_are_german(rendered):
    _doc, data = rendered
    text = " ".join(pdf_pages(data))
    assert "1.234,56 €" in text
    assert "-757,20 €" in text
    assert "1234.56" not in text
    assert "-757.20" not in text


def test_correction(app):
    doc = make_document(count=5, correction=True)
    pages = pdf_pages(render_statement_pdf(doc))
    text = " ".join(pages)
    assert doc.title != "Gutschrift"
    assert "Korrekturbeleg zur Gutschrift" in pages[0]
    assert "Beleg-Nr. 2026-000123" in pages[0]
    assert "Zu Gutschrift-Nr. 2026-000042" in pages[0]
    assert "Dieser Beleg berichtigt die Gutschrift Nr. 2026-000042 im Sinne des " \
           "§ 14 Abs. 2 Satz 2 UStG." in text
    assert "Diese Abrechnung ist eine Gutschrift" not in text
    assert "Gutschrift-Nr. 2026-000123" not in text
    assert "Steuerfreie Umsätze gemäß § 4 Nr. 11 UStG" in text
    assert "Seite 1 von 1" in text


def test_without_payout_no_iban_and_negative_carry_forward(app):
    lines = make_lines(3)
    doc = StatementDocument(
        title=title_for(False), number="2026-000124", issue_date=date(2026, 11, 3),
        period="2026-10", issuer=POOL, recipient=BROKER, lines=lines,
        opening_balance=Decimal("-2000"), total=Decimal("-2000") + sum(x.amount for x in lines),
        payout=Decimal("0"), carry_forward=Decimal("-2000") + sum(x.amount for x in lines),
        reserve_balance=Decimal("0"))
    text = " ".join(pdf_pages(render_statement_pdf(doc)))
    assert "IBAN" not in text
    assert BROKER.iban not in text
    assert f"Vortrag in den Folgemonat {euro(doc.carry_forward)}" in text
    assert "Auszahlung 0,00 €" in text
    assert "mit künftigen Gutschriften verrechnet" in text


def test_missing_fonts_fall_back_to_helvetica(app, monkeypatch, tmp_path):
    monkeypatch.setattr(statement_pdf, "FONT_DIR", tmp_path)
    data = render_statement_pdf(make_document(count=3))
    reader = PdfReader(io.BytesIO(data))
    names = {str(f.get_object()["/BaseFont"]) for page in reader.pages
             for f in page["/Resources"]["/Font"].values()}
    assert names and not any("DejaVu" in name for name in names)
    assert "Seite 1 von 1" in " ".join(pdf_pages(data))


def test_pisa_errors_raise(app, monkeypatch):
    from xhtml2pdf import pisa

    class Failed:
        err = 1
        log = [("error", 1, "broken", "")]

    monkeypatch.setattr(pisa, "CreatePDF", lambda *a, **k: Failed())
    with pytest.raises(RuntimeError, match="broken"):
        render_statement_pdf(make_document(count=1))


def test_no_remote_or_outside_reads(app):
    policy = statement_pdf._policy(statement_pdf._fonts())
    assert policy.allow_remote is False
    from xhtml2pdf.config.resources import ResourceAccessError

    with pytest.raises(ResourceAccessError):
        policy.check_url("https://example.com/logo.png")
    with pytest.raises(ResourceAccessError):
        policy.check_path("/etc/passwd")
    policy.check_path(statement_pdf.FONT_DIR / "DejaVuSans.ttf")


# --- speed: the helpers without Babel, the bookings table without HTML ------

@settings(max_examples=500, deadline=None)
@given(st.decimals(min_value=Decimal("-1e12"), max_value=Decimal("1e12"), places=None,
                   allow_nan=False, allow_infinity=False))
def test_euro_and_percent_write_what_babel_writes(value):
    from babel.numbers import format_decimal

    rounded = value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    expected = format_decimal(abs(rounded) if rounded == 0 else rounded, "#,##0.00",
                              locale="de_DE")
    assert euro(value) == f"{expected} €"
    assert statement_pdf.percent(value) == \
        f"{format_decimal(value, '#,##0.00##', locale='de_DE')} %"


HEADINGS = ["Datum", "Vers.-Nr.", "Kunde", "Produkt", "Art", "Basis", "Satz", "Stufe",
            "Betrag"]


def _layout_texts(table):
    """Every line of text the table draws: (row, x, text, style)."""
    return [(number, x, text, style)
            for number, row in enumerate([table.head, *table.rows])
            for x, _down, style, text in row.texts]


def test_table_wraps_long_texts_inside_their_columns(app):
    from reportlab.pdfbase.pdfmetrics import stringWidth

    from app.services import statement_pdf_table as table_pdf

    long_customer = "Hochgeschwindigkeitsübertragungstechnik Krämer-Öztürk GmbH & Co. KG"
    lines = [StatementLine(date(2026, 10, 5), "POL-" + "9" * 30, long_customer,
                           "Berufsunfähigkeit Premium", "Storno", Decimal("100"),
                           Decimal("2.5"), Decimal("-12.34"), level=None,
                           text="Kündigung durch den Kunden im zweiten Versicherungsjahr")]
    doc = StatementDocument(
        title=title_for(False), number="2026-000125", issue_date=date(2026, 11, 3),
        period="2026-10", issuer=POOL, recipient=BROKER, lines=lines,
        opening_balance=Decimal(0), total=Decimal("-12.34"), payout=Decimal(0),
        carry_forward=Decimal("-12.34"), reserve_balance=Decimal(0))
    table = table_pdf.build_table(HEADINGS, statement_pdf.booking_rows(doc),
                                  "Helvetica", "Helvetica-Bold")
    layout = table.layout
    rights = [left + width - table_pdf.CELL_PADDING[1]
              for left, width in zip(layout.lefts, layout.widths, strict=True)]
    texts = _layout_texts(table)
    for _row, x, text, style in texts:
        font, size, _colour = layout.styles[style]
        column = max(i for i, left in enumerate(layout.lefts) if left <= x)
        assert x + stringWidth(text, font, size) <= rights[column] + 0.01, text
    body = [(x, text, style) for row, x, text, style in texts if row == 1]
    assert len(body) > 12                           # wrapped onto several lines
    joined = " ".join(text for _x, text, _s in body)
    for word in long_customer.split():
        assert word in joined or word[:10] in joined
    assert "".join(t for _x, t, _s in body if t.startswith(("POL", "9"))) == "POL-" + "9" * 30
    assert any(style == table_pdf.BOOKING_TEXT and "Kündigung" in text
               for _x, text, style in body)
    assert any(style == table_pdf.NEGATIVE_AMOUNT and text == "-12,34\xa0€"
               for _x, text, style in body)
    # the row is as high as its tallest cell, the lines 150 % of 7 pt apart
    per_column = [0] * len(layout.lefts)
    for x, _text, _style in body:
        per_column[max(i for i, left in enumerate(layout.lefts) if left <= x)] += 1
    assert per_column[2] >= 4                       # the customer
    assert table.rows[0].height == pytest.approx(2.5 + max(per_column) * 10.5 + 1.5)

    text = " ".join(pdf_pages(render_statement_pdf(doc)))
    assert "Hochgeschwindigkeitsübertragungstechnik" in text.replace(" ", "")
    assert "Kündigung durch den Kunden" in text


def test_one_line_row_is_as_high_as_the_html_row(app):
    from app.services import statement_pdf_table as table_pdf

    short = ("01.10.2026", "LV-1", "Anna Schäfer", ("Kfz-Vollkasko", ""), "Bestand",
             "1.000,50\xa0€", "2,50\xa0%", "", ("25,01\xa0€", False))
    table = table_pdf.build_table(HEADINGS, [short] * 3, "Helvetica", "Helvetica-Bold")
    assert table.head.height == pytest.approx(3 + 10.5 + 2)
    assert table.rows[2].height == pytest.approx(2.5 + 10.5 + 1.5)
    assert table.height == pytest.approx(sum(row.height for row in
                                             [table.head, *table.rows]))


def test_long_statement_keeps_every_row_once_and_the_heading_on_every_page(app):
    doc = make_document(count=400)
    pages = pdf_pages(render_statement_pdf(doc))
    count = len(pages)
    assert count >= 10
    text = " ".join(pages)
    for line in doc.lines:
        assert text.count(line.policy_number + " ") == 1, line.policy_number
    for number, page in enumerate(pages, start=1):
        if "LV-20" in page:                         # a page with bookings
            assert "Vers.-Nr. Kunde Produkt Art Basis Satz Stufe Betrag" in page, number
        assert f"Seite {number} von {count}" in page
    assert f"Summe der Buchungen {euro(doc.lines_sum)}" in pages[-1]


def test_table_splits_between_rows(app):
    from app.services import statement_pdf_table as table_pdf

    table = table_pdf.build_table(HEADINGS, statement_pdf.booking_rows(
        make_document(50)), "Helvetica", "Helvetica-Bold")
    room = table.head.height + table.tops[10] + 1
    first, rest = table.split(table.width, room)
    assert (first.start, first.end, rest.start, rest.end) == (0, 10, 10, 50)
    assert first.height == pytest.approx(table.head.height + table.tops[10])
    assert first.height + rest.height == pytest.approx(table.height + table.head.height)
    assert table.split(table.width, table.head.height + 1) == []
    assert table.split(table.width, table.height + 1) == [table]     # no empty part
    again = rest.split(rest.width, room)
    end = max(j for j in range(10, 51) if table.tops[j] - table.tops[10] < room - table.head.height)
    assert (again[0].start, again[0].end, again[1].end) == (10, end, 50)


def test_only_the_counting_pass_skips_drawing():
    from types import SimpleNamespace

    from xhtml2pdf.xhtml2pdf_reportlab import PmlPageCount

    from app.services.statement_pdf_table import _counting_pages

    count = PmlPageCount()
    canvas = SimpleNamespace(_doctemplate=SimpleNamespace(_indexingFlowables=[count]))
    assert _counting_pages(canvas)               # pass 1: its canvas is thrown away
    assert count.isSatisfied() is False          # ReportLab asks after pass 1
    assert not _counting_pages(canvas)           # pass 2, the one saved
    assert count.isSatisfied() is True
    assert not _counting_pages(SimpleNamespace())                    # plain build()
    assert not _counting_pages(SimpleNamespace(_doctemplate=SimpleNamespace()))


def test_bookings_tag_needs_its_rows(app):
    from xhtml2pdf import pisa

    from app.services import statement_pdf_table

    statement_pdf_table.install()
    statement_pdf_table.install()                # twice is harmless
    with pytest.raises(RuntimeError, match="pdf:bookings"):
        pisa.CreatePDF("<html><body><pdf:bookings date='D'></pdf:bookings></body></html>",
                       dest=io.BytesIO())


def test_key_value_rows_as_the_html_tables_styled_them(app):
    from app.services.statement_pdf_table import NOTE, VALUE, key_value_row

    plain = key_value_row("summary", "Vortrag", "", "-150,00\xa0€", "Helvetica",
                          "Helvetica-Bold")
    assert plain.height == pytest.approx(2.5 + 8.5 * 1.5 + 1.5)
    assert plain.background is None and plain.rule is None
    assert plain.indent == pytest.approx(75 * 72 / 25.4)
    total = key_value_row("summary total", "Gesamt", "", "1,00\xa0€", "Helvetica",
                          "Helvetica-Bold")
    assert total.rule[0] == 0.8
    assert {font for font, _size, _colour in total.layout.styles[:2]} == {"Helvetica-Bold"}
    payout = key_value_row("summary payout", "Auszahlung", "auf IBAN DE89 3704", "1,00\xa0€",
                           "Helvetica", "Helvetica-Bold")
    assert payout.background is not None
    assert payout.height == pytest.approx(2.5 + 2 * 9.5 * 1.5 + 1.5)   # label and note
    texts = {style: (x, text) for x, _down, style, text in payout.row.texts}
    assert texts[NOTE][1] == "auf IBAN DE89 3704"
    # the value flush right in its 32 mm less 3 pt padding
    from reportlab.pdfbase.pdfmetrics import stringWidth

    right = texts[VALUE][0] + stringWidth("1,00\xa0€", "Helvetica-Bold", 9.5)
    assert right == pytest.approx((68 + 32) * 72 / 25.4 - 3)
    info = key_value_row("info", "Datum", "", "03.11.2026", "Helvetica", "Helvetica-Bold")
    assert info.height == pytest.approx(1 + 8 * 1.5 + 1.5) and info.indent == 0
    with pytest.raises(KeyError):
        key_value_row("summary bogus", "x", "", "y", "Helvetica", "Helvetica-Bold")
