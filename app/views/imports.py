"""Imports and reconciliation screens: GDV files, commission statements,
clearance cases, the pool's agreements with insurers, Provisionskontrolle."""
from __future__ import annotations

from datetime import date

from flask import abort, request
from flask_appbuilder import BaseView, expose
from flask_appbuilder.actions import action
from flask_appbuilder.api import BaseApi, protect, safe
from flask_appbuilder.api import expose as expose_api
from flask_appbuilder.security.decorators import has_access, permission_name
from flask_babel import lazy_gettext as _l

from app.domain.errors import DomainError
from app.models.crm import Company, CompanyKind
from app.models.imports import (
    ClearanceCase,
    ImportProfile,
    ImportRun,
    InsurerBrokerNumber,
)
from app.models.products import InsurerAgreement
from app.views.base import (
    PoolModelRestApi,
    PoolModelView,
    RefusalMixin,
    datamodel,
    error_text,
)
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


class ClearanceCaseView(PoolModelView):
    """Klärfälle: what imports could not assign, for staff to resolve."""

    datamodel = datamodel(ClearanceCase, eager=("run", "contract"))
    class_permission_name = "Import"
    list_title = _l("Clearance cases")
    show_title = edit_title = _l("Clearance case")
    label_columns = {"reason": _l("Reason"), "key": _l("Looked for"), "line": _l("Line"),
                     "detail": _l("Details"), "status": _l("Status"), "note": _l("Note"),
                     "run": _l("Import"), "contract": _l("Contract"),
                     "resolved_on": _l("Resolved on")}
    list_columns = ["reason", "key", "line", "run", "status"]
    show_columns = ["reason", "key", "line", "detail", "run", "contract", "status", "note",
                    "resolved_on"]
    edit_columns = ["note"]
    search_columns = ["reason", "status", "key"]
    base_order = ("id", "desc")
    include_route_methods = {"list", "show", "edit", "action", "action_post"}
    formatters_columns = {"reason": lambda v: CASE_LABELS.get(v, v),
                          "status": lambda v: CASE_STATUS.get(v, v)}

    @action("resolve", _l("Mark as resolved"), _l("Mark the chosen cases as resolved?"),
            "fa-check")
    def resolve(self, items):
        from datetime import datetime

        from flask import redirect

        from app.extensions import db
        from app.security.scope import current_scope

        items = items if isinstance(items, list) else [items]
        for item in items:
            item.status = "RESOLVED"
            item.resolved_on = datetime.now()
            item.resolved_by_fk = current_scope().user_id
        db.session.commit()
        self.update_redirect()
        return redirect(self.get_redirect())


CASE_LABELS = {"UNKNOWN_INSURER": _l("unknown insurer"), "UNKNOWN_PRODUCT": _l("unknown product"),
               "UNKNOWN_BROKER": _l("unknown broker"), "NO_CONTRACT": _l("no such contract")}
CASE_STATUS = {"OPEN": _l("open"), "RESOLVED": _l("resolved")}


class ImportProfileView(PoolModelView):
    datamodel = datamodel(ImportProfile, eager=("insurer",))
    class_permission_name = "Import"
    list_title = _l("Import profiles")
    show_title = add_title = edit_title = _l("Import profile")
    label_columns = {"name": _l("Name"), "insurer": _l("Insurer"),
                     "insurer.name": _l("Insurer"), "definition": _l("Mapping (JSON)")}
    list_columns = ["name", "insurer.name"]
    show_columns = add_columns = edit_columns = ["name", "insurer", "definition"]
    search_columns = ["name"]
    add_form_extra_fields = edit_form_extra_fields = {
        "insurer": lookup_field("Insurer", "company", kind="INSURER"),
    }
    description_columns = {"definition": _l(
        'For example {"file_type": "csv", "separator": ";", "decimal_comma": true, '
        '"date_format": "%d.%m.%Y", "columns": {"policy_number": "VSNR", "amount": '
        '"Betrag", "value_date": "Datum", "kind": "Art", "reference": "Beleg"}, '
        '"kind_map": {"Abschlussprovision": "AP", "Folgeprovision": "FP"}}')}

    def _check(self, item):
        import json

        from app.domain.errors import N_, InvalidValueError
        from app.domain.receipt_import import Profile

        try:
            data = json.loads(item.definition or "")
        except ValueError:
            raise InvalidValueError("definition", N_("This is not valid JSON.")) from None
        if not isinstance(data, dict):
            raise InvalidValueError("definition", N_("This is not valid JSON."))
        data.setdefault("name", item.name)
        Profile.from_dict(data)
        item.definition = json.dumps(data, ensure_ascii=False, indent=1)

    pre_add = pre_update = _check


class BrokerNumberView(PoolModelView):
    datamodel = datamodel(InsurerBrokerNumber, eager=("insurer", "intermediary"))
    class_permission_name = "Import"
    list_title = _l("Broker numbers at insurers")
    show_title = add_title = edit_title = _l("Broker number at an insurer")
    label_columns = {"insurer": _l("Insurer"), "insurer.name": _l("Insurer"),
                     "number": _l("Number at the insurer"), "intermediary": _l("Intermediary"),
                     "intermediary.name": _l("Intermediary")}
    list_columns = ["insurer.name", "number", "intermediary.name"]
    show_columns = add_columns = edit_columns = ["insurer", "number", "intermediary"]
    search_columns = ["number"]
    add_form_extra_fields = edit_form_extra_fields = {
        "insurer": lookup_field("Insurer", "company", required=True, kind="INSURER"),
        "intermediary": lookup_field("Intermediary", "intermediary", required=True),
    }


class ImportsView(BaseView):
    """Upload of GDV files and commission statements; the runs and reports."""

    route_base = "/imports"
    class_permission_name = "Import"
    method_permission_name = {"index": "read", "start": "write", "report": "read"}
    default_view = "index"

    @expose("/")
    @has_access
    def index(self):
        from sqlalchemy import select

        from app.extensions import db
        from app.jobs import background

        runs = db.session.execute(select(ImportRun).order_by(ImportRun.id.desc())
                                  .limit(50)).scalars().all()
        profiles = db.session.execute(select(ImportProfile).order_by(
            ImportProfile.name)).scalars().all()
        job = background.status(request.args.get("job", "")) if request.args.get("job") \
            else None
        return self.render_template("imports.html", runs=runs, profiles=profiles, job=job,
                                    reports={r.id: _report(r) for r in runs})

    @expose("/start", methods=["POST"])
    @has_access
    def start(self):
        import os
        import tempfile
        from pathlib import Path

        from flask import current_app, flash, redirect, url_for
        from flask_babel import gettext

        from app.jobs import background
        from app.security.scope import current_scope

        kind = request.form.get("kind")
        upload = request.files.get("file")
        profile = request.form.get("profile") or ""
        if kind not in ("gdv", "receipts") or upload is None or not upload.filename:
            flash(gettext("Choose a file."), "danger")
            return redirect(url_for(".index"))
        folder = Path(current_app.config["POOL_JOB_DIR"])
        folder.mkdir(parents=True, exist_ok=True)
        fd, path = tempfile.mkstemp(dir=folder, suffix=".upload")
        with os.fdopen(fd, "wb") as out:
            upload.save(out)
        name, uid = upload.filename, current_scope().user_id

        def work(progress):
            from app.services.imports import import_gdv, import_receipts

            try:
                with open(path, "rb") as stream:
                    if kind == "gdv":
                        run, duplicate = import_gdv(stream, name, uid, progress)
                    else:
                        run, duplicate = import_receipts(stream, name, profile, uid, progress)
            finally:
                os.unlink(path)
            return {"run": run.id, "duplicate": duplicate}

        job_id = background.start("import", work, filename=name, import_kind=kind)
        return redirect(url_for(".index", job=job_id))

    @expose("/<int:pk>")
    @has_access
    def report(self, pk):
        from app.extensions import db

        run = db.session.get(ImportRun, pk)
        if run is None:
            abort(404)
        return self.render_template("import_report.html", run=run, report=_report(run))


class ImportApi(RefusalMixin, BaseApi):
    """Imports through the REST API (multipart uploads; one transaction each)."""

    resource_name = "import"
    class_permission_name = "Import"
    method_permission_name = {"gdv": "write", "receipts": "write", "report": "read"}

    def _answer(self, run, duplicate):
        return self.response(200 if duplicate else 201, id=run.id, kind=run.kind,
                             duplicate=duplicate, report=_report(run))

    @expose_api("/gdv", methods=["POST"])
    @protect()
    @safe
    @permission_name("gdv")
    def gdv(self):
        """Import a GDV file (multipart field `file`).
        ---
        post:
          responses:
            201: {description: imported; the report}
            200: {description: the same file was imported before; nothing changed}
            422: {$ref: '#/components/responses/422'}
        """
        from app.services.imports import import_gdv

        return self._import(import_gdv)

    @expose_api("/receipts", methods=["POST"])
    @protect()
    @safe
    @permission_name("receipts")
    def receipts(self):
        """Import a commission statement (multipart `file`, `profile`) and book it.
        ---
        post:
          responses:
            201: {description: imported; the report}
            200: {description: the same file was imported before; nothing changed}
            422: {$ref: '#/components/responses/422'}
        """
        from app.services.imports import import_receipts

        profile = request.form.get("profile", "")
        return self._import(lambda stream, name, uid: import_receipts(stream, name, profile,
                                                                      uid))

    def _import(self, run_import):
        """The uploaded `file` through an import; 201 with its report, 200 for
        a file imported before, 422 naming every bad line."""
        from app.security.scope import current_scope

        upload = request.files.get("file")
        if upload is None:
            return self.response_422(message={"file": ["Missing data for required field."]})
        try:
            run, duplicate = run_import(upload.stream, upload.filename or "upload",
                                        current_scope().user_id)
        except DomainError as exc:
            return self._refused_lines(exc)
        return self._answer(run, duplicate)

    def _refused_lines(self, exc):
        from app.extensions import db

        db.session.rollback()
        errors = getattr(exc, "errors", None) or [exc]
        return self.response_422(message={"errors": [
            {"line": getattr(e, "line", None), "field": e.field, "message": error_text(e)}
            for e in errors]})

    @expose_api("/<int:pk>", methods=["GET"])
    @protect()
    @safe
    @permission_name("report")
    def report(self, pk):
        """An import run and its report.
        ---
        get:
          parameters:
          - {in: path, name: pk, schema: {type: integer}}
          responses:
            200: {description: the run}
            404: {$ref: '#/components/responses/404'}
        """
        from app.extensions import db

        run = db.session.get(ImportRun, pk)
        if run is None:
            return self.response_404()
        return self.response(200, id=run.id, kind=run.kind, filename=run.filename,
                             sha256=run.sha256, report=_report(run),
                             started_on=run.started_on.isoformat())


class ClearanceCaseApi(PoolModelRestApi):
    resource_name = "clearance_case"
    datamodel = datamodel(ClearanceCase)
    class_permission_name = "Import"
    include_route_methods = {"get", "get_list", "info", "put"}
    list_columns = show_columns = ["id", "reason", "key", "line", "detail", "status", "note",
                                   "run.id", "contract.id"]
    edit_columns = ["status", "note"]
    search_columns = ["reason", "status", "key"]


def _report(run) -> dict:
    import json

    return json.loads(run.report or "{}")


def register(appbuilder):
    appbuilder.add_view(InsurerAgreementView, "Insurer agreements",
                        label=_l("Agreements with insurers"), icon="fa-handshake",
                        category="Products", category_label=_l("Products"))
    appbuilder.add_api(InsurerAgreementApi)
    appbuilder.add_api(ImportApi)
    appbuilder.add_api(ClearanceCaseApi)
    appbuilder.add_view(ImportsView, "Imports", label=_l("Imports"), icon="fa-file-import",
                        category="Imports", category_label=_l("Imports"))
    appbuilder.add_view(ClearanceCaseView, "Clearance cases", label=_l("Clearance cases"),
                        icon="fa-question-circle", category="Imports")
    appbuilder.add_view(ImportProfileView, "Import profiles", label=_l("Import profiles"),
                        icon="fa-sliders-h", category="Imports")
    appbuilder.add_view(BrokerNumberView, "Broker numbers", label=_l("Broker numbers"),
                        icon="fa-id-card", category="Imports")
    appbuilder.add_view(ReconciliationView, "Reconciliation", label=_l("Reconciliation"),
                        icon="fa-balance-scale", category="Commission",
                        category_label=_l("Commission"))
