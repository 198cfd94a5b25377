import pytest

from app.domain.companies import check_parent, subtree
from app.domain.errors import CompanyCycleError

# 1 pool -> 2 group -> 3 firm -> 4 sub-firm ; 1 -> 5 insurer
TREE = {1: None, 2: 1, 3: 2, 4: 3, 5: 1}


@pytest.mark.parametrize("company, parent", [
    (2, 1), (3, 1), (4, 5), (5, 4), (3, None), (None, 4), (1, None),
])
def test_a_parent_outside_the_own_subtree_is_accepted(company, parent):
    check_parent(company, parent, TREE)


@pytest.mark.parametrize("company, parent", [(1, 1), (1, 4), (2, 3), (2, 4), (3, 4), (4, 4)])
def test_a_parent_inside_the_own_subtree_is_refused_naming_the_parent_field(company, parent):
    with pytest.raises(CompanyCycleError) as exc:
        check_parent(company, parent, TREE)
    assert exc.value.field == "parent"


def test_an_existing_cycle_in_the_data_does_not_loop_forever():
    with pytest.raises(CompanyCycleError):
        check_parent(9, 7, {7: 8, 8: 7, 9: None})


@pytest.mark.parametrize("roots, expected", [
    ([1], {1, 2, 3, 4, 5}), ([2], {2, 3, 4}), ([4], {4}), ([5], {5}), ([99], set()),
    ([3, 5], {3, 4, 5}),
])
def test_the_subtree_holds_the_company_and_everything_below_it(roots, expected):
    assert subtree(roots, TREE) == expected
