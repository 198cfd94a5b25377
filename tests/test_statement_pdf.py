"""The credit note PDF: every mandatory field is in the text of the PDF."""
from __future__ import annotations

import io
import re
from datetime import date
from decimal import Decimal

import pytest
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
