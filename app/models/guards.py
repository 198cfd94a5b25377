"""Rules that guard data, enforced in the session before every flush.

FAB screens, FAB actions, the REST API, services and imports all write
through the same SQLAlchemy session, so a rule checked here cannot be
bypassed by any of them. A violation raises a DomainError naming the field;
the web layer turns it into a form message or a 422 and rolls back.

Per row: required texts, the model's own `validate_row(session, is_new)`
(which calls app/domain), and the caller's company scope: a row with
`__scope_column__` belongs to that company; one with `__scope_parent__`
belongs to its parent's company.
"""
from __future__ import annotations

from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.interfaces import MANYTOONE

from app.domain.companies import check_parent
from app.domain.errors import OutOfScopeError, RequiredFieldError

_installed = False


def install_guards() -> None:
    global _installed
    if not _installed:
        event.listen(Session, "before_flush", _before_flush)
        event.listen(Session, "after_flush", _write_history)
        _installed = True


def _text(value):
    if value is None or value == "":
        return None
    if hasattr(value, "value"):  # enums
        return str(value.value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "__table__"):
        return str(value) or f"#{value.id}"
    return str(value)


#: kept by AuditMixin on the row itself
_AUDIT_FIELDS = frozenset(("created_on", "changed_on", "created_by_fk", "changed_by_fk"))


def _raw(value):
    """A column's value as stored, in JSON (the change log's raw_values, from
    which app/services/recompute.py puts a row back as it was)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, "name") and hasattr(value, "value"):   # enums: stored by name
        return value.name
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return None                       # files are not master data
    if isinstance(value, (dict, list)):
        return value
    return str(value)                     # Decimal


def _collect_history(session) -> None:
    """Note the field changes of history-keeping rows before they are flushed."""
    # Collected afresh on every flush: what a failed flush noted is dropped.
    pending = session.info["pool_history"] = []
    for action, objs in (("INSERT", session.new), ("UPDATE", session.dirty),
                         ("DELETE", session.deleted)):
        for obj in objs:
            if not getattr(obj, "__history__", False):
                continue
            changes, raw = {}, {}
            skip = _AUDIT_FIELDS | getattr(obj, "__history_exclude__", frozenset())
            mapper = inspect(type(obj))
            related = {rel.local_columns and next(iter(rel.local_columns)).key: rel
                       for rel in mapper.relationships
                       if rel.direction is MANYTOONE and len(rel.local_columns) == 1}
            for prop in mapper.column_attrs:
                if prop.key in skip:
                    continue
                if action == "DELETE":
                    getattr(obj, prop.key)        # loaded: the row's last values
                hist = inspect(obj).attrs[prop.key].history
                if action == "UPDATE" and not hist.has_changes():
                    continue
                old = hist.deleted[0] if hist.deleted else (
                    hist.unchanged[0] if action == "DELETE" and hist.unchanged else None)
                new = None if action == "DELETE" else getattr(obj, prop.key)
                if action == "INSERT" and new is None:
                    continue
                if _raw(old) != _raw(new):
                    raw[prop.columns[0].key] = [_raw(old), _raw(new)]
                if _text(old) != _text(new):
                    rel = related.get(prop.columns[0].key)
                    if rel is not None:  # a record: its name, not its id
                        with session.no_autoflush:
                            old = session.get(rel.mapper.class_, old) if old is not None else None
                            new = session.get(rel.mapper.class_, new) if new is not None else None
                    changes[prop.key] = [_text(old), _text(new)]
            for name in getattr(obj, "__history_collections__", ()):
                hist = inspect(obj).attrs[name].history   # e.g. a login's roles
                if hist.has_changes():
                    kept = list(hist.unchanged or ())
                    old = sorted(str(r) for r in kept + list(hist.deleted or ()))
                    new = sorted(str(r) for r in kept + list(hist.added or ()))
                    if old != new:
                        changes[name] = [", ".join(old) or None, ", ".join(new) or None]
            if changes or raw or action != "UPDATE":
                pending.append((obj, action, changes, raw, obj.id))


def _write_history(session, flush_context) -> None:
    from app.models.audit import ChangeLog
    from app.models.mixins import _now, _user_id

    pending = session.info.pop("pool_history", [])
    if not pending:
        return
    user = _user_id()
    now = _now()
    session.connection().execute(ChangeLog.__table__.insert(), [
        {"table_name": obj.__tablename__, "row_id": obj.id if obj.id is not None else old_id,
         "action": action, "changed_on": now, "user_id": user, "changes": changes,
         "raw_values": raw}
        for obj, action, changes, raw, old_id in pending])


def _changed(obj, attr: str) -> bool:
    return inspect(obj).attrs[attr].history.has_changes()


def _sync_fks(obj) -> None:
    """When only a many-to-one relationship was set, copy its id into the FK
    column, so that the checks see the value that will be written."""
    for rel in inspect(type(obj)).relationships:
        if rel.direction is not MANYTOONE or rel.viewonly or len(rel.local_columns) != 1:
            continue
        if not _changed(obj, rel.key):
            continue
        (column,) = rel.local_columns
        attr = inspect(type(obj)).get_property_by_column(column).key
        target = getattr(obj, rel.key)
        if target is None:
            setattr(obj, attr, None)
        elif target.id is not None:
            setattr(obj, attr, target.id)


_REQUIRED = {
    "Company": ("name", "kind"),
    "Staff": ("first_name", "last_name", "company_id"),
    "Customer": ("name", "company_id"),
    "Intermediary": ("name", "status", "company_id"),
    "IntermediaryRate": ("intermediary_id",),
    "IntermediaryLevel": ("intermediary_id", "valid_from"),
    "LineOfBusiness": ("code", "name"),
    "LiabilityModel": ("name", "months", "method"),
    "CareerLevel": ("rank", "name"),
    "Product": ("insurer_id", "line_of_business_id", "key", "name"),
    "ProductRate": ("career_level_id",),
    "Combination": ("name",),
    "Application": ("customer_id", "product_id"),
    "Contract": ("customer_id", "product_id", "start_date", "managing_company_id"),
    "Receipt": ("contract_id", "kind", "amount", "value_date"),
    "CombinationMember": ("intermediary_id",),
}


def _apply_defaults(obj) -> None:
    """Fill scalar column defaults of a new row now, so the rules see them
    (SQLAlchemy applies them only in the INSERT)."""
    mapper = inspect(type(obj))
    for prop in mapper.column_attrs:
        column = prop.columns[0]
        default = column.default
        if default is not None and default.is_scalar and getattr(obj, prop.key) is None:
            setattr(obj, prop.key, default.arg)


def _default_company(session, obj) -> None:
    """A new row of company data given without a company belongs to the
    caller's company, else to the pool (interfaces.md), whatever the path."""
    column = getattr(obj, "__scope_column__", None)
    if not column or column == "id" or getattr(obj, column) is not None:
        return
    relation = column.removesuffix("_id")
    if getattr(obj, relation, None) is None:
        from app.services.crm import default_company

        setattr(obj, relation, default_company())


def _required(obj) -> None:
    for field in _REQUIRED.get(type(obj).__name__, ()):
        value = getattr(obj, field)
        if value is None or (isinstance(value, str) and not value.strip()):
            raise RequiredFieldError(field.removesuffix("_id"))


def company_of(session, obj):
    """The company a scoped row belongs to, or None for unscoped master data."""
    column = getattr(obj, "__scope_column__", None)
    if column and column != "id":
        return getattr(obj, column)
    owners = getattr(obj, "__scope_owners__", None)
    if owners:
        for owner in owners:
            if getattr(obj, f"{owner}_id", None) is not None or getattr(obj, owner) is not None:
                target = getattr(obj, owner)
                if target is None:
                    rel = inspect(type(obj)).relationships[owner]
                    with session.no_autoflush:
                        target = session.get(rel.mapper.class_, getattr(obj, f"{owner}_id"))
                return company_of(session, target) if target is not None else None
        return None
    parent_rel = getattr(obj, "__scope_parent__", None)
    if parent_rel:
        parent = getattr(obj, parent_rel)
        if parent is None:
            rel = inspect(type(obj)).relationships[parent_rel]
            (column,) = rel.local_columns
            parent_id = getattr(obj, column.key)
            with session.no_autoflush:
                parent = session.get(rel.mapper.class_, parent_id) if parent_id else None
        return company_of(session, parent) if parent is not None else None
    return None


def _scoped(obj) -> bool:
    column = getattr(obj, "__scope_column__", None)
    return bool(column and column != "id") or bool(
        getattr(obj, "__scope_parent__", None) or getattr(obj, "__scope_owners__", None))


def _scope_field(obj) -> str:
    column = getattr(obj, "__scope_column__", None)
    if column and column != "id":
        return column.removesuffix("_id")
    if getattr(obj, "__scope_owners__", None):
        return obj.owner_name or "owner"
    return obj.__scope_parent__


def _before_flush(session: Session, flush_context, instances) -> None:
    from app.models.crm import Company, Staff
    from app.models.intermediaries import Combination, CombinationMember
    from app.security.scope import current_scope

    scope = current_scope()
    combinations = set()

    _guard_ledger(session)
    for obj in list(session.new) + list(session.dirty):
        if not session.is_modified(obj) and obj not in session.new:
            continue
        is_new = obj in session.new
        if is_new:
            _apply_defaults(obj)
            _default_company(session, obj)
        _sync_fks(obj)
        _required(obj)
        if scope.principal:
            _guard_principal(session, obj, is_new, scope)
        elif isinstance(obj, Company):
            _guard_company(session, obj, is_new, scope)
        elif _scoped(obj):
            field = _scope_field(obj)
            if not scope.allows(company_of(session, obj)):
                raise OutOfScopeError(field)  # reveals nothing about the foreign row
            column = getattr(obj, "__scope_column__", None)
            if not is_new and column and column != "id" and _changed(obj, column):
                old = inspect(obj).attrs[column].history.deleted
                if old and not scope.allows(old[0]):
                    raise OutOfScopeError(field)
        if hasattr(obj, "validate_row"):
            obj.validate_row(session, is_new)
        if isinstance(obj, Combination):
            combinations.add(obj)
        elif isinstance(obj, CombinationMember) and obj.combination is not None:
            combinations.add(obj.combination)

    for obj in session.deleted:
        if isinstance(obj, Staff) and obj.user is not None:
            # The login stays (it signed rows as created/changed by) but can no
            # longer be used.
            obj.user.active = False
        if scope.principal:
            if scope.read_only or not (getattr(obj, "__own_crm__", False) and _scoped(obj)
                    and scope.allows(company_of(session, obj))):
                raise OutOfScopeError(_scope_field(obj) if _scoped(obj) else "id")
        elif isinstance(obj, Company):
            if not scope.unrestricted and (
                obj.id == scope.home_company_id or not scope.allows(obj.id)
            ):
                raise OutOfScopeError("company")
        elif _scoped(obj) and not scope.allows(company_of(session, obj)):
            raise OutOfScopeError(_scope_field(obj))
        if isinstance(obj, CombinationMember) and obj.combination is not None \
                and obj.combination not in session.deleted:
            combinations.add(obj.combination)

    for combination in combinations:
        if combination not in session.deleted:
            combination.validate_members(session)

    _collect_history(session)


def _guard_ledger(session: Session) -> None:
    """Bookings and receipts are never changed or deleted (GoBD); only a
    booking's statement may be set, once."""
    from app.domain.errors import N_, InvalidValueError
    from app.models.ledger import Booking, Receipt, Statement

    for obj in session.deleted:
        if isinstance(obj, (Booking, Receipt, Statement)):
            raise InvalidValueError("booking", N_(
                "Bookings and receipts are never deleted; book a correction instead."))
    for obj in session.dirty:
        if isinstance(obj, Booking) and session.is_modified(obj):
            changed = {a.key for a in inspect(obj).attrs if a.history.has_changes()}
            old = inspect(obj).attrs.statement_id.history.deleted
            if changed - {"statement_id"} or (old and old[0] is not None):
                raise InvalidValueError("booking", N_(
                    "Bookings are never changed; book a correction instead."))


#: what a customer may change of its own record (its profile)
CUSTOMER_PROFILE = {"email", "phone", "street", "postcode", "city", "country", "changed_on",
                    "changed_by_fk"}


def _guard_principal(session: Session, obj, is_new: bool, scope) -> None:
    """An intermediary's or a customer's login writes only its own things:
    the own CRM of its broker firm, its applications, its messages, documents
    of what it may write; a customer only its profile and uploads to its
    broker. The row must be writable before the change and after it."""
    from app.domain.errors import N_, InvalidValueError
    from app.models.crm import Company, Customer
    from app.models.ledger import Statement, StatementPdf
    from app.models.messages import MessageRead

    if isinstance(obj, StatementPdf):
        # a credit note is stored on its first download, also by its
        # intermediary (former ones too): the system's write, not the user's
        with session.no_autoflush:
            statement = session.get(Statement, obj.statement_id)
        if is_new and statement is not None and statement.intermediary_id == (
                scope.intermediary_id):
            return
        raise OutOfScopeError("statement")
    if scope.read_only:
        raise InvalidValueError("intermediary", N_(
            "A former intermediary keeps read-only access to its statements and bookings."))
    if isinstance(obj, MessageRead):
        if obj.user_id != scope.user_id:
            raise OutOfScopeError("thread")
        return
    if isinstance(obj, Company):
        raise OutOfScopeError("company")
    if scope.principal == "customer" and isinstance(obj, Customer):
        changed = {a.key for a in inspect(obj).attrs if a.history.has_changes()}
        if is_new or obj.id != scope.customer_id or changed - CUSTOMER_PROFILE:
            raise OutOfScopeError("customer")
        return
    if not _principal_may_write(session, obj, scope):
        raise OutOfScopeError(_scope_field(obj) if _scoped(obj) else "id")
    if not is_new:
        # the row as it was: the same rules on the old values
        columns = inspect(type(obj)).columns.keys()
        old = {key: getattr(obj, key) for key in columns}
        for attr in inspect(obj).attrs:
            if attr.key in old and attr.history.deleted:
                old[attr.key] = attr.history.deleted[0]
        if not _principal_may_write(session, obj, scope, values=old):
            raise OutOfScopeError(_scope_field(obj) if _scoped(obj) else "id")


def _principal_may_write(session, obj, scope, values: dict | None = None) -> bool:
    """Whether the principal may write this row, judged on its current values
    or on `values` (the row as it was before the change)."""
    from app.models.contracts import Application, Contract
    from app.models.crm import Customer
    from app.models.documents import Document
    from app.models.messages import Message, MessageThread

    def v(name):
        return values[name] if values is not None else getattr(obj, name)

    def get(model, pk):
        if pk is None:
            return None
        with session.no_autoflush:
            return session.get(model, pk)

    me = scope.intermediary_id
    if getattr(obj, "__own_crm__", False) and scope.home_company_id is not None:
        if scope.allows(_company_by_columns(session, type(obj), v)):
            return True
    if me is not None:
        if isinstance(obj, Application):
            customer = get(Customer, v("customer_id"))
            return v("intermediary_id") == me and customer is not None and (
                customer.intermediary_id == me or scope.allows(customer.company_id))
        if isinstance(obj, MessageThread):
            return v("intermediary_id") == me
        if isinstance(obj, Message):
            thread = get(MessageThread, v("thread_id")) or obj.thread
            return not v("from_pool") and thread is not None and thread.intermediary_id == me
        if isinstance(obj, Document):
            owner = _document_owner(obj, v, get)
            if isinstance(owner, (Application, Contract, Customer)):
                return owner.intermediary_id == me or (
                    scope.home_company_id is not None
                    and scope.allows(company_of(session, owner)))
            if isinstance(owner, Message):
                return _principal_may_write(session, owner, scope)
            return False
        return False
    if isinstance(obj, Document):
        # a customer uploads to its broker: a document of its own record,
        # never released by itself
        return (v("customer_id") == scope.customer_id and not v("released_to_customer")
                and all(v(f"{o}_id") is None
                        for o in ("product", "application", "contract", "message")))
    return False


def _document_owner(document, v, get):
    from app.models.contracts import Application, Contract
    from app.models.crm import Customer
    from app.models.messages import Message

    for name, model in (("application", Application), ("contract", Contract),
                        ("customer", Customer), ("message", Message)):
        pk = v(f"{name}_id")
        if pk is not None:
            return get(model, pk)
        if document.__dict__.get(name) is not None:
            return document.__dict__[name]
    return None


def _company_by_columns(session, model, v):
    """The company of a row from its column values (current or old)."""
    column = getattr(model, "__scope_column__", None)
    if column:
        return v(column)
    parent = getattr(model, "__scope_parent__", None)
    if parent:
        rel = inspect(model).relationships[parent]
        (fk,) = rel.local_columns
        pk = v(fk.key)
        with session.no_autoflush:
            target = session.get(rel.mapper.class_, pk) if pk is not None else None
        return company_of(session, target) if target is not None else None
    return None


def _guard_company(session: Session, company, is_new: bool, scope) -> None:
    from app.models.crm import Company

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
