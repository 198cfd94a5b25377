"""Retention periods and when a customer's data may be anonymised (app/domain/retention.py)."""
from datetime import date

import pytest

from app.domain.errors import InvalidValueError
from app.domain.retention import (
    ContractTerm,
    CustomerRecords,
    Periods,
    add_months,
    check_years,
    contract_end,
    customer_retention_end,
    may_anonymise,
    periods,
    retention_end,
)

P = Periods(bookings=10, vouchers=8, customer=10)


def test_a_period_runs_from_the_end_of_the_year_of_the_record():
    # § 147 Abs. 4 AO: a booking of 12 March 2015 is kept to 31 December 2025
    assert retention_end(date(2015, 3, 12), 10) == date(2025, 12, 31)
    assert retention_end(date(2015, 12, 31), 10) == date(2025, 12, 31)
    assert retention_end(date(2016, 1, 1), 8) == date(2024, 12, 31)
    assert retention_end(date(2016, 1, 1), 0) == date(2016, 12, 31)


def test_add_months_keeps_the_day_or_takes_the_last_of_a_shorter_month():
    assert add_months(date(2020, 1, 31), 1) == date(2020, 2, 29)
    assert add_months(date(2021, 1, 31), 1) == date(2021, 2, 28)
    assert add_months(date(2015, 6, 15), 120) == date(2025, 6, 15)
    assert add_months(date(2015, 11, 30), 3) == date(2016, 2, 29)


def test_the_end_of_a_contract():
    assert contract_end(ContractTerm("ACTIVE", date(2010, 1, 1), 12)) is None
    assert contract_end(ContractTerm("CANCELLED", date(2010, 1, 1), 120,
                                     cancelled_on=date(2012, 5, 31))) == date(2012, 5, 31)
    assert contract_end(ContractTerm("ENDED", date(2010, 4, 1), 60,
                                     changed_on=date(2019, 1, 1))) == date(2015, 4, 1)
    # ended without a term: the day it was marked ended
    assert contract_end(ContractTerm("ENDED", date(2010, 4, 1), None,
                                     changed_on=date(2013, 7, 2))) == date(2013, 7, 2)


def test_a_running_contract_keeps_the_customer_whatever_its_age():
    records = CustomerRecords(date(1990, 1, 1), contracts=(
        ContractTerm("CANCELLED", date(1990, 1, 1), cancelled_on=date(1991, 1, 1)),
        ContractTerm("ACTIVE", date(1990, 1, 1))))
    assert customer_retention_end(records, P) is None
    assert not may_anonymise(records, P, date(2100, 1, 1))


def test_the_customer_period_counts_from_its_last_contracts_end():
    records = CustomerRecords(date(2005, 3, 1), contracts=(
        ContractTerm("CANCELLED", date(2005, 3, 1), cancelled_on=date(2009, 2, 28)),
        ContractTerm("ENDED", date(2006, 1, 1), 60)))          # ended 2011-01-01
    assert customer_retention_end(records, P) == date(2021, 12, 31)
    assert not may_anonymise(records, P, date(2021, 12, 31))
    assert may_anonymise(records, P, date(2022, 1, 1))


def test_the_later_of_customer_booking_and_voucher_retention_counts():
    base = dict(created_on=date(2005, 1, 1), contracts=(
        ContractTerm("CANCELLED", date(2005, 1, 1), cancelled_on=date(2010, 6, 30)),))
    assert customer_retention_end(CustomerRecords(**base), P) == date(2020, 12, 31)
    # commission still booked two years after the end: 10 years from then
    late_booking = CustomerRecords(**base, last_booking=date(2012, 3, 1))
    assert customer_retention_end(late_booking, P) == date(2022, 12, 31)
    # a voucher: 8 years
    late_voucher = CustomerRecords(**base, last_voucher=date(2014, 1, 15))
    assert customer_retention_end(late_voucher, P) == date(2022, 12, 31)
    longer = Periods(bookings=10, vouchers=12, customer=10)
    assert customer_retention_end(late_voucher, longer) == date(2026, 12, 31)


def test_a_customer_without_contracts_counts_from_creation_or_its_applications():
    assert customer_retention_end(CustomerRecords(date(2012, 8, 1)), P) == date(2022, 12, 31)
    records = CustomerRecords(date(2012, 8, 1), last_application=date(2015, 2, 1))
    assert customer_retention_end(records, P) == date(2025, 12, 31)
    assert may_anonymise(records, P, date(2026, 1, 1))
    assert not may_anonymise(records, P, date(2025, 6, 1))


def test_the_records_creation_does_not_count_once_there_are_contracts():
    # old contracts imported today: their end counts, not the import
    records = CustomerRecords(date(2026, 5, 1), contracts=(
        ContractTerm("CANCELLED", date(2000, 1, 1), cancelled_on=date(2010, 6, 30)),))
    assert customer_retention_end(records, P) == date(2020, 12, 31)


def test_periods_are_whole_years_from_0_to_100_named_by_their_setting():
    assert check_years("8", "x") == 8 and check_years(0, "x") == 0
    for bad in (-1, 101, "zehn", "8.5", None, True, ""):
        with pytest.raises(InvalidValueError) as err:
            check_years(bad, "POOL_RETENTION_VOUCHERS_YEARS")
        assert err.value.field == "POOL_RETENTION_VOUCHERS_YEARS"
    assert periods(10, 8, 6) == Periods(10, 8, 6)
    with pytest.raises(InvalidValueError) as err:
        periods(10, 8, -3)
    assert err.value.field == "POOL_RETENTION_CUSTOMER_YEARS"
