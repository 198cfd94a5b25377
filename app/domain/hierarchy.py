"""The sales hierarchy (Vermittlerstufen) over time.

An entry (intermediary, valid_from, career level, supervisor) holds from its
date until the intermediary's next entry. At most one entry per intermediary
and date; a supervisor that would close a cycle at any date is refused.
"""
from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from app.domain.errors import DuplicateLevelDateError, HierarchyCycleError


@dataclass(frozen=True)
class LevelEntry:
    intermediary_id: int
    valid_from: date
    level_id: int | None
    supervisor_id: int | None
    id: int | None = None


class Hierarchy:
    """All entries, indexed for "who is X's supervisor and level at day D"."""

    def __init__(self, entries: Iterable[LevelEntry]):
        by_person: dict[int, list[LevelEntry]] = {}
        for e in entries:
            by_person.setdefault(e.intermediary_id, []).append(e)
        self._entries = {k: sorted(v, key=lambda e: e.valid_from) for k, v in by_person.items()}
        self._dates = {k: [e.valid_from for e in v] for k, v in self._entries.items()}
        # intermediary -> (from, until, chain): the chain holds for days in
        # [from, until), where none of its entries changes (a month's
        # receipts of one closer mostly share it)
        self._chains: dict[int, tuple] = {}

    def people(self):
        """The ids of everyone with an entry."""
        return self._entries.keys()

    def entry_at(self, intermediary_id: int, day: date) -> LevelEntry | None:
        dates = self._dates.get(intermediary_id)
        if not dates:
            return None
        i = bisect.bisect_right(dates, day) - 1
        return self._entries[intermediary_id][i] if i >= 0 else None

    def chain(self, intermediary_id: int, day: date) -> list[LevelEntry]:
        """The intermediary's entry and its supervisors' up to the top, at `day`.

        The closing intermediary comes first. An intermediary without an entry
        at that day ends the chain (it is the top, with no level).
        """
        cached = self._chains.get(intermediary_id)
        if cached is not None and cached[0] <= day and (cached[1] is None or day < cached[1]):
            return cached[2]
        result: list[LevelEntry] = []
        seen: set[int] = set()
        node: int | None = intermediary_id
        start, until = date.min, None
        while node is not None and node not in seen:
            seen.add(node)
            dates = self._dates.get(node)
            i = bisect.bisect_right(dates, day) - 1 if dates else -1
            if dates and i + 1 < len(dates) and (until is None or dates[i + 1] < until):
                until = dates[i + 1]          # this person's next entry changes the chain
            if i < 0:
                if dates:
                    until = dates[0] if until is None else min(until, dates[0])
                break
            entry = self._entries[node][i]
            start = max(start, entry.valid_from)
            result.append(entry)
            node = entry.supervisor_id
        self._chains[intermediary_id] = (start, until, result)
        return result

    def tree(self, day: date, ids: Iterable[int] | None = None) -> dict[int | None, list[int]]:
        """children by supervisor id (None: the roots) of everyone with an entry at `day`."""
        children: dict[int | None, list[int]] = {}
        for person in (ids if ids is not None else self._entries):
            entry = self.entry_at(person, day)
            if entry is not None:
                children.setdefault(entry.supervisor_id, []).append(person)
        # A supervisor without an own entry at that day is a root too.
        present = {p for kids in children.values() for p in kids}
        for sup in [s for s in children if s is not None and s not in present]:
            children.setdefault(None, []).append(sup)
        return children


def check_entry(new: LevelEntry, entries: Iterable[LevelEntry]) -> None:
    """Refuse a duplicate date or a supervisor closing a cycle at any date.

    The new entry holds from its date until the intermediary's next entry;
    within that span the supervisor chain can change only on the dates of
    other entries, so checking the chain at each of those dates suffices.
    """
    others = [e for e in entries if e.id is None or e.id != new.id]
    for e in others:
        if e.intermediary_id == new.intermediary_id and e.valid_from == new.valid_from:
            raise DuplicateLevelDateError("valid_from")
    if new.supervisor_id is None:
        return
    if new.supervisor_id == new.intermediary_id:
        raise HierarchyCycleError("supervisor")
    own_later = [e.valid_from for e in others
                 if e.intermediary_id == new.intermediary_id and e.valid_from > new.valid_from]
    end = min(own_later) if own_later else None
    days = {new.valid_from} | {e.valid_from for e in others
                               if e.valid_from > new.valid_from and (end is None or e.valid_from < end)}
    hierarchy = Hierarchy(others + [new])
    for day in days:
        chain = hierarchy.chain(new.supervisor_id, day)
        if any(e.intermediary_id == new.intermediary_id for e in chain) or _has_loop(
                hierarchy, new.supervisor_id, day):
            raise HierarchyCycleError("supervisor")


def _has_loop(hierarchy: Hierarchy, start: int, day: date) -> bool:
    seen: set[int] = set()
    node: int | None = start
    while node is not None:
        if node in seen:
            return True
        seen.add(node)
        entry = hierarchy.entry_at(node, day)
        node = entry.supervisor_id if entry else None
    return False
