"""Imports and reconciliation screens: GDV files, commission statements,
clearance cases, the pool's agreements with insurers, Provisionskontrolle."""
from __future__ import annotations

from datetime import date

from flask import abort, request
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from flask_babel import lazy_gettext as _l

from app.domain.errors import DomainError
from app.models.crm import Company, CompanyKind
from app.models.products import InsurerAgreement
from app.views.base import PoolModelRestApi, PoolModelView, datamodel, error_text
from app.views.lookup import lookup_field
from app.views.settlement import download, last_month

REASON_LABELS = {
    "OK": _l("as agreed"), "NO_RECEIPT": _l("no receipt"),
    "AMOUNT_DIFFERS": _l("amount differs"), "NOT_EXPECTED": _l("not expected"),
    "NOT_DUE": _l("not yet due"),
}
AGREEMENT_LABELS = {"insurer": _l("Insurer"), "insurer.name": _l("Insurer"),
                    "line_of_business": _l("Line of business"),
                    "line_of_business.name": _l("Line of business"),
                    "product": _l("Product"), "product.name": _l("Product"),
                    "ap_rate": _l("AP %"), "ap_zv_rate": _l("AP ZV %"), "fp_rate": _l("FP %")}


class InsurerAgreementView(PoolModelView):
    datamodel = datamodel(InsurerAgreement, eager=("insurer", "product", "line_of_business"))
    class_permission_name = "Product"
    list_title = _l("Agreements with insurers")
    show_title = add_title = edit_title = _l("Agreement with an insurer")
    label_columns = AGREEMENT_LABELS
    list_columns = ["insurer.name", "line_of_business.name", "product.name", "ap_rate",
                    "ap_zv_rate", "fp_rate"]
    show_columns = add_columns = edit_columns = ["insurer", "line_of_business", "product",
                                                 "ap_rate", "ap_zv_rate", "fp_rate"]
    search_columns = ["ap_rate", "fp_rate"]
    add_form_extra_fields = edit_form_extra_fields = {
        "insurer": lookup_field("Insurer", "company", required=True, kind="INSURER"),
        "product": lookup_field("Product", "product"),
    }


class InsurerAgreementApi(PoolModelRestApi):
    resource_name = "insurer_agreement"
    datamodel = datamodel(InsurerAgreement)
    class_permission_name = "Product"
    list_columns = show_columns = ["id", "insurer.id", "line_of_business.id", "product.id",
                                   "ap_rate", "ap_zv_rate", "fp_rate"]
    add_columns = edit_columns = ["insurer", "line_of_business", "product", "ap_rate",
                                  "ap_zv_rate", "fp_rate"]


class ReconciliationView(BaseView):
    """Provisionskontrolle: expected against received commission per month."""

    route_base = "/reconciliation"
    class_permission_name = "Reconciliation"
    method_permission_name = {"index": "read", "claims": "read"}
    default_view = "index"

    def _args(self):
        from app.domain.settlement import parse_period

        period = request.args.get("period") or last_month(date.today())
        try:
            first, _ = parse_period(period)
        except DomainError as exc:
            return None, None, error_text(exc)
        insurer = request.args.get("insurer", type=int)
        return f"{first:%Y-%m}", insurer, None

    @expose("/")
    @has_access
    def index(self):
        from sqlalchemy import select

        from app.extensions import db
        from app.services.reconciliation import reconcile

        period, insurer, error = self._args()
        rows = reconcile(period, insurer) if period else []
        wanted = request.args.get("reason") or ""
        if wanted:
            rows = [r for r in rows if r["reason"] == wanted]
        totals = {"expected": sum((r["expected"] for r in rows), 0),
                  "received": sum((r["received"] for r in rows), 0)}
        insurers = db.session.execute(select(Company).where(
            Company.kind == CompanyKind.INSURER).order_by(Company.name)).scalars().all()
        return self.render_template(
            "reconciliation.html", rows=rows[:2000], count=len(rows), period=period or "",
            insurer=insurer, insurers=insurers, error=error, reason=wanted,
            reasons=REASON_LABELS, totals=totals)

    @expose("/claims.csv")
    @has_access
    def claims(self):
        from app.services.reconciliation import claims_csv

        period, insurer, error = self._args()
        if period is None:
            abort(400)
        return download(claims_csv(period, insurer), "text/csv",
                        f"nachforderung-{period}.csv")


def register(appbuilder):
    appbuilder.add_view(InsurerAgreementView, "Insurer agreements",
                        label=_l("Agreements with insurers"), icon="fa-handshake",
                        category="Products", category_label=_l("Products"))
    appbuilder.add_api(InsurerAgreementApi)
    appbuilder.add_view(ReconciliationView, "Reconciliation", label=_l("Reconciliation"),
                        icon="fa-balance-scale", category="Commission",
                        category_label=_l("Commission"))
