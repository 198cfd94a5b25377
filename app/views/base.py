"""Base classes for screens and REST resources.

What they add to Flask-AppBuilder:
- one read/write permission vocabulary per resource, shared by a screen and
  its API (`can_read`, `can_write` on the resource name);
- rows limited to the caller's company scope, also for actions, related-field
  choices and API input (fab-notes: where `base_filters` alone leaked);
- refused changes (a DomainError from the session guard, a constraint) shown
  on the form field or answered 422 naming the field, with nothing written.
"""
from __future__ import annotations

import re
import sys
from datetime import timezone
from decimal import Decimal

from flask import abort, flash, request
from flask_appbuilder import ModelRestApi, ModelView, expose
from flask_appbuilder.api import expose as api_expose
from flask_appbuilder.api import protect, safe
from flask_appbuilder.api.convert import Model2SchemaConverter
from flask_appbuilder.exceptions import DatabaseException
from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.models.sqla import filters
from flask_appbuilder.models.sqla.filters import get_field_setup_query
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_appbuilder.security.decorators import has_access, permission_name
from flask_appbuilder.urltools import (
    get_filter_args,
    get_order_args,
    get_page_args,
    get_page_size_args,
)
from flask_babel import gettext, lazy_gettext
from markupsafe import escape
from marshmallow import ValidationError, fields
from sqlalchemy import Boolean, DateTime, Integer, Numeric, func, select
from sqlalchemy.exc import DataError, IntegrityError, StatementError
from sqlalchemy.orm import selectinload
from wtforms import BooleanField

from app.domain.errors import DomainError
from app.extensions import db
from app.security.scope import scope_condition
from app.views.fields import DecimalString, GermanDecimalField, format_number

VIEW_PERMISSIONS = {
    "list": "read", "show": "read", "download": "read",
    "add": "write", "edit": "write", "delete": "write",
    "action": "write", "action_post": "write",
}
API_PERMISSIONS = {
    "get": "read", "get_list": "read", "info": "read", "related": "read",
    "post": "write", "put": "write", "delete": "write",
}

MAX_ID = 2**31 - 1


def error_text(exc: DomainError) -> str:
    return gettext(exc.message, **exc.params)


def scoped_select(model):
    """SELECT of the rows of `model` the current user may see."""
    condition = scope_condition(model)
    stmt = select(model)
    return stmt if condition is None else stmt.where(condition)


def get_visible(model, pk):
    """The row with this id if the current user may see it, else None."""
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        return None
    if not 0 < pk <= MAX_ID:
        return None
    return db.session.execute(scoped_select(model).where(model.id == pk)).scalar()


class ScopeFilter(BaseFilter):
    """Row-level access: rows of companies in the caller's subtree.

    Rules (app/security/scope.py): Admin sees all rows; a staff login sees
    the rows of its company and the companies below it; anyone else none.
    The column name given is ignored: the model's `__scope_column__` counts.
    """

    name = "Scope"
    arg_name = "scope"

    def apply(self, query, value):
        condition = scope_condition(self.model)
        return query if condition is None else query.filter(condition)


SCOPED = [["id", ScopeFilter, lambda: None]]


def chosen_in_search(relation: str):
    """`search_form_query_rel_fields` for a relation to a large table: its
    select offers only the rows the list's filter names in the URL (visible
    to the caller), not every row (50,000 intermediaries: seconds and
    megabytes per page)."""
    pattern = re.compile(rf"_flt_\d+_{re.escape(relation)}")

    def chosen():
        values = [v for k, v in request.args.items(multi=True) if pattern.fullmatch(k)]
        return [int(v) for v in values if v.isdigit() and 0 < int(v) <= MAX_ID] or [0]
    return [["id", ScopeFilter, None], ["id", filters.FilterInFunction, chosen]]


# --- related fields in the REST API ----------------------------------------

class ScopedRelated(fields.Field):
    """A many-to-one given by id, loaded only from rows the caller may see.

    marshmallow-sqlalchemy's Related field creates a *new* row for an unknown
    id and loads foreign rows unchecked; this one refuses both with the same
    message, so the answer does not reveal whether a foreign row exists.
    """

    def __init__(self, model, **kwargs):
        self.model = model
        super().__init__(**kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else value.id

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, dict):
            if set(value) != {"id"}:
                raise ValidationError(gettext("Give the id of an existing record."))
            value = value["id"]
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise ValidationError(gettext("Give the id of an existing record."))
        obj = get_visible(self.model, value)
        if obj is None:
            raise ValidationError(gettext("No record with this id."))
        return obj


class UtcDateTime(fields.DateTime):
    """A timestamp column (stored as UTC without a zone) sent with its zone,
    as the document's `date-time` (RFC 3339) says: 2026-10-20T10:00:00+00:00."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return super()._serialize(value, attr, obj, **kwargs)


class IntRange:
    """A value an INTEGER column can hold (PostgreSQL: 32 bits; a larger one
    fails inside the database, answered 500 before)."""

    def __init__(self, low: int = -MAX_ID - 1, high: int = MAX_ID):
        self.low, self.high = low, high

    def __call__(self, value):
        if value is not None and not self.low <= value <= self.high:
            raise ValidationError(gettext("Give a whole number from %(low)s to %(high)s.",
                                          low=self.low, high=self.high))
        return value


class DecimalDigits:
    """A value a NUMERIC(precision, scale) column can hold."""

    def __init__(self, precision: int, scale: int):
        self.digits = precision - scale

    def __call__(self, value):
        if value is not None and abs(value) >= Decimal(10) ** self.digits:
            raise ValidationError(gettext("At most %(digits)s digits before the decimal point.",
                                          digits=self.digits))
        return value


def _copy_field(field, cls):
    """`field` as an instance of `cls`, with the same settings."""
    copy = cls.__new__(cls)
    copy.__dict__.update(field.__dict__)
    return copy


class ScopedSchemaConverter(Model2SchemaConverter):
    def _column2field(self, datamodel, column, nested=True, parent_schema_name=None):
        col = datamodel.list_columns.get(column.name)
        if not datamodel.is_relation(column.name) and col is not None \
                and isinstance(col.type, Numeric):
            places = col.type.scale or 0
            required = not col.nullable and col.default is None and col.server_default is None
            precision = col.type.precision
            validate = [DecimalDigits(precision, places)] if precision else []
            # the document names what is sent: a decimal string (a number is accepted too)
            whole = rf"\d{{1,{precision - places}}}" if precision else r"\d+"
            pattern = rf"^-?{whole}$" if not places else rf"^-?{whole}(\.\d{{1,{places}}})?$"
            return DecimalString(places=places, required=required, allow_none=col.nullable,
                                 validate=validate,
                                 metadata={"type": "string", "format": "decimal",
                                           "pattern": pattern})
        field = super()._column2field(datamodel, column, nested, parent_schema_name)
        if type(field) is fields.DateTime and col is not None \
                and isinstance(col.type, DateTime) and not col.type.timezone:
            field = _copy_field(field, UtcDateTime)
        if col is not None and (col.default is not None or col.server_default is not None):
            field.required = False  # interfaces.md: the rest have sensible defaults
        if datamodel.is_relation_many_to_one(column.name) or datamodel.is_enum(column.name):
            # FAB leaves these not nullable in the document, also where the column is
            if datamodel.is_nullable(column.name):
                field.allow_none = True
        elif col is not None and type(col.type) is Integer and not field.dump_only:
            limits = IntRange()
            field.validators.append(limits)
            field.metadata.update(minimum=limits.low, maximum=limits.high)
        return field

    def _column2relation(self, datamodel, column, nested=False, parent_schema_name=None):
        if not nested and datamodel.is_relation_many_to_one(column.name):
            model = datamodel.get_related_model(column.name)
            return ScopedRelated(
                model, required=not datamodel.is_nullable(column.name), allow_none=True,
            )
        return super()._column2relation(datamodel, column, nested, parent_schema_name)


class RefusalMixin:
    """For REST resources: a refused change rolls back and answers 422 with a
    message naming the field (interfaces.md, "Errors")."""

    def _refused(self, exc: Exception):
        db.session.rollback()
        if isinstance(exc, ValidationError):
            return self.response_422(message=exc.messages)
        if isinstance(exc, DomainError):
            return self.response_422(message={exc.field or "_schema": [error_text(exc)]})
        return self.response_422(message=integrity_message(exc))

    def response_500(self, message: str | None = None):
        """FAB's `safe` answers every exception with 500. A value the
        database cannot hold (an integer beyond its range in a list filter,
        text in an id: PostgreSQL's DataError; SQLite's OverflowError) is bad
        input: 400, as app/security/extranet.py `bad_value` does for screens."""
        exc = sys.exc_info()[1]
        if is_bad_value(exc):
            db.session.rollback()
            return self.response_400(message=gettext("Bad request"))
        return super().response_500(message=message)


#: SQLSTATEs of a value refused by PostgreSQL: class 22 (data exception:
#: out of range, invalid text for the type) and 42883 (no operator for the
#: value's type, e.g. a date compared with a number from a list filter)
BAD_VALUE_STATES = ("22", "42883")


def is_bad_value(exc) -> bool:
    """A request value the database refused (not a fault of the server)."""
    inner = getattr(exc, "exception", None)   # FAB's ApplyFilterException wraps it
    if isinstance(inner, Exception) and inner is not exc and is_bad_value(inner):
        return True
    if isinstance(exc, DataError | OverflowError):
        return True
    if isinstance(exc, StatementError):
        causes = (getattr(exc, "orig", None), exc.__cause__)
        if any(isinstance(c, LookupError | ValueError | TypeError | OverflowError)
               for c in causes):
            return True
        state = getattr(getattr(exc, "orig", None), "sqlstate", None)
        return isinstance(state, str) and state.startswith(BAD_VALUE_STATES)
    return False


def _int_pk(name: str):
    """FAB's PUT and DELETE with an integer id, as its GET: a text or
    negative id is not found (404) instead of reaching the database
    (PostgreSQL: 500) or answering a GET with 405."""
    def method(self, pk):
        return getattr(self, f"{name}_headless")(pk)
    method.__name__ = name
    method.__doc__ = getattr(ModelRestApi, name).__doc__
    return api_expose("/<int:pk>", methods=[name.upper()])(
        protect()(safe(permission_name(name)(method))))


class PoolModelRestApi(RefusalMixin, ModelRestApi):
    """A REST resource with scope, shared permissions and 422 for refused input."""

    method_permission_name = API_PERMISSIONS
    model2schemaconverter = ScopedSchemaConverter
    base_filters = SCOPED
    allow_browser_login = False
    #: columns that may be left out on POST; pre_add fills them in.
    optional_on_add: tuple = ()

    #: keys `pre_get`/`pre_get_list` add to a row: name -> its OpenAPI schema
    #: (the published document names them; it allows no others)
    extra_result_fields: dict = {}

    put = _int_pk("put")
    delete = _int_pk("delete")

    def add_apispec_components(self, api_spec):
        super().add_apispec_components(api_spec)
        if self.extra_result_fields:
            for name in (self.list_model_schema_name, self.show_model_schema_name):
                schema = api_spec.components.schemas.get(name)
                if schema is not None:
                    schema.setdefault("properties", {}).update(self.extra_result_fields)

    def _init_model_schemas(self):
        super()._init_model_schemas()
        for name in self.optional_on_add:
            self.add_model_schema.fields[name].required = False

    def _get_field_info(self, field, *args, **kwargs):
        ret = super()._get_field_info(field, *args, **kwargs)
        # FAB translates a missing description as gettext(""), the catalogue header.
        description = self.description_columns.get(field.name)
        ret["description"] = str(description) if description else ""
        return ret

    def post_headless(self):
        if not request.is_json or not isinstance(request.json, dict):
            return self.response_400(message="Request is not a JSON object")
        try:
            item = self.add_model_schema.load(request.json)
            self.pre_add(item)
            self.datamodel.add(item)
        except (ValidationError, DomainError, IntegrityError, DataError,
                DatabaseException) as exc:
            return self._refused(exc)
        self.post_add(item)
        return self.response(201, result=self.add_model_schema.dump(item),
                             id=self.datamodel.get_pk_value(item))

    def put_headless(self, pk):
        item = self.datamodel.get(pk, self._base_filters)
        if not request.is_json or not isinstance(request.json, dict):
            return self.response_400(message="Request is not a JSON object")
        if not item:
            return self.response_404()
        try:
            data = self._merge_update_item(item, request.json)
            item = self.edit_model_schema.load(data, instance=item)
            self.pre_update(item)
            self.datamodel.edit(item)
        except (ValidationError, DomainError, IntegrityError, DataError,
                DatabaseException) as exc:
            return self._refused(exc)
        self.post_update(item)
        return self.response(200, result=self.edit_model_schema.dump(item))

    def delete_headless(self, pk):
        item = self.datamodel.get(pk, self._base_filters)
        if not item:
            return self.response_404()
        try:
            self.pre_delete(item)
            self.datamodel.delete(item)
        except (DomainError, IntegrityError, DataError, DatabaseException) as exc:
            return self._refused(exc)
        self.post_delete(item)
        return self.response(200, message="OK")


# --- the published API document ------------------------------------------------------

HTTP_METHODS = ("get", "put", "post", "delete", "patch")
ERROR_TEXTS = {"400": "Bad request", "401": "Unauthorized", "403": "Forbidden",
               "404": "Not found", "422": "Could not process entity",
               "429": "Too many requests", "500": "Fatal error"}


def _error_response(description: str, message: dict) -> dict:
    return {"description": description, "content": {"application/json": {"schema": {
        "type": "object", "properties": {"message": message}}}}}


def _fix_fab_schema(node) -> None:
    """FAB's document against what FAB answers: list `ids` are the integer
    ids; `_info` gives add/edit columns as a list; menu children include
    the separator "-"; a POST answers the new integer id."""
    if isinstance(node, list):
        for item in node:
            _fix_fab_schema(item)
        return
    if not isinstance(node, dict):
        return
    props = node.get("properties")
    if isinstance(props, dict):
        ids = props.get("ids")
        if isinstance(ids, dict) and ids.get("items") == {"type": "string"}:
            ids["items"] = {"type": "integer"}
        if props.get("id") == {"type": "string"} and "result" in props:
            props["id"] = {"type": "integer"}
        for name in ("add_columns", "edit_columns"):
            if props.get(name) == {"type": "object"}:
                props[name] = {"type": "array", "items": {"type": "object"}}
        childs = props.get("childs")
        if isinstance(childs, dict) and childs.get("items") == {"type": "object"}:
            childs["items"] = {"oneOf": [{"type": "object"}, {"type": "string"}]}
    for value in node.values():
        _fix_fab_schema(value)


def complete_openapi(spec: dict, login_limited: bool = False) -> dict:
    """The OpenAPI document FAB builds, completed with the answers every
    operation can give (schemathesis checks them against it):
    - 401 without a valid token and 403 without the permission, on every
      operation that needs a login;
    - 404 on every operation with an id in its path (missing, not visible
      to the caller, or not an id);
    - 400 on every operation that takes parameters or a body (rison or JSON
      that cannot be parsed, a value the database cannot hold);
    - 400 and 422 with `message` as FAB sends it for refused input: one
      text, or field name -> messages;
    - 429 on the login while the rate limit applies.
    """
    responses = spec.setdefault("components", {}).setdefault("responses", {})
    text = {"type": "string"}
    for code, description in ERROR_TEXTS.items():
        responses.setdefault(code, _error_response(description, text))
    for code in ("400", "422"):
        responses[code] = _error_response(ERROR_TEXTS[code],
                                          {"oneOf": [text, {"type": "object"}]})
    for path, item in spec.get("paths", {}).items():
        for method, operation in item.items():
            if method not in HTTP_METHODS or not isinstance(operation, dict):
                continue
            answers = operation.setdefault("responses", {})
            codes = []
            if operation.get("security"):
                codes += ["401", "403"]
            if "{" in path:
                codes.append("404")
            if operation.get("parameters") or item.get("parameters") or \
                    operation.get("requestBody"):
                codes.append("400")
            if login_limited and path.endswith("/security/login"):
                codes.append("429")
            for code in codes:
                answers.setdefault(code, {"$ref": f"#/components/responses/{code}"})
    _fix_fab_schema(spec.get("paths", {}))
    return spec


def integrity_message(exc: Exception) -> str:
    text = str(getattr(exc, "orig", None) or exc.__cause__ or exc).lower()
    if "unique" in text or "duplicate" in text:
        return gettext("A record with this value already exists.")
    if "foreign key" in text:
        return gettext("This record is still referenced by other records.")
    return gettext("The change violates a database rule and was not saved.")


# --- screens -----------------------------------------------------------------

def _default_formatter(datamodel, col):
    column = datamodel.list_columns.get(col)
    if column is None:
        return None
    if isinstance(column.type, Numeric):
        places = column.type.scale or 0
        return lambda v: format_number(v, places)
    if datamodel.is_boolean(col):
        return lambda v: gettext("yes") if v else gettext("no")
    if datamodel.is_datetime(col):
        from flask_babel import format_datetime
        return lambda v: format_datetime(v, "medium")  # stored as UTC, shown in Berlin time
    if datamodel.is_date(col):
        from flask_babel import format_date
        return lambda v: format_date(v, "medium")
    return None


def _blank_none(fmt):
    def formatter(value):
        if value is None:
            return ""
        return fmt(value) if fmt else value
    return formatter


class PoolModelView(ModelView):
    """A screen with scope, shared permissions and field messages for refused input."""

    method_permission_name = VIEW_PERMISSIONS
    base_filters = SCOPED

    @expose("/download/<string:filename>")
    @has_access
    def download(self, filename):
        """FAB's download of file columns: we keep no files there (documents
        are served by DocumentsView, checked for permission and scope)."""
        abort(404)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        if isinstance(self.datamodel, PoolInterface):
            self.datamodel.count_cap = COUNT_CAP
        if getattr(self.datamodel.obj, "__history__", False) and \
                self.show_template == ModelView.show_template:
            # every record that keeps a history shows it under its fields
            self.show_template = "owner_show.html"
        # Empty values show as nothing, not as "None"; numbers, dates and
        # yes/no the German way.
        formatters = dict(self.formatters_columns)
        for col in set(self.list_columns) | set(self.show_columns):
            fmt = formatters.get(col) or _default_formatter(self.datamodel, col)
            formatters[col] = _blank_none(fmt)
        self.formatters_columns = formatters

    def _init_forms(self):
        # Numeric columns get a field that reads and writes German numbers.
        for attr, columns in (("add_form_extra_fields", self.add_columns),
                              ("edit_form_extra_fields", self.edit_columns)):
            extra = dict(getattr(self, attr) or {})
            for col in columns or ():
                column = self.datamodel.list_columns.get(col)
                if col in extra or column is None:
                    continue
                label = self.label_columns.get(col, col)
                description = self.description_columns.get(col, "")
                if isinstance(column.type, Numeric):
                    extra[col] = GermanDecimalField(label, places=column.type.scale or 0,
                                                    description=description)
                elif isinstance(column.type, Boolean):
                    # FAB marks NOT NULL booleans required: an unticked box would fail.
                    default = column.default.arg if column.default is not None else False
                    extra[col] = BooleanField(label, default=default, description=description)
            setattr(self, attr, extra)
        super()._init_forms()

    def prepare_form(self, form) -> None:
        """Hook: set per-request choices before the form validates or renders."""

    def _save(self, form, item, is_add: bool) -> bool:
        try:
            with db.session.no_autoflush:
                form.populate_obj(item)
                (self.pre_add if is_add else self.pre_update)(item)
            (self.datamodel.add if is_add else self.datamodel.edit)(item)
        except DomainError as exc:
            db.session.rollback()
            field = form._fields.get(exc.field or "")
            if field is not None:
                # FAB's form template passes field errors through gettext again,
                # which %-formats them: a literal "%" must be doubled.
                field.errors = list(field.errors) + [error_text(exc).replace("%", "%%")]
            else:
                flash(error_text(exc), "danger")
            return False
        except (IntegrityError, DatabaseException) as exc:
            db.session.rollback()
            flash(integrity_message(exc), "danger")
            return False
        (self.post_add if is_add else self.post_update)(item)
        flash(self.add_row_message if is_add else self.edit_row_message, "success")
        return True

    def _add(self):
        # FAB's own _add flashes a refused change and drops the form; we keep
        # the user's input and put the message on the field it concerns.
        get_filter_args(self._filters, disallow_if_not_in_search=False)
        exclude_cols = self._filters.get_relation_cols()
        form = self.add_form.refresh()
        self.prepare_form(form)
        if request.method == "POST":
            self._fill_form_exclude_cols(exclude_cols, form)
            if form.validate():
                self.process_form(form, True)
                if self._save(form, self.datamodel.obj(), True):
                    return None
        else:
            self.update_redirect()
        return self._get_add_widget(form=form, exclude_cols=exclude_cols)

    def _edit(self, pk):
        pages = get_page_args()
        page_sizes = get_page_size_args()
        orders = get_order_args()
        get_filter_args(self._filters, disallow_if_not_in_search=False)
        exclude_cols = self._filters.get_relation_cols()
        item = self.datamodel.get(pk, self._base_filters)
        if not item:
            abort(404)
        pk = self.datamodel.get_pk_value(item)
        if request.method == "POST":
            form = self.edit_form.refresh(request.form)
            self.prepare_form(form)
            self._fill_form_exclude_cols(exclude_cols, form)
            form._id = pk
            if form.validate():
                self.process_form(form, False)
                if self._save(form, item, False):
                    return None
                item = self.datamodel.get(pk, self._base_filters)
        else:
            form = self.edit_form.refresh(obj=item)
            self.prepare_form(form)
            self.prefill_form(form, pk)
            self.update_redirect()
        widgets = self._get_edit_widget(form=form, exclude_cols=exclude_cols)
        return self._get_related_views_widgets(
            item, filters={}, orders=orders, pages=pages, page_sizes=page_sizes,
            widgets=widgets)

    def _delete(self, pk):
        item = self.datamodel.get(pk, self._base_filters)
        if not item:
            abort(404)
        try:
            self.pre_delete(item)
            self.datamodel.delete(item)
        except DomainError as exc:
            db.session.rollback()
            flash(error_text(exc), "danger")
            return
        except (IntegrityError, DatabaseException) as exc:
            db.session.rollback()
            flash(integrity_message(exc), "danger")
            return
        self.post_delete(item)
        flash(self.delete_row_message, "success")
        self.update_redirect()

    # FAB's actions load rows without base_filters: load them through the scope.
    def action(self, name, pk):
        if self.datamodel.get(pk, self._base_filters) is None:
            abort(404)
        return super().action(name, pk)

    def action_post(self):
        pks = request.form.getlist("rowid")
        if any(self.datamodel.get(pk, self._base_filters) is None for pk in pks):
            abort(404)
        return super().action_post()


# --- list queries ------------------------------------------------------------------

def _like(field, pattern: str, prefix: bool = False):
    """Case-insensitive LIKE that an index can serve (migration 0015).
    SQLite: its own LIKE is case-insensitive (ASCII, as its lower()) and
    finds a prefix in a NOCASE index; FAB's ilike there is lower(x) LIKE
    lower(y), which no index serves. PostgreSQL: a prefix as lower(x) LIKE
    lower(y), found in a lower(x) text_pattern_ops index (the planner knows
    how many rows match); otherwise ILIKE, served by the trigram indexes."""
    if db.engine.dialect.name == "sqlite":
        return field.like(pattern, escape="\\")
    if prefix:
        return func.lower(field).like(func.lower(pattern), escape="\\")
    return field.ilike(pattern, escape="\\")


def _escape_like(value) -> str:
    return str(value).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _text_filter(base, make, negate=False, prefix=False):
    """FAB's text filter `base` with an escaped pattern and `_like`."""
    def apply(self, query, value):
        query, field = get_field_setup_query(query, self.model, self.column_name)
        condition = _like(field, make(_escape_like(value)), prefix)
        return query.filter(~condition if negate else condition)
    return type(base.__name__, (base,), {"apply": apply})


TEXT_FILTERS = {
    filters.FilterStartsWith: _text_filter(filters.FilterStartsWith, lambda v: v + "%",
                                           prefix=True),
    filters.FilterNotStartsWith: _text_filter(filters.FilterNotStartsWith, lambda v: v + "%",
                                              negate=True, prefix=True),
    filters.FilterEndsWith: _text_filter(filters.FilterEndsWith, lambda v: "%" + v),
    filters.FilterNotEndsWith: _text_filter(filters.FilterNotEndsWith, lambda v: "%" + v,
                                            negate=True),
    filters.FilterContains: _text_filter(filters.FilterContains, lambda v: "%" + v + "%"),
    filters.FilterNotContains: _text_filter(filters.FilterNotContains, lambda v: "%" + v + "%",
                                            negate=True),
}


class PoolFilterConverter(filters.SQLAFilterConverter):
    """FAB's filters, the text ones through `_like` (same names, same places
    in the list, so URLs and the API's `opr` stay as they were)."""

    conversion_table = tuple(
        (kind, [TEXT_FILTERS.get(f, f) for f in classes])
        for kind, classes in filters.SQLAFilterConverter.conversion_table)


#: Screens count the rows of a list only up to here ("more than 2,000", 80
#: pages), or ten pages beyond the one shown: a COUNT over millions of rows
#: costs more than the page itself (and up to a few thousand rows PostgreSQL
#: looks up a row's company by index rather than hashing every contract).
COUNT_CAP = 2_000


class AtLeast(int):
    """A row count that stopped at the cap: pages are computed from it, the
    list header shows "more than N"."""

    def __html__(self):
        return str(escape(gettext("more than %(count)s", count=format_number(self, 0))))


class PoolInterface(SQLAInterface):
    """FAB's interface, loading the named many-to-one relations with the list
    query (FAB loads them lazily, one query per row and relation); with
    `count_cap` (screens), the count stops at the cap."""

    filter_converter_class = PoolFilterConverter

    def __init__(self, obj, session=None, eager=()):
        super().__init__(obj, session)
        self.eager = eager
        self.count_cap = None

    def apply_all(self, query, *args, **kwargs):
        query = super().apply_all(query, *args, **kwargs)
        if self.eager:
            query = query.options(*(selectinload(getattr(self.obj, rel)) for rel in self.eager))
        return query

    def query(self, filters=None, order_column="", order_direction="", page=None,
              page_size=None, select_columns=None, outer_default_load=False):
        if not self.count_cap:
            return super().query(filters, order_column, order_direction, page, page_size,
                                 select_columns, outer_default_load)
        # FAB's query, with the count limited to the cap, or to ten pages
        # beyond the one shown
        query = self.session.query(self.obj)
        limit = max(self.count_cap, ((page or 0) + 10) * (page_size or 0))
        counted = self._apply_inner_all(query, filters, select_columns=select_columns,
                                        aliases_mapping={})
        count = counted.with_entities(self.obj.id).limit(limit + 1).count()
        if count > limit:
            count = AtLeast(limit)
        rows = self.apply_all(query, filters, order_column, order_direction, page, page_size,
                              select_columns, outer_default_load).all()
        return count, [getattr(r, self.obj.__name__, r) for r in rows]


def datamodel(model, eager=()):
    return PoolInterface(model, eager=eager)


__all__ = [
    "PoolModelView", "PoolModelRestApi", "ScopeFilter", "SCOPED", "datamodel",
    "lazy_gettext", "scoped_select", "get_visible",
]
