"""Cancellation liability (Stornohaftung): which share of an AP booking is
charged back when a contract is cancelled."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from app.domain.money import money

ONE = Decimal(1)


@dataclass(frozen=True)
class LiabilityTerms:
    months: int
    method: str                    # PRO_RATA, FULL, STAGED, COMBINED
    full_months: int | None = None  # COMBINED
    stages: tuple = ()              # STAGED: ((up to month, liable percent), ...)


def full_months_between(start: date, end: date) -> int:
    """Full months from `start` to `end` (domain.md: elapsed = full months from
    contract start to the cancellation date). 2026-01-01 -> 2027-03-01: 14."""
    months = (end.year - start.year) * 12 + (end.month - start.month)
    if end.day < start.day:
        months -= 1
    return max(months, 0)


def liable_fraction(terms: LiabilityTerms, elapsed: int) -> Decimal:
    """The share of the commission still liable after `elapsed` full months."""
    if elapsed >= terms.months:
        return Decimal(0)
    if terms.method == "FULL":
        return ONE
    if terms.method == "PRO_RATA":
        return Decimal(terms.months - elapsed) / Decimal(terms.months)
    if terms.method == "COMBINED":
        n = terms.full_months or 0
        if elapsed < n:
            return ONE
        # Pro rata from full liability at month N down to nothing at the end.
        return Decimal(terms.months - elapsed) / Decimal(terms.months - n)
    if terms.method == "STAGED":
        for up_to, percent in terms.stages:
            if elapsed < up_to:
                return Decimal(percent) / Decimal(100)
        return Decimal(0)
    raise ValueError(f"unknown liability method {terms.method}")


def charge_back(amount: Decimal, terms: LiabilityTerms, start: date, cancelled: date) -> Decimal:
    """The (negative) charge-back of a booked AP amount; never more than it."""
    fraction = liable_fraction(terms, full_months_between(start, cancelled))
    return -money(Decimal(amount) * fraction)


def liability_end(start: date, terms: LiabilityTerms) -> date:
    """The day the liability period ends (start + months), e.g. when a
    cancellation reserve retained for it is released."""
    month = start.month - 1 + terms.months
    year, month = start.year + month // 12, month % 12 + 1
    import calendar
    day = min(start.day, calendar.monthrange(year, month)[1])
    return date(year, month, day)


def latest_start_ended_by(day: date, months: int) -> date:
    """The latest start whose liability of `months` has ended by `day`:
    liability_end(start) <= day exactly when start <= this date (so a query
    can select the due reserves by the contracts' start dates)."""
    import calendar

    month = day.month - 1 - months
    year, month = day.year + month // 12, month % 12 + 1
    last = calendar.monthrange(year, month)[1]
    if day.day == calendar.monthrange(day.year, day.month)[1]:
        return date(year, month, last)   # ends clamped to a month's end: all of it
    return date(year, month, min(day.day, last))
