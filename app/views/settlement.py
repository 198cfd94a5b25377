"""The settlement run, its release (four eyes), its files, and the
(read-only) statements with their credit notes."""
from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

from flask import Response, abort, flash, g, jsonify, redirect, request, url_for
from flask_appbuilder import BaseView
from flask_appbuilder import expose as view_expose
from flask_appbuilder.api import BaseApi, expose, protect, safe
from flask_appbuilder.security.decorators import has_access, permission_name
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from app.domain.errors import DomainError, RunUnderWayError
from app.extensions import db
from app.jobs import background
from app.jobs.statements import start_rendering
from app.models.ledger import RunStatus, SettlementRun, Statement, StatementPdf
from app.services import statements as files
from app.services.settlement import four_eyes, release_run, run_settlement
from app.views.base import PoolModelRestApi, RefusalMixin, datamodel, error_text


def download(content: bytes, mimetype: str, filename: str) -> Response:
    return Response(content, mimetype=mimetype, headers={
        "Content-Disposition": f'attachment; filename="{filename}"',
        "Cache-Control": "no-store"})


def user_id() -> int | None:
    user = getattr(g, "user", None)
    return getattr(user, "id", None)


class SettlementApi(RefusalMixin, BaseApi):
    resource_name = "settlement"
    class_permission_name = "Settlement"
    method_permission_name = {"run": "write", "release": "write", "sepa": "read",
                              "export": "read", "pdfs": "read"}

    def _refused(self, exc):
        if isinstance(exc, RunUnderWayError):
            db.session.rollback()
            return self.response(409, message={exc.field: [error_text(exc)]})
        return super()._refused(exc)

    @expose("/run", methods=["POST"])
    @protect()
    @safe
    @permission_name("run")
    def run(self):
        """A settlement run for a month; a preview writes nothing.
        ---
        post:
          requestBody:
            content:
              application/json:
                schema:
                  type: object
                  properties:
                    period: {type: string, example: "2026-10"}
                    final: {type: boolean}
          responses:
            200: {description: The statements and the missing rates}
            409: {description: A settlement run is under way}
            422: {$ref: '#/components/responses/422'}
        """
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            return self.response_400(message="Request is not a JSON object")
        try:
            answer = run_settlement(str(data.get("period", "")), bool(data.get("final")),
                                    user_id=user_id())
        except DomainError as exc:
            return self._refused(exc)
        if answer["status"] == RunStatus.RELEASED.value:
            start_rendering(answer["run"])       # credit notes rendered once, stored
        return self.response(200, **answer)

    def _run(self, pk: int) -> SettlementRun | None:
        return db.session.get(SettlementRun, pk)

    @expose("/<int:pk>/release", methods=["POST"])
    @protect()
    @safe
    @permission_name("release")
    def release(self, pk):
        """Four eyes: a second staff member releases a final run.
        ---
        post:
          parameters:
          - {in: path, name: pk, schema: {type: integer}}
          responses:
            200: {description: The released run}
            404: {$ref: '#/components/responses/404'}
            409: {description: A settlement run is under way}
            422: {$ref: '#/components/responses/422'}
        """
        if self._run(pk) is None:
            return self.response_404()
        try:
            run = release_run(pk, user_id())
        except DomainError as exc:
            return self._refused(exc)
        start_rendering(run.id)
        return self.response(200, id=run.id, period=run.period, status=run.status)

    def _file(self, pk, make):
        run = self._run(pk)
        if run is None:
            return self.response_404()
        try:
            return download(*make(run))
        except DomainError as exc:
            return self._refused(exc)

    @expose("/<int:pk>/sepa", methods=["GET"])
    @protect()
    @safe
    @permission_name("sepa")
    def sepa(self, pk):
        """The run's payout file (SEPA credit transfer, pain.001).
        ---
        get:
          parameters:
          - {in: path, name: pk, schema: {type: integer}}
          responses:
            200: {description: pain.001 XML}
            404: {$ref: '#/components/responses/404'}
            422: {$ref: '#/components/responses/422'}
        """
        def make(run):
            xml, _held = files.payout_file(run)
            return xml, "application/xml", f"sepa-{run.period}-lauf-{run.id}.xml"
        return self._file(pk, make)

    @expose("/<int:pk>/export", methods=["GET"])
    @protect()
    @safe
    @permission_name("export")
    def export(self, pk):
        """The run's lines, each explained, as csv, json or xlsx (?format=).
        ---
        get:
          parameters:
          - {in: path, name: pk, schema: {type: integer}}
          - {in: query, name: format, schema: {type: string, enum: [csv, json, xlsx]}}
          responses:
            200: {description: The export}
            404: {$ref: '#/components/responses/404'}
            422: {$ref: '#/components/responses/422'}
        """
        fmt = request.args.get("format", "csv")
        return self._file(pk, lambda run: files.export_run(run, fmt))

    @expose("/<int:pk>/pdfs", methods=["GET"])
    @protect()
    @safe
    @permission_name("pdfs")
    def pdfs(self, pk):
        """The run's credit notes as one ZIP file.
        ---
        get:
          parameters:
          - {in: path, name: pk, schema: {type: integer}}
          responses:
            200: {description: ZIP of PDFs}
            404: {$ref: '#/components/responses/404'}
            422: {$ref: '#/components/responses/422'}
        """
        return self._file(pk, lambda run: (files.run_pdfs_zip(run), "application/zip",
                                           f"gutschriften-{run.period}-lauf-{run.id}.zip"))


class StatementApi(PoolModelRestApi):
    resource_name = "statement"
    datamodel = datamodel(Statement)
    class_permission_name = "Statement"
    include_route_methods = {"get", "get_list", "info", "pdf"}
    method_permission_name = {**PoolModelRestApi.method_permission_name, "pdf": "read"}
    list_columns = show_columns = ["id", "number", "intermediary.id", "period",
                                   "opening_balance", "total", "payout", "carry_forward",
                                   "reserve_balance", "status", "run.id"]
    search_columns = ["intermediary", "period", "number", "status"]
    order_columns = ["id", "number", "period"]

    @expose("/<int:pk>/pdf", methods=["GET"])
    @protect()
    @safe
    @permission_name("pdf")
    def pdf(self, pk):
        """The credit note (Gutschrift) as PDF.
        ---
        get:
          parameters:
          - {in: path, name: pk, schema: {type: integer}}
          responses:
            200: {description: application/pdf}
            404: {$ref: '#/components/responses/404'}
            422: {$ref: '#/components/responses/422'}
        """
        statement = self.datamodel.get(pk, self._base_filters)
        if statement is None:
            return self.response_404()
        try:
            pdf = files.statement_pdf(statement)
        except DomainError as exc:
            return self._refused(exc)
        return download(pdf, "application/pdf", f"Gutschrift-{statement.number}.pdf")


FILES = {
    "pdfs": lambda run: (files.run_pdfs_zip(run), "application/zip",
                         f"gutschriften-{run.period}-lauf-{run.id}.zip"),
    "sepa": lambda run: (files.payout_file(run)[0], "application/xml",
                         f"sepa-{run.period}-lauf-{run.id}.xml"),
    "xlsx": lambda run: files.export_run(run, "xlsx"),
    "csv": lambda run: files.export_run(run, "csv"),
    "json": lambda run: files.export_run(run, "json"),
}


def last_month(today: date) -> str:
    return f"{today.year - (today.month == 1)}-{(today.month - 2) % 12 + 1:02d}"


class SettlementView(BaseView):
    """The settlement screen: choose a month, preview, final run (confirmed),
    progress, release (four eyes), history of runs with their files."""

    route_base = "/settlement"
    class_permission_name = "Settlement"
    method_permission_name = {"index": "read", "job": "read", "start": "write",
                              "release": "write", "download": "read"}
    default_view = "index"

    @view_expose("/")
    @has_access
    def index(self):
        runs = db.session.execute(select(SettlementRun).order_by(
            SettlementRun.id.desc()).limit(50)).scalars().all()
        job = background.status(request.args.get("job", "")) if request.args.get("job") else None
        # the credit notes stored per run: rendered by a background job after
        # the run (app/jobs/statements.py); the screen shows how far it got
        stored = dict(db.session.execute(
            select(Statement.run_id, func.count(StatementPdf.id))
            .join(StatementPdf, StatementPdf.statement_id == Statement.id)
            .where(Statement.run_id.in_([r.id for r in runs])).group_by(Statement.run_id)).all())
        return self.render_template(
            "settlement.html", runs=runs, job=job, four_eyes=four_eyes(), pdfs_stored=stored,
            period=request.args.get("period") or (job or {}).get("period")
            or last_month(date.today()),
            user_id=user_id(), withheld=lambda run: json.loads(run.withheld or "[]"),
            held=lambda run: json.loads(run.sepa_held or "[]"))

    @view_expose("/job/<job_id>")
    @has_access
    def job(self, job_id):
        found = background.status(job_id)
        if found is None:
            abort(404)
        found.pop("result", None)
        return jsonify(found)

    @view_expose("/start", methods=["POST"])
    @has_access
    def start(self):
        period = (request.form.get("period") or "").strip()
        final = request.form.get("final") == "1"
        if final and request.form.get("confirm") != "1":
            flash(gettext("Confirm the final run: it issues the statements and cannot be "
                          "undone."), "danger")
            return redirect(url_for("SettlementView.index", period=period))
        uid = user_id()

        def work(progress):
            answer = run_settlement(period, final, user_id=uid, progress=progress,
                                    detail=True)
            answer["payout_total"] = str(sum((e["payout"] for e in answer["details"]),
                                             Decimal(0)))
            answer["details"] = [{k: (str(v) if v is not None and not isinstance(v, (int, str))
                                      else v) for k, v in e.items()}
                                 for e in answer["details"]]
            for entry, public in zip(answer["details"], answer["statements"], strict=True):
                entry["number"] = public.get("number")
            if answer["status"] == RunStatus.RELEASED.value:
                answer["pdf_job"] = start_rendering(answer["run"])
            return answer

        job_id = background.start("settlement", work, period=period, final=final)
        return redirect(url_for("SettlementView.index", job=job_id))

    @view_expose("/<int:pk>/release", methods=["POST"])
    @has_access
    def release(self, pk):
        try:
            release_run(pk, user_id())
        except DomainError as exc:
            flash(error_text(exc), "danger")
        else:
            start_rendering(pk)
            flash(gettext("The run is released: its statements have their numbers."), "success")
        return redirect(url_for("SettlementView.index"))

    @view_expose("/<int:pk>/<kind>")
    @has_access
    def download(self, pk, kind):
        run = db.session.get(SettlementRun, pk)
        if run is None or kind not in FILES:
            abort(404)
        try:
            return download(*FILES[kind](run))
        except DomainError as exc:
            db.session.rollback()
            flash(error_text(exc), "danger")
            return redirect(url_for("SettlementView.index"))


def register(appbuilder):
    appbuilder.add_api(SettlementApi)
    appbuilder.add_api(StatementApi)
    appbuilder.add_view(SettlementView, "Settlement", label=_l("Settlement"),
                        icon="fa-file-invoice-dollar", category="Commission",
                        category_label=_l("Commission"))
