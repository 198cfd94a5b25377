"""CRM use cases: default company of new rows, staff logins."""
from __future__ import annotations

from flask import current_app
from sqlalchemy import select
from werkzeug.security import generate_password_hash

from app.domain.access import check_grant, check_password
from app.domain.errors import N_, DomainError, RequiredFieldError
from app.extensions import db
from app.models.crm import Company, CompanyKind, Staff
from app.security.scope import current_scope


class LoginNameTakenError(DomainError):
    message = N_("This login name is already taken.")


class EmailTakenError(DomainError):
    message = N_("This e-mail address is already used by another login.")


def pool_company() -> Company | None:
    return db.session.execute(
        select(Company).where(Company.kind == CompanyKind.POOL, Company.parent_id.is_(None))
        .order_by(Company.id).limit(1)
    ).scalar()


def default_company() -> Company | None:
    """The company a new customer, staff or intermediary belongs to when none
    is given: the caller's own company, else the pool."""
    scope = current_scope()
    with db.session.no_autoflush:  # the new row is still half built
        if scope.home_company_id is not None:
            return db.session.get(Company, scope.home_company_id)
        return pool_company()


def hash_password(password: str) -> str:
    return generate_password_hash(
        password,
        method=current_app.config.get("FAB_PASSWORD_HASH_METHOD", "scrypt"),
        salt_length=current_app.config.get("FAB_PASSWORD_HASH_SALT_LENGTH", 16),
    )


def set_staff_login(staff: Staff, username: str | None, password: str | None,
                    role_name: str | None, actor_roles) -> None:
    """Create or change the login of a staff member (no commit: the caller's save).

    A new login needs a login name, an e-mail address, a password of the
    length rule and a role the acting user may grant.
    """
    sm = current_app.appbuilder.sm
    username = (username or "").strip() or None
    if username is None and staff.user is None:
        if password:
            raise RequiredFieldError("username")
        return
    user = staff.user
    if user is None or (role_name and role_name not in {r.name for r in user.roles}):
        if not role_name:
            raise RequiredFieldError("role")
        check_grant(actor_roles, role_name)
    if user is None or password:
        check_password(password)
    if not staff.email:
        raise RequiredFieldError("email")
    with db.session.no_autoflush:
        other = sm.find_user(username=username) if username else None
        if other is not None and other is not user:
            raise LoginNameTakenError("username")
        other = db.session.execute(
            select(sm.user_model).where(sm.user_model.email == staff.email)
        ).scalar()
        if other is not None and other is not user:
            raise EmailTakenError("email")
    if user is None:
        user = sm.user_model()
        user.active = True
        staff.user = user
        db.session.add(user)
    if username:
        user.username = username
    user.first_name = staff.first_name
    user.last_name = staff.last_name
    user.email = staff.email
    if password:
        user.password = hash_password(password)
    if role_name:
        user.roles = [sm.find_role(role_name)]


def set_principal_login(record, username: str | None, password: str | None) -> None:
    """The extranet login of an intermediary (role Intermediary) or the
    customer-folder login of a customer (role Customer), linked to the record
    (no commit: the caller's save). Without an e-mail address on the record
    the login gets a placeholder address (logins need a unique one)."""
    from app.domain.access import CUSTOMER, INTERMEDIARY
    from app.models.intermediaries import Intermediary

    sm = current_app.appbuilder.sm
    role = INTERMEDIARY if isinstance(record, Intermediary) else CUSTOMER
    username = (username or "").strip() or None
    user = record.user
    if user is None and username is None:
        raise RequiredFieldError("username")
    if user is None or password:
        check_password(password)
    email = (record.email or "").strip() or (
        user.email if user is not None else f"{username}@login.invalid")
    with db.session.no_autoflush:
        other = sm.find_user(username=username) if username else None
        if other is not None and other is not user:
            raise LoginNameTakenError("username")
        other = db.session.execute(
            select(sm.user_model).where(sm.user_model.email == email)).scalar()
        if other is not None and other is not user:
            raise EmailTakenError("email")
    if user is None:
        user = sm.user_model()
        user.active = True
        record.user = user
        db.session.add(user)
    if username:
        user.username = username
    first = getattr(record, "first_name", None) or ""
    user.first_name = first or record.name
    user.last_name = record.name if first else ""
    user.email = email
    if password:
        user.password = hash_password(password)
    user.roles = [sm.find_role(role)]
