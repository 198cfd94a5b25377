"""The broker extranet (an intermediary's login) and the digital customer
folder (a customer's login).

Every view here says `extranet = True` (app/security/extranet.py lets
extranet logins use only those); the scope (app/security/scope.py) limits
every row to the login's own, the session guard every write.
"""
from __future__ import annotations

from datetime import date

from flask import abort, flash, g, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.api import BaseApi, protect, safe
from flask_appbuilder.api import expose as expose_api
from flask_appbuilder.security.decorators import has_access, permission_name
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.domain.errors import N_, DomainError, InvalidValueError
from app.extensions import db
from app.models.contracts import Application, ApplicationStatus, Contract
from app.models.crm import Customer
from app.models.documents import Document
from app.models.intermediaries import Intermediary
from app.models.ledger import Statement, StatementStatus
from app.security.scope import current_scope
from app.views.base import (
    PoolModelView,
    RefusalMixin,
    datamodel,
    error_text,
    get_visible,
    scoped_select,
)
from app.views.contracts import APPLICATION_LABELS, CONTRACT_LABELS, LABELS, _label
from app.views.lookup import lookup_field
from app.views.settlement import download


def me() -> Intermediary:
    person = db.session.get(Intermediary, current_scope().intermediary_id or 0)
    if person is None:
        abort(403)
    return person


def documents_of(**owner) -> list[Document]:
    column, pk = next(iter(owner.items()))
    return db.session.execute(scoped_select(Document).where(
        getattr(Document, column) == pk).order_by(Document.id)).scalars().all()


class ExtranetModelView(PoolModelView):
    """A model view of the extranet; its show page gets `show_extra(pk)`."""

    extranet = True
    extranet_only = True

    def show_extra(self, pk) -> dict:
        return {}

    def render_template(self, template, **kwargs):
        if template == self.show_template and "pk" in kwargs:
            try:
                pk = int(kwargs["pk"])          # FAB passes the URL's text
            except (TypeError, ValueError):
                abort(404)
            kwargs.update(self.show_extra(pk))
        return super().render_template(template, **kwargs)


class ExtranetView(BaseView):
    """Overview, statements, products, account of an intermediary."""

    route_base = "/my"
    class_permission_name = "Extranet"
    method_permission_name = {"index": "read", "statements": "read", "statement_pdf": "read",
                              "products": "read", "account": "read"}
    default_view = "index"
    extranet = True
    extranet_only = True
    former_allowed = True

    @expose("/")
    @has_access
    def index(self):
        from app.services import extranet as facts

        person = me()
        today = date.today()
        points = facts.commission_per_month(person.id, today)
        reserve, schedule = facts.reserve_schedule(person.id)
        return self.render_template(
            "extranet/overview.html", person=person, chart=facts.chart(points),
            applications=[] if current_scope().read_only
            else facts.open_applications(person.id),
            statements=facts.latest_statements(person.id), reserve=reserve,
            schedule=schedule, read_only=current_scope().read_only,
            application_labels=APPLICATION_LABELS)

    @expose("/statements/")
    @has_access
    def statements(self):
        person = me()
        rows = db.session.execute(select(Statement).where(
            Statement.intermediary_id == person.id,
            Statement.status == StatementStatus.FINAL.value)
            .order_by(Statement.period.desc())).scalars().all()
        return self.render_template("extranet/statements.html", statements=rows)

    @expose("/statements/<int:pk>/pdf")
    @has_access
    def statement_pdf(self, pk):
        from app.services.statements import statement_pdf

        statement = get_visible(Statement, pk)
        if statement is None or statement.status != StatementStatus.FINAL.value:
            abort(404)
        return download(statement_pdf(statement), "application/pdf",
                        f"Gutschrift-{statement.number}.pdf")

    @expose("/products/")
    @has_access
    def products(self):
        from app.services.extranet import own_rates

        if current_scope().read_only:
            abort(403)
        return self.render_template("extranet/products.html", rows=own_rates(me()))

    @expose("/account/")
    @has_access
    def account(self):
        return redirect(url_for("AccountView.show", pk=me().id))


class MyApplicationView(ExtranetModelView):
    """The intermediary's applications: create, attach documents, submit."""

    route_base = "/my/applications"
    extranet = True
    datamodel = datamodel(Application, eager=("customer", "product"))
    class_permission_name = "Application"
    method_permission_name = {**PoolModelView.method_permission_name, "submit": "write"}
    list_title = _l("My applications")
    show_title = add_title = edit_title = _l("Application")
    label_columns = LABELS
    list_columns = ["customer.name", "product.name", "premium", "start_date", "status"]
    show_columns = ["customer", "product", "premium", "start_date", "term_months", "status",
                    "contract"]
    add_columns = edit_columns = ["customer", "product", "premium", "start_date",
                                  "term_months"]
    search_columns = ["status", "start_date"]
    base_order = ("id", "desc")
    include_route_methods = {"list", "show", "add", "edit", "submit"}
    formatters_columns = {"status": _label(APPLICATION_LABELS)}
    add_form_extra_fields = edit_form_extra_fields = {
        "customer": lookup_field("Customer", "customer", required=True),
        "product": lookup_field("Product", "product", required=True),
    }
    show_template = "extranet/application_show.html"

    def pre_add(self, item):
        item.status = ApplicationStatus.DRAFT
        item.intermediary_id = me().id          # never taken from the form

    def post_add(self, item):
        g.pool_added = item.id

    def post_add_redirect(self):
        # on to the new application: upload its documents, submit it
        pk = g.pop("pool_added", None)
        return redirect(url_for(".show", pk=pk)) if pk else super().post_add_redirect()

    def pre_update(self, item):
        if item.status != ApplicationStatus.DRAFT:
            raise InvalidValueError("status", N_("Only a draft can be changed."))
        item.intermediary_id = me().id

    @expose("/submit/<int:pk>", methods=["POST"])
    @has_access
    def submit(self, pk):
        from app.services.contracts import transition_application

        item = self.datamodel.get(pk, self._base_filters)
        if item is None:
            abort(404)
        try:
            transition_application(item, ApplicationStatus.SUBMITTED.value)
        except DomainError as exc:
            db.session.rollback()
            flash(error_text(exc), "danger")
        else:
            flash(gettext("The application has been submitted to the pool."), "success")
        return redirect(url_for(".show", pk=pk))

    def show_extra(self, pk):
        item = get_visible(Application, pk)
        return {"documents": documents_of(application_id=pk),
                "draft": item is not None and item.status == ApplicationStatus.DRAFT}


class MyContractView(ExtranetModelView):
    """The intermediary's contracts: the pool's (read only, convertible) and
    its broker firm's own."""

    route_base = "/my/contracts"
    extranet = True
    datamodel = datamodel(Contract, eager=("customer", "product", "insurer"))
    class_permission_name = "Contract"
    method_permission_name = {**PoolModelView.method_permission_name, "convert": "write"}
    list_title = _l("My contracts")
    show_title = _l("Contract")
    label_columns = LABELS
    list_columns = ["policy_number", "customer.name", "insurer.name", "product.name",
                    "premium", "status", "managing_company.name"]
    show_columns = ["policy_number", "customer", "insurer", "product", "start_date",
                    "term_months", "payment_frequency", "premium", "status", "policed_on",
                    "cancelled_on", "managing_company"]
    search_columns = ["policy_number", "status", "start_date"]
    base_order = ("id", "desc")
    include_route_methods = {"list", "show", "convert"}
    formatters_columns = {"status": _label(CONTRACT_LABELS)}
    show_template = "extranet/contract_show.html"

    @expose("/convert/<int:pk>", methods=["POST"])
    @has_access
    def convert(self, pk):
        from app.services.contracts import convert_contract

        item = self.datamodel.get(pk, self._base_filters)
        if item is None:
            abort(404)
        try:
            copy = convert_contract(item, current_scope())
        except DomainError as exc:
            db.session.rollback()
            flash(error_text(exc), "danger")
            return redirect(url_for(".show", pk=pk))
        flash(gettext("The contract is now also one of your own company."), "success")
        return redirect(url_for(".show", pk=copy.id))

    def show_extra(self, pk):
        scope = current_scope()
        item = get_visible(Contract, pk)
        convertible = (item is not None and scope.home_company_id is not None
                       and item.intermediary_id == scope.intermediary_id
                       and item.managing_company_id != scope.home_company_id
                       and item.source_contract_id is None)
        return {"documents": documents_of(contract_id=pk), "convertible": convertible}


class MyCustomerView(ExtranetModelView):
    """The intermediary's customers: the pool's it advises (read only) and its
    broker firm's own (its CRM)."""

    route_base = "/my/customers"
    extranet = True
    datamodel = datamodel(Customer, eager=("company",))
    class_permission_name = "Customer"
    list_title = _l("My customers")
    show_title = add_title = edit_title = _l("Customer")
    label_columns = {"name": _l("Name"), "first_name": _l("First name"),
                     "birth_date": _l("Date of birth"), "street": _l("Street"),
                     "postcode": _l("Postcode"), "city": _l("City"), "email": _l("E-mail"),
                     "phone": _l("Phone"), "company.name": _l("Company"),
                     "company": _l("Company")}
    list_columns = ["name", "first_name", "city", "company.name"]
    show_columns = ["name", "first_name", "birth_date", "street", "postcode", "city", "email",
                    "phone", "company"]
    add_columns = edit_columns = ["name", "first_name", "birth_date", "street", "postcode",
                                  "city", "email", "phone"]
    search_columns = ["name", "first_name", "city"]
    base_order = ("name", "asc")
    include_route_methods = {"list", "show", "add", "edit"}

    def pre_add(self, item):
        scope = current_scope()
        if scope.home_company_id is None:
            raise InvalidValueError("company", N_(
                "You belong to no broker firm that could keep own customers."))
        item.company_id = scope.home_company_id
        item.intermediary_id = scope.intermediary_id


class FolderView(BaseView):
    """The digital customer folder: own contracts, the documents released to
    the customer, upload to its broker, its profile."""

    route_base = "/folder"
    class_permission_name = "Folder"
    method_permission_name = {"index": "read", "document": "read", "upload": "write",
                              "profile": "write"}
    default_view = "index"
    extranet = True
    extranet_only = True

    def _me(self) -> Customer:
        customer = db.session.get(Customer, current_scope().customer_id or 0)
        if customer is None:
            abort(403)
        return customer

    @expose("/")
    @has_access
    def index(self):
        customer = self._me()
        contracts = db.session.execute(scoped_select(Contract).where(
            Contract.customer_id == customer.id).order_by(Contract.start_date.desc())
        ).scalars().all()
        documents = db.session.execute(scoped_select(Document).order_by(
            Document.id.desc())).scalars().all()
        return self.render_template("folder/index.html", customer=customer,
                                    contracts=contracts, documents=documents,
                                    contract_labels=CONTRACT_LABELS)

    @expose("/document/<int:pk>")
    @has_access
    def document(self, pk):
        from app.views.documents import _download

        self._me()
        document = get_visible(Document, pk)
        if document is None:
            abort(404)
        return _download(document)

    @expose("/upload", methods=["GET", "POST"])
    @has_access
    def upload(self):
        from app.services.documents import (
            max_upload_bytes,
            read_limited,
            store_document,
        )

        customer = self._me()
        error = None
        if request.method == "POST":
            file = request.files.get("file")
            try:
                data = read_limited(file.stream, max_upload_bytes()) if file else b""
                store_document("customer", customer, file.filename if file else None, data,
                               request.form.get("description"), released=False)
            except DomainError as exc:
                db.session.rollback()
                error = error_text(exc)
            else:
                flash(gettext("Your document has been sent to your broker."), "success")
                return redirect(url_for(".index"))
        return self.render_template("folder/upload.html", error=error)

    @expose("/profile", methods=["GET", "POST"])
    @has_access
    def profile(self):
        from app.models.guards import CUSTOMER_PROFILE

        customer = self._me()
        fields = [f for f in ("email", "phone", "street", "postcode", "city")
                  if f in CUSTOMER_PROFILE]
        error = None
        if request.method == "POST":
            for field in fields:
                setattr(customer, field, (request.form.get(field) or "").strip() or None)
            try:
                db.session.commit()
            except DomainError as exc:
                db.session.rollback()
                error = error_text(exc)
            else:
                flash(gettext("Your details have been saved."), "success")
                return redirect(url_for(".profile"))
        return self.render_template("folder/profile.html", customer=customer, fields=fields,
                                    error=error)


class FolderApi(RefusalMixin, BaseApi):
    """The customer folder through the REST API (a customer's login only)."""

    resource_name = "folder"
    class_permission_name = "Folder"
    method_permission_name = {"contracts": "read", "documents": "read", "document": "read",
                              "upload": "write", "profile": "write"}

    def _me(self):
        return db.session.get(Customer, current_scope().customer_id or 0)

    @expose_api("/contracts", methods=["GET"])
    @protect()
    @safe
    @permission_name("contracts")
    def contracts(self):
        """The customer's contracts.
        ---
        get:
          responses:
            200: {description: "{result: [contract]}"}
            403: {$ref: '#/components/responses/403'}
        """
        customer = self._me()
        if customer is None:
            return self.response_403()
        rows = db.session.execute(scoped_select(Contract).where(
            Contract.customer_id == customer.id).order_by(Contract.start_date)).scalars()
        return self.response(200, result=[{
            "id": c.id, "policy_number": c.policy_number, "insurer": c.insurer.name,
            "product": c.product.name, "start_date": c.start_date.isoformat(),
            "premium": str(c.premium), "payment_frequency": c.payment_frequency.value,
            "status": c.status.value} for c in rows])

    @expose_api("/documents", methods=["GET"])
    @protect()
    @safe
    @permission_name("documents")
    def documents(self):
        """The documents released to the customer and those it sent.
        ---
        get:
          responses:
            200: {description: "{result: [document]}"}
            403: {$ref: '#/components/responses/403'}
        """
        if self._me() is None:
            return self.response_403()
        rows = db.session.execute(scoped_select(Document).order_by(Document.id)).scalars()
        return self.response(200, result=[{
            "id": d.id, "filename": d.filename, "description": d.description,
            "contract": d.contract_id, "released_to_customer": d.released_to_customer,
            "size": d.size, "created_on": d.created_on.isoformat()} for d in rows])

    @expose_api("/documents/<int:pk>", methods=["GET"])
    @protect()
    @safe
    @permission_name("document")
    def document(self, pk):
        """Download one of them.
        ---
        get:
          parameters:
          - {in: path, name: pk, schema: {type: integer}}
          responses:
            200: {description: the file}
            404: {$ref: '#/components/responses/404'}
        """
        from app.views.documents import _download

        document = get_visible(Document, pk) if self._me() is not None else None
        if document is None:
            return self.response_404()
        return _download(document)

    @expose_api("/documents", methods=["POST"])
    @protect()
    @safe
    @permission_name("upload")
    def upload(self):
        """Send a document to the broker (multipart: file, description).
        ---
        post:
          responses:
            201: {description: stored}
            422: {$ref: '#/components/responses/422'}
        """
        from app.services.documents import (
            max_upload_bytes,
            read_limited,
            store_document,
        )

        customer = self._me()
        if customer is None:
            return self.response_403()
        file = request.files.get("file")
        try:
            data = read_limited(file.stream, max_upload_bytes()) if file else b""
            document = store_document("customer", customer, file.filename if file else None,
                                      data, request.form.get("description"), released=False)
        except DomainError as exc:
            return self._refused(exc)
        return self.response(201, id=document.id, filename=document.filename)

    @expose_api("/profile", methods=["GET", "PUT"])
    @protect()
    @safe
    @permission_name("profile")
    def profile(self):
        """The customer's contact details (GET, or PUT to change them).
        ---
        get:
          responses:
            200: {description: the details}
        put:
          responses:
            200: {description: changed}
            422: {$ref: '#/components/responses/422'}
        """
        customer = self._me()
        if customer is None:
            return self.response_403()
        fields = ("email", "phone", "street", "postcode", "city")
        if request.method == "PUT":
            data = request.get_json(silent=True)
            if not isinstance(data, dict):
                return self.response_400(message="Request is not a JSON object")
            unknown = set(data) - set(fields)
            if unknown:
                return self.response_422(message={sorted(unknown)[0]: [gettext(
                    "This field cannot be changed here.")]})
            for field in fields:
                if field in data:
                    setattr(customer, field, (str(data[field] or "")).strip() or None)
            try:
                db.session.commit()
            except DomainError as exc:
                return self._refused(exc)
        return self.response(200, name=customer.name, first_name=customer.first_name,
                             **{f: getattr(customer, f) for f in fields})


def register(appbuilder):
    appbuilder.add_view(ExtranetView, "Overview", label=_l("Overview"), icon="fa-home")
    appbuilder.add_link("My products", label=_l("Products"), icon="fa-cubes",
                        href="/my/products/")
    appbuilder.add_view(MyApplicationView, "My applications", label=_l("Applications"),
                        icon="fa-file-signature")
    appbuilder.add_view(MyContractView, "My contracts", label=_l("Contracts"),
                        icon="fa-file-contract")
    appbuilder.add_view(MyCustomerView, "My customers", label=_l("Customers"),
                        icon="fa-users")
    appbuilder.add_link("My account", label=_l("Account"), icon="fa-book-open",
                        href="/my/account/")
    appbuilder.add_link("My statements", label=_l("Statements"), icon="fa-file-invoice",
                        href="/my/statements/")
    appbuilder.add_view(FolderView, "My folder", label=_l("My folder"), icon="fa-folder-open")
    appbuilder.add_link("My documents", label=_l("Send a document"), icon="fa-upload",
                        href="/folder/upload")
    appbuilder.add_link("My profile", label=_l("My details"), icon="fa-user",
                        href="/folder/profile")
    appbuilder.add_api(FolderApi)
