"""Retention periods (Aufbewahrungsfristen): when a customer's personal data
may be anonymised (Art. 17 DSGVO) because no law requires keeping it longer.

§ 147 AO and § 257 HGB: books and booking records are kept 10 years, booking
vouchers (Buchungsbelege) 8 years (since 2025). A period runs from the end of
the calendar year in which the record was made (§ 147 Abs. 4 AO, § 257 Abs. 5
HGB): a booking of 12 March 2015 is kept to 31 December 2025 and may go from
1 January 2026.

A customer is due once every one of these has ended (docs/data-protection.md):
- the customer retention (POOL_RETENTION_CUSTOMER_YEARS), counted from the end
  of the year of its last business: the end of its last contract, the last
  change of one of its applications, or its creation when it has neither;
- the booking retention of the last booking of its contracts;
- the voucher retention of the last voucher of its contracts: receipts and the
  documents attached to them.
A customer with a running (ACTIVE) contract is never due.
"""
from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from app.domain.errors import N_, InvalidValueError

ACTIVE, CANCELLED, ENDED = "ACTIVE", "CANCELLED", "ENDED"
MAX_YEARS = 100


@dataclass(frozen=True)
class Periods:
    """Retention periods in years."""

    bookings: int = 10
    vouchers: int = 8
    customer: int = 10


def check_years(value, field: str) -> int:
    """A retention period: a whole number of years from 0 to 100."""
    if isinstance(value, bool):
        raise InvalidValueError(field, N_("Give a whole number of years from 0 to 100."))
    try:
        years = int(str(value).strip())
    except (TypeError, ValueError):
        raise InvalidValueError(field, N_("Give a whole number of years from 0 to 100.")) \
            from None
    if not 0 <= years <= MAX_YEARS or str(value).strip() != str(years):
        raise InvalidValueError(field, N_("Give a whole number of years from 0 to 100."))
    return years


def periods(bookings, vouchers, customer) -> Periods:
    """Periods from settings, each checked (the setting's name is the field)."""
    return Periods(check_years(bookings, "POOL_RETENTION_BOOKINGS_YEARS"),
                   check_years(vouchers, "POOL_RETENTION_VOUCHERS_YEARS"),
                   check_years(customer, "POOL_RETENTION_CUSTOMER_YEARS"))


def retention_end(made_on: date, years: int) -> date:
    """The last day a record made on `made_on` must be kept."""
    return date(made_on.year + years, 12, 31)


def add_months(day: date, months: int) -> date:
    """The same day `months` later (the month's last day where it is shorter)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class ContractTerm:
    """What a contract's end is computed from."""

    status: str
    start_date: date
    term_months: int | None = None
    cancelled_on: date | None = None
    #: the day it was last changed: when it was marked ENDED without a term
    changed_on: date | None = None


def contract_end(contract: ContractTerm) -> date | None:
    """The day a contract ended, or None while it runs.

    CANCELLED: its cancellation date. ENDED: the end of its term when it has
    one, else the day it was marked ended. Anything else runs."""
    status = getattr(contract.status, "value", contract.status)
    if status == CANCELLED:
        return contract.cancelled_on or contract.changed_on or contract.start_date
    if status == ENDED:
        if contract.term_months:
            return add_months(contract.start_date, contract.term_months)
        return contract.changed_on or contract.start_date
    return None


@dataclass(frozen=True)
class CustomerRecords:
    """The dates of a customer's records that retention counts from."""

    created_on: date
    contracts: tuple[ContractTerm, ...] = ()
    #: the last change of one of its applications
    last_application: date | None = None
    #: the last booking date of its contracts
    last_booking: date | None = None
    #: the last voucher of its contracts: receipt value dates, their documents
    last_voucher: date | None = None


def _latest(days: Iterable[date | None]) -> date | None:
    days = [d for d in days if d is not None]
    return max(days) if days else None


def customer_retention_end(records: CustomerRecords, periods: Periods) -> date | None:
    """The last day the customer's personal data must be kept, or None while
    one of its contracts runs."""
    ends = [contract_end(c) for c in records.contracts]
    if any(end is None for end in ends):
        return None
    # its creation counts only for a customer without contracts and applications
    last_business = _latest([records.last_application, *ends]) or records.created_on
    candidates = [retention_end(last_business, periods.customer)]
    if records.last_booking is not None:
        candidates.append(retention_end(records.last_booking, periods.bookings))
    if records.last_voucher is not None:
        candidates.append(retention_end(records.last_voucher, periods.vouchers))
    return max(candidates)


def may_anonymise(records: CustomerRecords, periods: Periods, today: date) -> bool:
    """Whether the retention of every record of the customer has ended."""
    end = customer_retention_end(records, periods)
    return end is not None and today > end
