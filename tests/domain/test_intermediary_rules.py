import pytest

from app.domain.errors import AssignmentError, GroupError, StatusChangeError
from app.domain.intermediaries import (
    ACTIVE,
    FORMER,
    GROUP,
    PROSPECT,
    STATUSES,
    check_group,
    check_new_assignment,
    check_status_change,
    gets_fixum,
)

ALLOWED = {(a, b) for a in (ACTIVE, PROSPECT, FORMER) for b in (ACTIVE, PROSPECT, FORMER)}


@pytest.mark.parametrize("old", STATUSES)
@pytest.mark.parametrize("new", STATUSES)
def test_status_changes(old, new):
    if old == new or (old, new) in ALLOWED:
        check_status_change(old, new)
    else:
        with pytest.raises(StatusChangeError) as exc:
            check_status_change(old, new)
        assert exc.value.field == "status"


@pytest.mark.parametrize("status", STATUSES)
def test_a_new_intermediary_may_start_with_any_status(status):
    check_status_change(None, status)


@pytest.mark.parametrize("status, group_status, ok", [
    (ACTIVE, GROUP, True), (FORMER, GROUP, True), (PROSPECT, GROUP, True),
    (ACTIVE, None, True), (GROUP, None, True),
    (ACTIVE, ACTIVE, False), (ACTIVE, FORMER, False), (GROUP, GROUP, False),
])
def test_the_group_must_be_a_group_and_a_group_has_none(status, group_status, ok):
    if ok:
        check_group(status, group_status)
    else:
        with pytest.raises(GroupError):
            check_group(status, group_status)


@pytest.mark.parametrize("status", STATUSES)
def test_only_active_intermediaries_are_newly_assigned_and_get_fixum(status):
    if status == ACTIVE:
        check_new_assignment(status)
        assert gets_fixum(status)
    else:
        with pytest.raises(AssignmentError):
            check_new_assignment(status, "advisor")
        assert not gets_fixum(status)
