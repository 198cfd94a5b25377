"""The ledger's hash chain as pure functions (app/domain/chain.py)."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from app.domain import chain

BASE = {"intermediary_id": 7, "kind": "AP", "amount": Decimal("123.45"),
        "booking_date": date(2026, 10, 5), "contract_id": 11, "receipt_id": 21,
        "basis": Decimal("1234.5600"), "rate": Decimal("10.0000"), "receipt_kind": "AP",
        "level_rank": 2, "liability_model_id": None, "rule": "contract percent",
        "reverses_id": None, "origin_id": None, "fixum_month": None, "reason": None,
        "created_on": date(2026, 10, 6), "created_by_fk": None}


def values(**changes):
    return tuple({**BASE, **changes}[c] for c in chain.CHAIN_COLUMNS)


def test_every_field_of_a_booking_is_covered():
    first = chain.link(chain.GENESIS, values())
    other = {"intermediary_id": 8, "kind": "FP", "amount": Decimal("123.46"),
             "booking_date": date(2026, 10, 6), "contract_id": 12, "receipt_id": 22,
             "basis": Decimal("1234.5601"), "rate": Decimal("10.0001"), "receipt_kind": "FP",
             "level_rank": 3, "liability_model_id": 1, "rule": "contract percent.",
             "reverses_id": 1, "origin_id": 1, "fixum_month": "2026-10", "reason": "x",
             "created_on": date(2026, 10, 7), "created_by_fk": 1}
    assert set(other) == set(chain.CHAIN_COLUMNS)
    for column, value in other.items():
        assert chain.link(chain.GENESIS, values(**{column: value})) != first, column
    # and the predecessor
    assert chain.link("1" * 64, values()) != first


def test_a_text_cannot_pose_as_the_next_field():
    # without the length before each text these two would read the same
    one = values(rule="a|-", reverses_id=None, reason=None)
    two = values(rule="a", reverses_id=None, reason="-")
    assert chain.canonical(one) != chain.canonical(two)


def test_the_values_sqlite_binds_give_the_same_hash_as_the_decimals():
    # the batch writer on SQLite holds floats and ISO texts; the database
    # gives back floats (and integers for whole amounts)
    as_bound = values(amount=123.45, booking_date="2026-10-05", basis=1234.56, rate=10,
                      created_on="2026-10-06")
    assert chain.canonical(as_bound) == chain.canonical(values())
    assert chain.canonical(values(amount=100)) == chain.canonical(values(amount=Decimal("100.00")))
    # a negative zero is stored as zero
    assert chain.canonical(values(amount=Decimal("-0.00"), basis=-0.0)) == \
        chain.canonical(values(amount=0, basis=Decimal(0)))


def test_decimals_are_rounded_half_up_to_the_columns_scale_as_the_database_stores_them():
    assert chain.canonical(values(basis=Decimal("1.00005"))) == \
        chain.canonical(values(basis=Decimal("1.0001")))
    assert chain.canonical(values(basis=Decimal("-1.00005"))) == \
        chain.canonical(values(basis=Decimal("-1.0001")))


money = st.decimals(min_value=Decimal("-99999999.99"), max_value=Decimal("99999999.99"),
                    places=2)
four = st.decimals(min_value=Decimal("-999999.9999"), max_value=Decimal("999999.9999"),
                   places=4)
maybe_int = st.none() | st.integers(1, 2**31 - 1)
batch_row = st.tuples(
    st.integers(1, 2**31 - 1), st.sampled_from(["AP", "AP_ZV", "FP", "OVERRIDE"]), money,
    st.dates(date(2000, 1, 1), date(2099, 12, 31)), maybe_int, st.none() | st.integers(0, 10**6),
    st.none() | four, st.none() | four, st.none() | st.sampled_from(["AP", "FP"]), maybe_int,
    maybe_int, st.text(max_size=40), st.dates(date(2000, 1, 1), date(2099, 12, 31)))


def _full(row, base):
    (who, kind, amount, day, contract, receipt, basis, rate, receipt_kind, rank, liability,
     rule, created) = row
    return (who, kind, amount, day, contract, None if receipt is None else receipt + base,
            basis, rate, receipt_kind, rank, liability, rule, None, None, None, None, created,
            None)


@given(st.lists(batch_row, max_size=8), st.integers(0, 1000))
def test_the_batch_writers_fast_hashes_are_the_chain(rows, base):
    assert chain.batch_links(chain.GENESIS, rows, base) == \
        chain.chain(chain.GENESIS, [_full(r, base) for r in rows])


@given(st.lists(batch_row, min_size=1, max_size=8))
def test_the_fast_hashes_of_the_floats_sqlite_is_given_are_the_same(rows):
    as_bound = [(w, k, float(a), d.isoformat(), c, r, None if b is None else float(b),
                 None if t is None else float(t), rk, n, lm, rule, cr.isoformat())
                for (w, k, a, d, c, r, b, t, rk, n, lm, rule, cr) in rows]
    assert chain.batch_links("ab" * 32, as_bound) == chain.batch_links("ab" * 32, rows)


def test_verifying_names_exactly_the_booking_altered_and_the_one_after_a_gap():
    rows = [values(amount=Decimal(n)) for n in range(1, 6)]
    hashes = chain.chain(chain.GENESIS, rows)
    stored = [(pk, h, *v) for pk, h, v in zip(range(1, 6), hashes, rows, strict=True)]
    assert list(chain.breaks(chain.GENESIS, stored)) == []

    altered = list(stored)
    altered[2] = (3, hashes[2], *values(amount=Decimal("3.01")))
    assert [b[0] for b in chain.breaks(chain.GENESIS, altered)] == [3]

    removed = stored[:2] + stored[3:]
    assert [b[0] for b in chain.breaks(chain.GENESIS, removed)] == [4]

    unsealed = list(stored)    # a booking without a hash is named, the chain goes on
    unsealed[1] = (2, None, *rows[1])
    assert [b[0] for b in chain.breaks(chain.GENESIS, unsealed)] == [2]

    forged = list(stored)      # a new hash for the altered row: the next one breaks
    forged[2] = (3, chain.link(hashes[1], values(amount=Decimal("3.01"))),
                 *values(amount=Decimal("3.01")))
    assert [b[0] for b in chain.breaks(chain.GENESIS, forged)] == [4]
