"""Cancellation liability (domain.md, "Cancellation liability" example)."""
from datetime import date
from decimal import Decimal

import pytest

from app.domain.liability import (
    LiabilityTerms,
    charge_back,
    full_months_between,
    liable_fraction,
)
from app.domain.money import money, percent_of

D = Decimal


def test_money_rounds_half_up_not_half_even():
    assert money(D("0.125")) == D("0.13") and money(D("0.135")) == D("0.14")
    assert money(D("-98.765")) == D("-98.77") and money(D("2.5")) == D("2.50")
    assert percent_of(D("1234.56"), D(80)) == D("987.65")   # worked example 1
    assert percent_of(D("987.65"), D(10)) == D("98.77")     # its reserve


@pytest.mark.parametrize("start, end, months", [
    (date(2026, 1, 1), date(2027, 3, 1), 14), (date(2026, 1, 31), date(2026, 2, 28), 0),
    (date(2026, 1, 15), date(2026, 2, 15), 1), (date(2026, 1, 15), date(2026, 2, 14), 0),
    (date(2026, 5, 1), date(2026, 4, 1), 0),
])
def test_full_months_elapsed(start, end, months):
    assert full_months_between(start, end) == months


def test_the_worked_example_pro_rata():
    terms = LiabilityTerms(60, "PRO_RATA")
    assert charge_back(D("987.65"), terms, date(2026, 1, 1), date(2027, 3, 1)) == D("-757.20")


@pytest.mark.parametrize("terms, elapsed, fraction", [
    (LiabilityTerms(60, "PRO_RATA"), 0, D(1)), (LiabilityTerms(60, "PRO_RATA"), 30, D("0.5")),
    (LiabilityTerms(60, "PRO_RATA"), 60, D(0)), (LiabilityTerms(60, "PRO_RATA"), 99, D(0)),
    (LiabilityTerms(24, "FULL"), 23, D(1)), (LiabilityTerms(24, "FULL"), 24, D(0)),
    (LiabilityTerms(36, "STAGED", stages=((12, "100"), (24, "50"), (36, "25"))), 11, D(1)),
    (LiabilityTerms(36, "STAGED", stages=((12, "100"), (24, "50"), (36, "25"))), 12, D("0.5")),
    (LiabilityTerms(36, "STAGED", stages=((12, "100"), (24, "50"), (36, "25"))), 35, D("0.25")),
    (LiabilityTerms(60, "COMBINED", full_months=12), 11, D(1)),
    (LiabilityTerms(60, "COMBINED", full_months=12), 36, D("0.5")),
    (LiabilityTerms(60, "COMBINED", full_months=12), 60, D(0)),
])
def test_liable_fraction_of_each_method(terms, elapsed, fraction):
    assert liable_fraction(terms, elapsed) == fraction


def test_a_charge_back_never_exceeds_the_booking():
    for elapsed_end in (date(2026, 1, 1), date(2026, 1, 2), date(2030, 1, 1)):
        back = charge_back(D("100.00"), LiabilityTerms(60, "FULL"), date(2026, 1, 1), elapsed_end)
        assert D("-100.00") <= back <= 0


def test_the_latest_start_ended_by_a_day_agrees_with_liability_end():
    from datetime import date, timedelta

    from hypothesis import given, settings
    from hypothesis import strategies as st

    from app.domain.liability import (
        LiabilityTerms,
        latest_start_ended_by,
        liability_end,
    )

    @settings(max_examples=300, deadline=None)
    @given(st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 31)),
           st.integers(0, 120), st.integers(-70, 70))
    def check(day, months, offset):
        latest = latest_start_ended_by(day, months)
        start = latest + timedelta(days=offset)
        ended = liability_end(start, LiabilityTerms(months, "PRO_RATA")) <= day
        assert ended == (start <= latest)

    check()
