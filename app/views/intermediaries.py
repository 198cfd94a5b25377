"""Screens and REST resources of intermediaries ("Eigen → Vermittler"), their
rates and hierarchy entries (sub-objects), combinations, and the org chart."""
from __future__ import annotations

import json
from datetime import date

from flask import Response, request
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.api import BaseApi, protect, safe
from flask_appbuilder.security.decorators import has_access_api, permission_name
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape
from marshmallow import ValidationError
from sqlalchemy.exc import IntegrityError
from wtforms import Field
from wtforms.validators import ValidationError as FormError

from app.domain.errors import DomainError
from app.extensions import db
from app.models.intermediaries import (
    Combination,
    CombinationMember,
    Intermediary,
    IntermediaryLevel,
    IntermediaryRate,
    IntermediaryStatus,
)
from app.security.scope import current_scope
from app.services.hierarchy import cached_tree_json, hierarchy_rows, hierarchy_tree
from app.views.base import (
    PoolModelRestApi,
    PoolModelView,
    datamodel,
    get_visible,
)
from app.views.crm import ADDRESS, AUDIT, PrincipalLoginApi, PrincipalLoginMixin
from app.views.fields import DecimalString, enum_select, format_number
from app.views.lookup import LookupWidget, lookup_field

STATUS_LABELS = {
    IntermediaryStatus.ACTIVE: _l("Intermediary (active)"),
    IntermediaryStatus.PROSPECT: _l("Prospect"),
    IntermediaryStatus.FORMER: _l("Former intermediary"),
    IntermediaryStatus.GROUP: _l("Group"),
}

LABELS = {
    "name": _l("Name"), "status": _l("Status"), "group": _l("Group"),
    "group.name": _l("Group"), "company": _l("Company"), "company.name": _l("Company"),
    "register_number": _l("Register number (§34d GewO)"),
    "tax_number": _l("Tax number or VAT id"), "iban": _l("IBAN"), "bic": _l("BIC"),
    "reserve_rate": _l("Reserve rate %"), "reserve_cap": _l("Reserve cap €"),
    "fixum": _l("Monthly fixum €"), "street": _l("Street"), "postcode": _l("Postcode"),
    "city": _l("City"), "country": _l("Country"), "email": _l("E-mail"), "phone": _l("Phone"),
    "intermediary": _l("Intermediary"), "intermediary.name": _l("Intermediary"),
    "insurer": _l("Insurer"), "insurer.name": _l("Insurer"),
    "line_of_business": _l("Line of business"), "line_of_business.name": _l("Line of business"),
    "product": _l("Product"), "product.name": _l("Product"),
    "term_min": _l("Term from (months)"), "term_max": _l("Term to (months)"),
    "ap_rate": _l("AP %"), "ap_zv_rate": _l("AP ZV %"), "fp_rate": _l("FP %"),
    "liability_model": _l("Liability model"), "liability_model.name": _l("Liability model"),
    "liability_from_insurer": _l("Liability model of the insurer"),
    "valid_from": _l("Valid from"), "career_level": _l("Career level"),
    "career_level.name": _l("Career level"), "supervisor": _l("Supervisor"),
    "supervisor.name": _l("Supervisor"), "members": _l("Members and shares"),
    "created_on": _l("Created on"), "changed_on": _l("Changed on"),
    "created_by": _l("Created by"), "changed_by": _l("Changed by"),
}


def status_label(value):
    return STATUS_LABELS.get(IntermediaryStatus(value), value) if value else ""


class IntermediaryRateView(PoolModelView):
    datamodel = datamodel(IntermediaryRate, eager=("insurer", "line_of_business", "product"))
    class_permission_name = "IntermediarySubobjects"
    list_title = _l("Rates")
    show_title = add_title = edit_title = _l("Rate")
    label_columns = LABELS
    list_columns = ["insurer.name", "line_of_business.name", "product.name", "term_min",
                    "term_max", "ap_rate", "ap_zv_rate", "fp_rate"]
    add_columns = edit_columns = show_columns = [
        "intermediary", "insurer", "line_of_business", "product", "term_min", "term_max",
        "ap_rate", "ap_zv_rate", "fp_rate", "liability_model", "liability_from_insurer"]
    search_columns = ["line_of_business", "term_min", "term_max"]
    description_columns = {
        "insurer": _l("Empty criteria match every contract."),
    }
    add_form_extra_fields = edit_form_extra_fields = {
        "intermediary": lookup_field("Intermediary", "intermediary", required=True),
        "insurer": lookup_field("Insurer", "company", kind="INSURER"),
        "product": lookup_field("Product", "product"),
    }


class IntermediaryLevelView(PoolModelView):
    datamodel = datamodel(IntermediaryLevel, eager=("career_level", "supervisor"))
    class_permission_name = "IntermediarySubobjects"
    list_title = _l("Hierarchy entries")
    show_title = add_title = edit_title = _l("Hierarchy entry")
    label_columns = LABELS
    list_columns = ["valid_from", "career_level.name", "supervisor.name"]
    add_columns = edit_columns = show_columns = ["intermediary", "valid_from", "career_level",
                                                 "supervisor"]
    base_order = ("valid_from", "desc")
    search_columns = ["valid_from", "career_level"]
    add_form_extra_fields = edit_form_extra_fields = {
        "intermediary": lookup_field("Intermediary", "intermediary", required=True),
        "supervisor": lookup_field("Supervisor", "intermediary"),
    }


class IntermediaryView(PrincipalLoginMixin, PoolModelView):
    datamodel = datamodel(Intermediary, eager=("company", "group"))
    class_permission_name = "Intermediary"
    list_title = _l("Intermediaries")
    show_title = edit_title = _l("Intermediary data")
    add_title = _l("Add intermediary")
    label_columns = LABELS
    list_columns = ["name", "status", "company.name", "group.name", "city"]
    show_columns = ["name", "status", "company", "group", "register_number", "tax_number",
                    "iban", "bic", "reserve_rate", "reserve_cap", "fixum"] + ADDRESS + AUDIT
    add_columns = edit_columns = ["name", "status", "company", "group", "register_number",
                                  "tax_number", "iban", "bic", "reserve_rate", "reserve_cap",
                                  "fixum"] + ADDRESS + ["username", "password"]
    search_columns = ["name", "status", "city", "register_number"]
    order_columns = ["name", "status", "city"]
    base_order = ("name", "asc")
    formatters_columns = {"status": status_label}
    related_views = [IntermediaryRateView, IntermediaryLevelView]
    show_template = "owner_show.html"
    description_columns = {
        "fixum": _l("Negative: cost participation (Kostenbeteiligung)."),
        "register_number": _l("Form D-XXXX-XXXXX-XX"),
    }
    add_form_extra_fields = edit_form_extra_fields = {
        "status": enum_select(_l("Status"), STATUS_LABELS),
        "company": lookup_field("Company", "company"),
        "group": lookup_field("Group", "intermediary", status="GROUP"),
        **PrincipalLoginMixin.LOGIN_FIELDS,
    }



# --- combinations ----------------------------------------------------------------

class MembersWidget:
    def __call__(self, field, **kwargs):
        lookup = LookupWidget()
        share_label = escape(gettext("Share %"))
        person_label = escape(gettext("Intermediary"))
        rows = []
        for i, (person, share) in enumerate(field.rows()):
            sub = _RowField(field, i, person)
            share_text = escape(share if isinstance(share, str) else
                                format_number(share, 4, grouping=False) if share is not None else "")
            rows.append(
                f'<tr><td style="width:70%">{lookup(sub)}</td><td><input class="form-control" '
                f'name="{field.name}-{i}-share" value="{share_text}" '
                f'aria-label="{share_label}"></td></tr>')
        head = f'<thead><tr><th>{person_label}</th><th>{share_label}</th></tr></thead>'
        return Markup(f'<table class="table table-condensed" id="{field.id}">{head}'
                      f'<tbody>{"".join(rows)}</tbody></table>')


class _RowField:
    """What LookupWidget needs to render one member row."""

    def __init__(self, field, index, person):
        self.id = f"{field.id}-{index}-intermediary"
        self.name = f"{field.name}-{index}-intermediary"
        self.data = person
        self.lookup = "intermediary"
        self.lookup_params = {"status": "ACTIVE"}
        self.allow_blank = True


class MembersField(Field):
    """Members of a combination: rows of intermediary and share (in percent).
    Whether the shares sum to 100 is the model's rule (checked on save)."""

    widget = MembersWidget()
    EMPTY_ROWS = 3

    def __init__(self, label=None, validators=None, **kwargs):
        super().__init__(label, validators, **kwargs)
        self._posted = None

    def rows(self):
        if self._posted is not None:
            filled = self._posted
        else:
            filled = [(m.intermediary, m.share) for m in (self.data or [])]
        return list(filled) + [(None, None)] * self.EMPTY_ROWS

    def process_formdata(self, valuelist):
        form = self._form_data
        rows, i = [], 0
        while f"{self.name}-{i}-intermediary" in form or f"{self.name}-{i}-share" in form:
            rows.append((form.get(f"{self.name}-{i}-intermediary") or "",
                         (form.get(f"{self.name}-{i}-share") or "").strip()))
            i += 1
        self._posted_raw = rows

    def process(self, formdata, data=None, extra_filters=None):
        self._form_data = formdata
        super().process(formdata, data, extra_filters)
        if formdata is not None and any(k.startswith(f"{self.name}-") for k in formdata):
            self.process_formdata([])

    def pre_validate(self, form):
        from babel.numbers import NumberFormatError, parse_decimal
        from flask_babel import get_locale

        if not hasattr(self, "_posted_raw"):
            return
        members, shown = [], []
        for person_id, share in self._posted_raw:
            if not person_id and not share:
                continue
            person = get_visible(Intermediary, person_id) if person_id else None
            shown.append((person, share))
            if person is None:
                raise FormError(gettext("Choose an intermediary for every share."))
            try:
                value = parse_decimal(share, locale=str(get_locale() or "de"), strict=True)
            except NumberFormatError:
                raise FormError(gettext("Not a valid number.")) from None
            members.append((person, value))
        self._posted = shown
        self.data = members

    def populate_obj(self, obj, name):
        if not hasattr(self, "_posted_raw"):
            return
        existing = {m.intermediary_id: m for m in obj.members}
        new = []
        for person, share in self.data:
            member = existing.get(person.id) or CombinationMember(intermediary=person)
            member.share = share
            new.append(member)
        obj.members = new


class CombinationView(PoolModelView):
    datamodel = datamodel(Combination)
    class_permission_name = "Combination"
    list_title = _l("Intermediary combinations")
    show_title = add_title = edit_title = _l("Intermediary combination")
    label_columns = LABELS
    list_columns = ["name", "members"]
    show_columns = ["name", "members"] + AUDIT
    add_columns = edit_columns = ["name", "members"]
    search_columns = ["name"]
    formatters_columns = {"members": lambda ms: ", ".join(
        f"{m.intermediary.name} {format_number(m.share, 2)} %" for m in ms)}
    add_form_extra_fields = edit_form_extra_fields = {"members": MembersField(_l("Members and shares"))}


# --- REST API -----------------------------------------------------------------------

class IntermediaryApi(PrincipalLoginApi, PoolModelRestApi):
    resource_name = "intermediary"
    datamodel = datamodel(Intermediary)
    class_permission_name = "Intermediary"
    list_columns = show_columns = [
        "id", "name", "status", "group.id", "company.id", "company.name", "register_number",
        "tax_number", "iban", "bic", "reserve_rate", "reserve_cap", "fixum"] + ADDRESS
    add_columns = edit_columns = [
        "name", "status", "group", "company", "register_number", "tax_number", "iban", "bic",
        "reserve_rate", "reserve_cap", "fixum"] + ADDRESS
    search_columns = ["name", "status", "group", "company", "register_number"]
    order_columns = ["id", "name", "status"]
    optional_on_add = ("company",)


class IntermediaryRateApi(PoolModelRestApi):
    resource_name = "intermediary_rate"
    datamodel = datamodel(IntermediaryRate)
    class_permission_name = "IntermediarySubobjects"
    list_columns = show_columns = [
        "id", "intermediary.id", "insurer.id", "line_of_business.id", "product.id", "term_min",
        "term_max", "ap_rate", "ap_zv_rate", "fp_rate", "liability_model.id",
        "liability_from_insurer"]
    add_columns = edit_columns = [
        "intermediary", "insurer", "line_of_business", "product", "term_min", "term_max",
        "ap_rate", "ap_zv_rate", "fp_rate", "liability_model", "liability_from_insurer"]
    search_columns = ["intermediary", "insurer", "line_of_business", "product"]
    order_columns = ["id"]


class IntermediaryLevelApi(PoolModelRestApi):
    resource_name = "intermediary_level"
    datamodel = datamodel(IntermediaryLevel)
    class_permission_name = "IntermediarySubobjects"
    list_columns = show_columns = ["id", "intermediary.id", "valid_from", "career_level.id",
                                   "supervisor.id"]
    add_columns = edit_columns = ["intermediary", "valid_from", "career_level", "supervisor"]
    search_columns = ["intermediary", "valid_from", "supervisor"]
    order_columns = ["id", "valid_from"]


def _member_json(m):
    return {"intermediary": m.intermediary_id, "share": str(m.share.quantize(_SHARE))}


class CombinationApi(PoolModelRestApi):
    """`members` is a list of {"intermediary": id, "share": "50"}; a write
    replaces the whole list (shares must sum to 100 %)."""

    resource_name = "combination"
    datamodel = datamodel(Combination)
    class_permission_name = "Combination"
    list_columns = show_columns = ["id", "name"]
    add_columns = edit_columns = ["name"]
    search_columns = ["name"]
    order_columns = ["id", "name"]

    def _members(self, data):
        raw = data.pop("members", None)
        if raw is None:
            return None
        if not isinstance(raw, list):
            raise ValidationError({"members": [gettext("Give a list of members.")]})
        members, share_field = [], DecimalString(places=4)
        for i, entry in enumerate(raw):
            if not isinstance(entry, dict) or set(entry) != {"intermediary", "share"}:
                raise ValidationError({"members": {i: [gettext(
                    "Each member has exactly the keys intermediary and share.")]}})
            person = get_visible(Intermediary, entry["intermediary"])
            if person is None:
                raise ValidationError({"members": {i: [gettext("No record with this id.")]}})
            try:
                share = share_field.deserialize(entry["share"])
            except ValidationError as exc:
                raise ValidationError({"members": {i: exc.messages}}) from None
            members.append((person, share))
        return members

    def _write(self, item, data, status):
        try:
            members = self._members(data)
            item = (self.add_model_schema.load(data) if item is None
                    else self.edit_model_schema.load(data, instance=item, partial=True))
            if members is not None:
                existing = {m.intermediary_id: m for m in item.members}
                new = []
                for person, share in members:
                    member = existing.get(person.id) or CombinationMember(intermediary=person)
                    member.share = share
                    new.append(member)
                item.members = new
            elif status == 201:
                raise ValidationError({"members": [gettext("This field is required.")]})
            db.session.add(item)
            db.session.commit()
        except (ValidationError, DomainError, IntegrityError) as exc:
            return self._refused(exc)
        return self.response(status, id=item.id, result=self._dump(item))

    def _dump(self, item):
        return {"id": item.id, "name": item.name,
                "members": [_member_json(m) for m in item.members]}

    def post_headless(self):
        if not request.is_json or not isinstance(request.json, dict):
            return self.response_400(message="Request is not a JSON object")
        return self._write(None, dict(request.json), 201)

    def put_headless(self, pk):
        item = self.datamodel.get(pk, self._base_filters)
        if not request.is_json or not isinstance(request.json, dict):
            return self.response_400(message="Request is not a JSON object")
        if item is None:
            return self.response_404()
        return self._write(item, dict(request.json), 200)

    def get_headless(self, pk, **kwargs):
        item = self.datamodel.get(pk, self._base_filters)
        if item is None:
            return self.response_404()
        return self.response(200, id=item.id, result=self._dump(item))


from decimal import Decimal  # noqa: E402

_SHARE = Decimal("0.0001")


# --- hierarchy ------------------------------------------------------------------------

def _parse_day(value):
    if not value:
        return date.today()
    return date.fromisoformat(value)


class HierarchyApi(BaseApi):
    resource_name = "hierarchy"
    class_permission_name = "Hierarchy"
    method_permission_name = {"get_tree": "read"}
    openapi_spec_tag = "Hierarchy"

    @expose("/", methods=["GET"])
    @protect()
    @safe
    @permission_name("get_tree")
    def get_tree(self):
        """The sales hierarchy at a day.
        ---
        get:
          parameters:
          - in: query
            name: date
            schema: {type: string, format: date}
          responses:
            200:
              description: '{"date", "result": [node]}, node = {"id", "name", "career_level", "children"}'
            400: {$ref: '#/components/responses/400'}
        """
        try:
            day = _parse_day(request.args.get("date"))
        except ValueError:
            return self.response_400(message={"date": [gettext("Give a date as YYYY-MM-DD.")]})
        body = cached_tree_json(
            ("api", day), current_scope().company_ids,
            lambda: json.dumps({"date": day.isoformat(),
                                "result": hierarchy_tree(day, level_as_rank=True)},
                               separators=(",", ":"), ensure_ascii=False))
        return Response(body, mimetype="application/json")


class OrgChartView(BaseView):
    route_base = "/orgchart"
    class_permission_name = "Hierarchy"
    method_permission_name = {"index": "read", "data": "read"}
    default_view = "index"

    @expose("/")
    @has_access
    def index(self):
        try:
            day = _parse_day(request.args.get("date"))
        except ValueError:
            day = date.today()
        return self.render_template(
            "orgchart.html", data_url=self.get_data_url(), date=day.isoformat(),
            title=gettext("Sales hierarchy"))

    def get_data_url(self):
        from flask import url_for
        return url_for("OrgChartView.data")

    @expose("/data")
    @has_access_api
    def data(self):
        try:
            day = _parse_day(request.args.get("date"))
        except ValueError:
            return Response(json.dumps({"message": gettext("Give a date as YYYY-MM-DD.")}),
                            status=400, mimetype="application/json")
        def render():
            # Flat rows instead of a nested tree: a third of the size, built
            # and parsed several times faster for 50,000 intermediaries. The
            # page (static/js/orgchart.js) nests them.
            levels, rows = hierarchy_rows(day)
            return json.dumps({
                "date": day.isoformat(), "count": len(rows),
                "levels": {str(lid): [rank, name] for lid, (rank, name) in levels.items()},
                "nodes": rows,
            }, separators=(",", ":"), ensure_ascii=False)

        scope = current_scope()
        body = cached_tree_json(day, scope.company_ids, render)
        return Response(body, mimetype="application/json")


def register(appbuilder):
    appbuilder.add_view(IntermediaryView, "Intermediaries", label=_l("Intermediaries"),
                        icon="fa-user-tie", category="Own", category_label=_l("Own"))
    appbuilder.add_view(CombinationView, "Combinations", label=_l("Intermediary combinations"),
                        icon="fa-object-group", category="Own")
    appbuilder.add_view_no_menu(IntermediaryRateView)
    appbuilder.add_view_no_menu(IntermediaryLevelView)
    appbuilder.add_view(OrgChartView, "Org chart",
                        label=_l("Accounting: show sales hierarchy"), icon="fa-sitemap",
                        category="Organisation", category_label=_l("Organisation"))
    for api in (IntermediaryApi, IntermediaryRateApi, IntermediaryLevelApi, CombinationApi,
                HierarchyApi):
        appbuilder.add_api(api)
