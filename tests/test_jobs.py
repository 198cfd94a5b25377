"""Scheduled jobs: the job table and the job functions (idempotent)."""
from datetime import date
from decimal import Decimal

from apscheduler.schedulers.background import BackgroundScheduler

from app.extensions import db
from app.jobs.ledger import fixum_job, reserve_release_job, schedule
from app.models.contracts import Contract
from app.models.ledger import Booking, Receipt
from tests.factories import make_customer
from tests.masterdata import person, pool_with_products


def test_the_job_table():
    scheduler = BackgroundScheduler(timezone="Europe/Berlin")
    schedule(scheduler, app=None)
    jobs = {job.id: str(job.trigger) for job in scheduler.get_jobs()}
    assert jobs == {"fixum": "cron[day='1', hour='1']", "reserve-release": "cron[hour='2']",
                    "session-purge": "cron[hour='3']"}


def test_the_fixum_job_books_once_a_month(app):
    pool, _, _ = pool_with_products()
    a = person(pool, "A")
    a.fixum = Decimal("250.00")
    former = person(pool, "F", "FORMER")
    former.fixum = Decimal("100.00")
    db.session.commit()
    assert fixum_job(app, date(2026, 10, 1)) == 1
    assert fixum_job(app, date(2026, 10, 1)) == 0
    assert fixum_job(app, date(2026, 11, 1)) == 1
    assert {(b.booking_date, str(b.amount)) for b in db.session.query(Booking)} == {
        (date(2026, 10, 1), "250.00"), (date(2026, 11, 1), "250.00")}


def test_reserves_are_released_when_the_liability_period_ends(app):
    from app.models.intermediaries import IntermediaryRate
    from app.services.ledger import bookings_for_receipt
    from tests.masterdata import line
    pool, alpha, product = pool_with_products()
    a = person(pool, "A")
    a.reserve_rate = Decimal(10)
    life = line("010")
    db.session.add(IntermediaryRate(intermediary=a, line_of_business=life, ap_rate=80))
    customer = make_customer(pool, "K", intermediary=a)
    contract = Contract(policy_number="R-1", customer=customer, product=product,
                        start_date=date(2026, 1, 1), managing_company=pool)
    db.session.add(contract)
    db.session.commit()
    receipt = Receipt(contract=contract, kind="AP", amount=Decimal("1234.56"),
                      value_date=date(2026, 1, 15))
    db.session.add(receipt)
    db.session.add_all(bookings_for_receipt(receipt)[0])
    db.session.commit()
    assert reserve_release_job(app, date(2030, 12, 31)) == 0   # 60 months: until 2031-01-01
    assert reserve_release_job(app, date(2031, 1, 1)) == 1
    assert reserve_release_job(app, date(2031, 6, 1)) == 0     # released once
    release = db.session.query(Booking).filter_by(kind="RESERVE_RELEASE").one()
    assert (str(release.amount), release.booking_date) == ("98.77", date(2031, 1, 1))


def test_a_correction_reverses_a_booking_once(app):
    import pytest

    from app.domain.errors import DomainError
    from app.services.ledger import book_correction
    pool, _, _ = pool_with_products()
    a = person(pool, "A")
    a.fixum = Decimal("250.00")
    db.session.commit()
    fixum_job(app, date(2026, 10, 1))
    original = db.session.query(Booking).one()
    with pytest.raises(DomainError):
        book_correction(a.id, None, date(2026, 10, 20), "", original.id)
    fix = book_correction(a.id, None, date(2026, 10, 20), "Fixum versehentlich", original.id)
    assert fix.amount + original.amount == 0 and fix.reverses_id == original.id
    with pytest.raises(DomainError):
        book_correction(a.id, None, date(2026, 10, 21), "noch einmal", original.id)
    manual = book_correction(a.id, "-12.50", date(2026, 10, 21), "Gebühr")
    assert str(manual.amount) == "-12.50"


def test_the_cli_commands(app):
    pool, _, _ = pool_with_products()
    a = person(pool, "A")
    a.fixum = Decimal("100.00")
    db.session.commit()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["pool", "book-fixum", "--month", "2026-10"])
    assert result.exit_code == 0 and "1 bookings" in result.output
    result = runner.invoke(args=["pool", "book-fixum", "--month", "2026-10"])
    assert "0 bookings" in result.output
    assert runner.invoke(args=["pool", "book-fixum", "--month", "10/2026"]).exit_code != 0
    result = runner.invoke(args=["pool", "release-reserves", "--date", "2026-10-01"])
    assert result.exit_code == 0 and "0 reserves" in result.output
