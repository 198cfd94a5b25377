"""The settlement run and the (read-only) statements."""
from __future__ import annotations

from flask import request
from flask_appbuilder.api import BaseApi, expose, protect, safe
from flask_appbuilder.security.decorators import permission_name

from app.domain.errors import DomainError
from app.models.ledger import Statement
from app.services.settlement import run_settlement
from app.views.base import PoolModelRestApi, RefusalMixin, datamodel


class SettlementApi(RefusalMixin, BaseApi):
    resource_name = "settlement"
    class_permission_name = "Settlement"
    method_permission_name = {"run": "write"}

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
            422: {$ref: '#/components/responses/422'}
        """
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            return self.response_400(message="Request is not a JSON object")
        try:
            answer = run_settlement(str(data.get("period", "")), bool(data.get("final")))
        except DomainError as exc:
            return self._refused(exc)
        return self.response(200, **answer)


class StatementApi(PoolModelRestApi):
    resource_name = "statement"
    datamodel = datamodel(Statement)
    class_permission_name = "Statement"
    include_route_methods = {"get", "get_list", "info"}
    list_columns = show_columns = ["id", "number", "intermediary.id", "period",
                                   "opening_balance", "total", "payout", "carry_forward",
                                   "status"]
    search_columns = ["intermediary", "period", "number"]
    order_columns = ["id", "number", "period"]


def register(appbuilder):
    appbuilder.add_api(SettlementApi)
    appbuilder.add_api(StatementApi)
