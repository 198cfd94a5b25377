"""Provisionskontrolle: expected commission per contract and month."""
from datetime import date
from decimal import Decimal as D

import pytest

from app.domain.reconciliation import (
    DIFFERS,
    NO_RECEIPT,
    NOT_DUE,
    OK,
    UNEXPECTED,
    Agreement,
    ContractTerms,
    expected,
    reason,
)

AGREEMENT = Agreement(ap_rate=D("40"), ap_zv_rate=D("10"), fp_rate=D("2.5"))


def test_ap_once_in_the_policing_month_on_the_annual_premium():
    terms = ContractTerms(date(2026, 3, 1), "MONTHLY", D("50.00"), D("10.00"),
                          policed_on=date(2026, 4, 20))
    assert expected(terms, AGREEMENT, date(2026, 3, 1)) == {"FP": D("1.25")}
    assert expected(terms, AGREEMENT, date(2026, 4, 1)) == {
        "AP": D("240.00"), "AP_ZV": D("12.00"), "FP": D("1.25")}
    assert "AP" not in expected(terms, AGREEMENT, date(2026, 5, 1))


@pytest.mark.parametrize("frequency, months", [
    ("MONTHLY", list(range(1, 13))), ("QUARTERLY", [1, 4, 7, 10]), ("HALF_YEARLY", [1, 7]),
    ("YEARLY", [1]), ("SINGLE", [1])])
def test_fp_on_each_due_date(frequency, months):
    terms = ContractTerms(date(2026, 1, 15), frequency, D("100.00"))
    due = [m for m in range(1, 13)
           if "FP" in expected(terms, Agreement(fp_rate=D("3")), date(2026, m, 1))]
    assert due == months


def test_nothing_before_the_start_or_after_the_cancellation():
    terms = ContractTerms(date(2026, 6, 1), "MONTHLY", D("10.00"),
                          cancelled_on=date(2026, 9, 30))
    assert expected(terms, AGREEMENT, date(2026, 5, 1)) == {}
    assert expected(terms, AGREEMENT, date(2026, 9, 1)) == {"FP": D("0.25")}
    assert expected(terms, AGREEMENT, date(2026, 10, 1)) == {}


@pytest.mark.parametrize("exp, got, code", [
    (D("10.00"), D("10.00"), OK), (D("10.00"), D("10.01"), OK), (D("10.00"), None, NO_RECEIPT),
    (D("10.00"), D("9.00"), DIFFERS), (None, None, NOT_DUE), (None, D("5"), UNEXPECTED)])
def test_reason_codes(exp, got, code):
    assert reason(exp, got) == code
