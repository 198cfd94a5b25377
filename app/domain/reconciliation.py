"""Provisionskontrolle: the commission the pool expects from an insurer for a
contract and month, against what it received.

Expected, from the pool's agreement with the insurer (rates in percent):
- AP once, in the month the contract is policed (or starts, if later): the
  annual premium × AP rate (supplementary premium × AP ZV rate as AP_ZV);
- FP on each due date of the payment frequency from the start: the
  instalment × FP rate.
Nothing is expected before the start, after the cancellation, or for a
single premium's later months.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from app.domain.money import ZERO, money, percent_of

#: instalments per year
PER_YEAR = {"MONTHLY": 12, "QUARTERLY": 4, "HALF_YEARLY": 2, "YEARLY": 1, "SINGLE": 1}

OK, NOT_DUE, NO_RECEIPT, DIFFERS, UNEXPECTED = (
    "OK", "NOT_DUE", "NO_RECEIPT", "AMOUNT_DIFFERS", "NOT_EXPECTED")
#: a difference up to this is rounding, not a claim
TOLERANCE = Decimal("0.01")


@dataclass(frozen=True)
class Agreement:
    ap_rate: Decimal = ZERO
    ap_zv_rate: Decimal = ZERO
    fp_rate: Decimal = ZERO


@dataclass(frozen=True)
class ContractTerms:
    start: date
    frequency: str
    premium: Decimal               # per instalment
    premium_supplementary: Decimal = ZERO
    policed_on: date | None = None
    cancelled_on: date | None = None


def _months_between(a: date, b: date) -> int:
    return (b.year - a.year) * 12 + b.month - a.month


def expected(terms: ContractTerms, agreement: Agreement, month: date) -> dict[str, Decimal]:
    """{kind: amount} expected in `month` (its first day)."""
    first = date(month.year, month.month, 1)
    start_month = date(terms.start.year, terms.start.month, 1)
    if first < start_month:
        return {}
    if terms.cancelled_on is not None and first > date(terms.cancelled_on.year,
                                                      terms.cancelled_on.month, 1):
        return {}
    out: dict[str, Decimal] = {}
    per_year = PER_YEAR.get(terms.frequency, 12)
    due_ap = max(start_month, date(terms.policed_on.year, terms.policed_on.month, 1)
                 if terms.policed_on else start_month)
    if first == due_ap:
        annual = Decimal(terms.premium) * per_year
        if agreement.ap_rate:
            out["AP"] = percent_of(annual, agreement.ap_rate)
        supplementary = Decimal(terms.premium_supplementary or 0) * per_year
        if agreement.ap_zv_rate and supplementary:
            out["AP_ZV"] = percent_of(supplementary, agreement.ap_zv_rate)
    elapsed = _months_between(start_month, first)
    step = 12 // per_year
    if agreement.fp_rate and elapsed % step == 0 and not (
            terms.frequency == "SINGLE" and elapsed > 0):
        out["FP"] = percent_of(Decimal(terms.premium), agreement.fp_rate)
    return out


def reason(expected_amount: Decimal | None, received: Decimal | None) -> str:
    """The reason code of one contract, month and kind."""
    exp = money(expected_amount or 0)
    got = money(received or 0)
    if not exp and not got:
        return NOT_DUE
    if exp and not got:
        return NO_RECEIPT
    if not exp and got:
        return UNEXPECTED
    return OK if abs(exp - got) <= TOLERANCE else DIFFERS
