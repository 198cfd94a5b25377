"""The permission matrix: every route of the app, called by every kind of
login with ids of objects it must not see.

For each principal (an intermediary's extranet login, a customer's folder
login, the company admin of a broker firm) the test walks `app.url_map`
(every rule, every method but HEAD and OPTIONS; new routes are picked up by
themselves) and FAB's internals (`_info`, `related/<column>`, rison filters
with None values, actions), substitutes the URL converters with foreign ids
(tests/matrix_world.py), sends empty and hostile bodies (foreign ids in the
owner fields), and checks every answer:

- no marker of a foreign object in the body (also PDF text, ZIP members,
  headers), no link, redirect or JSON id pointing at a foreign object, no
  list or lookup listing one;
- a status of 200 (without foreign data), 302 (FAB refuses some requests by
  a redirect to the login, the start page or back; never to a foreign
  object), 400, 401, 403, 404, 405 or 422; a route reading one object
  answers no 2xx for a foreign id; a 500 is reported too;
- nothing written: database triggers log every INSERT, UPDATE and DELETE.
  A write that touches or links a foreign row, or that a refused request
  made, is a finding; a request that was accepted and wrote only own rows
  (the foreign owner fields it was sent ignored or overruled) is printed as
  a note.

Every finding is collected and reported at the end, leaks first. Skipped
are only the routes that take no ids and are harmless (static files,
language, login, logout); they are printed with the counts. Set
MATRIX_DUMP=<file> to get every call with its answer.

A second test: extranet logins get 403 on every intranet screen (views not
marked `extranet`), with their own ids too.
"""
from __future__ import annotations

import inspect
import io
import itertools
import json
import os
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlparse

import prison
import pytest
from flask import g
from flask_appbuilder.api import BaseApi, ModelRestApi
from flask_appbuilder.baseviews import BaseModelView
from sqlalchemy import Boolean, Date, DateTime, Enum, Integer, Numeric, String, Text
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect

from app.extensions import db
from tests.factories import api_token, ui_login
from tests.matrix_world import (
    KIND_TABLES,
    PRINCIPALS,
    PUBLIC_KINDS,
    TABLE_KINDS,
    WriteLog,
    build_matrix_world,
    clean_matrix_world,
    describe_write,
    install_write_log,
    markers_in,
    pdf_bytes,
    remove_write_log,
)

#: MATRIX_DUMP=<file>: every call with its status written there (for debugging)
DUMP = open(os.environ["MATRIX_DUMP"], "w") if os.environ.get("MATRIX_DUMP") else None  # noqa: SIM115
ALLOWED = {200, 302, 400, 401, 403, 404, 405, 422}
SKIPPED_ENDPOINTS = {"static", "appbuilder.static", "AuthDBView.login", "AuthDBView.logout",
                     "LocaleView.index"}
#: the matrix must not pass by testing nothing
MIN_ROUTE_PAIRS = 250
MIN_CALLS = 700
#: foreign ids per kind put into URLs (the world lists the telling ones first)
MAX_IDS = 4

#: words in a view's name, rule or function -> the kind of object its id is
KEYWORDS = [
    ("intermediary_level", "level"), ("intermediarylevel", "level"), ("hierarchy_entr", "level"),
    ("intermediary_rate", "rate"), ("intermediaryrate", "rate"), ("missing", "missing_rate"),
    ("thread", "thread"), ("message", "message"), ("attachment", "document"),
    ("document", "document"), ("upload", "document"), ("statement", "statement"),
    ("settlement", "run"), ("_run", "run"), ("booking", "booking"), ("account", "intermediary"),
    ("receipt", "receipt"), ("contract", "contract"), ("application", "application"),
    ("customer", "customer"), ("folder", "customer"), ("combination", "combination"),
    ("intermediar", "intermediary"), ("broker", "intermediary"), ("staff", "staff"),
    ("compan", "company"), ("password", "user"), ("user", "user"),
    ("catalogue", "product"), ("product", "product"),
]
RELATED_KINDS = {"message": ["thread"], "thread": ["message"]}
#: JSON keys naming a related object -> its kind
FIELD_KINDS = {
    "customer": "customer", "intermediary": "intermediary", "contract": "contract",
    "application": "application", "company": "company", "parent": "company",
    "managing_company": "company", "staff": "staff", "thread": "thread",
    "message": "message", "receipt": "receipt", "booking": "booking", "reverses": "booking",
    "statement": "statement", "run": "run", "combination": "combination",
    "group": "intermediary", "supervisor": "intermediary", "document": "document",
}
ID_NAMES = ("pk", "id")
#: fields that may not be given together (a variant with one drops the other)
EXCLUSIVE = {"combination": ("intermediary",), "intermediary": ("combination",)}


# --- what a route is about --------------------------------------------------------

def views_by_blueprint(app) -> dict:
    return {v.blueprint.name: v for v in app.appbuilder.baseviews
            if getattr(v, "blueprint", None) is not None}


def kind_of_table(table: str) -> str:
    if table in TABLE_KINDS:
        return TABLE_KINDS[table]
    if table in PUBLIC_KINDS:
        return table
    return f"fab:{table}"


def keyword_kinds(text_: str) -> list[str]:
    text_ = text_.lower()
    kinds: list[str] = []
    for word, kind in KEYWORDS:
        if word in text_ and kind not in kinds:
            kinds.append(kind)
    for kind in list(kinds):
        for other in RELATED_KINDS.get(kind, ()):
            if other not in kinds:
                kinds.append(other)
    return kinds


def _model_kinds_by_class() -> dict[str, str]:
    from flask_appbuilder import Model

    out = {}
    for mapper in Model.registry.mappers:
        cls = mapper.class_
        table = getattr(cls, "__tablename__", None)
        if table:
            out[cls.__name__] = kind_of_table(table)
    return out


@dataclass
class Arg:
    """How to fill one URL converter."""
    name: str
    kinds: list[str]            # for ids
    strict: bool                # the id certainly is a row of that kind
    values: list | None = None  # fixed values instead of ids
    is_int: bool = False


@dataclass
class Route:
    rule: object
    view: object
    args: list[Arg] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    model_kind: str | None = None

    @property
    def endpoint(self):
        return self.rule.endpoint

    @property
    def func_name(self):
        return self.endpoint.rsplit(".", 1)[-1]

    @property
    def api(self):
        return self.rule.rule.startswith("/api/")


def source_kinds(app, endpoint: str, classes: dict[str, str]) -> list[str]:
    """Kinds of the rows a view function loads by `pk` (read from its source)."""
    func = app.view_functions.get(endpoint)
    if func is None:
        return []
    try:
        src = inspect.getsource(inspect.unwrap(func))
    except (OSError, TypeError):
        return []
    kinds = []
    for name in re.findall(r"(?:get_visible|\.get)\(\s*(\w+)\s*,\s*(?:int\()?pk\b", src):
        if name in classes and classes[name] not in kinds:
            kinds.append(classes[name])
    if not kinds:
        for name in re.findall(r"(\w+)\(\s*(?:[\w.()]+,\s*)?pk\s*[,)]", src):
            for kind in keyword_kinds(name):
                if kind not in kinds:
                    kinds.append(kind)
    return kinds


def analyse(app, rule, views, classes, lookups) -> Route:
    blueprint = rule.endpoint.rsplit(".", 1)[0]
    view = views.get(blueprint)
    route = Route(rule, view)
    datamodel = getattr(view, "datamodel", None)
    if datamodel is not None:
        route.model_kind = kind_of_table(datamodel.obj.__tablename__)
    name_text = f"{blueprint} {rule.rule} {route.func_name}"
    route.kinds = keyword_kinds(name_text)
    loaded = source_kinds(app, rule.endpoint, classes)
    for conv_name, conv in rule._converters.items():
        is_int = type(conv).__name__ in ("IntegerConverter", "NumberConverter")
        arg = Arg(conv_name, [], False, is_int=is_int)
        lname = conv_name.lower()
        if lname in ID_NAMES:
            crud = route.func_name in ("get", "put", "delete", "show", "edit", "action")
            if route.model_kind and crud:
                arg.kinds, arg.strict = [route.model_kind], True
            elif loaded:
                arg.kinds, arg.strict = loaded, len(loaded) == 1
            elif route.model_kind:
                arg.kinds, arg.strict = [route.model_kind], True
            else:
                arg.kinds = route.kinds
        elif lname.endswith(("_id", "_pk")):
            arg.kinds = keyword_kinds(lname[:-3]) or route.kinds
            arg.strict = len(arg.kinds) == 1
        elif lname == "owner":
            arg.values = ["customer", "application", "contract", "message", "product"]
        elif lname == "name" and route.func_name == "search" and "lookup" in blueprint.lower():
            arg.values = sorted(lookups) + ["nosuch"]
        elif lname == "name" and "/action/" in rule.rule:
            arg.values = sorted(getattr(view, "actions", {}) or {}) or ["muldelete"]
        elif lname == "kind":
            arg.values = ["csv", "json", "xlsx", "pdfs", "sepa", "pdf"]
        elif lname == "filename":
            arg.values = ["__files__"]
        elif lname == "job_id":
            arg.values = ["__job__", "0"]
        elif lname == "version":
            arg.values = ["v1"]
        elif lname in ("column_name", "col", "column"):
            arg.values = ["__relations__"]
        elif is_int:
            arg.kinds = keyword_kinds(lname) or route.kinds
        else:
            arg.values = ["probe", "1"]
        route.args.append(arg)
    return route


def classify_screen(view) -> str:
    """'api', 'fab' (FAB's own views), 'extranet', 'open' (index, lookup) or
    'intranet' (an app screen an extranet login must not use)."""
    if view is None:
        return "none"
    if isinstance(view, BaseApi):
        return "api"
    if not type(view).__module__.startswith("app."):
        return "fab"
    if getattr(view, "extranet", False):
        return "extranet"
    if type(view).__name__ in ("PoolIndexView", "LookupView"):
        return "open"
    return "intranet"


# --- the probes ---------------------------------------------------------------------

@dataclass
class Call:
    route: str
    method: str
    url: str
    api: bool
    body_kind: str | None = None     # json | form | multipart
    body: object = None
    strict: str | None = None        # the foreign kind whose id is in the URL
    lookup_kind: str | None = None
    list_kind: str | None = None


def _scalar(value):
    return value if not isinstance(value, (list, dict)) else None


class Prober:
    def __init__(self, app, world, principal):
        self.app = app
        self.world = world
        self.principal = principal
        self.foreign = world.foreign(principal)
        self.hidden = world.foreign(principal, hidden=True)
        self.markers = world.markers(principal)
        self.own = world.own[principal]
        self.views = views_by_blueprint(app)
        self.classes = _model_kinds_by_class()
        from app.views.lookup import LOOKUPS

        self.lookups = LOOKUPS
        self.adapter = app.url_map.bind("localhost")
        self.routes = {}
        self.findings: dict = {}
        self.notes: dict = {}
        self.statuses: Counter = Counter()
        self.calls = 0
        self.saved = 0
        self.pairs: set = set()
        self.skipped: list[str] = []
        self.fab_ids = {}
        self.seq = itertools.count(1)

    # ids --------------------------------------------------------------------
    def fab_id(self, table):
        if table not in self.fab_ids:
            from sqlalchemy import text

            self.fab_ids[table] = db.session.execute(
                text(f'SELECT MIN(id) FROM "{table}"')).scalar() or 1
            db.session.rollback()
        return self.fab_ids[table]

    def ids(self, kinds) -> list[tuple[int, str | None]]:
        """(id, its kind if that is a foreign or FAB kind) for these kinds; no
        kinds: the foreign ids of every kind (up to MAX_IDS each)."""
        out: list[tuple[int, str | None]] = []
        if not kinds:
            kinds = list(self.foreign)
        for kind in kinds:
            if kind in self.foreign:
                out += [(i, kind) for i in self.foreign[kind][:MAX_IDS]]
            elif kind in PUBLIC_KINDS:
                out.append((self.world.public[kind], None))
            elif kind.startswith("fab:"):
                out.append((self.fab_id(kind[4:]), kind))
        seen, unique = set(), []
        for pk, kind in out:
            if (pk, kind) not in seen:
                seen.add((pk, kind))
                unique.append((pk, kind))
        return unique

    def first(self, kind):
        ids = self.foreign.get(kind) or []
        return ids[0] if ids else None

    # bodies -----------------------------------------------------------------
    def owner_values(self, route_ids=()) -> dict:
        f = self.first
        values = {k: f(k) for k in ("customer", "intermediary", "contract", "application",
                                    "company", "staff", "thread", "message", "statement",
                                    "receipt", "booking", "combination", "document", "user",
                                    "run")}
        values.update({
            "parent": f("company"), "group": f("intermediary"), "supervisor": f("intermediary"),
            "managing_company": f("company"), "reverses": f("booking"),
            "customer_id": f("customer"), "intermediary_id": f("intermediary"),
            "contract_id": f("contract"), "thread_id": f("thread"),
            "owner": "customer", "owner_id": f("customer"),
            "about": f"contract:{f('contract')}",
            "product": self.world.public["product"], "career_level": self.world.public[
                "career_level"], "to": "ACCEPTED", "date": "2026-10-15", "reason": "probe",
            "amount": "1.00", "month": "2026-10", "period": "2026-10", "final": True,
            "confirm": "1", "username": "matrix_probe_login", "password": "Probe-password-123",
            "role": "Company admin", "body": "probe body", "subject": "probe subject",
            "name": "probe name", "policy_number": "PROBE-1", "kind": "AP",
            "value_date": "2026-10-05", "start_date": "2026-01-01", "premium": "1.00",
            "members": [{"intermediary": f("intermediary"), "share": "100"}],
        })
        if route_ids:
            values.update(pk=route_ids[0], id=route_ids[0], rowid=list(route_ids))
        return {k: v for k, v in values.items() if v is not None}

    @staticmethod
    def as_form(values: dict) -> dict:
        form = {}
        for k, v in values.items():
            if v is None:
                form[k] = ""
            elif isinstance(v, bool):
                form[k] = "1" if v else ""
            elif isinstance(v, list):
                if all(not isinstance(x, dict) for x in v):
                    form[k] = [str(x) for x in v]
            else:
                form[k] = str(v)
        return form

    def field_value(self, model, name, datamodel):
        """A valid value for a field of `model` (relations: own or public ids)."""
        if datamodel is not None and datamodel.is_relation(name):
            related = datamodel.get_related_model(name)
            kind = kind_of_table(related.__tablename__)
            if kind in PUBLIC_KINDS:
                return self.world.public[kind]
            if kind == "company" and name == "insurer":
                return self.world.public["insurer"]
            return self.own.get(kind)
        column = model.__table__.columns.get(name) if model is not None else None
        if column is None:
            return "probe"
        if column.nullable and column.default is None and name not in ("term_months",):
            return None
        ctype = column.type
        if isinstance(ctype, Enum):
            return list(ctype.enums)[0]
        if isinstance(ctype, Boolean):
            return False
        if isinstance(ctype, (Date, DateTime)):
            return "2026-10-01"
        if isinstance(ctype, Numeric):
            return "1"          # read the same way by the API and the German forms
        if isinstance(ctype, Integer):
            return 12
        if isinstance(ctype, (String, Text)):
            # unique, so that one accepted write does not make the next fail
            length = getattr(ctype, "length", None) or 20
            return f"p{next(self.seq)}"[:length]
        return None

    def schema_variants(self, model, datamodel, names) -> tuple[dict, list[dict]]:
        """(a body of valid values, bodies with exactly one owner field
        foreign: one per relation field and foreign row)."""
        base = {}
        for name in names:
            value = self.field_value(model, name, datamodel)
            if value is not None:
                base[name] = value
        variants = []
        for name in names:
            if datamodel is None or not datamodel.is_relation(name):
                continue
            kind = kind_of_table(datamodel.get_related_model(name).__tablename__)
            for pk in self.foreign.get(kind, [])[:2]:
                variant = {**base, name: pk}
                for other in EXCLUSIVE.get(name, ()):
                    variant[other] = None
                variants.append(variant)
        return base, variants

    # calls ------------------------------------------------------------------
    def build_urls(self, route: Route) -> list[tuple[str, str | None, list[int]]]:
        """(url, strict kind, ids used) for every combination of converter values."""
        combos: list[tuple[dict, str | None, list[int]]] = [({}, None, [])]
        for arg in route.args:
            options: list[tuple[object, str | None, int | None]] = []
            if arg.values is not None:
                for value in arg.values:
                    if value == "__files__":
                        options += [(n, None, None) for n in self.world.file_names[:2]]
                    elif value == "__job__":
                        options.append((self.world.public["job"], None, None))
                    elif value == "__relations__":
                        dm = getattr(route.view, "datamodel", None)
                        cols = relation_columns(dm)
                        options += [(c, None, None) for c in (cols or ["customer"])]
                    else:
                        options.append((value, None, None))
            else:
                for pk, kind in self.ids(arg.kinds):
                    strict = kind if (arg.strict and kind and kind in self.foreign) or (
                        arg.strict and kind and kind.startswith("fab:")) else None
                    options.append((pk, strict, pk))
            new = []
            for values, strict, used in combos:
                for value, s, pk in options:
                    new.append(({**values, arg.name: value}, strict or s,
                                used + ([pk] if pk is not None else [])))
            combos = new
        # owner/<pk>: the id of the named owner's kind
        if any(a.name == "owner" for a in route.args):
            fixed = []
            for values, _strict, _used in combos:
                owner = values["owner"]
                pk_arg = next((a.name for a in route.args if a.name in ID_NAMES), None)
                if pk_arg is None:
                    fixed.append((values, None, []))
                    continue
                for pk, kind in self.ids([owner]):
                    fixed.append(({**values, pk_arg: pk}, kind if kind in self.foreign
                                  else None, [pk]))
            combos = [c for i, c in enumerate(fixed) if c not in fixed[:i]]
        out = []
        for values, strict, used in combos:
            try:
                built = route.rule.build(values, append_unknown=False)
            except Exception:  # noqa: BLE001
                built = None
            if built is None:
                self.report(Call(route.rule.rule, "-", route.rule.rule, route.api),
                            "cannot build a URL", str(values))
                continue
            url = built[1] if isinstance(built, tuple) else built
            out.append((url, strict, used))
        return out

    def calls_for(self, route: Route) -> list[Call]:
        rule = route.rule
        methods = sorted(m for m in rule.methods if m not in ("HEAD", "OPTIONS"))
        urls = self.build_urls(route)
        calls: list[Call] = []
        view = route.view
        fn = route.func_name
        is_model_api = isinstance(view, ModelRestApi)
        is_model_view = isinstance(view, BaseModelView) and not is_model_api
        model = getattr(getattr(view, "datamodel", None), "obj", None)
        datamodel = getattr(view, "datamodel", None)
        route_kind_ids = [pk for pk, _k in self.ids(
            [route.model_kind] if route.model_kind else route.kinds)][:3]
        owner = self.owner_values(route_kind_ids)
        has_ids = bool(route.args)
        crud = fn in ("add", "edit", "delete", "post", "put", "action", "action_post")
        for method in methods:
            for url, strict, _used in urls:
                base = dict(route=rule.rule, method=method, api=route.api, strict=strict)
                if method in ("GET", "DELETE"):
                    calls.append(Call(url=url, **base))
                    if method == "GET" and (not has_ids or self.is_lookup(route)):
                        calls += self.query_variants(route, url, owner, base)
                    continue
                bodies: list[tuple[str, object]] = []
                if route.api:
                    bodies += [("json", {}), ("json", owner)]
                    if not crud:
                        bodies.append(("multipart", {**self.as_form(owner), "file": (
                            pdf_bytes("probe"), "probe.pdf")}))
                    if is_model_api and fn in ("post", "put"):
                        schema = view.add_model_schema if fn == "post" else \
                            view.edit_model_schema
                        names = list(getattr(schema, "fields", {}) or {})
                        valid, variants = self.schema_variants(model, datamodel, names)
                        bodies += [("json", v) for v in variants]
                        if fn == "put":
                            bodies.append(("json", valid))
                else:
                    form = self.as_form(owner)
                    bodies += [("form", {}), ("form", form)]
                    if not crud:
                        bodies.append(("multipart", {**form, "file": (pdf_bytes("probe"),
                                                                      "probe.pdf")}))
                    if is_model_view and fn in ("add", "edit"):
                        names = list(view.add_columns if fn == "add" else view.edit_columns)
                        valid, variants = self.schema_variants(model, datamodel, names)
                        bodies += [("form", self.as_form(v)) for v in variants]
                        if fn == "edit":
                            bodies.append(("form", self.as_form(valid)))
                    if fn == "action_post":
                        for action in sorted(getattr(view, "actions", {}) or {}) or [
                                "muldelete"]:
                            bodies.append(("form", {"action": action, "rowid": [
                                str(pk) for pk in route_kind_ids]}))
                if not has_ids:
                    query = urlencode({k: v for k, v in owner.items()
                                       if _scalar(v) is not None and k != "q"})
                    target = f"{url}?{query}"
                else:
                    target = url
                for body_kind, body in bodies:
                    calls.append(Call(url=target, body_kind=body_kind, body=body, **base))
            # an own row moved to a foreign owner (edit / put with one foreign field)
            if method in ("POST", "PUT") and fn in ("edit", "put") and route.model_kind \
                    and self.own.get(route.model_kind) and (is_model_view or is_model_api):
                own_id = self.own[route.model_kind]
                try:
                    own_url = route.rule.build({route.args[0].name: own_id},
                                               append_unknown=False)[1]
                except Exception:  # noqa: BLE001
                    continue
                if is_model_api:
                    names = list(view.edit_model_schema.fields)
                    _valid, variants = self.schema_variants(model, datamodel, names)
                    calls += [Call(route=rule.rule, method=method, url=own_url, api=True,
                                   body_kind="json", body=v) for v in variants]
                else:
                    _valid, variants = self.schema_variants(model, datamodel,
                                                            list(view.edit_columns))
                    calls += [Call(route=rule.rule, method=method, url=own_url, api=False,
                                   body_kind="form", body=self.as_form(v)) for v in variants]
        return calls

    def query_variants(self, route, url, owner, base) -> list[Call]:
        calls = []
        view = route.view
        scalars = {k: v for k, v in owner.items() if _scalar(v) is not None}
        if route.api:
            if route.func_name == "get_list" and isinstance(view, ModelRestApi):
                calls += [Call(url=f"{url}?q={q}", list_kind=route.model_kind, **base)
                          for q in self.rison_filters(view)]
                calls.append(Call(url=url, list_kind=route.model_kind, **base))
            elif route.func_name == "info" and isinstance(view, ModelRestApi):
                rels = relation_columns(view.datamodel)
                page = {r: {"page": 0, "page_size": 100} for r in rels}
                q = prison.dumps({"keys": ["add_columns", "edit_columns", "filters",
                                           "permissions"], "add_columns": page,
                                  "edit_columns": page})
                calls.append(Call(url=f"{url}?q={q}", **base))
            else:
                calls.append(Call(url=f"{url}?{urlencode(scalars)}", **base))
            return calls
        if self.is_lookup(route):
            lk = self.lookups.get(url.rstrip("/").rsplit("/", 1)[-1])
            kind = kind_of_table(lk.model.__tablename__) if lk else None
            qs = ["", "GEHEIM", "geheim"] + [str(pk) for pk in self.foreign.get(kind, [])]
            for q in qs:
                calls.append(Call(url=f"{url}?{urlencode({'q': q})}", lookup_kind=kind,
                                  **base))
            for param in ("status", "kind"):
                calls.append(Call(url=f"{url}?{urlencode({'q': '', param: 'ACTIVE'})}",
                                  lookup_kind=kind, **base))
            return calls
        if route.func_name == "list" and isinstance(view, BaseModelView):
            dm = view.datamodel
            for col in getattr(view, "search_columns", []) or []:
                if dm.is_relation(col):
                    kind = kind_of_table(dm.get_related_model(col).__tablename__)
                    for value in [""] + [str(pk) for pk in self.foreign.get(kind, [])[:2]]:
                        calls.append(Call(url=f"{url}?_flt_0_{col}={value}", **base))
                else:
                    column = dm.obj.__table__.columns.get(col)
                    value = "GEHEIM"
                    if column is not None and isinstance(column.type, Enum):
                        value = list(column.type.enums)[0]
                    elif column is not None and not isinstance(column.type, (String, Text)):
                        continue
                    calls.append(Call(url=f"{url}?_flt_0_{col}={value}", **base))
            calls.append(Call(url=f"{url}?psize_{route.endpoint.split('.')[0]}=100", **base))
        calls.append(Call(url=f"{url}?{urlencode({**scalars, 'q': 'GEHEIM'})}", **base))
        return calls

    @staticmethod
    def is_lookup(route) -> bool:
        return route.func_name == "search" and "lookup" in route.endpoint.lower()

    def rison_filters(self, api) -> list[str]:
        out = []
        dm = api.datamodel
        for col in list(getattr(api, "search_columns", []) or []):
            if dm.is_relation(col):
                kind = kind_of_table(dm.get_related_model(col).__tablename__)
                out.append(prison.dumps({"filters": [{"col": col, "opr": "rel_o_m",
                                                      "value": None}]}))
                for pk in self.foreign.get(kind, [])[:1]:
                    out.append(prison.dumps({"filters": [{"col": col, "opr": "rel_o_m",
                                                          "value": pk}]}))
            else:
                column = dm.obj.__table__.columns.get(col)
                if column is not None and isinstance(column.type, (String, Text)) and not \
                        isinstance(column.type, Enum):
                    out.append(prison.dumps({"filters": [{"col": col, "opr": "ct",
                                                          "value": "GEHEIM"}]}))
        for pk in self.foreign.get(api_kind(api), [])[:1]:
            out.append(prison.dumps({"filters": [{"col": "id", "opr": "eq", "value": pk}]}))
        out.append(prison.dumps({"page_size": 100, "page": 0}))
        return out

    def extra_calls(self) -> list[Call]:
        """FAB internals that need not be routes: related/<column>, actions on
        every model view, a big page."""
        calls = []
        for view in self.app.appbuilder.baseviews:
            dm = getattr(view, "datamodel", None)
            if dm is None:
                continue
            kind = kind_of_table(dm.obj.__tablename__)
            ids = [str(pk) for pk in self.foreign.get(kind, [])]
            if isinstance(view, ModelRestApi):
                base = f"/api/v1/{view.resource_name}"
                for col in relation_columns(dm):
                    calls.append(Call("(extra) related", "GET", f"{base}/related/{col}", True))
                    calls.append(Call("(extra) related", "GET",
                                      f"{base}/related/{col}?q=(filter:GEHEIM)", True))
            elif isinstance(view, BaseModelView) and ids:
                base = view.route_base
                for action in sorted(getattr(view, "actions", {}) or {}) or ["muldelete"]:
                    calls.append(Call("(extra) action", "POST", f"{base}/action/{action}/"
                                      f"{ids[0]}", False, "form", {}))
                    calls.append(Call("(extra) action_post", "POST", f"{base}/action_post",
                                      False, "form", {"action": action, "rowid": ids}))
        return calls

    # one call ---------------------------------------------------------------
    def call(self, client, headers, c: Call):
        g.__dict__.clear()      # a request of its own: no user cached from the last one
        kwargs = {"headers": headers if c.api else None}
        if c.body_kind == "json":
            kwargs["json"] = c.body
        elif c.body_kind == "form":
            kwargs["data"] = c.body
        elif c.body_kind == "multipart":
            data = {}
            for k, v in c.body.items():
                data[k] = (io.BytesIO(v[0]), v[1]) if isinstance(v, tuple) else v
            kwargs["data"] = data
            kwargs["content_type"] = "multipart/form-data"
        self.calls += 1
        try:
            resp = client.open(c.url, method=c.method, **kwargs)
        except Exception as exc:  # noqa: BLE001
            db.session.rollback()
            self.statuses["exception"] += 1
            self.report(c, "server error (exception, 500)",
                        f"{type(exc).__name__}: {str(exc)[:200]}")
            self.check_writes(c, None)
            return None
        db.session.rollback()
        self.statuses[resp.status_code] += 1
        if DUMP:
            DUMP.write(f"{self.principal}\t{resp.status_code}\t{c.method}\t{c.url[:150]}\t"
                       f"{c.body_kind}\t{str(c.body)[:250]}\t{resp.get_data()[:150]!r}\n")
        self.check(c, resp)
        self.check_writes(c, resp.status_code)
        return resp

    def report(self, c: Call, what: str, evidence: str):
        """One finding; the same finding on the same route is counted, not repeated."""
        key = (c.method, c.route, what)
        if key in self.findings:
            self.findings[key][1] += 1
            self.findings[key][2].add(evidence)
            return
        body = ""
        if c.body_kind:
            shown = {k: ("<file>" if isinstance(v, tuple) else v) for k, v in c.body.items()}
            body = f" {c.body_kind}={json.dumps(shown, default=str)[:200]}"
        self.findings[key] = [f"{c.method} {c.url[:160]}{body}", 1, {evidence}]

    @property
    def problems(self) -> list[str]:
        out = []
        for (method, route, what), (example, count, evidence) in self.findings.items():
            shown = "; ".join(sorted(evidence)[:6])
            out.append(f"[{self.principal}] {method} {route}: {what} ({count}x) -- "
                       f"{shown[:600]}\n      e.g. {example}")
        return out

    def check_writes(self, c: Call, status):
        """Every write is a finding, unless the request was accepted and the
        rows it wrote concern no foreign object (the owner fields it was
        sent were ignored or overruled): that is a note."""
        entries = self.log.new_entries()
        if not entries:
            return
        described = [describe_write(e, self.hidden) for e in entries[:8]]
        text_ = "; ".join(described)
        if any("foreign" in d for d in described):
            self.report(c, f"LEAK: WRITE touching foreign data (status {status})", text_)
        elif status not in (200, 201, 302):
            self.report(c, f"WRITE by a refused request (status {status})", text_)
        else:
            self.notes.setdefault((c.method, c.route), (c, status, text_))

    def check(self, c: Call, resp):
        status = resp.status_code
        found = sorted(markers_in(resp) & set(self.markers))
        if found:
            self.report(c, f"LEAK of foreign markers (status {status})", ", ".join(found))
        if status not in ALLOWED and status != 201:    # 201: judged by what it wrote
            self.report(c, "unexpected status", f"{status} {resp.get_data()[:160]!r}")
        elif status == 302:
            # FAB refuses some requests with a flash and a redirect ("." or
            # back): fine, unless the target is a foreign object's page.
            location = urlparse(resp.headers.get("Location", "")).path
            hits = list(self.html_foreign_links(f'href="{location}"'))
            if hits:
                self.report(c, "LEAK: redirect to a foreign row's page", ", ".join(hits))
        if 200 <= status < 300 and c.strict:
            self.report(c, f"LEAK: answered {status} for a foreign {c.strict} id",
                        resp.get_data()[:160].decode("utf-8", "replace"))
        if status == 200:
            self.check_ids(c, resp)

    def check_ids(self, c: Call, resp):
        """Foreign rows named by id: in a list, a lookup, JSON fields, links."""
        mimetype = resp.mimetype or ""
        if "json" in mimetype:
            try:
                data = json.loads(resp.get_data())
            except ValueError:
                return
            if c.list_kind and isinstance(data, dict):
                ids = set(data.get("ids") or []) & set(self.hidden.get(c.list_kind, []))
                if ids:
                    self.report(c, f"LEAK: the list holds foreign {c.list_kind} ids",
                                str(sorted(ids)))
            if c.lookup_kind and isinstance(data, dict):
                ids = {r.get("id") for r in data.get("results") or []} & set(
                    self.hidden.get(c.lookup_kind, []))
                if ids:
                    self.report(c, f"LEAK: the lookup offers foreign {c.lookup_kind} ids",
                                str(sorted(ids)))
            hits = sorted(set(json_foreign_ids(data, self.hidden)))
            if hits:
                self.report(c, "LEAK: JSON names foreign ids", ", ".join(hits[:10]))
        elif "html" in mimetype:
            hits = sorted(set(self.html_foreign_links(resp.get_data(as_text=True))))
            if hits:
                self.report(c, "LEAK: the page links foreign rows", ", ".join(hits[:10]))

    def html_foreign_links(self, page: str):
        for path in re.findall(r'(?:href|action|data-url|src)="(/[^"?#]*)', page):
            for method in ("GET", "POST"):
                try:
                    endpoint, args = self.adapter.match(path, method=method)
                except (HTTPException, RequestRedirect):
                    continue
                route = self.routes.get(endpoint)
                if route is None:
                    break
                for arg in route.args:
                    if not arg.strict or arg.name not in args or len(arg.kinds) != 1:
                        continue
                    try:
                        value = int(args[arg.name])
                    except (TypeError, ValueError):
                        continue
                    if value in self.hidden.get(arg.kinds[0], []):
                        yield f"{path} (foreign {arg.kinds[0]})"
                break

    # the whole matrix ---------------------------------------------------------
    def run(self, ui, headers):
        self.log = WriteLog()
        rules = sorted(self.app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint))
        for rule in rules:
            self.routes.setdefault(rule.endpoint, analyse(self.app, rule, self.views,
                                                          self.classes, self.lookups))
        for rule in rules:
            methods = sorted(m for m in rule.methods if m not in ("HEAD", "OPTIONS"))
            if rule.endpoint in SKIPPED_ENDPOINTS:
                self.skipped += [f"{m} {rule.rule}" for m in methods]
                continue
            route = self.routes[rule.endpoint] if self.routes[rule.endpoint].rule is rule \
                else analyse(self.app, rule, self.views, self.classes, self.lookups)
            forbidden = set()
            for c in self.calls_for(route):
                # A refusal for the URL alone does not depend on the body or
                # the query: the other variants of this URL are not sent.
                if (c.method, c.url.split("?")[0]) in forbidden:
                    self.saved += 1
                    continue
                resp = self.call(ui, headers, c)
                self.pairs.add((rule.rule, c.method))
                if resp is not None and (resp.status_code == 403 or (
                        resp.status_code == 404 and c.strict and not c.body)):
                    # refused for the URL alone (no permission; the foreign
                    # row of the URL not found with an empty body)
                    forbidden.add((c.method, c.url.split("?")[0]))
        for c in self.extra_calls():
            self.call(ui, headers, c)


def relation_columns(dm) -> list[str]:
    if dm is None:
        return []
    return [c for c in dm.get_columns_list() if dm.is_relation(c)]


def api_kind(api) -> str | None:
    dm = getattr(api, "datamodel", None)
    return kind_of_table(dm.obj.__tablename__) if dm is not None else None


def json_foreign_ids(data, hidden, key=None):
    """`<kind>: id`, `<kind>_id: id` and `<kind>: {"id": id}` naming hidden rows."""
    kind = FIELD_KINDS.get((key or "").removesuffix(".id").removesuffix("_id"))
    if isinstance(data, dict):
        pk = data.get("id")
        if kind and isinstance(pk, int) and pk in hidden.get(kind, ()):
            yield f"{key}.id={pk} (foreign {kind})"
        for k, v in data.items():
            yield from json_foreign_ids(v, hidden, k)
    elif isinstance(data, list):
        for v in data:
            yield from json_foreign_ids(v, hidden, key)
    elif isinstance(data, int) and not isinstance(data, bool) and kind:
        if data in hidden.get(kind, ()):
            yield f"{key}={data} (foreign {kind})"


# --- fixtures -------------------------------------------------------------------------

@pytest.fixture
def matrix_world(app):
    world = None
    try:
        world = build_matrix_world()
        yield world
    finally:
        remove_write_log()
        clean_matrix_world(world)


def login(app, world, principal):
    ui = app.test_client()
    ui_login(ui, world.logins[principal])
    api = app.test_client()
    headers = api_token(api, world.logins[principal])
    db.session.rollback()
    return ui, headers


@pytest.mark.parametrize("principal", PRINCIPALS)
def test_no_route_shows_or_changes_foreign_objects(app, matrix_world, principal):
    started = time.monotonic()
    ui, headers = login(app, matrix_world, principal)
    install_write_log()
    prober = Prober(app, matrix_world, principal)
    prober.run(ui, headers)
    # The logins still work (the matrix did not run logged out), the own data
    # is still there, and the marker search finds a marker where it belongs.
    g.__dict__.clear()
    assert ui.get("/users/userinfo/").status_code == 200, "the screen login was lost"
    url, visible = {"intermediary": ("/api/v1/customer/", "GEHEIM-customer-Z"),
                    "company_admin": ("/api/v1/intermediary/", "GEHEIM-intermediary-C"),
                    "customer": ("/folder/", "GEHEIM-own-released")}[principal]
    g.__dict__.clear()
    own = ui.get(url, headers=headers)
    assert own.status_code == 200 and visible in markers_in(own), (url, own.status_code)

    rules = list(app.url_map.iter_rules())
    all_pairs = {(r.rule, m) for r in rules for m in r.methods if m not in ("HEAD", "OPTIONS")}
    skipped = {tuple(reversed(s.split(" ", 1))) for s in prober.skipped}
    untested = sorted(all_pairs - skipped - prober.pairs)
    elapsed = time.monotonic() - started
    print(f"\n[{principal}] rules in url_map: {len(rules)}; (route, method) pairs: "
          f"{len(all_pairs)}, tested {len(prober.pairs)}, skipped {len(skipped)}; calls: "
          f"{prober.calls} (+{prober.saved} variants not sent after a refusal for the URL); "
          f"statuses: {dict(sorted(prober.statuses.items(), key=str))}; {elapsed:.1f} s")
    print(f"[{principal}] skipped (no ids, harmless): {', '.join(prober.skipped)}")
    for (method, route), (_call, status, written) in prober.notes.items():
        print(f"[{principal}] note: {method} {route} was accepted ({status}) and wrote own "
              f"data only: {written}")
    assert not untested, f"routes not called: {untested}"
    assert len(prober.pairs) >= MIN_ROUTE_PAIRS, len(prober.pairs)
    assert prober.calls >= MIN_CALLS, prober.calls
    problems = prober.problems
    leaks = [p for p in problems if "LEAK" in p or "WRITE" in p]
    others = [p for p in problems if p not in leaks]
    assert not problems, (
        f"{len(leaks)} leaks and {len(others)} other findings for the {principal} login\n"
        + "LEAKS (foreign data shown, linked or written):\n" + "\n".join(leaks)
        + "\nOTHER (status outside 200/302/400/401/403/404/405/422):\n" + "\n".join(others))


# --- extranet logins see nothing of the intranet -------------------------------------

@pytest.mark.parametrize("principal", ["intermediary", "customer"])
def test_extranet_logins_get_403_on_every_intranet_screen(app, matrix_world, principal):
    ui, _headers = login(app, matrix_world, principal)
    install_write_log()
    prober = Prober(app, matrix_world, principal)
    prober.log = WriteLog()
    own = matrix_world.own[principal]
    wrong, tested = [], 0
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        route = analyse(app, rule, prober.views, prober.classes, prober.lookups)
        if classify_screen(route.view) != "intranet":
            continue
        values = {}
        for arg in route.args:
            if arg.values is not None:
                values[arg.name] = arg.values[0] if arg.values[0] not in (
                    "__files__", "__job__", "__relations__") else "x"
            else:
                kind = next((k for k in arg.kinds if k in own), None)
                values[arg.name] = own.get(kind) or matrix_world.public.get(
                    arg.kinds[0] if arg.kinds else "", 1)
        url = rule.build(values, append_unknown=False)[1]
        for method in sorted(m for m in rule.methods if m not in ("HEAD", "OPTIONS")):
            g.__dict__.clear()
            resp = ui.open(url, method=method, data={} if method != "GET" else None)
            db.session.rollback()
            tested += 1
            if resp.status_code != 403:
                wrong.append(f"{method} {url} (route {rule.rule}): {resp.status_code}")
            entries = prober.log.new_entries()
            if entries:
                wrong.append(f"{method} {url}: WRITE "
                             + "; ".join(describe_write(e, prober.foreign) for e in entries))
    print(f"\n[{principal}] intranet screen calls: {tested}")
    assert tested >= 100, tested
    assert not wrong, "\n".join(wrong)


def test_the_world_has_every_kind_of_foreign_object(app, matrix_world):
    """The matrix is only as good as its world."""
    for principal in PRINCIPALS:
        foreign = matrix_world.foreign(principal)
        missing = {k for k in KIND_TABLES} - set(foreign)
        assert not missing, (principal, missing)
        assert len(matrix_world.markers(principal)) >= 15
