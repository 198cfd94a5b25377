"""Rate resolution of the contract percentage model (domain.md, worked example 1)."""
from decimal import Decimal

import pytest

from app.domain.errors import AmbiguousRateError, InvalidValueError
from app.domain.rates import ContractFacts, RateRow, check_row, resolve_rate

ALPHA, BETA = 1, 2          # insurers
LIFE, LIAB, CAR = 10, 40, 50  # lines 010, 040, 050
P1, P2 = 100, 200           # products of Alpha life


def contract(product=P1, insurer=ALPHA, line=LIFE, term=120):
    return ContractFacts(product, insurer, line, term)


def test_worked_example_1_own_row_group_fallback_and_missing_rate():
    own = [RateRow(1, insurer_id=ALPHA, line_id=LIFE, ap_rate=Decimal(80))]
    group = [RateRow(2, line_id=LIAB, fp_rate=Decimal(70))]
    row, where = resolve_rate(own, group, contract())
    assert (row.id, where, row.ap_rate) == (1, "intermediary", Decimal(80))
    row, where = resolve_rate(own, group, contract(product=7, insurer=BETA, line=LIAB))
    assert (row.id, where, row.fp_rate) == (2, "group", Decimal(70))
    assert resolve_rate(own, group, contract(product=8, line=CAR)) == (None, "missing")


ROWS = [
    RateRow(1),                                            # matches all
    RateRow(2, line_id=LIFE),
    RateRow(3, insurer_id=ALPHA),
    RateRow(4, insurer_id=ALPHA, line_id=LIFE),
    RateRow(5, product_id=P1),
    RateRow(6, line_id=LIFE, term_min=1, term_max=60),
    RateRow(7, line_id=LIFE, term_min=61),
]


@pytest.mark.parametrize("facts, expected", [
    (contract(), 5),                                     # product beats everything
    (contract(product=P2), 4),                           # insurer+line beats insurer, line
    (contract(product=P2, insurer=BETA, term=None), 2),  # line only (term rows need a term)
    (contract(product=P2, insurer=BETA, term=60), 6),    # line+term beats line
    (contract(product=P2, insurer=BETA, term=61), 7),    # term bounds are inclusive
    (contract(product=P2, insurer=BETA, line=CAR), 1),   # the empty row matches all
])
def test_the_most_specific_matching_row_wins(facts, expected):
    row, where = resolve_rate(ROWS, [], facts)
    assert (row.id, where) == (expected, "intermediary")


def test_an_empty_criterion_matches_all_products():
    row, _ = resolve_rate([RateRow(1, line_id=LIFE)], [], contract(product=999))
    assert row.id == 1


@pytest.mark.parametrize("new", [
    RateRow(None, insurer_id=ALPHA, line_id=LIFE),
    RateRow(None, line_id=LIFE, term_min=50, term_max=70),
    RateRow(None, line_id=LIFE, term_max=1),
    RateRow(None),
])
def test_a_row_as_specific_as_an_overlapping_one_is_refused(new):
    with pytest.raises(AmbiguousRateError):
        check_row(new, ROWS)


@pytest.mark.parametrize("new", [
    RateRow(None, insurer_id=BETA, line_id=LIFE),
    RateRow(None, product_id=P2),
    RateRow(None, insurer_id=ALPHA, line_id=LIFE, term_min=1),
])
def test_rows_that_never_match_the_same_contract_at_equal_specificity_pass(new):
    check_row(new, ROWS)


def test_a_row_does_not_collide_with_itself_when_edited():
    check_row(RateRow(4, insurer_id=ALPHA, line_id=LIFE, ap_rate=Decimal(81)), ROWS)


def test_a_reversed_term_range_is_refused():
    with pytest.raises(InvalidValueError) as exc:
        check_row(RateRow(None, term_min=60, term_max=12), [])
    assert exc.value.field == "term_max"
