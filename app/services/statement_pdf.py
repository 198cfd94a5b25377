"""The credit note (Gutschrift) PDF of a monthly commission statement.

`render_statement_pdf(doc)` renders `templates/pdf/statement.html` with
xhtml2pdf, always in German, and returns the PDF's bytes. It needs an app
context (Flask's `render_template`, Flask-Babel), no database: the caller
gathers the statement into a `StatementDocument` first.

The template's labels are English msgids translated through the catalogue;
the numbers, dates and the month are formatted German by the helpers here.
Its tables (the bookings, the information block, the summary) are tags that
app.services.statement_pdf_table draws: as HTML tables they took nearly
all of xhtml2pdf's time (a credit note of 100 bookings: about 750 ms then,
about 55 ms now).
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from pathlib import Path

from babel.dates import format_date

LOCALE = "de_DE"
CENT = Decimal("0.01")
RATE_PLACES = Decimal("0.0001")
#: English number punctuation to German: 1,234.56 -> 1.234,56
GERMAN_PUNCTUATION = str.maketrans(",.", ".,")
NBSP = "\u00a0"
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONT_FAMILY = "DejaVuSans"
FONT_FILES = {"normal": "DejaVuSans.ttf", "bold": "DejaVuSans-Bold.ttf"}
TEMPLATE = "pdf/statement.html"

STATEMENT_TITLE = "Gutschrift"
CORRECTION_TITLE = "Korrekturbeleg zur Gutschrift"


@dataclass(frozen=True)
class Party:
    """The pool (issuer) or the intermediary (recipient, the supplier)."""

    name: str
    street: str
    postcode: str
    city: str
    tax_number: str | None = None     # Steuernummer or USt-IdNr.
    iban: str | None = None


@dataclass(frozen=True)
class StatementLine:
    booking_date: date
    policy_number: str
    customer: str
    product: str
    kind: str                          # shown as is: pass the German label
    basis: Decimal | None
    rate: Decimal | None               # in percent: Decimal("3.5") is 3,50 %
    amount: Decimal
    level: int | None                  # career level, for overrides only
    text: str = ""                     # optional booking text under the product


@dataclass(frozen=True)
class StatementDocument:
    title: str
    number: str
    issue_date: date
    period: str                        # "2026-10"
    issuer: Party                      # the pool
    recipient: Party                   # the intermediary
    lines: list[StatementLine]
    opening_balance: Decimal
    total: Decimal
    payout: Decimal
    carry_forward: Decimal
    reserve_balance: Decimal
    is_correction: bool = False
    # For a correction: the number of the credit note it corrects.
    corrected_number: str | None = None

    @property
    def lines_sum(self) -> Decimal:
        """Summe der Buchungen: the sum of the lines' amounts."""
        return sum((line.amount for line in self.lines), Decimal(0))


def title_for(is_correction: bool) -> str:
    """The document title; a correction is never titled plain "Gutschrift"."""
    return CORRECTION_TITLE if is_correction else STATEMENT_TITLE


# The two below write what Babel's format_decimal writes for de_DE with the
# patterns '#,##0.00' and '#,##0.00##' (the tests compare them), five times
# as fast: a credit note has two or three of them a booking.

def euro(value: Decimal | int | float | None) -> str:
    """1234.56 -> '1.234,56 €', -757.2 -> '-757,20 €'; None -> ''."""
    if value is None:
        return ""
    amount = Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)
    if amount == 0:
        amount = abs(amount)           # no "-0,00 €"
    return f"{amount:,.2f} €".translate(GERMAN_PUNCTUATION)


def percent(value: Decimal | None) -> str:
    """Decimal('3.5') -> '3,50 %' (up to four decimals); None -> ''."""
    if value is None:
        return ""
    text = f"{Decimal(str(value)).quantize(RATE_PLACES, rounding=ROUND_HALF_EVEN):,.4f}"
    if text.endswith("0"):             # at least two decimals, at most four
        text = text[:-1]
        if text.endswith("0"):
            text = text[:-1]
    return f"{text} %".translate(GERMAN_PUNCTUATION)


def day(value: date | None) -> str:
    """date(2026, 10, 31) -> '31.10.2026'."""
    return value.strftime("%d.%m.%Y") if value else ""


def iban_groups(value: str | None) -> str:
    """'DE89370400440532013000' -> 'DE89 3704 0044 0532 0130 00'."""
    compact = "".join((value or "").split()).upper()
    return " ".join(compact[i:i + 4] for i in range(0, len(compact), 4))


def period_label(period: str) -> str:
    """'2026-10' -> 'Oktober 2026'."""
    year, month = (int(part) for part in period.split("-"))
    return format_date(date(year, month, 1), "MMMM y", locale=LOCALE)


def _fonts() -> dict[str, Path] | None:
    """The DejaVu files to embed, or None (Helvetica) when one is missing."""
    files = {weight: FONT_DIR / name for weight, name in FONT_FILES.items()}
    return files if all(path.is_file() for path in files.values()) else None


def _policy(fonts: dict[str, Path] | None):
    from xhtml2pdf.config.resources import ResourceAccessPolicy

    # Local reads only from the font directory (resolved, as the policy
    # resolves symlinks), nothing from the network.
    roots = sorted({path.resolve().parent for path in fonts.values()}) if fonts else []
    return ResourceAccessPolicy(
        allow_remote=False,
        allow_remote_pdf_backgrounds=False,
        base_dir=roots[0] if roots else None,
        extra_roots=tuple(roots[1:]),
    )


def _nbsp(text: str) -> str:
    """No line break between a number and its unit in the narrow columns."""
    return text.replace(" ", NBSP)


def booking_rows(doc: StatementDocument) -> list[tuple]:
    """The cells of the bookings table, formatted German: per line the date,
    policy number, customer, (product, booking text), kind, basis, rate,
    level and (amount, whether negative)."""
    return [(day(line.booking_date), line.policy_number, line.customer,
             (line.product, line.text), line.kind, _nbsp(euro(line.basis)),
             _nbsp(percent(line.rate)), "" if line.level is None else str(line.level),
             (_nbsp(euro(line.amount)), line.amount < 0))
            for line in doc.lines]


def render_statement_html(doc: StatementDocument) -> str:
    """The template rendered in German (the input of the PDF)."""
    from flask import render_template
    from flask_babel import force_locale

    fonts = _fonts()
    with force_locale("de"):
        return render_template(
            TEMPLATE, doc=doc, fonts=fonts,
            font_family=FONT_FAMILY if fonts else "Helvetica",
            period=period_label(doc.period),
            euro=lambda value: _nbsp(euro(value)),
            percent=lambda value: _nbsp(percent(value)),
            day=day, iban=iban_groups,
        )


def render_statement_pdf(doc: StatementDocument) -> bytes:
    """The credit note as PDF bytes. Raises RuntimeError if xhtml2pdf fails."""
    from xhtml2pdf import pisa

    from app.services import statement_pdf_table

    statement_pdf_table.install()
    html = render_statement_html(doc)
    out = io.BytesIO()
    with statement_pdf_table.rendering(booking_rows(doc)):
        result = pisa.CreatePDF(html, dest=out, encoding="utf-8",
                                resource_policy=_policy(_fonts()))
    if result.err:
        messages = "; ".join(str(entry[2]) for entry in getattr(result, "log", [])
                             if entry and entry[0] == "error") or "see the log"
        raise RuntimeError(f"Credit note {doc.number}: xhtml2pdf reported "
                           f"{result.err} error(s): {messages}")
    return out.getvalue()
