"""Data protection screens and REST calls (docs/data-protection.md):

- a customer's data export (Art. 15/20 DSGVO) as one ZIP, from the customer's
  show page and `GET /api/v1/customer/<id>/export` (staff who may see the
  customer: permission `CustomerExport`, the company scope);
- restriction of processing (Art. 18): restrict from the show page or
  `POST /api/v1/customer/<id>/restrict`, the restricted customers' screen and
  `GET /api/v1/customer/restricted`, lifting there or by
  `POST /api/v1/customer/<id>/unrestrict` (permission `Restriction`).
The hiding itself is in the scope (app/security/scope.py).
"""
from __future__ import annotations

import tempfile

from flask import abort, flash, redirect, request, send_file, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.api import BaseApi, protect, safe
from flask_appbuilder.api import expose as api_expose
from flask_appbuilder.security.decorators import permission_name
from flask_babel import gettext
from flask_babel import lazy_gettext as _l

from app.domain.errors import DomainError
from app.extensions import db
from app.services.privacy import (
    REASON_MAX,
    export_filename,
    lift_restriction,
    restrict_customer,
    restricted_customers_select,
    visible_customer,
    write_export,
)
from app.views.base import RefusalMixin, error_text

#: exports up to this size are built in memory, larger ones in a temporary file
SPOOL_BYTES = 16 * 1024 * 1024
#: the restricted customers' screen shows at most this many
SCREEN_LIMIT = 1000


def export_response(customer):
    """The customer's export as a download (never cached: app/security/headers.py
    marks every answer but static files no-store)."""
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 (send_file closes it)
    write_export(customer, spool)
    spool.seek(0)
    return send_file(spool, mimetype="application/zip", as_attachment=True,
                     download_name=export_filename(customer), max_age=0)


class CustomerExportView(BaseView):
    """The export of a customer's data (also of a restricted one)."""

    route_base = "/privacy"
    class_permission_name = "CustomerExport"
    method_permission_name = {"export": "read"}

    @expose("/customer/<int:pk>/export")
    @has_access
    def export(self, pk):
        customer = visible_customer(pk)
        if customer is None:
            abort(404)
        return export_response(customer)


class RestrictionView(BaseView):
    """Restricted customers: restrict, list, lift."""

    route_base = "/privacy"
    class_permission_name = "Restriction"
    method_permission_name = {"restricted": "read", "restrict": "write", "lift": "write"}
    default_view = "restricted"

    @expose("/restricted/")
    @has_access
    def restricted(self):
        rows = db.session.execute(restricted_customers_select().limit(SCREEN_LIMIT)
                                  ).scalars().all()
        may_export = self.appbuilder.sm.has_access("can_read", "CustomerExport")
        return self.render_template("privacy/restricted.html", rows=rows,
                                    may_export=may_export, limit=SCREEN_LIMIT)

    @expose("/customer/<int:pk>/restrict", methods=["GET", "POST"])
    @has_access
    def restrict(self, pk):
        customer = visible_customer(pk, restricted=False)
        if customer is None:
            abort(404)
        error = None
        if request.method == "POST":
            try:
                restrict_customer(customer, request.form.get("reason"))
            except DomainError as exc:
                db.session.rollback()
                error = error_text(exc)
            else:
                flash(gettext("The processing of %(name)s's data is restricted: the customer "
                              "is hidden from every screen.", name=customer.full_name),
                      "success")
                return redirect(url_for(".restricted"))
        return self.render_template("privacy/restrict.html", customer=customer, error=error,
                                    reason=request.form.get("reason", ""), max=REASON_MAX)

    @expose("/customer/<int:pk>/lift", methods=["POST"])
    @has_access
    def lift(self, pk):
        customer = visible_customer(pk, restricted=True)
        if customer is None:
            abort(404)
        try:
            lift_restriction(customer)
        except DomainError as exc:
            db.session.rollback()
            flash(error_text(exc), "danger")
            return redirect(url_for(".restricted"))
        flash(gettext("The restriction of %(name)s has been lifted.", name=customer.full_name),
              "success")
        return redirect(url_for("CustomerView.show", pk=customer.id))


# --- REST API ----------------------------------------------------------------------

class CustomerExportApi(BaseApi):
    """GET /api/v1/customer/<id>/export."""

    resource_name = "customer"
    class_permission_name = "CustomerExport"
    method_permission_name = {"export": "read"}

    @api_expose("/<int:pk>/export", methods=["GET"])
    @protect()
    @safe
    @permission_name("export")
    def export(self, pk):
        """The customer's data (Art. 15/20 DSGVO) as a ZIP: export.json, one CSV
        per kind of record, the documents' files.
        ---
        get:
          parameters:
          - {in: path, name: pk, schema: {type: integer}}
          responses:
            200:
              description: the ZIP file
              content:
                application/zip:
                  schema: {type: string, format: binary}
            401: {$ref: '#/components/responses/401'}
            403: {$ref: '#/components/responses/403'}
            404: {$ref: '#/components/responses/404'}
        """
        customer = visible_customer(pk)
        if customer is None:
            return self.response_404()
        return export_response(customer)


def _restriction(customer) -> dict:
    return {"id": customer.id, "name": customer.full_name,
            "restricted_on": customer.restricted_on.isoformat() if customer.restricted_on
            else None,
            "restricted_by": customer.restricted_by.username if customer.restricted_by
            else None,
            "reason": customer.restriction_reason}


class CustomerRestrictionApi(RefusalMixin, BaseApi):
    """GET /api/v1/customer/restricted, POST /api/v1/customer/<id>/restrict
    {"reason"} and /unrestrict."""

    resource_name = "customer"

    def add_apispec_components(self, api_spec):
        super().add_apispec_components(api_spec)
        if "RestrictedCustomer" not in api_spec.components.schemas:
            api_spec.components.schema("RestrictedCustomer", {
                "type": "object", "properties": {
                    "id": {"type": "integer"}, "name": {"type": "string"},
                    "restricted_on": {"type": "string", "format": "date-time",
                                      "nullable": True},
                    "restricted_by": {"type": "string", "nullable": True},
                    "reason": {"type": "string", "nullable": True}}})
    class_permission_name = "Restriction"
    method_permission_name = {"restricted": "read", "restrict": "write", "unrestrict": "write"}

    @api_expose("/restricted", methods=["GET"])
    @protect()
    @safe
    @permission_name("restricted")
    def restricted(self):
        """The restricted customers in the caller's scope, latest first.
        ---
        get:
          responses:
            200:
              description: the restricted customers
              content:
                application/json:
                  schema:
                    type: object
                    properties:
                      result:
                        type: array
                        items: {$ref: '#/components/schemas/RestrictedCustomer'}
            401: {$ref: '#/components/responses/401'}
            403: {$ref: '#/components/responses/403'}
        """
        rows = db.session.execute(restricted_customers_select().limit(SCREEN_LIMIT)
                                  ).scalars().all()
        return self.response(200, result=[_restriction(c) for c in rows])

    @api_expose("/<int:pk>/restrict", methods=["POST"])
    @protect()
    @safe
    @permission_name("restrict")
    def restrict(self, pk):
        """Restrict the processing of the customer's data (Art. 18 DSGVO).
        ---
        post:
          parameters:
          - {in: path, name: pk, schema: {type: integer}}
          requestBody:
            content:
              application/json:
                schema:
                  type: object
                  properties:
                    reason: {type: string}
          responses:
            200:
              description: restricted
              content:
                application/json:
                  schema:
                    type: object
                    properties:
                      result: {$ref: '#/components/schemas/RestrictedCustomer'}
            400: {$ref: '#/components/responses/400'}
            401: {$ref: '#/components/responses/401'}
            403: {$ref: '#/components/responses/403'}
            404: {$ref: '#/components/responses/404'}
            422: {$ref: '#/components/responses/422'}
        """
        customer = visible_customer(pk, restricted=False)
        if customer is None:
            return self.response_404()
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            return self.response_400(message="Request is not a JSON object")
        try:
            restrict_customer(customer, data.get("reason"))
        except DomainError as exc:
            return self._refused(exc)
        return self.response(200, result=_restriction(customer))

    @api_expose("/<int:pk>/unrestrict", methods=["POST"])
    @protect()
    @safe
    @permission_name("unrestrict")
    def unrestrict(self, pk):
        """Lift the restriction: the customer is shown again.
        ---
        post:
          parameters:
          - {in: path, name: pk, schema: {type: integer}}
          responses:
            200:
              description: lifted
              content:
                application/json:
                  schema:
                    type: object
                    properties:
                      result: {$ref: '#/components/schemas/RestrictedCustomer'}
            401: {$ref: '#/components/responses/401'}
            403: {$ref: '#/components/responses/403'}
            404: {$ref: '#/components/responses/404'}
            422: {$ref: '#/components/responses/422'}
        """
        customer = visible_customer(pk, restricted=True)
        if customer is None:
            return self.response_404()
        try:
            lift_restriction(customer)
        except DomainError as exc:
            return self._refused(exc)
        return self.response(200, result=_restriction(customer))


def register(appbuilder):
    from app.views.crm import CustomerView

    # The customer's show page with the export and restriction buttons.
    CustomerView.show_template = "privacy/customer_show.html"
    appbuilder.add_view_no_menu(CustomerExportView)
    appbuilder.add_view(RestrictionView, "Restricted customers",
                        label=_l("Restricted customers"), icon="fa-user-lock",
                        category="CRM", category_label=_l("CRM"))
    appbuilder.add_api(CustomerExportApi)
    appbuilder.add_api(CustomerRestrictionApi)
