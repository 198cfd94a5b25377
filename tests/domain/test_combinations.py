from decimal import Decimal

import pytest

from app.domain.combinations import check_members, split
from app.domain.errors import AssignmentError, CombinationSharesError, InvalidValueError

D = Decimal


def test_shares_must_sum_to_exactly_100():
    check_members([(1, "ACTIVE", D("33.3333")), (2, "ACTIVE", D("66.6667"))])
    with pytest.raises(CombinationSharesError) as exc:
        check_members([(1, "ACTIVE", D(50)), (2, "ACTIVE", D("49.99"))])
    assert exc.value.field == "members"
    with pytest.raises(CombinationSharesError):
        check_members([])


@pytest.mark.parametrize("status", ["PROSPECT", "FORMER", "GROUP"])
def test_members_must_be_active(status):
    with pytest.raises(AssignmentError):
        check_members([(1, "ACTIVE", D(50)), (2, status, D(50))])


def test_no_member_twice_and_no_zero_share():
    with pytest.raises(InvalidValueError):
        check_members([(1, "ACTIVE", D(50)), (1, "ACTIVE", D(50))])
    with pytest.raises(InvalidValueError):
        check_members([(1, "ACTIVE", D(100)), (2, "ACTIVE", D(0))])


@pytest.mark.parametrize("amount, shares, expected", [
    (D("100.00"), [(1, D(50)), (2, D(50))], [(1, D("50.00")), (2, D("50.00"))]),
    (D("100.00"), [(1, D("33.3333")), (2, D("33.3333")), (3, D("33.3334"))],
     [(1, D("33.33")), (2, D("33.33")), (3, D("33.34"))]),
    # 0.005 rounds up for both: the one cent too many is taken from the first largest
    (D("0.01"), [(1, D(50)), (2, D(50))], [(1, D("0.00")), (2, D("0.01"))]),
    (D("-10.01"), [(1, D(40)), (2, D(60))], [(1, D("-4.00")), (2, D("-6.01"))]),
    # 691.355 -> 691.36 and 296.295 -> 296.30 sum to 987.66: the largest gives back a cent
    (D("987.65"), [(1, D(70)), (2, D(30))], [(1, D("691.35")), (2, D("296.30"))]),
])
def test_split_rounds_half_up_and_gives_the_remainder_to_the_largest_share(amount, shares, expected):
    parts = split(amount, shares)
    assert parts == expected
    assert sum(p for _, p in parts) == amount
