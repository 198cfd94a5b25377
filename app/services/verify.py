"""`pool verify-ledger`: recompute the bookings' hash chain and every balance
the statements state, and report each mismatch. Reads only."""
from __future__ import annotations

import hashlib
from collections import defaultdict
from decimal import Decimal

from sqlalchemy import text

from app.domain import chain as rules
from app.domain.money import money
from app.extensions import db
from app.services.ledger_chain import iter_chain_rows

#: problems listed in full; beyond this only counted
LIMIT = 1000


class Report:
    def __init__(self):
        self.bookings = 0
        self.statements = 0
        self.runs = 0
        self.pdfs = 0
        self.problems: list[dict] = []
        self.count = 0

    def add(self, rule: str, **facts) -> None:
        self.count += 1
        if len(self.problems) < LIMIT:
            self.problems.append({"rule": rule, **facts})

    @property
    def ok(self) -> bool:
        return self.count == 0


def _money(value) -> Decimal:
    """A sum as the database gives it (SQLite: a float) in cents."""
    return money(repr(value) if isinstance(value, float) else value or 0)


def verify_ledger(progress=None) -> Report:
    report = Report()
    connection = db.session.connection()
    total = connection.execute(text("SELECT count(*) FROM booking")).scalar()
    _chain(connection, report, total, progress)
    _statements(connection, report)
    _pdfs(connection, report)
    db.session.rollback()
    return report


def _chain(connection, report: Report, total: int, progress) -> None:
    previous, last_id = rules.GENESIS, 0
    done = 0

    def counted(rows):
        nonlocal done, last_id, previous
        for row in rows:
            done += 1
            if progress and done % 50_000 == 0:
                progress(done, total)
            last_id, previous = row[0], row[1]
            yield row

    for pk, stored, expected in rules.breaks(rules.GENESIS, counted(iter_chain_rows(connection))):
        report.add("chain", booking=pk, stored=stored, expected=expected)
    report.bookings = done
    if progress:
        progress(done, total)
    head = connection.execute(text("SELECT booking_id, hash FROM ledger_head WHERE id = 1")).first()
    if head is None or (int(head[0]), head[1]) != (last_id, previous):
        # the last bookings removed (or the head moved): the chain itself
        # cannot show a missing tail
        report.add("head", booking=head and head[0], stored=head and head[1],
                   expected=previous, last_booking=last_id)


def _statements(connection, report: Report) -> None:
    sums = {sid: _money(total) for sid, total in connection.execute(text(
        "SELECT statement_id, sum(amount) FROM booking WHERE statement_id IS NOT NULL "
        "GROUP BY statement_id"))}
    owners = {sid: who for sid, who in connection.execute(text(
        "SELECT DISTINCT statement_id, intermediary_id FROM booking "
        "WHERE statement_id IS NOT NULL"))}
    by_person = defaultdict(list)
    runs = defaultdict(lambda: [0, Decimal(0)])
    rows = connection.execute(text(
        "SELECT id, intermediary_id, period, opening_balance, total, payout, carry_forward, "
        "run_id FROM statement ORDER BY intermediary_id, period")).all()
    for sid, who, _period, opening, total, payout, carry, run_id in rows:
        opening, total, payout, carry = map(_money, (opening, total, payout, carry))
        report.statements += 1
        booked = sums.pop(sid, Decimal("0.00"))
        if opening + booked != total:
            report.add("statement total", statement=sid, opening=str(opening),
                       bookings=str(booked), total=str(total))
        if payout + carry != total or payout < 0 or (payout and carry):
            report.add("statement payout", statement=sid, total=str(total), payout=str(payout),
                       carry_forward=str(carry))
        before = by_person[who][-1] if by_person[who] else None
        if opening != (before[1] if before else Decimal("0.00")):
            report.add("opening balance", statement=sid, opening=str(opening),
                       previous_statement=before and before[0],
                       previous_carry_forward=str(before[1]) if before else "0.00")
        by_person[who].append((sid, carry))
        if owners.get(sid, who) != who:
            report.add("statement owner", statement=sid, intermediary=who)
        if run_id is not None:
            runs[run_id][0] += 1
            runs[run_id][1] += payout
    for sid in sums:
        report.add("settled without statement", statement=sid)
    for run_id, count, payout_total in connection.execute(text(
            "SELECT id, statements, payout_total FROM settlement_run ORDER BY id")):
        report.runs += 1
        made, paid = runs.pop(run_id, (0, Decimal(0)))
        if count != made or _money(payout_total) != _money(paid):
            report.add("run total", run=run_id, statements=count, counted=made,
                       payout_total=str(_money(payout_total)), paid=str(_money(paid)))


def _pdfs(connection, report: Report) -> None:
    """Issued credit notes: each stored PDF still has the SHA-256 it was
    stored with (read 200 at a time: a month holds gigabytes)."""
    last = 0
    while True:
        rows = connection.execute(text(
            "SELECT id, statement_id, pdf, sha256 FROM statement_pdf WHERE id > :last "
            "ORDER BY id LIMIT 200"), {"last": last}).all()
        if not rows:
            return
        for _pk, statement_id, pdf, sha in rows:
            report.pdfs += 1
            if hashlib.sha256(bytes(pdf)).hexdigest() != sha:
                report.add("credit note", statement=statement_id)
        last = rows[-1][0]
