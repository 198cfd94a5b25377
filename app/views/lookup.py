"""Server-side search for related-field selects over large tables.

FAB renders every row of a related table into a <select> (4 s and 6 MB per
page with 100,000 customers) and its own AJAX select is broken in FAB 5. So
every relation in our forms is a `LookupField`: a select2 box that asks
`/lookup/<name>/?q=` for at most a page of matches, and that validates the
submitted id through the caller's scope (a tampered id is "not a valid choice").
"""
from __future__ import annotations

from dataclasses import dataclass, field

from flask import current_app, jsonify, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access_api
from flask_babel import gettext, lazy_gettext
from markupsafe import Markup, escape
from sqlalchemy import or_
from wtforms import Field
from wtforms.validators import ValidationError

from app.extensions import db
from app.views.base import get_visible, scoped_select


@dataclass(frozen=True)
class Lookup:
    model: type
    resource: str
    search: tuple = ()
    order: tuple = ()
    extra_filters: dict = field(default_factory=dict)


LOOKUPS: dict[str, Lookup] = {}


def register_lookup(name: str, model, resource: str, search, order, **extra_filters):
    LOOKUPS[name] = Lookup(model, resource, tuple(search), tuple(order), extra_filters)


def search_lookup(name: str, q: str, page: int = 0, params=None):
    """(rows, more) of the lookup `name` matching `q`, within the caller's scope."""
    lk = LOOKUPS[name]
    limit = current_app.config.get("POOL_LOOKUP_LIMIT", 20)
    stmt = scoped_select(lk.model)
    q = (q or "").strip()
    if q:
        pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        conditions = [col.ilike(pattern, escape="\\") for col in lk.search]
        if q.isdigit():
            conditions.append(lk.model.id == int(q) if int(q) < 2**31 else False)
        stmt = stmt.where(or_(*conditions))
    for param, (column, allowed) in lk.extra_filters.items():
        value = (params or {}).get(param)
        if value in allowed:
            stmt = stmt.where(column == value)
    stmt = stmt.order_by(*lk.order, lk.model.id).offset(page * limit).limit(limit + 1)
    rows = db.session.execute(stmt).scalars().all()
    return rows[:limit], len(rows) > limit


class LookupView(BaseView):
    route_base = "/lookup"
    class_permission_name = "Lookup"
    method_permission_name = {"search": "read"}
    default_view = "search"

    @expose("/<name>/")
    @has_access_api
    def search(self, name):
        lk = LOOKUPS.get(name)
        if lk is None or not self.appbuilder.sm.has_access("can_read", lk.resource):
            return jsonify(message="Not found"), 404
        try:
            page = max(0, min(int(request.args.get("page", 0)), 10_000))
        except ValueError:
            page = 0
        rows, more = search_lookup(name, request.args.get("q", ""), page, request.args)
        return jsonify(results=[{"id": r.id, "text": str(r)} for r in rows],
                       pagination={"more": more})


class LookupWidget:
    def __call__(self, field, **kwargs):
        obj = field.data
        option = ""
        if obj is not None:
            option = f'<option value="{obj.id}" selected>{escape(str(obj))}</option>'
        placeholder = escape(gettext("Type to search"))
        params = "".join(f"&{k}={escape(v)}" for k, v in field.lookup_params.items())
        return Markup(
            f'<select class="form-control pool-lookup" id="{field.id}" name="{field.name}" '
            f'data-url="{url_for("LookupView.search", name=field.lookup)}" '
            f'data-params="{params}" '
            f'data-placeholder="{placeholder}" '
            f'data-allow-clear="{str(field.allow_blank).lower()}">'
            f'<option value=""></option>{option}</select>'
        )


class LookupField(Field):
    """A many-to-one chosen through the lookup endpoint; `data` is the row."""

    widget = LookupWidget()

    def __init__(self, label=None, validators=None, lookup=None, allow_blank=True,
                 lookup_params=None, **kwargs):
        super().__init__(label, validators, **kwargs)
        self.lookup = lookup
        self.allow_blank = allow_blank
        self.lookup_params = lookup_params or {}
        self._raw_id = None

    def process_formdata(self, valuelist):
        self._raw_id = valuelist[0] if valuelist and valuelist[0] != "" else None
        self.data = None

    def pre_validate(self, form):
        if self._raw_id is None:
            if not self.allow_blank and self.data is None:
                raise ValidationError(gettext("This field is required."))
            return
        self.data = get_visible(LOOKUPS[self.lookup].model, self._raw_id)
        if self.data is None:
            raise ValidationError(gettext("Not a valid choice."))


def lookup_field(label, lookup, required=False, **params):
    return LookupField(lazy_gettext(label) if isinstance(label, str) else label,
                       lookup=lookup, allow_blank=not required, lookup_params=params)
