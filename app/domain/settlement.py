"""Settlement arithmetic (Courtageabrechnung), per intermediary and month.

domain.md, "Settlement": opening debit balance carried from the last
statement, plus the period's bookings, is the total; a positive total is paid
out, a negative one carried forward (Sollsaldo). A positive total below the
minimum payout is carried forward too.
"""
from __future__ import annotations

import calendar
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from app.domain.errors import N_, InvalidValueError
from app.domain.money import ZERO, money


@dataclass(frozen=True)
class Settled:
    opening_balance: Decimal
    total: Decimal
    payout: Decimal
    carry_forward: Decimal


def settle(opening_balance: Decimal, amounts: Iterable[Decimal],
           min_payout: Decimal = ZERO) -> Settled:
    opening = money(opening_balance)
    total = money(opening + sum((Decimal(a) for a in amounts), Decimal(0)))
    if total > 0 and total >= min_payout:
        return Settled(opening, total, total, ZERO)
    return Settled(opening, total, ZERO, total)


def parse_period(text: str | None, field: str = "period") -> tuple[date, date]:
    """'2026-10' -> (first day, last day)."""
    match = re.fullmatch(r"(\d{4})-(\d{2})", (text or "").strip())
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise InvalidValueError(field, N_("Give a month as YYYY-MM."))
    year, month = int(match.group(1)), int(match.group(2))
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def check_final_allowed(last_day: date, today: date) -> None:
    """A final run only for a month that has ended."""
    if last_day >= today:
        raise InvalidValueError("period", N_(
            "A final run is only possible for a month that has ended."))


def statement_number(year: int, sequence: int) -> str:
    """Gap-free per year: 2026-000001, 2026-000002, ..."""
    return f"{year}-{sequence:06d}"


def withheld_reason(tax_number: str | None) -> str | None:
    """§14 UStG: a credit note names the supplier's tax number or VAT id.
    Without one the statement is withheld (listed, not issued) and its
    bookings stay open for a later run."""
    if not (tax_number or "").strip():
        return N_("No tax number or VAT id: the credit note cannot be issued.")
    return None
