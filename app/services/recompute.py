"""Recompute a settled period from the master data as it was (GoBD:
nachvollziehbar, prüfbar).

Master data that settlement reads is historised by the change log: each
change of a history-keeping row keeps its raw old and new values
(change_log.raw_values). To recompute a receipt's bookings, the master data
is put back, inside a transaction that is always rolled back, to what it was
when the receipt was booked: the log's later changes undone, newest first
(an update gets its old values, a deleted row comes back, a rate or level row
added later goes). The engine then books the receipt again, with the
reserve held at that point of the ledger, and its lines are compared with
the bookings on the statements. Nothing is written.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Boolean, Date, DateTime, Enum, Numeric, func, select

from app.domain import commission as engine
from app.domain.settlement import parse_period
from app.extensions import db
from app.models.audit import ChangeLog
from app.models.ledger import Booking, BookingKind, Receipt, Statement

#: Rows added after a receipt was booked are taken away for it only from
#: these tables: nothing outside the master data refers to their rows. (A
#: contract, an intermediary or a product added later cannot have been
#: read for an older receipt.)
REMOVABLE = {"intermediary_rate", "product_rate", "intermediary_level", "combination_member",
             "insurer_agreement", "insurer_broker_number"}

#: what a booking line is compared by
FIELDS = ("intermediary_id", "kind", "amount", "booking_date", "basis", "rate", "receipt_kind",
          "level_rank", "liability_model_id", "rule")


def _tables():
    return db.Model.metadata.tables


def _decode(column, value):
    if value is None:
        return None
    kind = column.type
    if isinstance(kind, Enum):
        return kind.enum_class[value] if kind.enum_class else value
    if isinstance(kind, DateTime):
        return datetime.fromisoformat(value)
    if isinstance(kind, Date):
        return date.fromisoformat(value)
    if isinstance(kind, Numeric):
        return Decimal(str(value))
    if isinstance(kind, Boolean):
        return bool(value)
    return value


def _values(table, raw: dict, index: int) -> dict:
    return {name: _decode(table.c[name], pair[index]) for name, pair in (raw or {}).items()
            if name in table.c}


class _Rewinder:
    """Undoes the change log, newest first, down to a moment."""

    def __init__(self, since: datetime | None):
        """The log's entries after `since` (the earliest moment to go back
        to), newest first."""
        query = select(ChangeLog.id, ChangeLog.table_name, ChangeLog.row_id, ChangeLog.action,
                       ChangeLog.changed_on, ChangeLog.raw_values).order_by(ChangeLog.id.desc())
        if since is not None:
            query = query.where(ChangeLog.changed_on > since)
        self.entries = db.session.execute(query).all()
        self.position = 0

    def back_to(self, moment: datetime) -> None:
        connection = db.session.connection()
        tables = _tables()
        while self.position < len(self.entries):
            _, name, row_id, action, changed_on, raw = self.entries[self.position]
            if changed_on <= moment:
                break
            self.position += 1
            table = tables.get(name)
            if table is None or "id" not in table.c:
                continue
            if action == "UPDATE":
                values = _values(table, raw, 0)
                if values:
                    connection.execute(table.update().where(table.c.id == row_id).values(values))
            elif action == "INSERT" and name in REMOVABLE:
                connection.execute(table.delete().where(table.c.id == row_id))
            elif action == "DELETE":
                values = _values(table, raw, 0)
                for stamp in ("created_on", "changed_on"):
                    if stamp in table.c and stamp not in values:
                        values[stamp] = changed_on
                connection.execute(table.insert().values({**values, "id": row_id}))
        db.session.expire_all()


def _held_before(people, first_booking_id: int) -> dict:
    """Each person's reserve held just before this receipt was booked."""
    rows = db.session.execute(
        select(Booking.intermediary_id, func.sum(Booking.amount))
        .where(Booking.intermediary_id.in_(list(people)), Booking.id < first_booking_id,
               Booking.kind.in_([BookingKind.RESERVE_RETAIN, BookingKind.RESERVE_RELEASE]))
        .group_by(Booking.intermediary_id)).all()
    held = {pid: Decimal(0) for pid in people}
    held.update((pid, -Decimal(total)) for pid, total in rows)
    return held


def _line(values) -> tuple:
    out = []
    for name, value in zip(FIELDS, values, strict=True):
        if hasattr(value, "value"):
            value = value.value
        if name == "amount" and value is not None:
            value = Decimal(value).quantize(Decimal("0.01"))
        elif name in ("basis", "rate") and value is not None:
            value = Decimal(value).quantize(Decimal("0.0001"))
        out.append(value)
    return tuple(out)


def recompute_period(period: str) -> dict:
    """Every receipt whose bookings are on a statement of `period`, booked
    again from the master data as it was then. Returns {"receipts": n,
    "lines": n, "differences": [{receipt, stored, recomputed}]}. Reads only."""
    from app.models.contracts import Contract
    from app.services.ledger import engine_inputs

    parse_period(period)
    statements = select(Statement.id).where(Statement.period == period)
    settled = select(Booking.receipt_id).where(Booking.statement_id.in_(statements),
                                               Booking.receipt_id.isnot(None))
    stored: dict[int, list] = {}
    for row in db.session.execute(   # all of their bookings, also any not yet settled
            select(Booking.receipt_id, Booking.id, *(getattr(Booking, f) for f in FIELDS))
            .where(Booking.receipt_id.in_(settled)).order_by(Booking.id)):
        stored.setdefault(row[0], []).append((row[1], _line(row[2:])))
    receipts = db.session.execute(
        select(Receipt).where(Receipt.id.in_(list(stored))).order_by(Receipt.created_on.desc(),
                                                                        Receipt.id.desc())
    ).scalars().all() if stored else []
    facts = [(r.id, r.created_on, r.contract_id, getattr(r.kind, "value", r.kind),
              Decimal(r.amount), r.value_date) for r in receipts]
    rewinder = _Rewinder(min((f[1] for f in facts), default=None))
    report = {"period": period, "receipts": 0, "lines": 0, "differences": []}
    try:
        for receipt_id, created_on, contract_id, kind, amount, value_date in facts:
            rewinder.back_to(created_on)
            snapshot, people, hierarchy, table = engine_inputs(
                db.session.get(Contract, contract_id), value_date)
            lines = stored[receipt_id]
            held = _held_before(people, lines[0][0])
            result = engine.book_receipt(engine.ReceiptIn(kind, amount, value_date), snapshot,
                                         people, hierarchy, table, held)
            again = sorted(_line(tuple(getattr(ln, f) for f in FIELDS)) for ln in result.lines)
            booked = sorted(line for _, line in lines)
            report["receipts"] += 1
            report["lines"] += len(booked)
            if again != booked:
                report["differences"].append({"receipt": receipt_id, "stored": booked,
                                              "recomputed": again})
    finally:
        db.session.rollback()
    return report
