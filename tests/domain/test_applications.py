import pytest

from app.domain.applications import (
    APPLICATION_STATUSES,
    TRANSITIONS,
    check_transition,
    contract_intermediary,
)
from app.domain.errors import (
    AssignmentError,
    InvalidValueError,
    RequiredFieldError,
    TransitionError,
)

ALLOWED = {("DRAFT", "SUBMITTED"), ("SUBMITTED", "IN_REVIEW"), ("IN_REVIEW", "ACCEPTED"),
           ("IN_REVIEW", "REJECTED"), ("IN_REVIEW", "WITHDRAWN")}


@pytest.mark.parametrize("old", APPLICATION_STATUSES)
@pytest.mark.parametrize("new", APPLICATION_STATUSES)
def test_every_pair_of_the_transition_table(old, new):
    if (old, new) in ALLOWED:
        check_transition(old, new, "P-1")
    else:
        with pytest.raises(TransitionError) as exc:
            check_transition(old, new, "P-1")
        assert exc.value.field == "to"
    assert {(o, n) for o, ns in TRANSITIONS.items() for n in ns} == ALLOWED


@pytest.mark.parametrize("number", [None, "", "   "])
def test_accepting_needs_a_policy_number(number):
    with pytest.raises(RequiredFieldError) as exc:
        check_transition("IN_REVIEW", "ACCEPTED", number)
    assert exc.value.field == "policy_number"


@pytest.mark.parametrize("given, status, advisor, advisor_status, expected", [
    (None, None, 7, "ACTIVE", 7),        # the customer's advisor by default
    (None, None, 7, "FORMER", 7),        # rule 2: a FORMER advisor is taken over
    (5, "ACTIVE", 7, "FORMER", 5),       # an explicit ACTIVE one wins
    (7, "FORMER", 7, "FORMER", 7),       # the customer's own FORMER advisor, explicitly
    (5, "FORMER", 7, "FORMER", "error"),  # any other non-ACTIVE one is refused
    (5, "PROSPECT", None, None, "error"),
    (5, "GROUP", None, None, "error"),
    (None, None, 7, "PROSPECT", "missing"),
    (None, None, None, None, "missing"),
])
def test_who_a_new_contract_is_assigned_to(given, status, advisor, advisor_status, expected):
    if expected == "error":
        with pytest.raises(AssignmentError):
            contract_intermediary(given, status, advisor, advisor_status, False)
    elif expected == "missing":
        with pytest.raises(RequiredFieldError):
            contract_intermediary(given, status, advisor, advisor_status, False)
    else:
        assert contract_intermediary(given, status, advisor, advisor_status, False) == expected


def test_a_combination_instead_of_an_intermediary():
    assert contract_intermediary(None, None, 7, "ACTIVE", True) is None
    with pytest.raises(InvalidValueError) as exc:
        contract_intermediary(5, "ACTIVE", 7, "ACTIVE", True)
    assert exc.value.field == "intermediary"
