"""Applications (Anträge) and contracts: workflow and assignment rules."""
from __future__ import annotations

from app.domain.errors import (
    N_,
    AssignmentError,
    InvalidValueError,
    RequiredFieldError,
    TransitionError,
)
from app.domain.intermediaries import ACTIVE, FORMER

DRAFT, SUBMITTED, IN_REVIEW = "DRAFT", "SUBMITTED", "IN_REVIEW"
ACCEPTED, REJECTED, WITHDRAWN = "ACCEPTED", "REJECTED", "WITHDRAWN"
APPLICATION_STATUSES = (DRAFT, SUBMITTED, IN_REVIEW, ACCEPTED, REJECTED, WITHDRAWN)

#: domain.md: DRAFT → SUBMITTED → IN_REVIEW → ACCEPTED | REJECTED | WITHDRAWN.
#: Every other change is refused.
TRANSITIONS = {
    DRAFT: {SUBMITTED},
    SUBMITTED: {IN_REVIEW},
    IN_REVIEW: {ACCEPTED, REJECTED, WITHDRAWN},
}


def check_transition(old: str, new: str, policy_number: str | None = None) -> None:
    if new not in TRANSITIONS.get(old, set()):
        raise TransitionError("to", old=old, new=new)
    if new == ACCEPTED and not (policy_number or "").strip():
        raise RequiredFieldError("policy_number")


def check_new_intermediary(intermediary_status: str | None, combination_given: bool,
                           field: str = "intermediary") -> None:
    """An application or contract names an intermediary or a combination, not
    both; a newly entered intermediary must be ACTIVE (rule 1)."""
    if intermediary_status is not None and combination_given:
        raise InvalidValueError(field, N_("Give an intermediary or a combination, not both."))
    if intermediary_status is None and not combination_given:
        raise RequiredFieldError(field)
    if intermediary_status is not None and intermediary_status != ACTIVE:
        raise AssignmentError(field)


def contract_intermediary(given_id: int | None, given_status: str | None,
                          advisor_id: int | None, advisor_status: str | None,
                          combination_given: bool) -> int | None:
    """Who a NEW contract is assigned to (rules 1 and 2 of domain.md).

    Nothing given: the customer's advisor, if ACTIVE or FORMER (the takeover).
    Given: must be ACTIVE, except the customer's own FORMER advisor.
    """
    if combination_given:
        if given_id is not None:
            raise InvalidValueError("intermediary", N_(
                "Give an intermediary or a combination, not both."))
        return None
    if given_id is None:
        if advisor_id is not None and advisor_status in (ACTIVE, FORMER):
            return advisor_id
        raise RequiredFieldError("intermediary")
    if given_status == ACTIVE:
        return given_id
    if given_status == FORMER and given_id == advisor_id:
        return given_id
    raise AssignmentError("intermediary")


def check_contract_values(start, term_months, cancelled_on, amounts) -> None:
    """term > 0, dates in order, amounts not negative. (A contract may be
    policed before or after its start, so policed_on is not ordered.)"""
    if term_months is not None and term_months <= 0:
        raise InvalidValueError("term_months", N_("Must be at least %(min)s."), min="1")
    if start is not None and cancelled_on is not None and cancelled_on < start:
        raise InvalidValueError("cancelled_on", N_("The cancellation date is before the start."))
    for field, value in amounts.items():
        if value is not None and value < 0:
            raise InvalidValueError(field, N_("Must be at least %(min)s."), min="0")
