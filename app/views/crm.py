"""Screens and REST resources of the core CRM: companies, staff, customers."""
from __future__ import annotations

from flask import request
from flask_appbuilder.api import expose, protect, safe
from flask_appbuilder.fieldwidgets import (
    BS3PasswordFieldWidget,
    BS3TextFieldWidget,
    Select2Widget,
)
from flask_appbuilder.security.decorators import permission_name
from flask_babel import lazy_gettext as _l
from wtforms import PasswordField, SelectField, StringField
from wtforms.validators import Email, Optional

from app.domain.access import grantable_roles
from app.domain.errors import DomainError
from app.extensions import db
from app.models.crm import Company, CompanyKind, Customer, Staff
from app.security.scope import current_scope
from app.services.crm import set_staff_login
from app.views.base import PoolModelRestApi, PoolModelView, datamodel
from app.views.documents import DocumentView
from app.views.fields import enum_select
from app.views.lookup import lookup_field, register_lookup

KIND_LABELS = {
    CompanyKind.POOL: _l("Pool"),
    CompanyKind.INSURER: _l("Insurer"),
    CompanyKind.BROKER_GROUP: _l("Broker group"),
    CompanyKind.BROKER_FIRM: _l("Broker firm"),
    CompanyKind.OTHER: _l("Other"),
}

LABELS = {
    "name": _l("Name"), "kind": _l("Kind"), "parent": _l("Parent company"),
    "parent.name": _l("Parent company"), "vu_number": _l("Insurer number (VU-Nr.)"),
    "liability_model": _l("Default liability model"),
    "tax_number": _l("Tax number or VAT id"), "iban": _l("IBAN"), "bic": _l("BIC"),
    "street": _l("Street"), "postcode": _l("Postcode"), "city": _l("City"),
    "country": _l("Country"), "email": _l("E-mail"), "phone": _l("Phone"),
    "company": _l("Company"), "company.name": _l("Company"),
    "first_name": _l("First name"), "last_name": _l("Last name"),
    "birth_date": _l("Date of birth"), "intermediary": _l("Advisor"),
    "intermediary.name": _l("Advisor"), "user": _l("Login"), "user.username": _l("Login"),
    "username": _l("Login name"), "password": _l("Password"), "role": _l("Role"),
    "created_on": _l("Created on"), "changed_on": _l("Changed on"),
    "created_by": _l("Created by"), "changed_by": _l("Changed by"),
}
ADDRESS = ["street", "postcode", "city", "country", "email", "phone"]
AUDIT = ["created_on", "created_by", "changed_on", "changed_by"]


def kind_label(kind):
    return KIND_LABELS.get(CompanyKind(kind), kind) if kind else ""


class CompanyView(PoolModelView):
    datamodel = datamodel(Company, eager=("parent",))
    class_permission_name = "Company"
    list_title = _l("Companies")
    show_title = _l("Company")
    add_title = _l("Add company")
    edit_title = _l("Edit company")
    label_columns = LABELS
    list_columns = ["name", "kind", "parent.name", "city"]
    show_columns = (["name", "kind", "parent", "vu_number", "liability_model"] + ADDRESS
                    + ["tax_number", "iban", "bic"] + AUDIT)
    add_columns = edit_columns = ["name", "kind", "parent", "vu_number",
                                  "liability_model"] + ADDRESS + ["tax_number", "iban", "bic"]
    search_columns = ["name", "kind", "city", "vu_number"]
    order_columns = ["name", "kind", "city"]
    formatters_columns = {"kind": kind_label}
    base_order = ("name", "asc")
    add_form_extra_fields = edit_form_extra_fields = {
        "kind": enum_select(_l("Kind"), KIND_LABELS),
        "parent": lookup_field("Parent company", "company"),
    }


class StaffView(PoolModelView):
    datamodel = datamodel(Staff, eager=("company", "user"))
    class_permission_name = "Staff"
    list_title = _l("Staff")
    show_title = _l("Staff member")
    add_title = _l("Add staff member")
    edit_title = _l("Edit staff member")
    label_columns = LABELS
    list_columns = ["last_name", "first_name", "company.name", "email", "user.username"]
    show_columns = ["first_name", "last_name", "company", "user"] + ADDRESS + AUDIT
    add_columns = edit_columns = (
        ["first_name", "last_name", "company", "email", "phone", "username", "password", "role"]
    )
    search_columns = ["last_name", "first_name", "email"]
    order_columns = ["last_name", "first_name", "email"]
    base_order = ("last_name", "asc")
    add_form_extra_fields = edit_form_extra_fields = {
        "company": lookup_field("Company", "company"),
        "email": StringField(_l("E-mail"), validators=[Optional(), Email()],
                             widget=BS3TextFieldWidget()),
        "username": StringField(_l("Login name"), validators=[Optional()],
                                widget=BS3TextFieldWidget(),
                                description=_l("Fill in to give this person a login to the "
                                               "intranet.")),
        "password": PasswordField(_l("Password"), validators=[Optional()],
                                  description=_l("At least 12 characters. Leave empty to keep "
                                                 "the current password."),
                                  widget=BS3PasswordFieldWidget(),
                                  render_kw={"autocomplete": "new-password"}),
        "role": SelectField(_l("Role"), choices=[], validators=[Optional()],
                            widget=Select2Widget()),
    }

    def prepare_form(self, form):
        roles = grantable_roles(current_scope().roles)
        form.role.choices = [("", "")] + [(r, _l(r)) for r in roles]

    def prefill_form(self, form, pk):
        item = self.datamodel.get(pk, self._base_filters)
        if item is not None and item.user is not None:
            form.username.data = item.user.username
            form.role.data = item.user.roles[0].name if item.user.roles else ""

    def _apply_login(self, item):
        # populate_obj left the three login fields on the (unmapped) item.
        set_staff_login(item, getattr(item, "username", None), getattr(item, "password", None),
                        getattr(item, "role", None) or None, current_scope().roles)

    def pre_add(self, item):
        self._apply_login(item)

    def pre_update(self, item):
        self._apply_login(item)


class PrincipalLoginMixin:
    """Login name and password on an intermediary's or a customer's form:
    pool staff give extranet / customer-folder logins here (or by the API)."""

    LOGIN_FIELDS = {
        "username": StringField(_l("Login name"), validators=[Optional()],
                                widget=BS3TextFieldWidget(),
                                description=_l("Fill in to give a login (extranet or "
                                               "customer folder).")),
        "password": PasswordField(_l("Password"), validators=[Optional()],
                                  description=_l("At least 12 characters. Leave empty to "
                                                 "keep the current password."),
                                  widget=BS3PasswordFieldWidget(),
                                  render_kw={"autocomplete": "new-password"}),
    }

    def prefill_form(self, form, pk):
        item = self.datamodel.get(pk, self._base_filters)
        if item is not None and item.user is not None:
            form.username.data = item.user.username

    def _apply_login(self, item):
        from app.services.crm import set_principal_login

        username = getattr(item, "username", None)
        password = getattr(item, "password", None)
        if (username or "").strip() or password:
            set_principal_login(item, username, password)

    def pre_add(self, item):
        self._apply_login(item)

    def pre_update(self, item):
        self._apply_login(item)


class CustomerView(PrincipalLoginMixin, PoolModelView):
    show_template = "owner_show.html"
    related_views = [DocumentView]
    datamodel = datamodel(Customer, eager=("company", "intermediary"))
    class_permission_name = "Customer"
    list_title = _l("Customers")
    show_title = _l("Customer")
    add_title = _l("Add customer")
    edit_title = _l("Edit customer")
    label_columns = LABELS
    list_columns = ["name", "first_name", "postcode", "city", "company.name",
                    "intermediary.name"]
    show_columns = ["name", "first_name", "birth_date", "company", "intermediary"] + ADDRESS + AUDIT
    add_columns = edit_columns = ["name", "first_name", "birth_date", "company",
                                  "intermediary"] + ADDRESS + ["username", "password"]
    # Only own columns: a related column here would render every row of the
    # related table into the search form.
    search_columns = ["name", "first_name", "postcode", "city", "email"]
    order_columns = ["name", "first_name", "postcode", "city"]
    base_order = ("name", "asc")
    add_form_extra_fields = edit_form_extra_fields = {
        "company": lookup_field("Company", "company"),
        "intermediary": lookup_field("Advisor", "intermediary", status="ACTIVE"),
        "email": StringField(_l("E-mail"), validators=[Optional(), Email()],
                             widget=BS3TextFieldWidget()),
        **PrincipalLoginMixin.LOGIN_FIELDS,
    }



# --- REST API ------------------------------------------------------------------

class PrincipalLoginApi:
    """`POST <resource>/<id>/login`: the extranet login of an intermediary or
    the customer-folder login of a customer (interfaces.md)."""

    method_permission_name = {**PoolModelRestApi.method_permission_name, "login": "write"}

    @expose("/<int:pk>/login", methods=["POST"])
    @protect()
    @safe
    @permission_name("login")
    def login(self, pk):
        """Create or change the login of this record (extranet / customer folder).
        ---
        post:
          requestBody:
            content:
              application/json:
                schema:
                  type: object
                  properties:
                    username: {type: string}
                    password: {type: string}
          responses:
            200: {description: Login set}
            404: {$ref: '#/components/responses/404'}
            422: {$ref: '#/components/responses/422'}
        """
        return principal_login(self, pk)


class CompanyApi(PoolModelRestApi):
    resource_name = "company"
    datamodel = datamodel(Company)
    class_permission_name = "Company"
    list_columns = ["id", "name", "kind", "parent.id", "parent.name", "vu_number", "city"]
    show_columns = ["id", "name", "kind", "parent.id", "parent.name", "vu_number",
                    "liability_model.id"] + ADDRESS + ["tax_number", "iban", "bic"]
    add_columns = edit_columns = ["name", "kind", "parent", "vu_number",
                                  "liability_model"] + ADDRESS + ["tax_number", "iban", "bic"]
    order_columns = ["id", "name", "kind"]
    search_columns = ["name", "kind", "vu_number", "parent"]
    optional_on_add = ("parent",)


class StaffApi(PoolModelRestApi):
    resource_name = "staff"
    datamodel = datamodel(Staff)
    class_permission_name = "Staff"
    list_columns = ["id", "first_name", "last_name", "company.id", "company.name", "email",
                    "user.username"]
    show_columns = list_columns + ["phone"]
    add_columns = edit_columns = ["first_name", "last_name", "company", "email", "phone"]
    order_columns = ["id", "last_name"]
    search_columns = ["last_name", "first_name", "email", "company"]
    optional_on_add = ("company",)
    method_permission_name = {**PoolModelRestApi.method_permission_name, "login": "write"}


    @expose("/<int:pk>/login", methods=["POST"])
    @protect()
    @safe
    @permission_name("login")
    def login(self, pk):
        """Create or change the login of a staff member.
        ---
        post:
          requestBody:
            content:
              application/json:
                schema:
                  type: object
                  properties:
                    username: {type: string}
                    password: {type: string}
                    role: {type: string}
          responses:
            200: {description: Login set}
            404: {$ref: '#/components/responses/404'}
            422: {$ref: '#/components/responses/422'}
        """
        item = self.datamodel.get(pk, self._base_filters)
        if item is None:
            return self.response_404()
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            return self.response_400(message="Request is not a JSON object")
        try:
            set_staff_login(item, data.get("username"), data.get("password"),
                            data.get("role"), current_scope().roles)
            db.session.commit()
        except DomainError as exc:
            return self._refused(exc)
        return self.response(200, id=item.id, username=item.user.username,
                             role=item.user.roles[0].name)


class CustomerApi(PrincipalLoginApi, PoolModelRestApi):
    resource_name = "customer"
    datamodel = datamodel(Customer)
    class_permission_name = "Customer"
    list_columns = ["id", "name", "first_name", "company.id", "company.name",
                    "intermediary.id", "intermediary.name", "postcode", "city"]
    show_columns = ["id", "name", "first_name", "birth_date", "company.id", "company.name",
                    "intermediary.id", "intermediary.name"] + ADDRESS
    add_columns = edit_columns = ["name", "first_name", "birth_date", "company",
                                  "intermediary"] + ADDRESS
    order_columns = ["id", "name", "city"]
    search_columns = ["name", "first_name", "postcode", "city", "company", "intermediary"]
    optional_on_add = ("company",)

def register(appbuilder):
    from app.models.intermediaries import Intermediary

    register_lookup("company", Company, "Company", [Company.name], [Company.name],
                    kind=(Company.kind, {k.value for k in CompanyKind}))
    register_lookup("customer", Customer, "Customer", [Customer.name, Customer.first_name],
                    [Customer.name])
    register_lookup("intermediary", Intermediary, "Intermediary", [Intermediary.name],
                    [Intermediary.name],
                    status=(Intermediary.status, {"ACTIVE", "PROSPECT", "FORMER", "GROUP"}))
    appbuilder.add_view(CustomerView, "Customers", label=_l("Customers"),
                        icon="fa-users", category="CRM", category_label=_l("CRM"))
    appbuilder.add_view(CompanyView, "Companies", label=_l("Companies"), icon="fa-building",
                        category="Administration", category_label=_l("Administration"))
    appbuilder.add_view(StaffView, "Staff", label=_l("Staff"), icon="fa-id-badge",
                        category="Administration")
    appbuilder.add_api(CompanyApi)
    appbuilder.add_api(StaffApi)
    appbuilder.add_api(CustomerApi)


def principal_login(api, pk):
    """POST <resource>/<id>/login of an intermediary or a customer."""
    from app.services.crm import set_principal_login

    item = api.datamodel.get(pk, api._base_filters)
    if item is None:
        return api.response_404()
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        return api.response_400(message="Request is not a JSON object")
    try:
        set_principal_login(item, data.get("username"), data.get("password"))
        db.session.commit()
    except DomainError as exc:
        return api._refused(exc)
    return api.response(200, id=item.id, username=item.user.username,
                        role=item.user.roles[0].name)
