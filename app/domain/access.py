"""Who may grant which role, and the password rule."""
from __future__ import annotations

from collections.abc import Iterable

from app.domain.errors import PasswordPolicyError, RoleNotGrantableError

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


def check_password(password: str | None, field: str = "password") -> None:
    """Length only, no composition rules (OWASP ASVS 5.0 6.2.1, 6.2.5, 6.2.9)."""
    if password is None or not (PASSWORD_MIN <= len(password) <= PASSWORD_MAX):
        raise PasswordPolicyError(field, min=PASSWORD_MIN, max=PASSWORD_MAX)
