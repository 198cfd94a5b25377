"""The audit trail (Änderungsprotokoll): every change of master data, as the
change log keeps it, for the pool's administrators. Read only; each record's
own page shows its part of it (owner_show.html)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape

from app.models.audit import ChangeLog
from app.views.base import PoolModelView, datamodel

ACTIONS = {"INSERT": _l("created"), "UPDATE": _l("changed"), "DELETE": _l("deleted")}


def action_label(action):
    return ACTIONS.get(action, action)


def changes_text(changes):
    """{field: [old, new]} as lines "field: old → new" (escaped)."""
    if not changes:
        return ""
    return Markup("<br>").join(
        escape(f"{field}: {'—' if old is None else old} → {'—' if new is None else new}")
        for field, (old, new) in sorted(changes.items()))


class ChangeLogView(PoolModelView):
    datamodel = datamodel(ChangeLog, eager=("user",))
    class_permission_name = "AuditTrail"
    include_route_methods = {"list", "show"}
    list_title = _l("Audit trail")
    show_title = _l("Change")
    label_columns = {"table_name": _l("Table"), "row_id": _l("Record"),
                     "action": _l("Action"), "changed_on": _l("When"), "user": _l("Who"),
                     "user.username": _l("Who"), "changes": _l("Changes")}
    list_columns = ["changed_on", "user.username", "table_name", "row_id", "action", "changes"]
    show_columns = ["changed_on", "user", "table_name", "row_id", "action", "changes"]
    search_columns = ["table_name", "row_id", "action", "changed_on"]
    order_columns = ["changed_on"]
    base_order = ("id", "desc")
    formatters_columns = {"action": action_label, "changes": changes_text}


def register(appbuilder):
    appbuilder.add_view(ChangeLogView, "Audit trail", label=_l("Audit trail"),
                        icon="fa-history", category="Administration",
                        category_label=_l("Administration"))
