import pytest

from app.domain.access import (
    ADMIN,
    COMPANY_ADMIN,
    CUSTOMER,
    INTERMEDIARY,
    POOL_ADMIN,
    POOL_STAFF,
    check_grant,
    check_password,
    grantable_roles,
)
from app.domain.errors import PasswordPolicyError, RoleNotGrantableError


@pytest.mark.parametrize("own, expected", [
    ([ADMIN], (ADMIN, POOL_ADMIN, POOL_STAFF, COMPANY_ADMIN)),
    ([POOL_ADMIN], (POOL_ADMIN, POOL_STAFF, COMPANY_ADMIN)),
    ([COMPANY_ADMIN], (COMPANY_ADMIN,)),
    ([POOL_STAFF], ()),
    ([INTERMEDIARY], ()),
    ([CUSTOMER], ()),
    ([COMPANY_ADMIN, POOL_ADMIN], (POOL_ADMIN, POOL_STAFF, COMPANY_ADMIN)),
])
def test_each_role_grants_only_roles_at_or_below_its_own(own, expected):
    assert grantable_roles(own) == expected


def test_a_company_admin_cannot_grant_pool_roles():
    check_grant([COMPANY_ADMIN], COMPANY_ADMIN)
    for role in (ADMIN, POOL_ADMIN, POOL_STAFF, INTERMEDIARY):
        with pytest.raises(RoleNotGrantableError) as exc:
            check_grant([COMPANY_ADMIN], role)
        assert exc.value.field == "role"


@pytest.mark.parametrize("password", ["a" * 12, "correct horse battery", "ä" * 64, "x" * 256,
                                      "123456789012"])
def test_passwords_of_12_to_256_characters_pass_without_composition_rules(password):
    check_password(password)


@pytest.mark.parametrize("password", [None, "", "a" * 11, "Sh0rt!Pass", "x" * 257])
def test_shorter_or_absurdly_long_passwords_are_refused(password):
    with pytest.raises(PasswordPolicyError) as exc:
        check_password(password)
    assert exc.value.field == "password"
    assert exc.value.params == {"min": 12, "max": 256}
