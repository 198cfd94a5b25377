"""The monthly settlement run (Courtageabrechnung): preview, final run, release.

A run takes the settlement lock first (PostgreSQL: a transaction-level
advisory lock; SQLite: BEGIN IMMEDIATE), so two runs cannot both book and a
second one is refused with RunUnderWayError (409). Everything a final run
writes, the month's Fixum and reserve releases included, is one
transaction: a run killed half-way leaves nothing, and running it again
completes it. A preview does the same work and rolls it back.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from flask import current_app
from sqlalchemy import case, func, insert, select, text, update
from sqlalchemy.exc import OperationalError

from app.domain.errors import N_, InvalidValueError, RunUnderWayError
from app.domain.settlement import (
    check_final_allowed,
    parse_period,
    settle,
    statement_number,
    withheld_reason,
)
from app.extensions import db
from app.models.contracts import Contract
from app.models.intermediaries import Intermediary
from app.models.ledger import (
    Booking,
    BookingKind,
    MissingRate,
    Receipt,
    RunStatus,
    SettlementRun,
    Statement,
    StatementStatus,
)
from app.services.ledger import book_fixum, release_reserves

#: one advisory lock key for every settlement run and release
LOCK_KEY = 72_010_001
#: intermediaries per step (progress is reported after each)
CHUNK = 1000

Progress = Callable[[int, int], None]


@dataclass
class _Person:
    id: int
    name: str
    tax_number: str | None
    unsettled: Decimal = Decimal(0)
    reserve: Decimal = Decimal(0)
    first_unsettled: int | None = None     # the lowest id of its unsettled bookings


def four_eyes() -> bool:
    return bool(current_app.config.get("POOL_FOUR_EYES"))


def take_lock(exclusive: bool = True) -> None:
    """Start a transaction holding the settlement lock, or refuse with 409.
    A preview takes it shared: previews run side by side, never beside a
    final run."""
    db.session.commit()
    dialect = db.engine.dialect.name
    if dialect == "postgresql":
        fn = "pg_try_advisory_xact_lock" if exclusive else "pg_try_advisory_xact_lock_shared"
        if not db.session.execute(text(f"SELECT {fn}(:k)"), {"k": LOCK_KEY}).scalar():
            db.session.rollback()
            raise RunUnderWayError("period")
    elif dialect == "sqlite" and exclusive:
        connection = db.session.connection()
        connection.exec_driver_sql("PRAGMA busy_timeout = 300")
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except OperationalError as exc:
            connection.exec_driver_sql("PRAGMA busy_timeout = 5000")
            db.session.rollback()
            if "locked" in str(exc).lower():
                raise RunUnderWayError("period") from None
            raise
        connection.exec_driver_sql("PRAGMA busy_timeout = 5000")


def run_settlement(period: str, final: bool, today: date | None = None,
                   user_id: int | None = None, progress: Progress | None = None,
                   detail: bool = False) -> dict:
    """Settle all unsettled bookings up to the period's last day, after
    booking the month's Fixum and due reserve releases. A final run is
    idempotent (statements are unique per intermediary and period); with
    POOL_FOUR_EYES its statements wait for a release (`release_run`).
    `detail` adds each intermediary's name, opening and reserve balance and
    the previous statement's payout (for the settlement screen)."""
    first, last = parse_period(period)
    period = f"{first:%Y-%m}"
    today = today or date.today()
    if final:
        check_final_allowed(last, today)
    take_lock(exclusive=final)
    try:
        return _run(period, first, last, final, today, user_id, progress, detail)
    except OperationalError as exc:
        db.session.rollback()
        if "locked" in str(exc).lower():      # SQLite: a writer got in first
            raise RunUnderWayError("period") from None
        raise
    except BaseException:
        db.session.rollback()
        raise


def _run(period, first, last, final, today, user_id, progress, detail) -> dict:
    book_fixum(period, commit=False)
    release_reserves(last, commit=False)
    people = _people(last)
    previous = _previous(period)
    done = set(db.session.execute(select(Statement.intermediary_id).where(
        Statement.period == period)).scalars())
    minimum = Decimal(str(current_app.config.get("POOL_MIN_PAYOUT", "0")))
    due = sorted(pid for pid in (set(people) - done)
                 if people[pid].unsettled or previous.get(pid, {}).get("carry_forward"))
    entries, withheld = [], []
    for pid in due:
        person = people[pid]
        if withheld_reason(person.tax_number):
            withheld.append({"intermediary": pid, "name": person.name,
                             "reason": withheld_reason(person.tax_number)})
            continue
        before = previous.get(pid, {})
        result = settle(before.get("carry_forward", Decimal(0)), [person.unsettled], minimum)
        entries.append({
            "intermediary": pid, "name": person.name,
            "opening_balance": result.opening_balance, "total": result.total,
            "payout": result.payout, "carry_forward": result.carry_forward,
            "reserve_balance": -person.reserve,
            "previous_period": before.get("period"), "previous_payout": before.get("payout"),
            "difference": (result.payout - before["payout"]) if before else None})
    missing = _missing_rates(first, last)
    if progress:
        progress(len(entries) if not final else 0, len(entries))
    run = None
    if final and entries:
        starts = [people[e["intermediary"]].first_unsettled for e in entries]
        run = _issue(period, first, entries, withheld, today, user_id, progress,
                     min((i for i in starts if i is not None), default=None))
        db.session.commit()
    elif final:
        db.session.commit()        # Fixum and releases of a month with nothing to settle
    else:
        db.session.rollback()
    return {"period": period, "final": final, "run": run and run.id,
            "status": run and run.status,
            "statements": [_public(e, final) for e in entries],
            "withheld": withheld, "missing_rates": missing,
            **({"details": entries} if detail else {})}


def _people(last: date) -> dict[int, _Person]:
    """Every intermediary with its unsettled sum up to `last` and its
    cancellation reserve balance (one pass over the ledger)."""
    reserve_kinds = (BookingKind.RESERVE_RETAIN, BookingKind.RESERVE_RELEASE)
    sums = db.session.execute(
        select(Booking.intermediary_id,
               func.sum(case((Booking.statement_id.is_(None), Booking.amount), else_=0)),
               func.sum(case((Booking.kind.in_(reserve_kinds), Booking.amount), else_=0)),
               func.min(case((Booking.statement_id.is_(None), Booking.id))))
        .where(Booking.booking_date <= last).group_by(Booking.intermediary_id)).all()
    people = {pid: _Person(pid, name, tax) for pid, name, tax in db.session.execute(
        select(Intermediary.id, Intermediary.name, Intermediary.tax_number))}
    for pid, unsettled, reserve, first in sums:
        people[pid].unsettled = Decimal(unsettled or 0)
        people[pid].reserve = Decimal(reserve or 0)
        people[pid].first_unsettled = first
    return people


def _previous(period: str) -> dict[int, dict]:
    """Each intermediary's latest statement before `period`: its carry-forward
    opens this one (a debit balance), its payout is shown beside the preview."""
    latest = (select(Statement.intermediary_id, func.max(Statement.period).label("period"))
              .where(Statement.period < period).group_by(Statement.intermediary_id).subquery())
    rows = db.session.execute(select(
        Statement.intermediary_id, Statement.period, Statement.payout, Statement.carry_forward)
        .join(latest, (latest.c.intermediary_id == Statement.intermediary_id)
              & (latest.c.period == Statement.period))).all()
    return {pid: {"period": p, "payout": Decimal(payout), "carry_forward": Decimal(carry)}
            for pid, p, payout, carry in rows}


def _missing_rates(first: date, last: date) -> list[dict]:
    rows = db.session.execute(
        select(MissingRate.contract_id, Contract.policy_number, MissingRate.intermediary_id,
               MissingRate.receipt_id)
        .join(Receipt, Receipt.id == MissingRate.receipt_id)
        .join(Contract, Contract.id == MissingRate.contract_id)
        .where(Receipt.value_date >= first, Receipt.value_date <= last)
        .order_by(MissingRate.id)).all()
    return [{"contract": c, "policy_number": n, "intermediary": i, "receipt": r}
            for c, n, i, r in rows]


def _next_sequence(year: int) -> int:
    return db.session.execute(select(func.coalesce(func.max(Statement.sequence), 0)).where(
        Statement.year == year)).scalar() + 1


def _issue(period, first, entries, withheld, today, user_id, progress,
           first_unsettled: int | None = None) -> SettlementRun:
    """Write the run, its statements and settle their bookings, in chunks."""
    drafts = four_eyes()
    payout_total = sum((e["payout"] for e in entries), Decimal(0))
    run = SettlementRun(
        period=period, statements=len(entries), payout_total=payout_total,
        withheld=json.dumps(withheld), created_on=datetime.now(), created_by_fk=user_id,
        status=RunStatus.AWAITING_RELEASE.value if drafts else RunStatus.RELEASED.value)
    if not drafts:
        run.released_on, run.released_by_fk = run.created_on, user_id
    db.session.add(run)
    db.session.flush()
    sequence = _next_sequence(first.year)
    _, last = parse_period(period)
    sqlite = db.engine.dialect.name == "sqlite"
    for start in range(0, len(entries), CHUNK):
        chunk = entries[start:start + CHUNK]
        rows = []
        for entry in chunk:
            row = {key: entry[key] for key in ("opening_balance", "total", "payout",
                                               "carry_forward", "reserve_balance")}
            row.update(intermediary_id=entry["intermediary"], period=period, run_id=run.id,
                       created_on=today, status=StatementStatus.FINAL.value)
            if drafts:
                row.update(status=StatementStatus.DRAFT.value, number=None, year=None,
                           sequence=None)
            else:
                row.update(number=statement_number(first.year, sequence), year=first.year,
                           sequence=sequence)
                sequence += 1
            rows.append(row)
        db.session.execute(insert(Statement), rows)
        if sqlite:
            continue                     # settled below, in the table's order
        ids = [e["intermediary"] for e in chunk]
        db.session.execute(
            update(Booking)
            .where(Booking.intermediary_id == Statement.intermediary_id,
                   Statement.period == period, Statement.intermediary_id.in_(ids),
                   Booking.statement_id.is_(None), Booking.booking_date <= last)
            .values(statement_id=Statement.id),
            execution_options={"synchronize_session": False})
        if progress:
            progress(start + len(chunk), len(entries))
    if sqlite and first_unsettled is not None:
        _settle_in_table_order(run.id, period, last, first_unsettled,
                               lambda share: progress and progress(
                                   int(len(entries) * share), len(entries)))
    made = {pid: (pk, number) for pid, pk, number in db.session.execute(
        select(Statement.intermediary_id, Statement.id, Statement.number)
        .where(Statement.run_id == run.id))}
    for entry in entries:
        entry["id"], entry["number"] = made[entry["intermediary"]]
    return run


#: bookings (by id) an UPDATE of _settle_in_table_order covers
RANGE = 500_000


def _settle_in_table_order(run_id: int, period: str, last: date, first_id: int,
                           progress) -> None:
    """SQLite: the run's statements onto their unsettled bookings, reading
    the table once in its own order from the lowest unsettled booking of the
    run's intermediaries, each row's statement found by its primary-key
    lookup. (Per intermediary through its index, as on PostgreSQL, the
    month's five million rows were visited in random order, and a large
    ledger does not fit SQLite's page cache: the large month's final run took
    42 to 48 s that way, 31 to 34 s this way, bench/bench_month.py.)"""
    last_id = db.session.execute(select(func.max(Booking.id))).scalar()
    sql = text(
        "UPDATE booking SET statement_id = (SELECT s.id FROM statement s "
        "WHERE s.intermediary_id = booking.intermediary_id AND s.period = :period) "
        "WHERE booking.id BETWEEN :low AND :high AND booking.statement_id IS NULL "
        "AND +booking.booking_date <= :last "
        "AND +booking.intermediary_id IN (SELECT intermediary_id FROM statement "
        "WHERE run_id = :run)")
    for low in range(first_id, last_id + 1, RANGE):
        db.session.execute(sql, {"period": period, "low": low, "high": low + RANGE - 1,
                                 "last": last, "run": run_id})
        progress(min(1.0, (low + RANGE - first_id) / (last_id + 1 - first_id)))


def release_run(run_id: int, user_id: int | None, today: date | None = None) -> SettlementRun:
    """Four eyes: a second staff member releases a final run; only now do its
    statements get their numbers (gap-free, inside this transaction)."""
    take_lock(exclusive=True)
    try:
        run = db.session.get(SettlementRun, run_id)
        if run is None:
            raise InvalidValueError("run", N_("There is no such settlement run."))
        if run.status != RunStatus.AWAITING_RELEASE.value:
            raise InvalidValueError("run", N_("This settlement run has already been released."))
        if user_id is None or user_id == run.created_by_fk:
            raise InvalidValueError("run", N_(
                "A settlement run is released by a second person, not by the one who ran it."))
        first, _ = parse_period(run.period)
        sequence = _next_sequence(first.year)
        ids = db.session.execute(select(Statement.id).where(Statement.run_id == run.id)
                                 .order_by(Statement.id)).scalars().all()
        params = []
        for pk in ids:
            params.append({"pk": pk, "number": statement_number(first.year, sequence),
                           "year": first.year, "sequence": sequence})
            sequence += 1
        if params:
            db.session.execute(
                text("UPDATE statement SET number = :number, year = :year, "
                     "sequence = :sequence, status = 'FINAL', created_on = :today "
                     "WHERE id = :pk AND status = 'DRAFT'"),
                [{**p, "today": today or date.today()} for p in params])
        run.status = RunStatus.RELEASED.value
        run.released_on, run.released_by_fk = datetime.now(), user_id
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return run


def _public(entry: dict, final: bool) -> dict:
    """The answer of interfaces.md: amounts as strings, ids only when final."""
    out = {"intermediary": entry["intermediary"], "total": str(entry["total"]),
           "payout": str(entry["payout"]), "carry_forward": str(entry["carry_forward"])}
    return {"id": entry["id"], "number": entry["number"], **out} if final else out
