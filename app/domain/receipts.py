"""Which receipts of a batch are new: a reference an insurer has sent before,
or that repeats within the batch, is booked once only."""
from __future__ import annotations

from collections.abc import Iterable, Sequence


def fresh_receipts(rows: Sequence[tuple[int, str | None]],
                   seen: Iterable[tuple[int, str]]) -> tuple[list[int], list[int]]:
    """rows: (insurer id, reference or None) per receipt. Returns the indexes
    to book and the indexes skipped as duplicates. Receipts without a
    reference are always booked (nothing identifies a repeat)."""
    known = set(seen)
    book, skip = [], []
    for index, (insurer, reference) in enumerate(rows):
        if reference:
            if (insurer, reference) in known:
                skip.append(index)
                continue
            known.add((insurer, reference))
        book.append(index)
    return book, skip
