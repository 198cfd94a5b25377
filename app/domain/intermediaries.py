"""Intermediary status rules (domain.md, "Intermediaries", rules 1 to 5)."""
from __future__ import annotations

from app.domain.errors import AssignmentError, GroupError, StatusChangeError

ACTIVE, PROSPECT, FORMER, GROUP = "ACTIVE", "PROSPECT", "FORMER", "GROUP"
STATUSES = (ACTIVE, PROSPECT, FORMER, GROUP)


def check_status_change(old: str | None, new: str) -> None:
    """Rule 3: a GROUP's status never changes; nobody else becomes a GROUP.

    The spec names ACTIVE -> GROUP; we refuse every change into GROUP, since a
    group holds rates only and cannot carry a person's business.
    """
    if old is None or old == new:
        return
    if old == GROUP or new == GROUP:
        raise StatusChangeError("status")


def check_group(status: str, group_status: str | None) -> None:
    """Rule 4: `group` points at a GROUP only; a GROUP has no group."""
    if group_status is None:
        return
    if status == GROUP or group_status != GROUP:
        raise GroupError("group")


def check_new_assignment(status: str, field: str = "intermediary") -> None:
    """Rule 1: only ACTIVE intermediaries are newly entered anywhere."""
    if status != ACTIVE:
        raise AssignmentError(field)


def gets_fixum(status: str) -> bool:
    """Rule 5."""
    return status == ACTIVE
