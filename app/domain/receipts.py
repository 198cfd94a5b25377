"""Which receipts of a batch are new: a reference an insurer has sent before,
or that repeats within the batch, is booked once only."""
from __future__ import annotations

from collections.abc import Container, Iterable, Sequence


def fresh_receipts(rows: Sequence[tuple[int, str | None]],
                   seen: Iterable[tuple[int, str]] | Container[tuple[int, str]],
                   ) -> tuple[list[int], list[int]]:
    """rows: (insurer id, reference or None) per receipt. Returns the indexes
    to book and the indexes skipped as duplicates. Receipts without a
    reference are always booked (nothing identifies a repeat)."""
    known = seen if hasattr(seen, "__contains__") else set(seen)
    batch: set = set()     # the references of these rows (`seen` is not changed)
    book, skip = [], []
    for index, (insurer, reference) in enumerate(rows):
        if reference:
            key = (insurer, reference)
            if key in known or key in batch:
                skip.append(index)
                continue
            batch.add(key)
        book.append(index)
    return book, skip
