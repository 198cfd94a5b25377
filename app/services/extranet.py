"""What the broker extranet shows an intermediary: its commission per month,
open applications, latest statements, its cancellation reserve with the
release schedule per contract, its own rates per product."""
from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal

from sqlalchemy import func, select, text
from sqlalchemy.orm import aliased

from app.domain.liability import liability_end
from app.domain.rates import ContractFacts, resolve_rate
from app.extensions import db
from app.models.contracts import Application, ApplicationStatus, Contract
from app.models.intermediaries import Intermediary
from app.models.ledger import Booking, BookingKind, Statement, StatementStatus
from app.models.products import Product
from app.services.ledger import _rows, liability_terms

OPEN = (ApplicationStatus.DRAFT, ApplicationStatus.SUBMITTED, ApplicationStatus.IN_REVIEW)


def months_back(today: date, count: int) -> list[date]:
    """The first days of the last `count` months, oldest first."""
    year, month = today.year, today.month
    out = []
    for _ in range(count):
        out.append(date(year, month, 1))
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return out[::-1]


def commission_per_month(person_id: int, today: date, count: int = 12) -> list[tuple]:
    """[(first day of month, sum of bookings)] for the last `count` months.
    Summed per day by the database: at most a row per day, not one per
    booking (tens of thousands a month for the top of a large hierarchy)."""
    months = months_back(today, count)
    sums: dict[date, Decimal] = defaultdict(Decimal)
    for day, amount in db.session.execute(
            select(Booking.booking_date, func.sum(Booking.amount)).where(
                Booking.intermediary_id == person_id, Booking.booking_date >= months[0])
            .group_by(Booking.booking_date)):
        sums[date(day.year, day.month, 1)] += Decimal(amount)
    return [(m, sums.get(m, Decimal(0))) for m in months]


def chart(points: list[tuple], width: int = 640, height: int = 180) -> dict:
    """Bars of an SVG chart (drawn by the template): x, y, height per month,
    the zero line; negative months below it."""
    values = [v for _, v in points]
    top = max([v for v in values if v > 0] + [Decimal(1)])
    bottom = min([v for v in values if v < 0] + [Decimal(0)])
    span = top - bottom
    plot = height - 30
    zero = 10 + float(top / span) * plot
    step = width / max(len(points), 1)
    bars = []
    for i, (month, value) in enumerate(points):
        size = float(abs(value) / span) * plot
        bars.append({"x": round(i * step + step * 0.15, 1), "w": round(step * 0.7, 1),
                     "y": round(zero - size if value >= 0 else zero, 1),
                     "h": round(size, 1), "month": month, "value": value,
                     "negative": value < 0, "label_x": round(i * step + step / 2, 1)})
    return {"bars": bars, "zero": round(zero, 1), "width": width, "height": height}


def open_applications(person_id: int) -> list[Application]:
    return db.session.execute(select(Application).where(
        Application.intermediary_id == person_id, Application.status.in_(OPEN))
        .order_by(Application.id.desc())).scalars().all()


def latest_statements(person_id: int, limit: int = 5) -> list[Statement]:
    return db.session.execute(select(Statement).where(
        Statement.intermediary_id == person_id,
        Statement.status == StatementStatus.FINAL.value)
        .order_by(Statement.period.desc()).limit(limit)).scalars().all()


def reserve_schedule(person_id: int) -> tuple[Decimal, list[dict]]:
    """The retained reserve (positive) and, per contract, what is held and
    when it is released (the end of the liability period). Summed by the
    database per contract and liability model."""
    freed = aliased(Booking)
    rows = db.session.execute(
        select(func.sum(Booking.amount), Booking.liability_model_id, Contract.id,
               Contract.policy_number, Contract.start_date)
        .join(Contract, Contract.id == Booking.contract_id)
        # the literal condition of the partial index ix_booking_reserve_retain
        .where(Booking.intermediary_id == person_id,
               text("booking.kind = 'RESERVE_RETAIN'"),
               Booking.id.not_in(select(freed.origin_id).where(
                   freed.intermediary_id == person_id, freed.origin_id.isnot(None),
                   freed.kind == BookingKind.RESERVE_RELEASE)))
        .group_by(Booking.liability_model_id, Contract.id, Contract.policy_number,
                  Contract.start_date)).all()
    per_contract: dict[int, dict] = {}
    for amount, model_id, contract_id, policy, start in rows:
        amount = Decimal(amount)
        release = liability_end(start, liability_terms(model_id))
        entry = per_contract.setdefault(contract_id, {
            "policy_number": policy, "held": Decimal(0), "release_on": release})
        entry["held"] -= amount
        entry["release_on"] = max(entry["release_on"], release)
    schedule = sorted(per_contract.values(), key=lambda e: (e["release_on"], e["policy_number"]))
    return sum((e["held"] for e in schedule), Decimal(0)), schedule


def own_rates(person: Intermediary) -> list[dict]:
    """The active products with the intermediary's rates (its own rate rows,
    else its group's; none: no rate agreed)."""
    own, group = _rows(person.id), _rows(person.group_id)
    out = []
    for product in db.session.execute(select(Product).where(Product.active.is_(True))
                                      .order_by(Product.name)).scalars():
        row, where = resolve_rate(own, group, ContractFacts(
            product_id=product.id, insurer_id=product.insurer_id,
            line_id=product.line_of_business_id, term_months=None))
        out.append({"product": product, "row": row, "where": where})
    return out
