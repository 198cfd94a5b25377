"""The monthly settlement run (Courtageabrechnung): preview or final."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from flask import current_app
from sqlalchemy import func, select, text, update

from app.domain import commission as engine
from app.domain.settlement import (
    check_final_allowed,
    parse_period,
    settle,
    statement_number,
)
from app.extensions import db
from app.models.contracts import Contract
from app.models.intermediaries import Intermediary, IntermediaryStatus
from app.models.ledger import Booking, MissingRate, Receipt, Statement
from app.services.ledger import book_fixum, release_reserves


def _openings(period: str) -> dict[int, Decimal]:
    """The carry-forward of each intermediary's latest statement before `period`."""
    latest = (select(Statement.intermediary_id, func.max(Statement.period).label("period"))
              .where(Statement.period < period).group_by(Statement.intermediary_id).subquery())
    rows = db.session.execute(select(Statement.intermediary_id, Statement.carry_forward).join(
        latest, (latest.c.intermediary_id == Statement.intermediary_id)
        & (latest.c.period == Statement.period))).all()
    return {pid: Decimal(carry) for pid, carry in rows if carry}


def _pending_fixum(first: date) -> dict[int, Decimal]:
    """What `book_fixum` would book for the month (for a preview)."""
    key = f"{first:%Y-%m}"
    done = set(db.session.execute(select(Booking.intermediary_id).where(
        Booking.fixum_month == key)).scalars())
    people = db.session.execute(select(Intermediary).where(
        Intermediary.status == IntermediaryStatus.ACTIVE, Intermediary.fixum != 0)).scalars()
    return {line.intermediary_id: line.amount for line in engine.fixum_lines(
        [engine.Recipient(p.id, p.status.value, fixum=p.fixum) for p in people
         if p.id not in done], first)}


def run_settlement(period: str, final: bool, today: date | None = None) -> dict:
    """Settle all unsettled bookings up to the period's last day, after booking
    the month's Fixum and due reserve releases (final run only; a preview
    writes nothing and counts the Fixum that would be booked). A final run is
    idempotent: statements are unique per intermediary and period."""
    first, last = parse_period(period)
    period = f"{first:%Y-%m}"
    if final:
        check_final_allowed(last, today or date.today())
        book_fixum(period)        # each idempotent, each its own commit
        release_reserves(last)
        _lock(period)             # statements and their bookings: one transaction
    sums = dict(db.session.execute(
        select(Booking.intermediary_id, func.sum(Booking.amount))
        .where(Booking.statement_id.is_(None), Booking.booking_date <= last)
        .group_by(Booking.intermediary_id)).all())
    if not final:
        for pid, amount in _pending_fixum(first).items():
            sums[pid] = Decimal(sums.get(pid, 0)) + amount
    openings = _openings(period)
    done = set(db.session.execute(select(Statement.intermediary_id).where(
        Statement.period == period)).scalars())
    minimum = Decimal(str(current_app.config.get("POOL_MIN_PAYOUT", "0")))
    people = sorted((set(sums) | set(openings)) - done)
    statements = []
    sequence = db.session.execute(select(func.coalesce(func.max(Statement.sequence), 0)).where(
        Statement.year == first.year)).scalar() if final else 0
    for pid in people:
        result = settle(openings.get(pid, Decimal(0)), [Decimal(sums.get(pid, 0))], minimum)
        entry = {"intermediary": pid, "total": str(result.total), "payout": str(result.payout),
                 "carry_forward": str(result.carry_forward)}
        if final:
            sequence += 1
            statement = Statement(
                number=statement_number(first.year, sequence), year=first.year,
                sequence=sequence, intermediary_id=pid, period=period,
                opening_balance=result.opening_balance, total=result.total,
                payout=result.payout, carry_forward=result.carry_forward,
                created_on=date.today())
            db.session.add(statement)
            db.session.flush()
            db.session.execute(update(Booking).where(
                Booking.intermediary_id == pid, Booking.statement_id.is_(None),
                Booking.booking_date <= last).values(statement_id=statement.id))
            entry = {"id": statement.id, "number": statement.number, **entry}
        statements.append(entry)
    missing = db.session.execute(
        select(MissingRate.contract_id, Contract.policy_number, MissingRate.intermediary_id,
               MissingRate.receipt_id)
        .join(Receipt, Receipt.id == MissingRate.receipt_id)
        .join(Contract, Contract.id == MissingRate.contract_id)
        .where(Receipt.value_date >= first, Receipt.value_date <= last)).all()
    if final:
        db.session.commit()
    else:
        db.session.rollback()
    return {"period": period, "final": final, "statements": statements,
            "missing_rates": [{"contract": c, "policy_number": n, "intermediary": i,
                               "receipt": r} for c, n, i, r in missing]}


def _lock(period: str) -> None:
    """Serialise final runs: an advisory lock on PostgreSQL (held until the
    commit); SQLite allows one writer at a time anyway."""
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(:k)"),
                           {"k": int(period.replace("-", ""))})
