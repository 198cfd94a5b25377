"""The settlement example of domain.md."""
from datetime import date
from decimal import Decimal

import pytest

from app.domain.errors import InvalidValueError
from app.domain.settlement import (
    check_final_allowed,
    parse_period,
    settle,
    statement_number,
)

D = Decimal


def test_the_settlement_example_october_and_november():
    october = settle(D(0), [D("987.65"), D("-98.77"), D("70.00"), D("250.00")])
    assert (october.total, october.payout, october.carry_forward) == (
        D("1208.88"), D("1208.88"), D("0.00"))
    november = settle(october.carry_forward, [D("-757.20"), D("70.00"), D("250.00")])
    assert (november.total, november.payout, november.carry_forward) == (
        D("-437.20"), D("0.00"), D("-437.20"))
    december = settle(november.carry_forward, [D("500.00")])
    assert (december.opening_balance, december.payout) == (D("-437.20"), D("62.80"))


def test_a_small_positive_total_below_the_minimum_payout_is_carried():
    result = settle(D(0), [D("9.99")], min_payout=D("10.00"))
    assert (result.payout, result.carry_forward) == (D("0.00"), D("9.99"))


@pytest.mark.parametrize("text, first, last", [
    ("2026-10", date(2026, 10, 1), date(2026, 10, 31)),
    ("2028-02", date(2028, 2, 1), date(2028, 2, 29)),
])
def test_periods(text, first, last):
    assert parse_period(text) == (first, last)


@pytest.mark.parametrize("text", ["2026-13", "10/2026", "", None, "2026-1"])
def test_bad_periods_name_the_field(text):
    with pytest.raises(InvalidValueError) as exc:
        parse_period(text)
    assert exc.value.field == "period"


def test_a_final_run_needs_an_ended_month_and_numbers_are_gap_free():
    check_final_allowed(date(2026, 10, 31), date(2026, 11, 1))
    with pytest.raises(InvalidValueError):
        check_final_allowed(date(2026, 11, 30), date(2026, 11, 23))
    assert statement_number(2026, 1) == "2026-000001"
