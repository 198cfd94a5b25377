"""Contract percentage model: which rate row of an intermediary applies.

domain.md, "Contract percentage model": a row matches a contract when every
criterion it sets equals the contract's value (an empty criterion matches
all; the term criterion is a range of months). The most specific matching
row wins: product, then insurer, then line, then term. No match at the
intermediary: the same search at its group. No match there: None.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from app.domain.errors import N_, AmbiguousRateError, InvalidValueError


@dataclass(frozen=True)
class RateRow:
    id: int | None
    insurer_id: int | None = None
    line_id: int | None = None
    product_id: int | None = None
    term_min: int | None = None
    term_max: int | None = None
    ap_rate: Decimal = Decimal(0)
    ap_zv_rate: Decimal = Decimal(0)
    fp_rate: Decimal = Decimal(0)
    liability_model_id: int | None = None
    liability_from_insurer: bool = False

    @property
    def has_term(self) -> bool:
        return self.term_min is not None or self.term_max is not None

    def specificity(self) -> tuple[bool, bool, bool, bool]:
        # Compared lexicographically: a product criterion outweighs all others.
        return (self.product_id is not None, self.insurer_id is not None,
                self.line_id is not None, self.has_term)

    def matches(self, c: ContractFacts) -> bool:
        if self.product_id is not None and self.product_id != c.product_id:
            return False
        if self.insurer_id is not None and self.insurer_id != c.insurer_id:
            return False
        if self.line_id is not None and self.line_id != c.line_id:
            return False
        if self.term_min is not None and (c.term_months is None or c.term_months < self.term_min):
            return False
        if self.term_max is not None and (c.term_months is None or c.term_months > self.term_max):
            return False
        return True


@dataclass(frozen=True)
class ContractFacts:
    product_id: int
    insurer_id: int
    line_id: int
    term_months: int | None


def best_row(rows: Iterable[RateRow], contract: ContractFacts) -> RateRow | None:
    matching = [r for r in rows if r.matches(contract)]
    if not matching:
        return None
    return max(matching, key=RateRow.specificity)


def resolve_rate(own: Iterable[RateRow], group: Iterable[RateRow],
                 contract: ContractFacts) -> tuple[RateRow | None, str]:
    """(row, where) with where in "intermediary", "group", "missing"."""
    row = best_row(own, contract)
    if row is not None:
        return row, "intermediary"
    row = best_row(group, contract)
    if row is not None:
        return row, "group"
    return None, "missing"


def _ranges_overlap(a: RateRow, b: RateRow) -> bool:
    lo_a = a.term_min if a.term_min is not None else 0
    hi_a = a.term_max if a.term_max is not None else 10**9
    lo_b = b.term_min if b.term_min is not None else 0
    hi_b = b.term_max if b.term_max is not None else 10**9
    return lo_a <= hi_b and lo_b <= hi_a


def check_row(row: RateRow, others: Iterable[RateRow]) -> None:
    """Refuse a row that is malformed, or as specific as another row that
    could match the same contract (a configuration error, domain.md)."""
    if row.term_min is not None and row.term_min < 0:
        raise InvalidValueError("term_min", N_("Must be at least %(min)s."), min="0")
    if row.term_min is not None and row.term_max is not None and row.term_max < row.term_min:
        raise InvalidValueError("term_max", N_("The term range ends before it starts."))
    if row.liability_from_insurer and row.liability_model_id is not None:
        raise InvalidValueError("liability_model", N_(
            "Choose a liability model or take it over from the insurer, not both."))
    for other in others:
        if other.id is not None and other.id == row.id:
            continue
        if other.specificity() != row.specificity():
            continue
        if (other.product_id, other.insurer_id, other.line_id) != (
                row.product_id, row.insurer_id, row.line_id):
            continue
        if row.has_term and not _ranges_overlap(row, other):
            continue
        raise AmbiguousRateError("term_min" if row.has_term else "product")
