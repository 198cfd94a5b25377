"""Intermediaries and customers see nothing of the intranet.

Their logins may use the extranet screens (views with `extranet = True`),
the REST API (each resource checks its permission, the scope limits every
row to their own), and Flask-AppBuilder's own login, profile and language
views. Every other screen of this app answers 403 to them, new ones too:
the rule is a whitelist, not menu hiding.
"""
from __future__ import annotations

from flask import abort, current_app, request
from flask_appbuilder.api import BaseApi


def _views_by_blueprint() -> dict:
    cache = current_app.extensions.setdefault("pool.views_by_blueprint", {})
    if not cache:
        for view in current_app.appbuilder.baseviews:
            if getattr(view, "blueprint", None) is not None:
                cache[view.blueprint.name] = view
    return cache


MAX_ID = 2**31 - 1


def principal_gate():
    """before_request: refuse an intranet screen to an extranet login (and
    the extranet's own screens to intranet logins); unknown actions 404."""
    from app.security.scope import current_scope

    if request.blueprint is None:
        return None
    for value in (request.view_args or {}).values():
        # an id no row can have (beyond the database's integer) is not found,
        # rather than an overflow inside the database (PostgreSQL: 500)
        if (isinstance(value, int) or (isinstance(value, str) and value.isdigit())) \
                and int(value) > MAX_ID:
            abort(404)
    view = _views_by_blueprint().get(request.blueprint)
    if view is None or isinstance(view, BaseApi):
        return None
    if request.endpoint and request.endpoint.endswith((".action", ".action_post")):
        name = (request.view_args or {}).get("name") or request.form.get("action")
        if name not in (getattr(view, "actions", None) or {}):
            abort(404)                   # FAB raises AttributeError on unknown names
    if not type(view).__module__.startswith("app."):
        return None                      # FAB's login, profile, language views
    scope = current_scope()
    if getattr(view, "extranet", False) or type(view).__name__ in ("PoolIndexView",
                                                                   "LookupView"):
        if scope.read_only and not getattr(view, "former_allowed", False):
            abort(403)                   # a former intermediary: statements, bookings
        return None
    if scope.extranet_only:
        abort(403)
    return None


def extranet_only_gate():
    """The broker's and the customer's own screens are not for staff."""
    from app.security.scope import current_scope

    view = _views_by_blueprint().get(request.blueprint or "")
    if view is not None and getattr(view, "extranet_only", False) and \
            not current_scope().extranet_only:
        abort(403)


def install(app) -> None:
    from sqlalchemy.exc import DataError, StatementError

    app.before_request(principal_gate)
    app.before_request(extranet_only_gate)

    @app.errorhandler(StatementError)
    def bad_value(exc):
        # e.g. a list filter with a value its column cannot hold (an unknown
        # enum name): bad input, not a server error
        from app.extensions import db

        db.session.rollback()
        if isinstance(exc, DataError) or \
                isinstance(getattr(exc, "orig", None), (LookupError, ValueError, TypeError)) or \
                isinstance(exc.__cause__, (LookupError, ValueError, TypeError)):
            if request.path.startswith("/api/"):
                return {"message": "Bad request"}, 400
            return "Bad request", 400
        raise exc
