"""Rules that guard data, enforced in the session before every flush.

FAB screens, FAB actions, the REST API, services and imports all write
through the same SQLAlchemy session, so a rule checked here cannot be
bypassed by any of them. A violation raises a DomainError naming the field;
the web layer turns it into a form message or a 422 and rolls back.
"""
from __future__ import annotations

from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session

from app.domain.companies import check_parent
from app.domain.errors import OutOfScopeError, RequiredFieldError

_installed = False


def install_guards() -> None:
    global _installed
    if not _installed:
        event.listen(Session, "before_flush", _before_flush)
        _installed = True


def _changed(obj, attr: str) -> bool:
    hist = inspect(obj).attrs[attr].history
    return hist.has_changes()


def _before_flush(session: Session, flush_context, instances) -> None:
    from app.models.crm import Company, Customer, Staff
    from app.models.intermediaries import Intermediary
    from app.security.scope import current_scope

    scope = current_scope()
    scoped = (Company, Staff, Customer, Intermediary)

    for obj in list(session.new) + list(session.dirty):
        if not isinstance(obj, scoped):
            continue
        is_new = obj in session.new
        _required_text(obj)
        if isinstance(obj, Company):
            _guard_company(session, obj, is_new, scope)
        else:
            _sync_fk(obj, "company")
            if not scope.allows(obj.company_id):
                # Reveal nothing about objects outside the scope.
                raise OutOfScopeError("company")
            if not is_new and _changed(obj, "company_id"):
                old = inspect(obj).attrs.company_id.history.deleted
                if old and not scope.allows(old[0]):
                    raise OutOfScopeError("company")

    for obj in session.deleted:
        if isinstance(obj, Staff) and obj.user is not None:
            # The login stays (it signed rows as created/changed by) but can no
            # longer be used.
            obj.user.active = False
        if isinstance(obj, Company):
            if not scope.unrestricted and (
                obj.id == scope.home_company_id or not scope.allows(obj.id)
            ):
                raise OutOfScopeError("company")
        elif isinstance(obj, scoped) and not scope.allows(obj.company_id):
            raise OutOfScopeError("company")


def _sync_fk(obj, rel: str) -> None:
    """When only the relationship was set, copy its id into the FK column so
    that the checks below see the value that will be written."""
    if not _changed(obj, rel):
        return
    target = getattr(obj, rel)
    if target is None:
        setattr(obj, f"{rel}_id", None)
    elif target.id is not None:
        setattr(obj, f"{rel}_id", target.id)


_REQUIRED = {
    "Company": ("name", "kind"),
    "Staff": ("first_name", "last_name", "company_id"),
    "Customer": ("name", "company_id"),
    "Intermediary": ("name", "company_id"),
}


def _required_text(obj) -> None:
    if hasattr(obj, "company"):
        _sync_fk(obj, "company")
    for field in _REQUIRED.get(type(obj).__name__, ()):
        value = getattr(obj, field)
        if value is None or (isinstance(value, str) and not value.strip()):
            raise RequiredFieldError(field.removesuffix("_id"))


def _guard_company(session: Session, company, is_new: bool, scope) -> None:
    from app.models.crm import Company

    _sync_fk(company, "parent")
    if not scope.unrestricted:
        if is_new:
            # A scoped user creates companies only below its own subtree.
            if not scope.allows(company.parent_id):
                raise OutOfScopeError("parent")
        else:
            if not scope.allows(company.id):
                raise OutOfScopeError("company")
            if _changed(company, "parent_id"):
                # The home company cannot be moved; others only within the subtree.
                if company.id == scope.home_company_id or not scope.allows(company.parent_id):
                    raise OutOfScopeError("parent")
    if not is_new and _changed(company, "parent_id"):
        with session.no_autoflush:
            parent_of = dict(session.execute(select(Company.id, Company.parent_id)).all())
        check_parent(company.id, company.parent_id, parent_of)
