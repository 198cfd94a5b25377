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


def principal_gate():
    """before_request: refuse an intranet screen to an extranet login."""
    from app.security.scope import current_scope

    if request.blueprint is None:
        return None
    view = _views_by_blueprint().get(request.blueprint)
    if view is None or isinstance(view, BaseApi):
        return None
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


def install(app) -> None:
    app.before_request(principal_gate)
