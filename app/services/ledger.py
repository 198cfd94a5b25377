"""Use cases of the ledger: book a receipt, cancel and uncancel a contract,
book the month's Fixum. Each loads plain snapshots, calls app/domain, and
writes new bookings only (never changes one)."""
from __future__ import annotations

import sys
from contextlib import contextmanager
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
from app.models.crm import Company
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
    levels = {lid: (rank, value) for lid, rank, value in db.session.execute(
        select(CareerLevel.id, CareerLevel.rank, CareerLevel.value_per_unit)).all()}
    return _rate_table(contract.product.id, contract.product.line_of_business_id, levels)


def _booking(line: engine.Line, contract_id, receipt=None) -> Booking:
    return Booking(intermediary_id=line.intermediary_id, kind=BookingKind(line.kind),
                   amount=line.amount, booking_date=line.booking_date, contract_id=contract_id,
                   receipt=receipt, basis=line.basis, rate=line.rate,
                   receipt_kind=line.receipt_kind, level_rank=line.level_rank,
                   liability_model_id=line.liability_model_id, rule=line.rule[:120],
                   created_on=date.today())


def engine_inputs(contract: Contract, value_date: date):
    """What the engine reads to book one receipt of `contract`, from the
    database as it is: (snapshot, recipients, hierarchy, product table)."""
    snapshot = contract_snapshot(contract)
    ids = {m for m, _ in snapshot.combination} or {snapshot.intermediary_id}
    people = recipients(i for i in ids if i is not None)
    hierarchy = table = None
    if snapshot.model != "contract_percent":
        hierarchy, table = load_hierarchy(), product_table(contract)
        people.update(recipients({e.intermediary_id for i in ids if i
                                  for e in hierarchy.chain(i, value_date)}))
    return snapshot, people, hierarchy, table


def bookings_for_receipt(receipt: Receipt) -> tuple[list[Booking], list[int]]:
    """The bookings of a new receipt (not yet committed) and the intermediaries
    without a rate. The caller commits receipt and bookings together."""
    contract = receipt.contract
    snapshot, people, hierarchy, table = engine_inputs(contract, receipt.value_date)
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


class BookingContext:
    """What booking receipts needs to know, loaded once per run and reused by
    each chunk of it (the large pool's month books 1.25 million receipts in
    chunks): the hierarchy, the recipients with their running cancellation
    reserve, the product rate tables and the contracts' snapshots. Loaded by
    set-based queries into plain data; no ORM object per row."""

    def __init__(self):
        self.hierarchy = None
        self.people: dict[int, engine.Recipient] = {}
        self.held: dict[int, Decimal] = {}      # reserve held, running over the batch
        self.tables: dict[int, engine.ProductTable] = {}
        self.snapshots: dict[int, engine.ContractIn] = {}
        self.levels = None
        self.booked: set = set()     # (insurer id, reference) booked by this run

    def load(self, contract_ids) -> None:
        """Snapshots of these contracts and everything booking them needs."""
        missing = [cid for cid in set(contract_ids) if cid not in self.snapshots]
        for start in range(0, len(missing), 5000):
            self.snapshots.update(snapshots(missing[start:start + 5000]))
        wanted = set()
        for cid in contract_ids:
            snap = self.snapshots.get(cid)
            if snap is None:
                continue
            wanted.add(snap.intermediary_id)
            wanted.update(m for m, _ in snap.combination)
            if snap.model != "contract_percent":
                if self.hierarchy is None:
                    self.hierarchy = load_hierarchy()
                    wanted.update(self.hierarchy.people())
                if snap.product_id not in self.tables:
                    self.tables[snap.product_id] = self._table(snap.product_id, snap.line_id)
        wanted.discard(None)
        wanted -= self.people.keys()
        wanted = list(wanted)
        for start in range(0, len(wanted), 5000):
            self.people.update(recipients(wanted[start:start + 5000]))

    def _table(self, product_id: int, line_id: int) -> engine.ProductTable:
        if self.levels is None:
            self.levels = {lid: (rank, value) for lid, rank, value in db.session.execute(
                select(CareerLevel.id, CareerLevel.rank, CareerLevel.value_per_unit)).all()}
        return _rate_table(product_id, line_id, self.levels)


def snapshots(contract_ids) -> dict[int, engine.ContractIn]:
    """The engine's view of these contracts, by one joined query (and one for
    the members of combinations): what contract_snapshot gives per contract."""
    from app.models.intermediaries import CombinationMember
    from app.models.products import LineOfBusiness, Product

    default_model = current_app.config["POOL_COMMISSION_MODEL"]
    insurer = Company.__table__.alias("insurer")
    rows = db.session.execute(
        select(Contract.id, Product.id, Product.insurer_id, Product.line_of_business_id,
               Contract.term_months, Contract.start_date, Product.commission_model,
               Contract.intermediary_id, Contract.combination_id,
               LineOfBusiness.reserve_applies, Contract.valuation_sum, Product.units_per_1000,
               Contract.policed_on, insurer.c.liability_model_id)
        .join(Product, Product.id == Contract.product_id)
        .join(LineOfBusiness, LineOfBusiness.id == Product.line_of_business_id)
        .join(insurer, insurer.c.id == Product.insurer_id)
        .where(Contract.id.in_(list(contract_ids)))).all()
    combos = {r[8] for r in rows if r[8] is not None}
    members: dict[int, list] = {}
    if combos:
        for combo, who, share in db.session.execute(
                select(CombinationMember.combination_id, CombinationMember.intermediary_id,
                       CombinationMember.share)
                .where(CombinationMember.combination_id.in_(list(combos)))
                .order_by(CombinationMember.id)):
            members.setdefault(combo, []).append((who, share))
    out = {}
    for (cid, product_id, insurer_id, line_id, term, start, model, who, combo, reserve,
         valuation, units, policed, liability) in rows:
        out[cid] = engine.ContractIn(
            id=cid, product_id=product_id, insurer_id=insurer_id, line_id=line_id,
            term_months=term, start_date=start,
            model=getattr(model, "value", model) or default_model, intermediary_id=who,
            combination=tuple(members.get(combo, ())) if combo else (),
            reserve_applies=bool(reserve), valuation_sum=valuation, units_per_1000=units,
            policed_on=policed, insurer_liability_model_id=liability)
    return out


def _rate_table(product_id: int, line_id: int, levels: dict) -> engine.ProductTable:
    def plain(rows):
        return {level: {"ap_rate": ap, "ap_zv_rate": ap_zv, "fp_rate": fp}
                for level, ap, ap_zv, fp in rows}

    columns = (ProductRate.career_level_id, ProductRate.ap_rate, ProductRate.ap_zv_rate,
               ProductRate.fp_rate)
    rates = plain(db.session.execute(select(*columns).where(
        ProductRate.line_of_business_id == line_id)).all())
    rates.update(plain(db.session.execute(select(*columns).where(
        ProductRate.product_id == product_id)).all()))
    return engine.ProductTable(rates, levels)


def _known_references(pairs) -> set:
    """Those (insurer id, reference) pairs that are booked already: looked up
    through the unique index, not by loading every reference."""
    if db.engine.dialect.name == "postgresql":
        return _known_references_pg(pairs)
    by_insurer: dict[int, list[str]] = {}
    for insurer_id, reference in pairs:
        if reference is not None:
            by_insurer.setdefault(insurer_id, []).append(reference)
    known = set()
    for insurer_id, references in by_insurer.items():
        for start in range(0, len(references), 5000):
            known.update(tuple(r) for r in db.session.execute(
                select(Receipt.insurer_id, Receipt.reference).where(
                    Receipt.insurer_id == insurer_id,
                    Receipt.reference.in_(references[start:start + 5000]))))
    return known


def _known_references_pg(pairs) -> set:
    """PostgreSQL: the pairs as two arrays, each pair looked up in the unique
    index. (Per insurer with `reference IN (...)`, the planner read every
    receipt of the insurer for each chunk while a month was booked, whose
    receipts its statistics did not know yet: 8 s of 30 for 125,000.)"""
    from sqlalchemy import text

    pairs = [(i, r) for i, r in pairs if r is not None]
    known = set()
    for start in range(0, len(pairs), 50_000):
        part = pairs[start:start + 50_000]
        known.update(tuple(r) for r in db.session.execute(text(
            "SELECT k.insurer_id, k.reference FROM unnest(CAST(:insurers AS integer[]), "
            "CAST(:references AS text[])) AS k(insurer_id, reference) WHERE EXISTS ("
            "SELECT 1 FROM receipt WHERE receipt.insurer_id = k.insurer_id "
            "AND receipt.reference = k.reference)"),
            {"insurers": [i for i, _ in part], "references": [r for _, r in part]}))
    return known


def _check_rows(rows) -> None:
    from app.domain.values import to_decimal

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


#: The columns book_receipts writes, in the order of its row tuples.
BOOKING_COLUMNS = ("intermediary_id", "kind", "amount", "booking_date", "contract_id",
                   "receipt_id", "basis", "rate", "receipt_kind", "level_rank",
                   "liability_model_id", "rule", "created_on")


def book_receipts(rows, progress=None, commit: bool = True,
                  context: BookingContext | None = None) -> dict:
    """Book many receipts in one transaction, set-based: snapshots, rates and
    the hierarchy are loaded once (into `context`, which a caller booking in
    chunks passes to each), receipts and bookings inserted in bulk (COPY on
    PostgreSQL; no ORM object per row). Rows: dicts with contract_id, kind,
    amount, value_date, reference (optional), source. A reference an insurer
    has already sent, or that repeats in the batch, is skipped and reported.
    Returns {"receipts", "bookings", "skipped": [references], "missing_rates": n}."""
    context = context or BookingContext()
    batch = _compute(_prepare(list(rows), context), context, progress)
    report = _write(batch)
    _done(commit)
    return report


def book_receipt_chunks(chunks, context: BookingContext | None = None, commit: bool = True,
                        progress=None) -> dict:
    """book_receipts for a stream of chunks (lists of rows), each chunk its
    own transaction if `commit`, else one for all. The next chunk is computed
    while the database takes the last one (a writer thread on the session's
    connection: psycopg waits on the socket and sqlite3 steps its inserts
    with the GIL released), so the commission engine costs little wall time
    beside the insert. The database is only touched by one thread at a time:
    the next chunk's reads happen before the writer starts. `progress(done)`
    counts receipts."""
    import contextvars
    import threading

    context = context or BookingContext()
    total = {"receipts": 0, "bookings": 0, "skipped": [], "missing_rates": 0}
    pending, done_rows = None, 0

    def finish(result):
        nonlocal done_rows
        for key in ("receipts", "bookings", "missing_rates"):
            total[key] += result[key]
        total["skipped"] += result["skipped"]
        done_rows += result["rows"]
        if progress:
            progress(done_rows)

    for rows in chunks:
        prepared = _prepare(list(rows), context)          # reads: no writer running
        if pending is None:
            pending = _compute(prepared, context)
            continue
        outcome: dict = {}

        def write(batch=pending, outcome=outcome):
            try:
                outcome["report"] = _write(batch)
            except BaseException as exc:
                outcome["error"] = exc          # raised in the caller's thread below

        # the app context (and so the same session) in the writer's thread;
        # this thread leaves the session alone until the writer has finished
        writer = threading.Thread(target=contextvars.copy_context().run, args=(write,),
                                  name="booking-writer")
        with _short_switches():
            writer.start()
            try:
                pending = _compute(prepared, context)
            finally:
                writer.join()
        if "error" in outcome:
            raise outcome["error"]
        finish(outcome["report"])
        _done(commit)
    if pending is not None:
        finish(_write(pending))
        _done(commit)
    return total


@contextmanager
def _short_switches():
    """While the engine computes beside the writer: the writer takes the GIL
    back after each row's step, and would wait a whole switch interval
    (5 ms) for the computing thread to let go of it each time."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(0.00005)
    try:
        yield
    finally:
        sys.setswitchinterval(interval)


def _prepare(rows: list, context: BookingContext) -> dict:
    """The database reads for a chunk: its contracts, recipients and rate
    tables (into the context), which references are new, and on PostgreSQL
    the new receipts' ids from the sequence."""
    from sqlalchemy import text

    _check_rows(rows)
    context.load([r["contract_id"] for r in rows])
    snaps, booked = context.snapshots, context.booked
    pairs = [(snaps[r["contract_id"]].insurer_id, r.get("reference")) for r in rows]
    known = _known_references([p for p in pairs if p[1] is not None and p not in booked])
    to_book, skip = fresh_receipts(pairs, _Either(known, booked))
    booked.update(pairs[i] for i in to_book if pairs[i][1] is not None)
    ids = None
    if db.engine.dialect.name == "postgresql" and to_book:
        ids = db.session.execute(text(
            "SELECT nextval(pg_get_serial_sequence('receipt', 'id')) "
            "FROM generate_series(1, :n)"), {"n": len(to_book)}).scalars().all()
    return {"rows": rows, "to_book": to_book,
            "skipped": [rows[i]["reference"] for i in skip], "ids": ids,
            "sqlite": db.engine.dialect.name == "sqlite"}


class _Either:
    """`in` either of two sets, without copying them into one (the run's
    booked references grow to a million)."""

    def __init__(self, first: set, second: set):
        self.first, self.second = first, second

    def __contains__(self, item) -> bool:
        return item in self.first or item in self.second


def _compute(prepared: dict, context: BookingContext, progress=None) -> dict:
    """The engine over a prepared chunk: no database access. The rows come
    out as the driver takes them: on SQLite amounts as floats and dates as
    ISO text (as SQLAlchemy binds Numeric and Date there), and each
    booking's receipt as its index in the chunk (the writer adds the first
    new receipt id in SQL); on PostgreSQL (COPY) as they are, with the
    receipts' ids from the sequence."""
    rows, ids, sqlite = prepared["rows"], prepared["ids"], prepared["sqlite"]
    snaps, people, held = context.snapshots, context.people, context.held
    receipts, bookings, missing_rows = [], [], []
    now = _now()
    today = date.today()
    if sqlite:
        now, today = now.strftime("%Y-%m-%d %H:%M:%S.%f"), today.isoformat()
    book = engine.book_receipt
    add = bookings.append
    for count, row in enumerate((rows[i] for i in prepared["to_book"]), 1):
        snapshot = snaps[row["contract_id"]]
        amount = Decimal(row["amount"])
        result = book(engine.ReceiptIn(row["kind"], amount, row["value_date"]), snapshot,
                      people, context.hierarchy, context.tables.get(snapshot.product_id), held)
        missing_rows.append(result.missing_rates)
        index = count - 1
        receipt_id = index if ids is None else ids[index]
        contract_id = snapshot.id
        receipt = {
            "contract_id": contract_id, "insurer_id": snapshot.insurer_id,
            "kind": row["kind"], "amount": float(amount) if sqlite else amount,
            "value_date": row["value_date"].isoformat() if sqlite else row["value_date"],
            "reference": row.get("reference"), "source": row.get("source", "import"),
            "created_on": now, "changed_on": now}
        if ids is not None:
            receipt["id"] = receipt_id
        receipts.append(receipt)
        # two loops, not a converter per value: five million rows a month
        if sqlite:
            for ln in result.lines:
                add((ln.intermediary_id, ln.kind, float(ln.amount), ln.booking_date.isoformat(),
                     contract_id, receipt_id,
                     None if ln.basis is None else float(ln.basis),
                     None if ln.rate is None else float(ln.rate),
                     ln.receipt_kind, ln.level_rank, ln.liability_model_id, ln.rule[:120],
                     today))
        else:
            for ln in result.lines:
                add((ln.intermediary_id, ln.kind, ln.amount, ln.booking_date, contract_id,
                     receipt_id, ln.basis, ln.rate, ln.receipt_kind, ln.level_rank,
                     ln.liability_model_id, ln.rule[:120], today))
        if progress and count % 10_000 == 0:
            progress(count)
    return {"receipts": receipts, "bookings": bookings, "missing": missing_rows,
            "skipped": prepared["skipped"], "rows": len(rows), "sqlite": sqlite}


def _write(batch: dict) -> dict:
    """Insert a computed chunk: receipts, bookings (sealed into the ledger's
    hash chain), missing rates."""
    from app.services.imports import bulk_insert, insert_tuples
    from app.services.ledger_chain import move_head, seal_batch

    receipts, bookings = batch["receipts"], batch["bookings"]
    connection = db.session.connection()
    columns = BOOKING_COLUMNS + ("row_hash",)
    if batch["sqlite"]:
        ids = bulk_insert(Receipt, receipts, True)
        if bookings:
            # the receipts' ids follow each other (bulk_insert): the booking's
            # receipt index plus the first id
            base = int(ids[0])
            hashes = seal_batch(connection, bookings, base)
            marks = ", ".join(f"? + {base}" if c == "receipt_id" else "?" for c in columns)
            cursor = connection.connection.driver_connection.cursor()
            cursor.executemany(f"INSERT INTO booking ({', '.join(columns)}) VALUES ({marks})",
                               [row + (h,) for row, h in zip(bookings, hashes, strict=True)])
    else:
        bulk_insert(Receipt, receipts)
        ids = [r["id"] for r in receipts]
        if bookings:
            hashes = seal_batch(connection, bookings)
            insert_tuples("booking", columns,
                          (row + (h,) for row, h in zip(bookings, hashes, strict=True)),
                          len(bookings))
    if bookings:
        # the head locked by seal_batch: the last id is this chunk's last row
        move_head(connection, connection.execute(select(func.max(Booking.id))).scalar(),
                  hashes[-1])
    gaps = [{"receipt_id": ids[i], "contract_id": receipts[i]["contract_id"], "intermediary_id": who}
            for i, people_missing in enumerate(batch["missing"]) for who in people_missing]
    bulk_insert(MissingRate, gaps)
    return {"receipts": len(ids), "bookings": len(bookings), "skipped": batch["skipped"],
            "missing_rates": sum(len(m) for m in batch["missing"]), "rows": batch["rows"]}


def release_reserves(day: date, commit: bool = True) -> list[Booking]:
    """Release every retained reserve whose liability period has ended by
    `day`, on the day it ended; each retention is released once."""
    from app.domain.liability import latest_start_ended_by, liability_end

    terms = {None: liability_terms(None)}
    terms.update((pk, liability_terms(pk)) for pk in db.session.execute(
        select(LiabilityModel.id)).scalars())
    # Only retentions of contracts old enough for the shortest liability come
    # back from the database (not every retention ever booked, each month).
    cutoff = max(latest_start_ended_by(day, t.months) for t in terms.values())
    retains = db.session.execute(
        select(Booking.id, Booking.intermediary_id, Booking.amount, Booking.contract_id,
               Booking.liability_model_id, Contract.start_date)
        .join(Contract, Booking.contract_id == Contract.id)
        .where(Booking.kind == BookingKind.RESERVE_RETAIN,
               Contract.start_date <= cutoff)).all()
    due = [r for r in retains if liability_end(r[5], terms.get(r[4]) or
                                               liability_terms(r[4])) <= day]
    # Released already: looked up for these candidates through the origin
    # index (a correlated NOT EXISTS ran in quadratic time on SQLite).
    released = set()
    ids = [r[0] for r in due]
    for start in range(0, len(ids), 5000):
        released.update(db.session.execute(select(Booking.origin_id).where(
            Booking.origin_id.in_(ids[start:start + 5000]),
            Booking.kind == BookingKind.RESERVE_RELEASE)).scalars())
    made = []
    for pk, person, amount, contract_id, model_id, start in due:
        if pk in released:
            continue
        made.append(Booking(
            intermediary_id=person, kind=BookingKind.RESERVE_RELEASE,
            amount=-amount, booking_date=liability_end(start, terms.get(model_id) or
                                                       liability_terms(model_id)),
            contract_id=contract_id, origin_id=pk, liability_model_id=model_id,
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
