"""Use cases of the ledger: book a receipt, cancel and uncancel a contract,
book the month's Fixum. Each loads plain snapshots, calls app/domain, and
writes new bookings only (never changes one)."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from flask import current_app
from sqlalchemy import func, select

from app.domain import commission as engine
from app.domain.errors import N_, InvalidValueError
from app.domain.liability import LiabilityTerms, charge_back
from app.domain.receipts import fresh_receipts
from app.extensions import db
from app.models.contracts import Contract, ContractStatus
from app.models.intermediaries import Intermediary, IntermediaryRate, IntermediaryStatus
from app.models.ledger import Booking, BookingKind, MissingRate, Receipt
from app.models.mixins import _now
from app.models.products import CareerLevel, LiabilityModel, ProductRate
from app.services.hierarchy import load_hierarchy

#: Liability when neither the rate row nor the insurer names a model: the
#: legal minimum for life and full health insurance (§ 49 VAG), pro rata.
DEFAULT_LIABILITY = LiabilityTerms(60, "PRO_RATA")


def contract_snapshot(contract: Contract) -> engine.ContractIn:
    product = contract.product
    model = (product.commission_model.value if product.commission_model
             else current_app.config["POOL_COMMISSION_MODEL"])
    members = tuple((m.intermediary_id, m.share) for m in contract.combination.members) \
        if contract.combination else ()
    return engine.ContractIn(
        id=contract.id, product_id=product.id, insurer_id=product.insurer_id,
        line_id=product.line_of_business_id, term_months=contract.term_months,
        start_date=contract.start_date, model=model, intermediary_id=contract.intermediary_id,
        combination=members, reserve_applies=bool(product.line_of_business.reserve_applies),
        valuation_sum=contract.valuation_sum, units_per_1000=product.units_per_1000,
        policed_on=contract.policed_on,
        insurer_liability_model_id=product.insurer.liability_model_id)


def _rows(person_id):
    if person_id is None:
        return ()
    return tuple(r.to_domain() for r in db.session.execute(
        select(IntermediaryRate).where(IntermediaryRate.intermediary_id == person_id)).scalars())


def recipients(ids) -> dict[int, engine.Recipient]:
    """The intermediaries as the engine sees them; their reserve held and
    rate rows loaded in one query each (not one per person: a batch of a
    large pool's month reaches tens of thousands of them)."""
    ids = list(ids)
    people = db.session.execute(select(Intermediary).where(
        Intermediary.id.in_(ids))).scalars().all()
    held = {pid: -Decimal(total) for pid, total in db.session.execute(
        select(Booking.intermediary_id, func.sum(Booking.amount)).where(
            Booking.intermediary_id.in_(ids),
            Booking.kind.in_([BookingKind.RESERVE_RETAIN, BookingKind.RESERVE_RELEASE]))
        .group_by(Booking.intermediary_id))}
    wanted = set(ids) | {p.group_id for p in people if p.group_id is not None}
    rows: dict[int, list] = {}
    for rate in db.session.execute(select(IntermediaryRate).where(
            IntermediaryRate.intermediary_id.in_(list(wanted)))).scalars():
        rows.setdefault(rate.intermediary_id, []).append(rate.to_domain())
    return {person.id: engine.Recipient(
        person.id, person.status.value, person.reserve_rate or Decimal(0), person.reserve_cap,
        held.get(person.id, Decimal(0)), tuple(rows.get(person.id, ())),
        tuple(rows.get(person.group_id, ())) if person.group_id else (), person.fixum)
        for person in people}


def product_table(contract: Contract) -> engine.ProductTable:
    product = contract.product
    own = db.session.execute(select(ProductRate).where(
        ProductRate.product_id == product.id)).scalars().all()
    default = db.session.execute(select(ProductRate).where(
        ProductRate.line_of_business_id == product.line_of_business_id)).scalars().all()
    rates = {r.career_level_id: {"ap_rate": r.ap_rate, "ap_zv_rate": r.ap_zv_rate,
                                 "fp_rate": r.fp_rate} for r in default}
    rates.update({r.career_level_id: {"ap_rate": r.ap_rate, "ap_zv_rate": r.ap_zv_rate,
                                      "fp_rate": r.fp_rate} for r in own})
    levels = {lid: (rank, value) for lid, rank, value in db.session.execute(
        select(CareerLevel.id, CareerLevel.rank, CareerLevel.value_per_unit)).all()}
    return engine.ProductTable(rates, levels)


def _booking(line: engine.Line, contract_id, receipt=None) -> Booking:
    return Booking(intermediary_id=line.intermediary_id, kind=BookingKind(line.kind),
                   amount=line.amount, booking_date=line.booking_date, contract_id=contract_id,
                   receipt=receipt, basis=line.basis, rate=line.rate,
                   receipt_kind=line.receipt_kind, level_rank=line.level_rank,
                   liability_model_id=line.liability_model_id, rule=line.rule[:120],
                   created_on=date.today())


def bookings_for_receipt(receipt: Receipt) -> tuple[list[Booking], list[int]]:
    """The bookings of a new receipt (not yet committed) and the intermediaries
    without a rate. The caller commits receipt and bookings together."""
    contract = receipt.contract
    snapshot = contract_snapshot(contract)
    ids = {m for m, _ in snapshot.combination} or {snapshot.intermediary_id}
    people = recipients(i for i in ids if i is not None)
    hierarchy = table = None
    if snapshot.model != "contract_percent":
        hierarchy, table = load_hierarchy(), product_table(contract)
        people.update(recipients({e.intermediary_id for i in ids if i
                                  for e in hierarchy.chain(i, receipt.value_date)}))
    result = engine.book_receipt(
        engine.ReceiptIn(getattr(receipt.kind, "value", receipt.kind), Decimal(receipt.amount),
                         receipt.value_date),
        snapshot, people, hierarchy, table)
    made = [_booking(line, contract.id, receipt) for line in result.lines]
    made += [MissingRate(receipt=receipt, contract_id=contract.id, intermediary_id=who)
             for who in result.missing_rates]
    return made, result.missing_rates


def liability_terms(model_id) -> LiabilityTerms:
    model = db.session.get(LiabilityModel, model_id) if model_id else None
    if model is None:
        return DEFAULT_LIABILITY
    stages = tuple((s["months"], s["percent"]) for s in (model.stages or ()))
    return LiabilityTerms(model.months, model.method.value, model.full_months, stages)


def cancel_contract(contract: Contract, day: date, reason: str | None = None) -> list[Booking]:
    """Cancel with charge-backs of every AP (and AP overrides) by the liability
    model each booking recorded. Cancelling again changes nothing. One commit."""
    if contract.status == ContractStatus.CANCELLED:
        return []
    if day < contract.start_date:
        raise InvalidValueError("date", N_("The cancellation date is before the start."))
    acquisition = db.session.execute(select(Booking).where(
        Booking.contract_id == contract.id,
        Booking.kind.in_([BookingKind.AP, BookingKind.AP_ZV, BookingKind.OVERRIDE]),
        Booking.reverses_id.is_(None))).scalars().all()
    made = []
    for booking in acquisition:
        if booking.kind == BookingKind.OVERRIDE and booking.receipt_kind not in ("AP", "AP_ZV"):
            continue
        amount = charge_back(booking.amount, liability_terms(booking.liability_model_id),
                             contract.start_date, day)
        if amount:
            made.append(Booking(
                intermediary_id=booking.intermediary_id, kind=BookingKind.STORNO, amount=amount,
                booking_date=day, contract_id=contract.id, origin_id=booking.id,
                basis=booking.amount, liability_model_id=booking.liability_model_id,
                rule="storno", reason=(reason or "")[:200] or None, created_on=date.today()))
    contract.status = ContractStatus.CANCELLED
    contract.cancelled_on = day
    db.session.add_all(made)
    db.session.commit()
    return made


def uncancel_contract(contract: Contract) -> list[Booking]:
    """Withdraw the cancellation: reverse its charge-backs (new bookings)."""
    if contract.status != ContractStatus.CANCELLED:
        return []
    reversed_ids = select(Booking.reverses_id).where(Booking.reverses_id.isnot(None))
    open_stornos = db.session.execute(select(Booking).where(
        Booking.contract_id == contract.id, Booking.kind == BookingKind.STORNO,
        Booking.id.not_in(reversed_ids))).scalars().all()
    made = [Booking(intermediary_id=b.intermediary_id, kind=BookingKind.STORNO,
                    amount=-b.amount, booking_date=date.today(), contract_id=contract.id,
                    reverses_id=b.id, origin_id=b.origin_id, rule="storno withdrawn",
                    created_on=date.today()) for b in open_stornos]
    contract.status = ContractStatus.ACTIVE
    contract.cancelled_on = None
    db.session.add_all(made)
    db.session.commit()
    return made


def book_fixum(month: str, commit: bool = True) -> list[Booking]:
    """The month's Fixum for ACTIVE intermediaries, once per intermediary and
    month (the unique constraint makes a second run book nothing). With
    commit=False the caller's transaction (a settlement run) commits them."""
    try:
        year, mon = (int(x) for x in month.split("-"))
        first = date(year, mon, 1)
    except (ValueError, AttributeError):
        raise InvalidValueError("month", N_("Give a month as YYYY-MM.")) from None
    key = f"{first:%Y-%m}"
    done = set(db.session.execute(select(Booking.intermediary_id).where(
        Booking.fixum_month == key)).scalars())
    people = db.session.execute(select(Intermediary).where(
        Intermediary.status == IntermediaryStatus.ACTIVE, Intermediary.fixum != 0)).scalars()
    lines = engine.fixum_lines([engine.Recipient(p.id, p.status.value, fixum=p.fixum)
                                for p in people if p.id not in done], first)
    made = []
    for line in lines:
        booking = _booking(line, None)
        booking.fixum_month = key
        made.append(booking)
    db.session.add_all(made)
    _done(commit)
    return made


def _done(commit: bool) -> None:
    if commit:
        db.session.commit()
    else:
        db.session.flush()


def bookings_for_policing(contract: Contract) -> list[Booking]:
    """Product units model: the AP bookings of a contract at its policing
    (not committed: the caller commits them with the contract)."""
    snapshot = contract_snapshot(contract)
    if snapshot.model != "product_units" or contract.status != ContractStatus.ACTIVE:
        return []
    if snapshot.policed_on is None:
        snapshot = engine.ContractIn(**{**snapshot.__dict__, "policed_on": date.today()})
    result = engine.police_units(snapshot, load_hierarchy(), product_table(contract))
    return [Booking(intermediary_id=line.intermediary_id, kind=BookingKind(line.kind),
                    amount=line.amount, booking_date=line.booking_date, contract=contract,
                    basis=line.basis, rate=None, receipt_kind=line.receipt_kind,
                    level_rank=line.level_rank, liability_model_id=line.liability_model_id,
                    rule=line.rule, created_on=date.today())
            for line in result.lines]


def book_receipts(rows, progress=None, commit: bool = True) -> dict:
    """Book many receipts in one transaction, set-based: snapshots, rates and
    the hierarchy are loaded once, receipts and bookings inserted in bulk
    (no ORM object per row). Rows: dicts with contract_id, kind, amount,
    value_date, reference (optional), source. A reference an insurer has
    already sent, or that repeats in the batch, is skipped and reported.
    Returns {"receipts", "bookings", "skipped": [references], "missing_rates": n}."""
    from sqlalchemy import insert
    from sqlalchemy.orm import selectinload

    from app.domain.values import to_decimal
    from app.models.products import Product

    rows = list(rows)
    for number, row in enumerate(rows, 1):
        # Imports check their lines before; this guards direct callers too.
        try:
            to_decimal(row["amount"], "amount", 2)
            if row["kind"] not in ("AP", "AP_ZV", "FP"):
                raise InvalidValueError("kind", N_("Not a valid choice."))
            if not isinstance(row["value_date"], date):
                raise InvalidValueError("value_date", N_("Give a date as YYYY-MM-DD."))
        except InvalidValueError as exc:
            exc.params = {**exc.params, "line": number}
            exc.field = f"line {number}: {exc.field}"
            raise
    contract_ids = {r["contract_id"] for r in rows}
    contracts = {}
    for start in range(0, len(contract_ids), 5000):
        chunk = list(contract_ids)[start:start + 5000]
        for c in db.session.execute(select(Contract).where(Contract.id.in_(chunk)).options(
                selectinload(Contract.product).selectinload(Product.line_of_business),
                selectinload(Contract.product).selectinload(Product.insurer),
                selectinload(Contract.combination))).scalars():
            contracts[c.id] = c
    snapshots = {cid: contract_snapshot(c) for cid, c in contracts.items()}
    seen = set(db.session.execute(select(Receipt.insurer_id, Receipt.reference).where(
        Receipt.reference.isnot(None))).all())
    people = {}
    person_ids = {s.intermediary_id for s in snapshots.values()} | {
        m for s in snapshots.values() for m, _ in s.combination}
    hierarchy = None
    if any(s.model != "contract_percent" for s in snapshots.values()):
        hierarchy = load_hierarchy()
        person_ids |= {e.intermediary_id for entries in hierarchy._entries.values()
                       for e in entries}
    person_ids.discard(None)
    for start in range(0, len(person_ids), 5000):
        people.update(recipients(list(person_ids)[start:start + 5000]))
    tables = {}
    receipts, lines, missing, missing_rows = [], [], 0, []
    to_book, skip = fresh_receipts(
        [(snapshots[r["contract_id"]].insurer_id, r.get("reference")) for r in rows], seen)
    skipped = [rows[i]["reference"] for i in skip]
    for row in (rows[i] for i in to_book):
        snapshot = snapshots[row["contract_id"]]
        receipt_in = engine.ReceiptIn(row["kind"], Decimal(row["amount"]), row["value_date"])
        table = None
        if snapshot.model != "contract_percent":
            table = tables.get(snapshot.product_id)
            if table is None:
                table = tables[snapshot.product_id] = product_table(contracts[row["contract_id"]])
        result = engine.book_receipt(receipt_in, snapshot, people, hierarchy, table)
        missing += len(result.missing_rates)
        missing_rows.append(result.missing_rates)
        receipts.append({"contract_id": snapshot.id, "insurer_id": snapshot.insurer_id,
                         "kind": row["kind"], "amount": Decimal(row["amount"]),
                         "value_date": row["value_date"], "reference": row.get("reference"),
                         "source": row.get("source", "import"), "created_on": _now(),
                         "changed_on": _now()})
        lines.append(result.lines)
        if progress and len(receipts) % 10_000 == 0:
            progress(len(receipts))
    ids = []
    for start in range(0, len(receipts), 10_000):
        ids += db.session.execute(insert(Receipt).returning(Receipt.id, sort_by_parameter_order=True),
                                  receipts[start:start + 10_000]).scalars().all()
    today = date.today()
    booking_rows = [
        {"intermediary_id": ln.intermediary_id, "kind": ln.kind, "amount": ln.amount,
         "booking_date": ln.booking_date, "contract_id": receipts[i]["contract_id"],
         "receipt_id": ids[i], "basis": ln.basis, "rate": ln.rate,
         "receipt_kind": ln.receipt_kind, "level_rank": ln.level_rank,
         "liability_model_id": ln.liability_model_id, "rule": ln.rule[:120],
         "created_on": today}
        for i, receipt_lines in enumerate(lines) for ln in receipt_lines]
    for start in range(0, len(booking_rows), 20_000):
        db.session.execute(insert(Booking), booking_rows[start:start + 20_000])
    gaps = [{"receipt_id": ids[i], "contract_id": receipts[i]["contract_id"], "intermediary_id": who}
            for i, people_missing in enumerate(missing_rows) for who in people_missing]
    if gaps:
        db.session.execute(insert(MissingRate), gaps)
    _done(commit)
    return {"receipts": len(ids), "bookings": len(booking_rows), "skipped": skipped,
            "missing_rates": missing}


def release_reserves(day: date, commit: bool = True) -> list[Booking]:
    """Release every retained reserve whose liability period has ended by
    `day`, on the day it ended; each retention is released once."""
    from app.domain.liability import liability_end

    # Two linear scans instead of a correlated NOT EXISTS (SQLite's planner
    # runs that one in quadratic time once the origin index is all NULLs).
    released = set(db.session.execute(select(Booking.origin_id).where(
        Booking.kind == BookingKind.RESERVE_RELEASE)).scalars())
    retains = db.session.execute(
        select(Booking.id, Booking.intermediary_id, Booking.amount, Booking.contract_id,
               Booking.liability_model_id, Contract.start_date)
        .join(Contract, Booking.contract_id == Contract.id)
        .where(Booking.kind == BookingKind.RESERVE_RETAIN)).all()
    terms: dict = {}
    made = []
    for pk, person, amount, contract_id, model_id, start in retains:
        if pk in released:
            continue
        if model_id not in terms:
            terms[model_id] = liability_terms(model_id)
        end = liability_end(start, terms[model_id])
        if end <= day:
            made.append(Booking(
                intermediary_id=person, kind=BookingKind.RESERVE_RELEASE,
                amount=-amount, booking_date=end, contract_id=contract_id,
                origin_id=pk, liability_model_id=model_id,
                rule="reserve released", created_on=date.today()))
    db.session.add_all(made)
    _done(commit)
    return made


def book_correction(intermediary_id: int, amount, day: date, reason: str,
                    reverses_id: int | None = None) -> Booking:
    """A manual correction by staff, with a reason, as a new booking. Reversing
    a booking books its exact negative; a booking is reversed at most once."""
    from app.domain.errors import RequiredFieldError
    from app.domain.values import to_decimal

    if not (reason or "").strip():
        raise RequiredFieldError("reason")
    if reverses_id is not None:
        original = db.session.get(Booking, reverses_id)
        if original is None or original.intermediary_id != intermediary_id:
            raise InvalidValueError("reverses", N_("No record with this id."))
        if db.session.execute(select(Booking.id).where(
                Booking.reverses_id == reverses_id)).first():
            raise InvalidValueError("reverses", N_("This booking has already been reversed."))
        amount = -original.amount
    else:
        amount = to_decimal(amount, "amount", 2)
        if not amount:
            raise RequiredFieldError("amount")
    booking = Booking(intermediary_id=intermediary_id, kind=BookingKind.CORRECTION,
                      amount=amount, booking_date=day, reverses_id=reverses_id,
                      reason=reason.strip()[:200], rule="correction", created_on=date.today())
    db.session.add(booking)
    db.session.commit()
    return booking
