"""Sales hierarchy over time (domain.md, worked examples 2 and 3)."""
from datetime import date

import pytest

from app.domain.errors import DuplicateLevelDateError, HierarchyCycleError
from app.domain.hierarchy import Hierarchy, LevelEntry, check_entry

A, B, C = 1, 2, 3
L1, L2, L3 = 11, 12, 13
START = date(2026, 1, 1)
NOV = date(2026, 11, 1)

ENTRIES = [
    LevelEntry(A, START, L1, B, id=1),
    LevelEntry(B, START, L2, C, id=2),
    LevelEntry(C, START, L3, None, id=3),
    LevelEntry(A, NOV, L2, C, id=4),     # example 3: from Nov 1, A is level 2 under C
]


def levels(chain):
    return [(e.intermediary_id, e.level_id) for e in chain]


@pytest.mark.parametrize("day, expected", [
    (date(2026, 10, 31), [(A, L1), (B, L2), (C, L3)]),
    (date(2026, 11, 1), [(A, L2), (C, L3)]),
    (date(2026, 11, 5), [(A, L2), (C, L3)]),
    (date(2025, 12, 31), []),
])
def test_the_chain_follows_the_entries_valid_at_the_day(day, expected):
    assert levels(Hierarchy(ENTRIES).chain(A, day)) == expected


def test_the_tree_at_a_day():
    h = Hierarchy(ENTRIES)
    assert h.tree(date(2026, 6, 1)) == {B: [A], C: [B], None: [C]}
    tree = h.tree(date(2026, 12, 1))
    assert sorted(tree[C]) == [A, B] and tree[None] == [C]


def test_a_second_entry_on_the_same_day_is_refused():
    with pytest.raises(DuplicateLevelDateError) as exc:
        check_entry(LevelEntry(A, NOV, L3, None), ENTRIES)
    assert exc.value.field == "valid_from"


def test_editing_an_entry_keeps_its_own_date():
    check_entry(LevelEntry(A, NOV, L3, C, id=4), ENTRIES)


@pytest.mark.parametrize("entry", [
    LevelEntry(C, date(2026, 3, 1), L3, A),        # C under A while A is under B under C
    LevelEntry(C, date(2026, 12, 1), L3, A),       # after November: A directly under C
    LevelEntry(A, date(2026, 2, 1), L1, A),        # own supervisor
])
def test_a_supervisor_closing_a_cycle_at_any_date_is_refused(entry):
    with pytest.raises(HierarchyCycleError) as exc:
        check_entry(entry, ENTRIES)
    assert exc.value.field == "supervisor"


def test_an_entry_ending_before_the_loop_would_form_passes():
    # C under B in 2025: B has no entry before 2026, and C's own 2026 entry
    # (no supervisor) ends this one before B comes under C.
    check_entry(LevelEntry(C, date(2025, 6, 1), L3, B), ENTRIES)


def test_a_cycle_that_appears_only_on_a_later_date_is_found():
    D = 4
    entries = ENTRIES + [LevelEntry(D, date(2026, 2, 1), L1, A, id=5)]
    # From Dec 1, A would come under D, who is under A.
    with pytest.raises(HierarchyCycleError):
        check_entry(LevelEntry(A, date(2026, 12, 1), L2, D), entries)
    # From Jan 15 (until A's Nov entry): fine on Jan 15, a loop from Feb 1 when D joins.
    with pytest.raises(HierarchyCycleError):
        check_entry(LevelEntry(A, date(2026, 1, 15), L2, D), entries)


def test_a_supervisor_change_that_closes_no_cycle_passes():
    check_entry(LevelEntry(B, date(2026, 12, 1), L2, None), ENTRIES)
    check_entry(LevelEntry(B, date(2026, 12, 1), L2, A), ENTRIES)  # A is under C, not B


def _chain_uncached(entries, who, day):
    """The chain by its definition, walking the entries without any cache."""
    result, node, seen = [], who, set()
    while node is not None and node not in seen:
        seen.add(node)
        valid = [e for e in entries if e.intermediary_id == node and e.valid_from <= day]
        if not valid:
            break
        entry = max(valid, key=lambda e: e.valid_from)
        result.append(entry)
        node = entry.supervisor_id
    return result


def test_cached_chains_equal_the_definition_on_every_day_in_any_order():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    days = st.dates(min_value=date(2024, 1, 1), max_value=date(2024, 12, 31))

    @settings(max_examples=150, deadline=None)
    @given(st.lists(st.tuples(st.integers(1, 6), days, st.integers(1, 3),
                              st.one_of(st.none(), st.integers(1, 6))), max_size=14),
           st.lists(st.tuples(st.integers(1, 6), days), min_size=1, max_size=30))
    def check(raw, queries):
        unique = {(who, start): (level, boss) for who, start, level, boss in raw}
        entries = [LevelEntry(who, start, level, boss, i)
                   for i, ((who, start), (level, boss)) in enumerate(unique.items())]
        hierarchy = Hierarchy(entries)
        for who, day in queries:        # one Hierarchy: later queries hit the cache
            assert hierarchy.chain(who, day) == _chain_uncached(entries, who, day)

    check()
