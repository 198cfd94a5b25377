"""The commission engine: what a receipt (or a policing, or a month) books
for whom. Pure functions over plain data; the services load the data.

domain.md, "Commission models" and "Receipts, bookings and cancellation".
Every booking line is rounded to cents ROUND_HALF_UP.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from app.domain.combinations import split
from app.domain.hierarchy import Hierarchy
from app.domain.money import CENT, HUNDRED, ZERO, money, percent_of
from app.domain.rates import ContractFacts, resolve_rate

AP, AP_ZV, FP = "AP", "AP_ZV", "FP"
OVERRIDE, RESERVE_RETAIN, FIXUM = "OVERRIDE", "RESERVE_RETAIN", "FIXUM"
ACQUISITION = (AP, AP_ZV)
RATE_FIELD = {AP: "ap_rate", AP_ZV: "ap_zv_rate", FP: "fp_rate"}


@dataclass(frozen=True)
class ReceiptIn:
    kind: str
    amount: Decimal
    value_date: date
    id: int | None = None


@dataclass(frozen=True)
class ContractIn:
    id: int
    product_id: int
    insurer_id: int
    line_id: int
    term_months: int | None
    start_date: date
    model: str                          # contract_percent, product_rate, product_units
    intermediary_id: int | None = None
    combination: tuple = ()             # ((intermediary id, share %), ...)
    reserve_applies: bool = False
    valuation_sum: Decimal | None = None
    units_per_1000: Decimal = Decimal(0)
    policed_on: date | None = None
    insurer_liability_model_id: int | None = None


@dataclass(frozen=True)
class Recipient:
    """What the engine needs to know of an intermediary."""
    id: int
    status: str = "ACTIVE"
    reserve_rate: Decimal = Decimal(0)
    reserve_cap: Decimal | None = None
    reserve_held: Decimal = Decimal(0)   # reserve currently retained (positive)
    own_rates: tuple = ()                # RateRow, contract percentage model
    group_rates: tuple = ()
    fixum: Decimal = Decimal(0)


@dataclass(slots=True)
class Line:
    """A booking the engine decided on. Not frozen (a frozen dataclass costs
    a microsecond more to make, and the large month makes five million): the
    engine makes each once and nothing changes it after."""
    intermediary_id: int
    kind: str
    amount: Decimal
    booking_date: date
    basis: Decimal | None = None
    rate: Decimal | None = None
    receipt_kind: str | None = None      # the receipt kind an OVERRIDE comes from
    level_rank: int | None = None
    liability_model_id: int | None = None
    rule: str = ""


@dataclass
class Result:
    lines: list[Line] = field(default_factory=list)
    missing_rates: list[int] = field(default_factory=list)   # intermediary ids


@dataclass(frozen=True)
class ProductTable:
    """Product rate model: rates per career level (AP/AP ZV/FP %) of the
    product, or of its line as default; and the levels' rank and € per unit."""
    rates: Mapping[int, Mapping[str, Decimal]]      # level id -> {"ap_rate": ..}
    levels: Mapping[int, tuple[int, Decimal]]       # level id -> (rank, € per unit)


def _parts(contract: ContractIn, amount: Decimal):
    if contract.combination:
        return split(amount, list(contract.combination))
    return [(contract.intermediary_id, amount)]


def book_receipt(receipt: ReceiptIn, contract: ContractIn, recipients: Mapping[int, Recipient],
                 hierarchy: Hierarchy | None = None, table: ProductTable | None = None,
                 held: dict | None = None) -> Result:
    """The bookings of one receipt. Negative AP/AP ZV receipts book nothing:
    they are kept for the pool's reconciliation, brokers are charged back
    through cancellation liability instead. FP receipts of any sign pass on.

    `held`: a batch's running cancellation reserve per intermediary (id ->
    amount held); read where present instead of the recipient's
    reserve_held, and increased by what this receipt retains, so a cap holds
    across the receipts of one batch."""
    result = Result()
    if receipt.kind in ACQUISITION and receipt.amount < 0:
        return result
    if contract.model == "product_units" and receipt.kind in ACQUISITION:
        return result  # the units model books AP once, at policing
    for who, part in _parts(contract, Decimal(receipt.amount)):
        if who is None:
            continue
        if contract.model == "contract_percent":
            _contract_percent(receipt, contract, recipients[who], part, result)
        else:
            _differential(receipt, contract, who, part, hierarchy, table, result)
    _retain_reserve(contract, recipients, result, {} if held is None else held)
    return result


def _contract_percent(receipt, contract, person: Recipient, part, result):
    facts = ContractFacts(contract.product_id, contract.insurer_id, contract.line_id,
                          contract.term_months)
    row, where = resolve_rate(person.own_rates, person.group_rates, facts)
    if row is None:
        result.missing_rates.append(person.id)
        return
    rate = getattr(row, RATE_FIELD[receipt.kind])
    amount = percent_of(part, rate)
    if amount == 0:
        return
    liability = (contract.insurer_liability_model_id if row.liability_from_insurer
                 else row.liability_model_id)
    result.lines.append(Line(person.id, receipt.kind, amount, receipt.value_date, part, rate,
                             liability_model_id=liability,
                             rule=f"contract_percent:{where}:row {row.id}"))


def _differential(receipt, contract, who, part, hierarchy, table, result):
    """Product rate model: the closer gets its level's rate, each supervisor
    up the chain its rate minus the highest rate paid below, never below 0.
    Their liability is the insurer's default model (the product models keep
    no rate rows that could name one)."""
    chain = hierarchy.chain(who, receipt.value_date) if hierarchy else []
    if not chain:
        result.missing_rates.append(who)
        return
    # The hot path of a month's batch (millions of lines): locals, and the
    # percentage inlined (percent_of: amount × rate / 100, cents half up).
    field_name = RATE_FIELD[receipt.kind]
    rates, levels, lines = table.rates, table.levels, result.lines
    day, kind, liability = receipt.value_date, receipt.kind, contract.insurer_liability_model_id
    paid = ZERO
    for i, entry in enumerate(chain):
        level = entry.level_id
        row = rates.get(level)
        rate = Decimal(row.get(field_name, 0)) if row else ZERO
        rank = levels[level][0] if level in levels else None
        if i == 0:
            if rate == 0:
                result.missing_rates.append(who)
            amount = (part * rate / HUNDRED).quantize(CENT, ROUND_HALF_UP)
            if amount:
                lines.append(Line(who, kind, amount, day, part, rate, None, rank, liability,
                                  "product_rate:closer"))
        elif rate > paid:
            difference = rate - paid
            amount = (part * difference / HUNDRED).quantize(CENT, ROUND_HALF_UP)
            if amount:
                lines.append(Line(entry.intermediary_id, OVERRIDE, amount, day, part,
                                  difference, kind, rank, liability, "product_rate:override"))
        if rate > paid:
            paid = rate


def police_units(contract: ContractIn, hierarchy: Hierarchy, table: ProductTable) -> Result:
    """Product units model: AP once at policing, units × € per unit of the
    level; up the chain the difference of the values (never below 0)."""
    result = Result()
    day = contract.policed_on or contract.start_date
    units = (Decimal(contract.valuation_sum or 0) / Decimal(1000)) * Decimal(
        contract.units_per_1000)
    members = contract.combination or ((contract.intermediary_id, Decimal(100)),)
    for who, share in members:
        chain = hierarchy.chain(who, day)
        if not chain:
            result.missing_rates.append(who)
            continue
        my_units = units * Decimal(share) / Decimal(100)
        paid = Decimal(0)
        for i, entry in enumerate(chain):
            rank, value = table.levels.get(entry.level_id, (None, Decimal(0)))
            value = Decimal(value)
            per_unit = value if i == 0 else max(Decimal(0), value - paid)
            amount = money(my_units * per_unit)
            if amount:
                result.lines.append(Line(
                    entry.intermediary_id, AP if i == 0 else OVERRIDE, amount, day, my_units,
                    per_unit, receipt_kind=None if i == 0 else AP, level_rank=rank,
                    liability_model_id=contract.insurer_liability_model_id,
                    rule="product_units:" + ("closer" if i == 0 else "override")))
            paid = max(paid, value)
    return result


def _retain_reserve(contract, recipients, result, held: dict):
    """Stornoreserve on AP, AP ZV and overrides from them, in lines with
    reserve_applies: the reserve rate, up to the cap."""
    if not contract.reserve_applies:
        return
    for line in list(result.lines):
        kind = line.receipt_kind if line.kind == OVERRIDE else line.kind
        if kind not in ACQUISITION:
            continue
        person = recipients.get(line.intermediary_id)
        if person is None or not person.reserve_rate:
            continue
        retain = percent_of(line.amount, person.reserve_rate)
        before = held.get(person.id, Decimal(person.reserve_held))
        if person.reserve_cap is not None:
            retain = min(retain, max(ZERO, money(person.reserve_cap) - before))
        if retain > 0:
            held[person.id] = before + retain
            result.lines.append(Line(person.id, RESERVE_RETAIN, -retain, line.booking_date,
                                     line.amount, person.reserve_rate, receipt_kind=kind,
                                     liability_model_id=line.liability_model_id,
                                     rule="reserve"))


def fixum_lines(people: Sequence[Recipient], month_start: date) -> list[Line]:
    """The month's Fixum: ACTIVE intermediaries only (rule 5), on the 1st;
    a negative Fixum is a cost participation."""
    return [Line(p.id, FIXUM, money(p.fixum), month_start, rule="fixum")
            for p in people if p.status == "ACTIVE" and p.fixum]



def reverse(line: Line, day: date, reason: str = "") -> Line:
    """The booking that cancels `line` (GoBD: corrections are new bookings)."""
    return Line(line.intermediary_id, line.kind, -line.amount, day, line.basis, line.rate,
                line.receipt_kind, line.level_rank, line.liability_model_id,
                rule=f"reversal:{reason}" if reason else "reversal")
