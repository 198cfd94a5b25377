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
        if request.endpoint and request.endpoint.endswith(".download"):
            abort(404)                   # FAB's file columns: the pool keeps no files there
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


def json_object_gate():
    """before_request: a JSON body sent to the API is an object (every
    operation's document says so); a number, string or list is refused
    with 400 before an endpoint calls `.get` on it (500)."""
    if not request.path.startswith("/api/") or request.method not in ("POST", "PUT", "PATCH") \
            or not request.is_json or not request.get_data(cache=True):
        return None
    body = request.get_json(silent=True)
    if body is not None and not isinstance(body, dict):
        from flask import jsonify

        response = jsonify(message="Request is not a JSON object")
        response.status_code = 400
        return response
    return None


def install_api_auth_errors(app) -> None:
    """A missing, malformed, expired or revoked token answers 401 with
    `{"message": …}` as FAB's own 401 and the published API document say
    (flask-jwt-extended answers a bad token with 422 and `{"msg": …}`)."""
    from flask import jsonify

    jwt = app.appbuilder.sm.jwt_manager

    def not_authorized(*_args):
        response = jsonify(message="Not authorized")
        response.status_code = 401
        return response

    for register in (jwt.unauthorized_loader, jwt.invalid_token_loader,
                     jwt.expired_token_loader, jwt.revoked_token_loader,
                     jwt.needs_fresh_token_loader, jwt.user_lookup_error_loader,
                     jwt.token_verification_failed_loader):
        register(not_authorized)


def install_api_document(app) -> None:
    """/api/v1/_openapi describes what the API answers (app/views/base.py
    `complete_openapi`); a login refused by the rate limit answers JSON."""
    from flask import jsonify
    from werkzeug.exceptions import TooManyRequests

    from app.views.base import complete_openapi

    @app.after_request
    def openapi_document(response):
        if request.endpoint == "OpenApi.get" and response.status_code == 200 \
                and response.is_json:
            response.set_data(current_app.json.dumps(complete_openapi(
                response.get_json(), login_limited=bool(app.config.get("AUTH_RATE_LIMITED")))))
        return response

    @app.errorhandler(TooManyRequests)
    def too_many_requests(exc):
        if not request.path.startswith("/api/"):
            return exc
        response = jsonify(message="Too many requests")
        response.status_code = 429
        for name, value in exc.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
        return response


def install(app) -> None:
    from sqlalchemy.exc import StatementError

    app.before_request(principal_gate)
    app.before_request(extranet_only_gate)
    app.before_request(json_object_gate)
    install_api_auth_errors(app)
    install_api_document(app)

    @app.errorhandler(StatementError)
    def bad_value(exc):
        # e.g. a list filter with a value its column cannot hold (an unknown
        # enum name): bad input, not a server error
        from app.extensions import db
        from app.views.base import is_bad_value

        db.session.rollback()
        if is_bad_value(exc):
            if request.path.startswith("/api/"):
                return {"message": "Bad request"}, 400
            return "Bad request", 400
        raise exc
