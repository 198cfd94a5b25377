from datetime import datetime, timedelta

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
    common_passwords,
    grantable_roles,
    is_common_password,
    login_delay,
    login_refused_until,
    session_expiry,
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


@pytest.mark.parametrize("password", ["zwölf zeichen", "correct horse battery", "ä" * 64,
                                      "x" * 256, "Kfz-Haftpflicht 2026", "y" * 200])
def test_passwords_of_12_to_256_characters_pass_without_composition_rules(password):
    check_password(password)


@pytest.mark.parametrize("password", ["123456789012", "a" * 12, "passwort1234", "Passwort1234",
                                      "PASSWORD1234", "qwertzuiop123", " iloveyou123 ",
                                      "hallo1234567"])
def test_common_passwords_are_refused_whatever_their_case(password):
    with pytest.raises(PasswordPolicyError) as exc:
        check_password(password)
    assert exc.value.field == "password"
    assert "common" in exc.value.message and exc.value.params == {}


def test_the_shipped_list_is_large_and_lower_case():
    listed = common_passwords()
    assert len(listed) >= 5000
    assert all(p == p.lower() for p in listed)
    assert {"passwort", "123456", "qwertz", "password1"} <= listed


def test_the_list_check_takes_a_given_list_and_names_the_field():
    check_password("ein ganz eigenes passwort")
    with pytest.raises(PasswordPolicyError) as exc:
        check_password("Ein ganz eigenes Passwort", field="new_password",
                       common={"ein ganz eigenes passwort"})
    assert exc.value.field == "new_password"
    assert is_common_password("ABC", {"abc"}) and not is_common_password("abcd", {"abc"})


def test_the_length_rule_comes_before_the_list():
    with pytest.raises(PasswordPolicyError) as exc:
        check_password("123456")
    assert exc.value.params == {"min": 12, "max": 256}


@pytest.mark.parametrize("failures, seconds", [
    (0, 0), (1, 0), (2, 0), (3, 1), (4, 2), (5, 4), (6, 8), (10, 128), (12, 512),
    (13, 900), (14, 900), (100, 900), (10**6, 900)])
def test_the_delay_grows_from_the_fourth_attempt_and_stops_at_15_minutes(failures, seconds):
    assert login_delay(failures) == seconds


def test_the_delay_counts_from_the_last_failure_and_never_locks_for_good():
    last = datetime(2026, 12, 7, 9, 0, 0)
    assert login_refused_until(2, last) is None
    assert login_refused_until(3, last) == last + timedelta(seconds=1)
    assert login_refused_until(5, last) == last + timedelta(seconds=4)
    assert login_refused_until(5, None) is None
    # however many failures: at most 15 minutes after the last one
    assert login_refused_until(10**9, last) == last + timedelta(minutes=15)
    assert login_delay(5, free=5, cap=60) == 1 and login_delay(20, free=5, cap=60) == 60


def test_a_session_ends_after_its_idle_time_or_its_absolute_time():
    login = datetime(2026, 12, 7, 8, 0)
    idle, absolute = timedelta(minutes=30), timedelta(hours=12)
    assert session_expiry(login, login, login + timedelta(minutes=29), idle, absolute) is None
    assert session_expiry(login, login, login + timedelta(minutes=30), idle, absolute) == "idle"
    seen = login + timedelta(hours=11, minutes=50)
    assert session_expiry(login, seen, login + timedelta(hours=11, minutes=59), idle,
                          absolute) is None
    assert session_expiry(login, seen, login + timedelta(hours=12), idle, absolute) == \
        "absolute"


@pytest.mark.parametrize("password", [None, "", "a" * 11, "Sh0rt!Pass", "x" * 257])
def test_shorter_or_absurdly_long_passwords_are_refused(password):
    with pytest.raises(PasswordPolicyError) as exc:
        check_password(password)
    assert exc.value.field == "password"
    assert exc.value.params == {"min": 12, "max": 256}
