"""The company scope of the logged-in user: which companies' data it may see.

Rules (domain.md, "Core CRM"): data of a company is visible to staff of that
company and of its ancestors. So a staff login sees the subtree of its own
company; the Admin role sees everything; any other login sees no company data.
Outside a request (CLI, scheduler, imports) there is no restriction.

Reads use `company_subtree_select` inside SQL (list filters, API, lookups);
writes are checked against `current_scope()` in the session guard
(app/models/guards.py), so screens, actions and API cannot bypass it.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import has_request_context, request
from sqlalchemy import select

from app.domain.access import ADMIN
from app.extensions import db


@dataclass(frozen=True)
class Scope:
    #: None means unrestricted.
    company_ids: frozenset[int] | None
    home_company_id: int | None = None
    roles: frozenset[str] = frozenset()

    @property
    def unrestricted(self) -> bool:
        return self.company_ids is None

    def allows(self, company_id: int | None) -> bool:
        if self.company_ids is None:
            return True
        return company_id is not None and company_id in self.company_ids


UNRESTRICTED = Scope(None)
NOTHING = Scope(frozenset())


def company_subtree_select(root_id: int):
    """SELECT of the ids of a company and all companies below it (recursive CTE)."""
    from app.models.crm import Company

    # Anonymous name: one statement may hold several of these (OR over owners).
    base = select(Company.id).where(Company.id == root_id).cte(recursive=True)
    base = base.union_all(select(Company.id).where(Company.parent_id == base.c.id))
    return select(base.c.id)


def scope_for_user(user) -> Scope:
    from app.models.crm import Staff

    if user is None or not getattr(user, "is_authenticated", False):
        return NOTHING
    roles = frozenset(r.name for r in user.roles)
    if ADMIN in roles:
        return Scope(None, roles=roles)
    home = db.session.execute(
        select(Staff.company_id).where(Staff.user_id == user.id)
    ).scalar()
    if home is None:
        return Scope(frozenset(), roles=roles)
    ids = frozenset(db.session.execute(company_subtree_select(home)).scalars())
    return Scope(ids, home_company_id=home, roles=roles)


def current_request_user():
    """The user of this request: session login (screens) or JWT (API)."""
    from flask import current_app

    return current_app.appbuilder.sm.current_user


def current_scope() -> Scope:
    """The scope of this request's user, computed once per request."""
    if not has_request_context():
        return UNRESTRICTED
    # Cached on the request, not on `g`: an app context (and its `g`) can
    # outlive a request, e.g. in tests and CLI-driven requests.
    cache = request.environ
    if "pool.scope" not in cache:
        cache["pool.scope"] = scope_for_user(current_request_user())
    return cache["pool.scope"]


def scope_filter(column):
    """SQL condition restricting `column` (a company id) to the current scope,
    or None when unrestricted."""
    scope = current_scope()
    if scope.unrestricted:
        return None
    if scope.home_company_id is None:
        return column.is_(None) & column.isnot(None)  # always false
    return column.in_(company_subtree_select(scope.home_company_id))


def scope_condition(model):
    """SQL condition limiting `model` to the rows the current user may see, or
    None when unrestricted or when the model is not company data.

    A model names the column holding its company (`__scope_column__`), or the
    relation whose row's company it shares (`__scope_parent__`)."""
    from sqlalchemy import inspect as sa_inspect

    if current_scope().unrestricted:
        return None
    name = getattr(model, "__scope_column__", None)
    if name:
        return scope_filter(getattr(model, name))
    owners = getattr(model, "__scope_owners__", None)
    if owners:
        # Visible with its owner; documents of products are visible to all
        # who may read products (the view's permission decides).
        from sqlalchemy import and_, or_

        parts = [model.product_id.isnot(None)] if hasattr(model, "product_id") else []
        for owner in owners:
            rel = sa_inspect(model).relationships[owner]
            (fk,) = rel.local_columns
            owner_model = rel.mapper.class_
            inner = scope_condition(owner_model)
            column = getattr(model, fk.key)
            parts.append(and_(column.isnot(None), column.in_(
                select(owner_model.id).where(inner) if inner is not None
                else select(owner_model.id))))
        return or_(*parts)
    parent = getattr(model, "__scope_parent__", None)
    if parent:
        rel = sa_inspect(model).relationships[parent]
        (fk,) = rel.local_columns
        parent_model = rel.mapper.class_
        inner = scope_condition(parent_model)
        if inner is None:
            return None
        return getattr(model, fk.key).in_(select(parent_model.id).where(inner))
    return None
