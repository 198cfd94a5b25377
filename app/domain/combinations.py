"""Intermediary combinations: named sets of ACTIVE intermediaries with shares."""
from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal

from app.domain.errors import N_, CombinationSharesError, InvalidValueError
from app.domain.intermediaries import check_new_assignment

HUNDRED = Decimal(100)
CENT = Decimal("0.01")


def check_members(members: Sequence[tuple[int, str, Decimal]]) -> None:
    """members: (intermediary id, status, share in percent)."""
    if not members:
        raise CombinationSharesError("members")
    ids = [m[0] for m in members]
    if len(set(ids)) != len(ids):
        raise InvalidValueError("members", N_("An intermediary appears twice in the combination."))
    for _, status, share in members:
        check_new_assignment(status, "members")
        if share <= 0:
            raise InvalidValueError("members", N_("Every share must be greater than 0."))
    if sum((m[2] for m in members), Decimal(0)) != HUNDRED:
        raise CombinationSharesError("members")


def split(amount: Decimal, shares: Sequence[tuple[int, Decimal]]) -> list[tuple[int, Decimal]]:
    """Split `amount` by share, each part rounded to cents ROUND_HALF_UP; the
    rounding remainder goes to the largest share (the first of equal ones)."""
    parts = [(who, (amount * share / HUNDRED).quantize(CENT, ROUND_HALF_UP))
             for who, share in shares]
    remainder = amount - sum((p for _, p in parts), Decimal(0))
    if remainder and parts:
        largest = max(range(len(shares)), key=lambda i: (shares[i][1], -i))
        who, part = parts[largest]
        parts[largest] = (who, part + remainder)
    return parts
