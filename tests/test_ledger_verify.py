"""`pool verify-ledger`: every path that books seals its bookings into the
hash chain; a booking or a statement altered by raw SQL around the
application is found and named."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select, text

from app.extensions import db
from app.models.contracts import Contract
from app.models.ledger import Booking, drop_ledger_triggers, ledger_triggers
from app.services.demo import create_demo_data
from app.services.ledger import (
    book_correction,
    book_receipt_chunks,
    cancel_contract,
    uncancel_contract,
)
from app.services.settlement import run_settlement
from app.services.verify import verify_ledger


@pytest.fixture
def ledger(app):
    """The demo pool, its October settled finally, then more bookings by
    every path: a correction and its reversal, a cancellation and its
    withdrawal (ORM objects), a batch of receipts in chunks (the writer
    thread) and the Fixum and reserve releases of the run."""
    create_demo_data()
    db.session.commit()
    run_settlement("2026-10", final=True, today=date(2026, 11, 5))
    contract = db.session.execute(select(Contract).where(
        Contract.policy_number == "AL-2026-0001")).scalar_one()
    someone = db.session.execute(select(Booking.intermediary_id)).scalars().first()
    first = book_correction(someone, "12.34", date(2026, 11, 2), "Nachberechnung")
    book_correction(someone, None, date(2026, 11, 3), "Storno der Nachberechnung",
                    reverses_id=first.id)
    cancel_contract(contract, date(2026, 11, 15), "Kündigung")
    uncancel_contract(contract)
    rows = [{"contract_id": contract.id, "kind": "AP", "amount": f"{n}.10",
             "value_date": date(2026, 11, n), "reference": f"CHAIN-{n}", "source": "test"}
            for n in range(1, 13)]
    book_receipt_chunks([rows[i:i + 3] for i in range(0, 12, 3)])
    return contract


def _tamper(*statements):
    """What someone with database access could do: lift the ledger's
    triggers, change rows, put the triggers back."""
    db.session.rollback()    # the test's own reads end (PostgreSQL: they would block the DDL)
    dialect = db.engine.dialect.name
    with db.engine.begin() as conn:
        for ddl in drop_ledger_triggers(dialect):
            conn.execute(text(ddl))
        for sql, params in statements:
            conn.execute(text(sql), params)
        for ddl in ledger_triggers(dialect):
            conn.execute(text(ddl))


def _ids():
    return db.session.execute(select(Booking.id).order_by(Booking.id)).scalars().all()


def test_every_path_that_books_seals_into_one_unbroken_chain(ledger):
    hashes = db.session.execute(select(Booking.row_hash).order_by(Booking.id)).scalars().all()
    kinds = set(db.session.execute(select(Booking.kind)).scalars())
    assert {k.value for k in kinds} >= {"AP", "CORRECTION", "STORNO"}, kinds
    assert len(hashes) > 15 and None not in hashes and len(set(hashes)) == len(hashes)
    report = verify_ledger()
    assert report.ok, report.problems
    assert report.bookings == len(hashes) and report.statements > 0 and report.runs == 1


def test_a_booking_altered_by_raw_sql_is_named(ledger):
    ids = _ids()
    victim = ids[len(ids) // 2]
    _tamper(("UPDATE booking SET amount = amount + 1 WHERE id = :id", {"id": victim}))
    report = verify_ledger()
    assert [p["booking"] for p in report.problems if p["rule"] == "chain"] == [victim]


def test_a_settled_booking_altered_shows_in_the_chain_and_its_statement(ledger):
    victim, statement = db.session.execute(
        select(Booking.id, Booking.statement_id).where(Booking.statement_id.isnot(None))
        .order_by(Booking.id)).first()
    _tamper(("UPDATE booking SET amount = amount - 100 WHERE id = :id", {"id": victim}))
    rules = {(p["rule"], p.get("booking") or p.get("statement")) for p in verify_ledger().problems}
    assert ("chain", victim) in rules and ("statement total", statement) in rules


def test_a_forged_hash_does_not_hide_a_change(ledger):
    # the attacker recomputes the altered row's own hash: its successor breaks
    from app.domain import chain
    from app.services.ledger_chain import iter_chain_rows

    ids = _ids()
    victim = ids[3]
    _tamper(("UPDATE booking SET amount = amount + 1 WHERE id = :id", {"id": victim}))
    rows = {row[0]: row for row in iter_chain_rows(db.session.connection())}
    forged = chain.link(rows[ids[2]][1], rows[victim][2:])
    db.session.rollback()
    _tamper(("UPDATE booking SET row_hash = :h WHERE id = :id", {"h": forged, "id": victim}))
    report = verify_ledger()
    assert [p["booking"] for p in report.problems if p["rule"] == "chain"] == [ids[4]]


def test_a_booking_removed_or_inserted_is_found(ledger):
    ids = _ids()
    _tamper(("DELETE FROM booking WHERE id = :id", {"id": ids[5]}))
    assert [p["booking"] for p in verify_ledger().problems if p["rule"] == "chain"] == [ids[6]]


def test_the_last_bookings_removed_are_found_by_the_head(ledger):
    ids = _ids()
    _tamper(("DELETE FROM booking WHERE id >= :id", {"id": ids[-2]}))
    problems = verify_ledger().problems
    assert [p["rule"] for p in problems] == ["head"]
    assert problems[0]["last_booking"] == ids[-3]


def test_a_statement_altered_is_named(ledger):
    statement = db.session.execute(text("SELECT id, total FROM statement ORDER BY id")).first()
    db.session.rollback()
    _tamper(("UPDATE statement SET total = total + 1, payout = payout + 1 WHERE id = :id",
             {"id": statement[0]}))
    problems = verify_ledger().problems
    assert {(p["rule"], p.get("statement")) for p in problems} >= {("statement total", statement[0])}
    assert any(p["rule"] == "run total" for p in problems)   # its run paid another sum


def test_the_command_reports_and_fails_on_a_mismatch(ledger, app):
    runner = app.test_cli_runner()
    good = runner.invoke(args=["pool", "verify-ledger"])
    assert good.exit_code == 0, good.output
    assert "no mismatch" in good.output
    victim = _ids()[1]
    _tamper(("UPDATE booking SET intermediary_id = intermediary_id WHERE id = :id",
             {"id": victim}),
            ("UPDATE booking SET reason = :r WHERE id = :id", {"r": "nachträglich", "id": victim}))
    bad = runner.invoke(args=["pool", "verify-ledger"])
    assert bad.exit_code == 1
    assert f"MISMATCH chain: booking={victim}" in bad.output
    assert "1 mismatches" in bad.output


def test_a_booking_changed_through_the_application_is_still_refused(ledger):
    booking = db.session.execute(select(Booking).order_by(Booking.id)).scalars().first()
    booking.row_hash = "0" * 64
    with pytest.raises(Exception, match="(?i)booking"):
        db.session.commit()
    db.session.rollback()
    with pytest.raises(Exception, match="(?i)immutable"):
        with db.engine.begin() as conn:
            conn.execute(text("UPDATE booking SET row_hash = 'x' WHERE id = :id"),
                         {"id": booking.id})
    assert verify_ledger().ok
    assert Decimal(booking.amount) == booking.amount


def test_no_path_can_insert_an_unsealed_booking(ledger):
    from sqlalchemy import insert
    from sqlalchemy.exc import IntegrityError

    someone = db.session.execute(select(Booking.intermediary_id)).scalars().first()
    with pytest.raises(IntegrityError):
        db.session.execute(insert(Booking), [{     # a bulk insert past the ORM's events
            "intermediary_id": someone, "kind": "CORRECTION", "amount": Decimal("1.00"),
            "booking_date": date(2026, 11, 1), "rule": "unsealed"}])
    db.session.rollback()
    assert verify_ledger().ok


def test_the_migration_chains_the_bookings_a_database_already_holds(tmp_path):
    """An existing ledger (before migration 0018) is sealed by the upgrade."""
    from flask_migrate import upgrade

    from app import create_app
    from tests.conftest import make_config

    if make_config().SQLALCHEMY_DATABASE_URI.startswith("postgresql"):
        pytest.skip("a SQLite file of its own; the migration's SQL is the same on both")
    app = create_app(make_config(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path}/old.db"))
    with app.app_context():
        upgrade(revision="0017")
        with db.engine.begin() as conn:
            for n in range(1, 6):
                conn.execute(text(
                    "INSERT INTO booking (intermediary_id, kind, amount, booking_date, rule, "
                    "created_on) VALUES (1, 'FP', :amount, '2026-10-05', 'old', '2026-10-06')"),
                    {"amount": n * 1.25})
        upgrade()
        hashes = db.session.execute(text("SELECT row_hash FROM booking ORDER BY id")
                                    ).scalars().all()
        assert len(hashes) == 5 and None not in hashes
        report = verify_ledger()
        assert report.ok and report.bookings == 5, report.problems
        db.session.remove()
        db.engine.dispose()
