"""The company scope of the logged-in user: which companies' data it may see.

Rules (domain.md, "Core CRM"): data of a company is visible to staff of that
company and of its ancestors. So a staff login sees the subtree of its own
company; the Admin role sees everything; any other login sees no company data.
Outside a request (CLI, scheduler, imports) there is no restriction.

Principals (domain.md, "Who uses it"): an intermediary's login sees only its
own records (a model names the column in `__principal_columns__`) and the own
CRM of its broker firm (models marked `__own_crm__`); a customer's login sees
only its own contracts and the documents released to it. Everything else is
invisible to them, whatever the permission.

Reads use `company_subtree_select` inside SQL (list filters, API, lookups);
writes are checked against `current_scope()` in the session guard
(app/models/guards.py), so screens, actions and API cannot bypass it.

Restriction of processing (Art. 18 DSGVO, docs/data-protection.md): in a
request, a restricted customer, its applications, its contracts and their
documents are hidden from everyone, also from Admin (`restriction_condition`),
and its own login sees nothing. Its receipts, bookings and statements stay
(their scope goes through the contract's company only): the ledger and the
settlement still process them. The export and the restricted customers'
screen read with `include_restricted=True`.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import has_request_context, request
from sqlalchemy import and_, func, or_, select

from app.domain.access import ADMIN
from app.extensions import db


@dataclass(frozen=True)
class Scope:
    #: None means unrestricted.
    company_ids: frozenset[int] | None
    home_company_id: int | None = None
    roles: frozenset[str] = frozenset()
    #: the login is an intermediary's (extranet) or a customer's (folder)
    intermediary_id: int | None = None
    customer_id: int | None = None
    user_id: int | None = None
    #: a FORMER intermediary: its statements and bookings, read only
    read_only: bool = False
    #: an intermediary's combinations (it sees their contracts and applications)
    combination_ids: frozenset[int] = frozenset()
    #: the subtree holds every company (the staff of a pool that is the only
    #: root): reads need no company condition
    all_companies: bool = False

    @property
    def unrestricted(self) -> bool:
        return self.company_ids is None

    @property
    def extranet_only(self) -> bool:
        """An intermediary's or customer's login (linked or not): no intranet."""
        from app.domain.access import CUSTOMER, INTERMEDIARY

        return self.principal is not None or bool(
            self.roles and self.roles <= {INTERMEDIARY, CUSTOMER})

    @property
    def principal(self) -> str | None:
        if self.intermediary_id is not None:
            return "intermediary"
        if self.customer_id is not None:
            return "customer"
        return None

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
    from app.models.crm import Company, CompanyKind, Customer, Staff
    from app.models.intermediaries import CombinationMember, Intermediary

    if user is None or not getattr(user, "is_authenticated", False):
        return NOTHING
    roles = frozenset(r.name for r in user.roles)
    if ADMIN in roles:
        return Scope(None, roles=roles, user_id=user.id)
    home = db.session.execute(
        select(Staff.company_id).where(Staff.user_id == user.id)
    ).scalar()
    if home is not None:
        ids = frozenset(db.session.execute(company_subtree_select(home)).scalars())
        every = db.session.execute(select(func.count()).select_from(Company)).scalar()
        return Scope(ids, home_company_id=home, roles=roles, user_id=user.id,
                     all_companies=len(ids) == every)
    person = db.session.execute(
        select(Intermediary.id, Intermediary.company_id, Company.kind, Intermediary.status)
        .join(Company, Company.id == Intermediary.company_id)
        .where(Intermediary.user_id == user.id)).first()
    if person is not None:
        pid, firm, kind, status = person
        if getattr(status, "value", status) == "FORMER":
            # Brokers who left keep their statements and bookings (and sue
            # pools that cut them off), and nothing else.
            return Scope(frozenset(), roles=roles, intermediary_id=pid, user_id=user.id,
                         read_only=True)
        # Its combinations, once per request: as literal ids in the queries
        # an index serves them (a subquery in the OR scanned every contract).
        combinations = frozenset(db.session.execute(select(
            CombinationMember.combination_id).where(
            CombinationMember.intermediary_id == pid)).scalars())
        # The own CRM of its broker firm (never the pool's data).
        if getattr(kind, "value", kind) in (CompanyKind.BROKER_FIRM.value,
                                            CompanyKind.BROKER_GROUP.value):
            ids = frozenset(db.session.execute(company_subtree_select(firm)).scalars())
            return Scope(ids, home_company_id=firm, roles=roles, intermediary_id=pid,
                         user_id=user.id, combination_ids=combinations)
        return Scope(frozenset(), roles=roles, intermediary_id=pid, user_id=user.id,
                     combination_ids=combinations)
    customer = db.session.execute(
        select(Customer.id).where(Customer.user_id == user.id,
                                  Customer.restricted_on.is_(None))).scalar()
    if customer is not None:
        return Scope(frozenset(), roles=roles, customer_id=customer, user_id=user.id)
    return Scope(frozenset(), roles=roles, user_id=user.id)


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
    if scope.all_companies:
        # Every company is in the subtree: "in the subtree" is "has a
        # company". Over a million rows the subquery costs a hash of every
        # contract (a receipt's company is its contract's).
        return column.isnot(None) if column.expression.nullable else None
    return column.in_(company_subtree_select(scope.home_company_id))


def scope_condition(model, include_restricted: bool = False):
    """SQL condition limiting `model` to the rows the current user may see, or
    None when unrestricted or when the model is not company data.

    A model names the column holding its company (`__scope_column__`), or the
    relation whose row's company it shares (`__scope_parent__`). Rows of
    restricted customers are left out unless `include_restricted`."""
    condition = _scope_only(model)
    if include_restricted:
        return condition
    hidden = restriction_condition(model)
    if hidden is None:
        return condition
    return hidden if condition is None else and_(condition, hidden)


def _scope_only(model):
    scope = current_scope()
    if scope.unrestricted:
        return None
    if scope.principal:
        return principal_condition(model, scope)
    return company_condition(model)


#: up to this many restricted customers are put into the queries as literal
#: ids (served by the indexes); more: a subquery
RESTRICTED_LITERALS = 500


def restricted_customers():
    """The ids of the restricted customers (a list, looked up once per
    request), or a SELECT of them when there are many; None outside a request
    (CLI, scheduler, imports: no restriction)."""
    from app.models.crm import Customer

    if not has_request_context():
        return None
    cache = request.environ
    if "pool.restricted" not in cache:
        every = select(Customer.id).where(Customer.restricted_on.isnot(None))
        ids = db.session.execute(every.limit(RESTRICTED_LITERALS + 1)).scalars().all()
        cache["pool.restricted"] = sorted(ids) if len(ids) <= RESTRICTED_LITERALS else every
    return cache["pool.restricted"]


def restriction_condition(model):
    """SQL condition hiding the rows of restricted customers (Art. 18 DSGVO)
    from screens and API, or None. Hidden: the customer, its applications,
    its contracts and the documents of all three. Not hidden: receipts,
    bookings, missing rates and statements (the ledger and the settlement
    are the processing the law still requires)."""
    from app.models.contracts import Application, Contract
    from app.models.crm import Customer
    from app.models.documents import Document

    restricted = restricted_customers()
    if restricted is None or (isinstance(restricted, list) and not restricted):
        return None
    if model is Customer:
        return Customer.id.not_in(restricted)
    if model in (Application, Contract):
        return model.customer_id.not_in(restricted)
    if model is Document:
        return and_(
            or_(Document.customer_id.is_(None), Document.customer_id.not_in(restricted)),
            or_(Document.contract_id.is_(None), Document.contract_id.not_in(
                select(Contract.id).where(Contract.customer_id.in_(restricted)))),
            or_(Document.application_id.is_(None), Document.application_id.not_in(
                select(Application.id).where(Application.customer_id.in_(restricted)))))
    return None


def company_condition(model):
    """The company part of `scope_condition`."""
    from sqlalchemy import inspect as sa_inspect

    clause = getattr(model, "__scope_clause__", None)
    if clause is not None:
        return clause(company_condition)
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
            inner = _scope_only(owner_model)
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
        inner = _scope_only(parent_model)
        if inner is None:
            return None
        return getattr(model, fk.key).in_(select(parent_model.id).where(inner))
    return None


def principal_condition(model, scope: Scope):
    """What an intermediary's or a customer's login may see of `model`: its
    own rows, the own CRM of its broker firm, documents of what it sees
    (a customer: only those released to it, or its own uploads)."""
    from sqlalchemy import and_, false, or_
    from sqlalchemy import inspect as sa_inspect

    kind = scope.principal
    me = scope.intermediary_id if kind == "intermediary" else scope.customer_id
    if scope.read_only and not getattr(model, "__former_visible__", False):
        return false()
    if getattr(model, "__public__", False):
        return None                     # the product catalogue and its master data
    clause = getattr(model, "__scope_clause__", None)
    if clause is not None:
        return clause(lambda m: principal_condition(m, scope))
    parts = []
    if getattr(model, "__own_crm__", False) and scope.home_company_id is not None:
        own = company_condition(model)
        if own is not None:
            parts.append(own)
    column = getattr(model, "__principal_columns__", {}).get(kind)
    if column:
        parts.append(getattr(model, column) == me)
        if kind == "intermediary" and hasattr(model, "combination_id") and \
                scope.combination_ids:
            parts.append(model.combination_id.in_(sorted(scope.combination_ids)))
    owners = getattr(model, "__scope_owners__", None)
    if owners:
        owned = [model.product_id.isnot(None)] if hasattr(model, "product_id") else []
        for owner in owners:
            rel = sa_inspect(model).relationships[owner]
            (fk,) = rel.local_columns
            owner_model = rel.mapper.class_
            inner = principal_condition(owner_model, scope)
            owned.append(getattr(model, fk.key).in_(select(owner_model.id).where(inner)))
        visible = or_(*owned)
        if kind == "customer":
            visible = and_(visible, or_(model.released_to_customer.is_(True),
                                        model.created_by_fk == scope.user_id))
        parts.append(visible)
    parent = getattr(model, "__principal_parent__", None)
    if parent:
        rel = sa_inspect(model).relationships[parent]
        (fk,) = rel.local_columns
        parent_model = rel.mapper.class_
        parts.append(getattr(model, fk.key).in_(
            select(parent_model.id).where(principal_condition(parent_model, scope))))
    return or_(*parts) if parts else false()
