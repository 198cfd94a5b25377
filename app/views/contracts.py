"""Screens and REST resources of applications and contracts, the contract
search, and the report of customers still assigned to FORMER intermediaries."""
from __future__ import annotations

from datetime import date

from flask import abort, flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.api import protect, safe
from flask_appbuilder.security.decorators import permission_name
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from app.domain.errors import DomainError
from app.extensions import db
from app.models.contracts import (
    Application,
    ApplicationStatus,
    Contract,
    ContractStatus,
    PaymentFrequency,
)
from app.models.crm import Company, Customer
from app.models.intermediaries import Intermediary, IntermediaryStatus
from app.models.products import LineOfBusiness
from app.services.contracts import transition_application
from app.views.base import (
    PoolModelRestApi,
    PoolModelView,
    datamodel,
    error_text,
    get_visible,
    scoped_select,
)
from app.views.documents import DocumentView
from app.views.fields import enum_select
from app.views.ledger import ContractBookingView
from app.views.lookup import lookup_field

APPLICATION_LABELS = {
    ApplicationStatus.DRAFT: _l("Draft"), ApplicationStatus.SUBMITTED: _l("Submitted"),
    ApplicationStatus.IN_REVIEW: _l("In review"), ApplicationStatus.ACCEPTED: _l("Accepted"),
    ApplicationStatus.REJECTED: _l("Rejected"), ApplicationStatus.WITHDRAWN: _l("Withdrawn"),
}
CONTRACT_LABELS = {
    ContractStatus.ACTIVE: _l("Active"), ContractStatus.CANCELLED: _l("Cancelled"),
    ContractStatus.ENDED: _l("Ended"),
}
FREQUENCY_LABELS = {
    PaymentFrequency.MONTHLY: _l("Monthly"), PaymentFrequency.QUARTERLY: _l("Quarterly"),
    PaymentFrequency.HALF_YEARLY: _l("Half-yearly"), PaymentFrequency.YEARLY: _l("Yearly"),
    PaymentFrequency.SINGLE: _l("Single premium"),
}
LABELS = {
    "customer": _l("Customer"), "customer.name": _l("Customer"), "product": _l("Product"),
    "product.name": _l("Product"), "intermediary": _l("Intermediary"),
    "intermediary.name": _l("Intermediary"), "combination": _l("Combination"),
    "premium": _l("Premium €"), "start_date": _l("Start"), "term_months": _l("Term (months)"),
    "status": _l("Status"), "contract": _l("Contract"), "policy_number": _l("Policy number"),
    "insurer": _l("Insurer"), "insurer.name": _l("Insurer"),
    "payment_frequency": _l("Payment frequency"),
    "premium_supplementary": _l("Supplementary premium €"),
    "valuation_sum": _l("Valuation sum €"), "policed_on": _l("Policed on"),
    "cancelled_on": _l("Cancelled on"), "managing_company": _l("Managing company"),
    "managing_company.name": _l("Managing company"), "line_of_business": _l("Line of business"),
    "created_on": _l("Created on"), "changed_on": _l("Changed on"),
    "created_by": _l("Created by"), "changed_by": _l("Changed by"),
}
AUDIT = ["created_on", "created_by", "changed_on", "changed_by"]


def _label(labels):
    return lambda v: labels.get(type(next(iter(labels)))(v), v) if v else ""


class ApplicationView(PoolModelView):
    related_views = [DocumentView]
    datamodel = datamodel(Application, eager=("customer", "product", "intermediary"))
    class_permission_name = "Application"
    method_permission_name = {**PoolModelView.method_permission_name, "transition": "write"}
    list_title = _l("Applications")
    show_title = add_title = edit_title = _l("Application")
    label_columns = LABELS
    list_columns = ["customer.name", "product.name", "intermediary.name", "premium",
                    "start_date", "status"]
    show_columns = ["customer", "product", "intermediary", "combination", "premium",
                    "start_date", "term_months", "status", "contract"] + AUDIT
    add_columns = edit_columns = ["customer", "product", "intermediary", "combination",
                                  "premium", "start_date", "term_months"]
    search_columns = ["status", "start_date"]
    base_order = ("id", "desc")
    formatters_columns = {"status": _label(APPLICATION_LABELS)}
    add_form_extra_fields = edit_form_extra_fields = {
        "customer": lookup_field("Customer", "customer", required=True),
        "product": lookup_field("Product", "product", required=True),
        "intermediary": lookup_field("Intermediary", "intermediary", status="ACTIVE"),
        "combination": lookup_field("Combination", "combination"),
    }
    show_template = "application_show.html"

    @expose("/transition/<int:pk>", methods=["POST"])
    @has_access
    def transition(self, pk):
        item = self.datamodel.get(pk, self._base_filters)
        if item is None:
            abort(404)
        try:
            contract = transition_application(item, request.form.get("to", ""),
                                              request.form.get("policy_number"))
        except DomainError as exc:
            db.session.rollback()
            flash(error_text(exc), "danger")
        else:
            flash(gettext("Status changed.") if contract is None else
                  gettext("Accepted: contract %(number)s created.",
                          number=contract.policy_number), "success")
        return redirect(url_for(".show", pk=pk))

    def pre_add(self, item):
        item.status = ApplicationStatus.DRAFT


class ContractView(PoolModelView):
    show_template = "owner_show.html"
    related_views = [DocumentView, ContractBookingView]
    datamodel = datamodel(Contract, eager=("customer", "product", "intermediary", "insurer"))
    class_permission_name = "Contract"
    list_title = _l("Contracts")
    show_title = add_title = edit_title = _l("Contract")
    label_columns = LABELS
    list_columns = ["policy_number", "insurer.name", "customer.name", "product.name",
                    "intermediary.name", "start_date", "premium", "status"]
    show_columns = ["policy_number", "insurer", "customer", "product", "line_of_business",
                    "intermediary", "combination", "start_date", "term_months",
                    "payment_frequency", "premium", "premium_supplementary", "valuation_sum",
                    "status", "policed_on", "cancelled_on", "managing_company"] + AUDIT
    add_columns = edit_columns = [
        "policy_number", "customer", "product", "intermediary", "combination", "start_date",
        "term_months", "payment_frequency", "premium", "premium_supplementary",
        "valuation_sum", "status", "policed_on", "managing_company"]
    search_columns = ["policy_number", "status", "start_date"]
    order_columns = ["policy_number", "start_date", "premium", "status"]
    base_order = ("policy_number", "asc")
    formatters_columns = {"status": _label(CONTRACT_LABELS),
                          "payment_frequency": _label(FREQUENCY_LABELS)}
    description_columns = {
        "intermediary": _l("Empty: the customer's advisor (also a former one)."),
    }
    add_form_extra_fields = edit_form_extra_fields = {
        "customer": lookup_field("Customer", "customer", required=True),
        "product": lookup_field("Product", "product", required=True),
        "intermediary": lookup_field("Intermediary", "intermediary"),
        "combination": lookup_field("Combination", "combination"),
        "managing_company": lookup_field("Managing company", "company"),
        "status": enum_select(_l("Status"), CONTRACT_LABELS),
        "payment_frequency": enum_select(_l("Payment frequency"), FREQUENCY_LABELS),
    }

    def pre_add(self, item):
        police(item)


def police(item):
    """Units model: the AP of a new contract is booked at its policing, in the
    same transaction as the contract."""
    from app.services.ledger import bookings_for_policing

    db.session.add(item)
    with db.session.no_autoflush:
        if item.product is not None and item.policed_on is None:
            item.policed_on = date.today()
    db.session.flush()
    db.session.add_all(bookings_for_policing(item))


# --- REST API ---------------------------------------------------------------------

class ApplicationApi(PoolModelRestApi):
    resource_name = "application"
    datamodel = datamodel(Application)
    class_permission_name = "Application"
    method_permission_name = {**PoolModelRestApi.method_permission_name, "transition": "write"}
    list_columns = show_columns = ["id", "customer.id", "product.id", "intermediary.id",
                                   "combination.id", "premium", "start_date", "term_months",
                                   "status", "contract.id"]
    add_columns = ["customer", "product", "intermediary", "combination", "premium",
                   "start_date", "term_months"]
    edit_columns = add_columns
    search_columns = ["customer", "product", "intermediary", "status"]
    order_columns = ["id", "start_date"]

    @expose("/<int:pk>/transition", methods=["POST"])
    @protect()
    @safe
    @permission_name("transition")
    def transition(self, pk):
        """Status change; ACCEPTED creates the contract.
        ---
        post:
          requestBody:
            content:
              application/json:
                schema:
                  type: object
                  properties:
                    to: {type: string, enum: [SUBMITTED, IN_REVIEW, ACCEPTED, REJECTED, WITHDRAWN]}
                    policy_number: {type: string}
          responses:
            200: {description: Status changed}
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
            contract = transition_application(item, str(data.get("to", "")),
                                              data.get("policy_number"))
        except DomainError as exc:
            return self._refused(exc)
        return self.response(200, id=item.id, status=item.status.value,
                             contract=contract.id if contract else None)


class ContractApi(PoolModelRestApi):
    resource_name = "contract"
    datamodel = datamodel(Contract)
    class_permission_name = "Contract"
    method_permission_name = {**PoolModelRestApi.method_permission_name, "convert": "write"}
    list_columns = show_columns = [
        "id", "policy_number", "insurer.id", "customer.id", "product.id", "intermediary.id",
        "combination.id", "start_date", "term_months", "payment_frequency", "premium",
        "premium_supplementary", "valuation_sum", "status", "policed_on", "cancelled_on",
        "managing_company.id"]
    add_columns = edit_columns = [
        "policy_number", "customer", "product", "intermediary", "combination", "start_date",
        "term_months", "payment_frequency", "premium", "premium_supplementary",
        "valuation_sum", "status", "policed_on", "managing_company"]
    search_columns = ["policy_number", "customer", "product", "intermediary", "insurer",
                      "status", "start_date"]
    order_columns = ["id", "policy_number", "start_date"]
    optional_on_add = ("managing_company",)

    def pre_add(self, item):
        police(item)

    @expose("/<int:pk>/convert", methods=["POST"])
    @protect()
    @safe
    @permission_name("convert")
    def convert(self, pk):
        """Conversion: the intermediary copies its pool contract into its own
        broker firm's contracts (idempotent).
        ---
        post:
          parameters:
          - {in: path, name: pk, schema: {type: integer}}
          responses:
            200: {description: The own contract (created or already there)}
            404: {$ref: '#/components/responses/404'}
            422: {$ref: '#/components/responses/422'}
        """
        from app.security.scope import current_scope
        from app.services.contracts import convert_contract

        item = self.datamodel.get(pk, self._base_filters)
        if item is None:
            return self.response_404()
        try:
            copy = convert_contract(item, current_scope())
        except DomainError as exc:
            return self._refused(exc)
        return self.response(200, id=copy.id, source=item.id, customer=copy.customer_id,
                             managing_company=copy.managing_company_id)



# --- contract search -----------------------------------------------------------------

PAGE = 50
#: the contract search finds the contracts of up to this many customers by id
CUSTOMERS_BY_ID = 1000

def search_contracts(args):
    """Contracts matching the search fields, newest policy numbers first; at
    most PAGE+1 rows (no count over a million rows: "more" instead)."""
    stmt = scoped_select(Contract).options(
        selectinload(Contract.customer), selectinload(Contract.product),
        selectinload(Contract.intermediary), selectinload(Contract.insurer))
    number = (args.get("policy_number") or "").strip()
    if number:
        stmt = stmt.where(Contract.policy_number.like(_prefix(number), escape="\\"))
    name = (args.get("customer") or "").strip()
    if name:
        customers = select(Customer.id).where(Customer.name.like(_prefix(name), escape="\\"))
        # Few customers: their ids, so that their contracts are found by
        # customer; as a subquery PostgreSQL walks the policy numbers in
        # order instead, and a customer's contracts may lie far down (1 s
        # with a million contracts). Many: the walk soon fills a page.
        found = db.session.execute(customers.limit(CUSTOMERS_BY_ID + 1)).scalars().all()
        stmt = stmt.where(Contract.customer_id.in_(
            found if len(found) <= CUSTOMERS_BY_ID else customers))
    for field, column in (("intermediary", Contract.intermediary_id),
                          ("insurer", Contract.insurer_id),
                          ("line", Contract.line_of_business_id)):
        value = args.get(field, type=int)
        if value:
            stmt = stmt.where(column == value)
    status = args.get("status")
    if status in ContractStatus.__members__:
        stmt = stmt.where(Contract.status == ContractStatus(status))
    page = max(0, min(args.get("page", 0, type=int), 10_000))
    rows = db.session.execute(stmt.order_by(Contract.policy_number, Contract.id)
                              .offset(page * PAGE).limit(PAGE + 1)).scalars().all()
    return rows[:PAGE], len(rows) > PAGE, page


def _prefix(text):
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


class ContractSearchView(BaseView):
    route_base = "/contracts/search"
    class_permission_name = "Contract"
    method_permission_name = {"index": "read"}
    default_view = "index"

    @expose("/")
    @has_access
    def index(self):
        rows, more, page = search_contracts(request.args)
        lines = db.session.execute(select(LineOfBusiness).order_by(LineOfBusiness.code)).scalars()
        chosen = {
            "intermediary": get_visible(Intermediary, request.args.get("intermediary")),
            "insurer": get_visible(Company, request.args.get("insurer")),
        }
        return self.render_template(
            "contract_search.html", rows=rows, more=more, page=page, args=request.args,
            lines=list(lines), chosen=chosen, statuses=CONTRACT_LABELS,
            searched=any(request.args.get(k) for k in (
                "policy_number", "customer", "intermediary", "insurer", "line", "status")))


# --- customers of former intermediaries ------------------------------------------------

class FormerAdvisorsView(BaseView):
    """Customers still assigned to FORMER intermediaries, with bulk reassignment."""

    route_base = "/former-advisors"
    class_permission_name = "Customer"
    method_permission_name = {"index": "read", "reassign": "write"}
    default_view = "index"

    def _query(self):
        return (scoped_select(Customer).join(Intermediary, Customer.intermediary)
                .where(Intermediary.status == IntermediaryStatus.FORMER)
                .options(selectinload(Customer.intermediary), selectinload(Customer.company))
                .order_by(Intermediary.name, Customer.name))

    @expose("/")
    @has_access
    def index(self):
        rows = db.session.execute(self._query().limit(1000)).scalars().all()
        total = db.session.execute(select(func.count()).select_from(
            self._query().order_by(None).subquery())).scalar()
        return self.render_template("former_advisors.html", rows=rows, total=total)

    @expose("/reassign", methods=["POST"])
    @has_access
    def reassign(self):
        target = get_visible(Intermediary, request.form.get("intermediary"))
        ids = request.form.getlist("customer")
        if target is None:
            flash(gettext("Choose the intermediary who takes over."), "danger")
            return redirect(url_for(".index"))
        customers = [get_visible(Customer, pk) for pk in ids]
        if not ids or any(c is None for c in customers):
            abort(404)
        try:
            for customer in customers:
                customer.intermediary = target
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            flash(error_text(exc), "danger")
            return redirect(url_for(".index"))
        flash(gettext("%(n)d customers now assigned to %(name)s.", n=len(customers),
                      name=target.name), "success")
        return redirect(url_for(".index"))


def register(appbuilder):
    appbuilder.add_view(ApplicationView, "Applications", label=_l("Applications"),
                        icon="fa-file-signature", category="Business",
                        category_label=_l("Business"))
    appbuilder.add_view(ContractView, "Contracts", label=_l("Contracts"),
                        icon="fa-file-contract", category="Business")
    appbuilder.add_view(ContractSearchView, "Contract search", label=_l("Contract search"),
                        icon="fa-search", category="Business")
    appbuilder.add_view(FormerAdvisorsView, "Former advisors",
                        label=_l("Customers of former intermediaries"),
                        icon="fa-user-clock", category="CRM")
    appbuilder.add_api(ApplicationApi)
    appbuilder.add_api(ContractApi)
