"""Money: Decimal, rounded to cents ROUND_HALF_UP per booking line
(Python's default rounding is half-even, which a German accountant would not
accept)."""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
HUNDRED = Decimal(100)


def money(value) -> Decimal:
    """A booking amount: rounded to cents, half up (away from zero)."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def percent_of(amount: Decimal, rate: Decimal) -> Decimal:
    """amount × rate %, rounded to cents."""
    return money(Decimal(amount) * Decimal(rate) / HUNDRED)
