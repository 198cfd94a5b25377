"""Property tests of the engine over generated hierarchies, rates and amounts."""
from datetime import date
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.commission import (
    ContractIn,
    ProductTable,
    ReceiptIn,
    book_receipt,
    reverse,
)
from app.domain.hierarchy import Hierarchy, LevelEntry
from app.domain.liability import LiabilityTerms, charge_back

DAY = date(2026, 6, 1)
amounts = st.decimals(min_value=Decimal("-100000"), max_value=Decimal("100000"), places=2)
positive = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("100000"), places=2)
rates = st.decimals(min_value=Decimal(0), max_value=Decimal(100), places=4)


@st.composite
def chains(draw):
    """A chain of 1 to 12 intermediaries, each with a level of random rates."""
    depth = draw(st.integers(1, 12))
    level_rates = draw(st.lists(rates, min_size=depth, max_size=depth))
    entries = [LevelEntry(i + 1, date(2026, 1, 1), i + 1, i + 2 if i + 1 < depth else None)
               for i in range(depth)]
    table = ProductTable(rates={i + 1: {"ap_rate": r, "fp_rate": r}
                                for i, r in enumerate(level_rates)},
                         levels={i + 1: (i + 1, Decimal(0)) for i in range(depth)})
    return Hierarchy(entries), table


def contract():
    return ContractIn(id=1, product_id=1, insurer_id=1, line_id=1, term_months=60,
                      start_date=date(2026, 1, 1), model="product_rate", intermediary_id=1)


@settings(max_examples=300, deadline=None)
@given(chains(), positive, st.sampled_from(["AP", "FP"]))
def test_shares_never_exceed_the_receipt_and_no_override_is_negative(chain, amount, kind):
    hierarchy, table = chain
    result = book_receipt(ReceiptIn(kind, amount, DAY), contract(), {}, hierarchy, table)
    total = sum((line.amount for line in result.lines), Decimal(0))
    # each line is rounded half up, so the sum may exceed the exact share by
    # at most half a cent per line; it never exceeds the receipt otherwise
    assert total <= amount + Decimal("0.005") * len(result.lines)
    assert all(line.amount >= 0 for line in result.lines if line.kind == "OVERRIDE")
    top_rate = max((r["ap_rate"] for r in table.rates.values()), default=0)
    assert total <= amount * top_rate / 100 + Decimal("0.005") * len(result.lines)


@settings(max_examples=300, deadline=None)
@given(positive, st.integers(1, 120), st.integers(0, 200),
       st.sampled_from(["PRO_RATA", "FULL", "STAGED", "COMBINED"]))
def test_charge_backs_never_exceed_what_was_booked(amount, months, elapsed, method):
    terms = LiabilityTerms(months, method, full_months=max(1, months // 3) if months > 1 else None,
                           stages=((max(1, months // 2), "100"), (months, "50")))
    if method == "COMBINED" and months < 2:
        return
    start = date(2020, 1, 1)
    end = date(2020 + (elapsed // 12), 1 + elapsed % 12, 1)
    back = charge_back(amount, terms, start, end)
    assert -amount <= back <= 0


@settings(max_examples=300, deadline=None)
@given(chains(), amounts)
def test_a_reversal_and_its_original_sum_to_zero(chain, amount):
    hierarchy, table = chain
    result = book_receipt(ReceiptIn("FP", amount, DAY), contract(), {}, hierarchy, table)
    for line in result.lines:
        assert line.amount + reverse(line, DAY, "test").amount == 0


@settings(max_examples=200, deadline=None)
@given(chains(), positive)
def test_the_engine_is_deterministic(chain, amount):
    hierarchy, table = chain
    first = book_receipt(ReceiptIn("AP", amount, DAY), contract(), {}, hierarchy, table)
    second = book_receipt(ReceiptIn("AP", amount, DAY), contract(), {}, hierarchy, table)
    assert first == second


references = st.lists(st.tuples(st.integers(1, 3), st.one_of(st.none(), st.sampled_from(
    ["R1", "R2", "R3", "R4", "R5"]))), max_size=40)


@settings(max_examples=300, deadline=None)
@given(references, st.sets(st.tuples(st.integers(1, 3), st.sampled_from(["R1", "R9"]))))
def test_booking_the_same_receipts_twice_books_them_once(rows, seen):
    from app.domain.receipts import fresh_receipts

    first, skipped = fresh_receipts(rows, seen)
    assert sorted(first + skipped) == list(range(len(rows)))
    booked = {rows[i] for i in first if rows[i][1]}
    assert len(booked) == len([i for i in first if rows[i][1]])   # each reference once
    assert not booked & set(seen)
    again, _ = fresh_receipts(rows, set(seen) | booked)
    assert all(rows[i][1] is None for i in again)   # only reference-less receipts again


@settings(max_examples=200, deadline=None)
@given(references, st.sets(st.tuples(st.integers(1, 3), st.sampled_from(["R1", "R9"]))))
def test_what_was_seen_may_be_any_container_and_is_left_unchanged(rows, seen):
    """The batch service passes a view over two sets (the database's and the
    run's references) that cannot be iterated: the same answer as a set, and
    `seen` is not added to."""
    from app.domain.receipts import fresh_receipts

    class View:
        def __contains__(self, item):
            return item in seen

    before = set(seen)
    assert fresh_receipts(rows, View()) == fresh_receipts(rows, set(seen))
    assert fresh_receipts(rows, iter(sorted(seen))) == fresh_receipts(rows, set(seen))
    assert seen == before
