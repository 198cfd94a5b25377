"""The worked examples of domain.md, as plain data through the engine."""
from datetime import date
from decimal import Decimal

import pytest

from app.domain.commission import (
    ContractIn,
    ProductTable,
    ReceiptIn,
    Recipient,
    book_receipt,
    fixum_lines,
    police_units,
)
from app.domain.hierarchy import Hierarchy, LevelEntry
from app.domain.rates import RateRow

D = Decimal
ALPHA, BETA = 1, 2
LIFE, LIAB, CAR = 10, 40, 50
A, B, C, GROUP = 101, 102, 103, 900
L1, L2, L3 = 1, 2, 3


def contract(line=LIFE, insurer=ALPHA, product=7, model="contract_percent", **kw):
    return ContractIn(id=1, product_id=product, insurer_id=insurer, line_id=line,
                      term_months=120, start_date=date(2026, 1, 1), model=model,
                      intermediary_id=kw.pop("intermediary_id", A),
                      reserve_applies=line in (LIFE, 20), **kw)


def amounts(result):
    out = {}
    for line in result.lines:
        out[(line.intermediary_id, line.kind)] = out.get((line.intermediary_id, line.kind),
                                                         D(0)) + line.amount
    return out


# --- worked example 1: contract percentage ---------------------------------------

A_RECIPIENT = Recipient(A, reserve_rate=D(10),
                        own_rates=(RateRow(1, insurer_id=ALPHA, line_id=LIFE, ap_rate=D(80)),),
                        group_rates=(RateRow(2, line_id=LIAB, fp_rate=D(70)),))


def test_example_1_ap_with_reserve():
    r = book_receipt(ReceiptIn("AP", D("1234.56"), date(2026, 10, 5)), contract(),
                     {A: A_RECIPIENT})
    assert amounts(r) == {(A, "AP"): D("987.65"), (A, "RESERVE_RETAIN"): D("-98.77")}
    assert r.missing_rates == []


def test_example_1_fp_from_the_group_and_a_missing_rate():
    r = book_receipt(ReceiptIn("FP", D("100.00"), date(2026, 10, 5)),
                     contract(line=LIAB, insurer=BETA), {A: A_RECIPIENT})
    assert amounts(r) == {(A, "FP"): D("70.00")}   # no reserve outside life/health
    r = book_receipt(ReceiptIn("AP", D("100.00"), date(2026, 10, 5)),
                     contract(line=CAR, insurer=BETA), {A: A_RECIPIENT})
    assert r.lines == [] and r.missing_rates == [A]


def test_the_reserve_stops_at_the_cap():
    person = Recipient(A, reserve_rate=D(10), reserve_cap=D("100.00"), reserve_held=D("50.00"),
                       own_rates=A_RECIPIENT.own_rates)
    r = book_receipt(ReceiptIn("AP", D("1234.56"), date(2026, 10, 5)), contract(), {A: person})
    assert amounts(r)[(A, "RESERVE_RETAIN")] == D("-50.00")


def test_the_cap_holds_across_the_receipts_of_a_batch():
    # A batch books many receipts with the reserve held when it started; the
    # running `held` it passes makes the second receipt see the first's.
    person = Recipient(A, reserve_rate=D(10), reserve_cap=D("100.00"), reserve_held=D("50.00"),
                       own_rates=A_RECIPIENT.own_rates)
    held = {}
    first = book_receipt(ReceiptIn("AP", D("400.00"), date(2026, 10, 5)), contract(),
                         {A: person}, held=held)
    second = book_receipt(ReceiptIn("AP", D("400.00"), date(2026, 10, 6)), contract(),
                          {A: person}, held=held)
    third = book_receipt(ReceiptIn("AP", D("400.00"), date(2026, 10, 7)), contract(),
                         {A: person}, held=held)
    retained = [amounts(r).get((A, "RESERVE_RETAIN"), D(0)) for r in (first, second, third)]
    assert sum(retained) == D("-50.00") and retained[2] == D(0)
    assert held == {A: D("100.00")}
    # without a running total each receipt alone would retain up to the cap
    alone = book_receipt(ReceiptIn("AP", D("400.00"), date(2026, 10, 7)), contract(), {A: person})
    assert amounts(alone)[(A, "RESERVE_RETAIN")] != D(0)


def test_negative_ap_receipts_book_nothing_fp_of_any_sign_passes_on():
    r = book_receipt(ReceiptIn("AP", D("-500.00"), date(2026, 10, 5)), contract(), {A: A_RECIPIENT})
    assert r.lines == []
    r = book_receipt(ReceiptIn("FP", D("-10.00"), date(2026, 10, 5)),
                     contract(line=LIAB, insurer=BETA), {A: A_RECIPIENT})
    assert amounts(r) == {(A, "FP"): D("-7.00")}


def test_a_combination_splits_first_then_each_part_follows_the_model():
    other = Recipient(B, own_rates=(RateRow(3, ap_rate=D(50)),))
    c = contract(intermediary_id=None, combination=((A, D(60)), (B, D(40))))
    r = book_receipt(ReceiptIn("AP", D("1000.00"), date(2026, 10, 5)), c,
                     {A: A_RECIPIENT, B: other})
    assert amounts(r)[(A, "AP")] == D("480.00") and amounts(r)[(B, "AP")] == D("200.00")


# --- worked examples 2 and 3: product rates, differential, history ------------------

TABLE = ProductTable(rates={L1: {"ap_rate": D(40)}, L2: {"ap_rate": D(55)},
                            L3: {"ap_rate": D(70)}},
                     levels={L1: (1, D(20)), L2: (2, D(26)), L3: (3, D(30))})
START = date(2026, 1, 1)
CHAIN = [LevelEntry(A, START, L1, B), LevelEntry(B, START, L2, C), LevelEntry(C, START, L3, None)]


def test_example_2_differential_commission():
    r = book_receipt(ReceiptIn("AP", D("1000.00"), date(2026, 6, 1)),
                     contract(model="product_rate"), {}, Hierarchy(CHAIN), TABLE)
    assert amounts(r) == {(A, "AP"): D("400.00"), (B, "OVERRIDE"): D("150.00"),
                          (C, "OVERRIDE"): D("150.00")}
    assert sum(amounts(r).values()) == D("700.00")  # the pool keeps 300.00
    assert {line.receipt_kind for line in r.lines if line.kind == "OVERRIDE"} == {"AP"}


def test_example_2_with_a_higher_level_below():
    swapped = [LevelEntry(A, START, L2, B), LevelEntry(B, START, L1, C),
               LevelEntry(C, START, L3, None)]
    r = book_receipt(ReceiptIn("AP", D("1000.00"), date(2026, 6, 1)),
                     contract(model="product_rate"), {}, Hierarchy(swapped), TABLE)
    assert amounts(r) == {(A, "AP"): D("550.00"), (C, "OVERRIDE"): D("150.00")}


@pytest.mark.parametrize("day, expected", [
    (date(2026, 10, 31), {(A, "AP"): D("400.00"), (B, "OVERRIDE"): D("150.00"),
                          (C, "OVERRIDE"): D("150.00")}),
    (date(2026, 11, 5), {(A, "AP"): D("550.00"), (C, "OVERRIDE"): D("150.00")}),
])
def test_example_3_the_hierarchy_of_the_booking_date_applies(day, expected):
    history = CHAIN + [LevelEntry(A, date(2026, 11, 1), L2, C)]
    r = book_receipt(ReceiptIn("AP", D("1000.00"), day), contract(model="product_rate"), {},
                     Hierarchy(history), TABLE)
    assert amounts(r) == expected


# --- worked example 4: units ---------------------------------------------------------

def test_example_4_units_at_policing():
    c = contract(model="product_units", valuation_sum=D(48000), units_per_1000=D("2.5"),
                 policed_on=date(2026, 2, 1))
    r = police_units(c, Hierarchy(CHAIN), TABLE)
    assert amounts(r) == {(A, "AP"): D("2400.00"), (B, "OVERRIDE"): D("720.00"),
                          (C, "OVERRIDE"): D("480.00")}
    assert all(line.booking_date == date(2026, 2, 1) for line in r.lines)
    # an AP receipt books nothing more under the units model
    assert book_receipt(ReceiptIn("AP", D("999.00"), date(2026, 3, 1)), c, {},
                        Hierarchy(CHAIN), TABLE).lines == []


def test_fixum_only_for_active_intermediaries_negative_is_cost_participation():
    people = [Recipient(A, fixum=D("250.00")), Recipient(B, status="FORMER", fixum=D("250.00")),
              Recipient(C, fixum=D("-30.00")), Recipient(GROUP, status="GROUP", fixum=D(5))]
    lines = fixum_lines(people, date(2026, 10, 1))
    assert [(x.intermediary_id, x.amount, x.booking_date) for x in lines] == [
        (A, D("250.00"), date(2026, 10, 1)), (C, D("-30.00"), date(2026, 10, 1))]
