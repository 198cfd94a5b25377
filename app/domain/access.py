"""Who may grant which role, and the password rule."""
from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path

from app.domain.errors import N_, PasswordPolicyError, RoleNotGrantableError

ADMIN = "Admin"
POOL_ADMIN = "Pool admin"
POOL_STAFF = "Pool staff"
COMPANY_ADMIN = "Company admin"
INTERMEDIARY = "Intermediary"
CUSTOMER = "Customer"

#: Roles an intranet user may give to staff logins it creates. Roles of the
#: extranet (Intermediary, Customer) are given by their own login actions.
GRANTABLE = {
    ADMIN: (ADMIN, POOL_ADMIN, POOL_STAFF, COMPANY_ADMIN),
    POOL_ADMIN: (POOL_ADMIN, POOL_STAFF, COMPANY_ADMIN),
    COMPANY_ADMIN: (COMPANY_ADMIN,),
}

PASSWORD_MIN = 12
PASSWORD_MAX = 256


def grantable_roles(own_roles: Iterable[str]) -> tuple[str, ...]:
    """The staff roles a user holding `own_roles` may grant, in a fixed order."""
    allowed: set[str] = set()
    for role in own_roles:
        allowed.update(GRANTABLE.get(role, ()))
    return tuple(r for r in (ADMIN, POOL_ADMIN, POOL_STAFF, COMPANY_ADMIN) if r in allowed)


def check_grant(own_roles: Iterable[str], role: str) -> None:
    if role not in grantable_roles(own_roles):
        raise RoleNotGrantableError("role")


COMMON_PASSWORD_MESSAGE = N_("This password is one of the most common passwords; "
                             "please choose another one.")


def check_password(password: str | None, field: str = "password",
                   common: Collection[str] | None = None) -> None:
    """Length and not a common password, no composition rules (OWASP ASVS
    5.0 6.2.1, 6.2.4, 6.2.5, 6.2.9). `common`: the lower-cased list to check
    against (default: the shipped list)."""
    if password is None or not (PASSWORD_MIN <= len(password) <= PASSWORD_MAX):
        raise PasswordPolicyError(field, min=PASSWORD_MIN, max=PASSWORD_MAX)
    if is_common_password(password, common):
        raise PasswordPolicyError(field, COMMON_PASSWORD_MESSAGE)


# --- Common passwords ----------------------------------------------------------------

#: the shipped list of common passwords, one a line (app/security/data)
COMMON_PASSWORDS_FILE = Path(__file__).resolve().parent.parent / "security" / "data" / \
    "common-passwords.txt"


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The shipped list, lower-cased (read once per process)."""
    with COMMON_PASSWORDS_FILE.open(encoding="utf-8") as fh:
        return frozenset(line.strip().lower() for line in fh
                         if line.strip() and not line.startswith("#"))


def is_common_password(password: str, common: Collection[str] | None = None) -> bool:
    """Whether `password` is on the list (compared lower-cased, without the
    blanks around it)."""
    listed = common_passwords() if common is None else common
    return password.strip().lower() in listed


# --- Failed logins: a growing delay per account ----------------------------------------

#: failed logins without any delay; after them each further failure doubles it
LOGIN_FREE_FAILURES = 3
#: the longest delay (seconds): never a permanent lockout
LOGIN_DELAY_CAP = 15 * 60


def login_delay(failures: int, free: int = LOGIN_FREE_FAILURES,
                cap: int = LOGIN_DELAY_CAP) -> int:
    """Seconds an account refuses attempts after `failures` failed logins in a
    row: none for the first `free`, then 1, 2, 4, ... up to `cap`."""
    if failures < free:
        return 0
    exponent = failures - free
    if exponent >= cap.bit_length():
        return cap
    return min(2 ** exponent, cap)


def login_refused_until(failures: int, last_failed: datetime | None,
                        free: int = LOGIN_FREE_FAILURES,
                        cap: int = LOGIN_DELAY_CAP) -> datetime | None:
    """Until when an account refuses attempts (None: it accepts them now or
    at any time)."""
    delay = login_delay(failures, free, cap)
    if not delay or last_failed is None:
        return None
    return last_failed + timedelta(seconds=delay)


# --- Session lifetime ----------------------------------------------------------------

def session_expiry(created: datetime, last_seen: datetime, now: datetime,
                   idle: timedelta, absolute: timedelta) -> str | None:
    """Why a session has ended by time: "absolute" (older than `absolute`
    since the login), "idle" (nothing for longer than `idle`), or None."""
    if now - created >= absolute:
        return "absolute"
    if now - last_seen >= idle:
        return "idle"
    return None
