"""Error pages: the same short, translated text for 400, 403, 404, 405, 413
and 500, never a stack trace or the exception's own words.

Screens get a page in the pool's layout (a plain page if even the layout
fails, e.g. the database is gone); paths under /api/ get JSON
`{"message": …}`. An unhandled exception is logged with its traceback by
Flask (`app.logger`, "Exception on … [GET]") before the 500 page is made.
app/security/extranet.py keeps answering bad filter values (StatementError)
with its own 400.
"""
from __future__ import annotations

import logging

from flask import Flask, abort, current_app, jsonify, render_template, request
from flask_babel import gettext
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from app.domain.errors import N_

log = logging.getLogger("pool.errors")

#: status -> (title, text)
MESSAGES = {
    400: (N_("Bad request"),
          N_("The request could not be processed. Please check your input and try again.")),
    401: (N_("Login required"), N_("Please log in to use this page.")),
    403: (N_("Access denied"), N_("You are not allowed to open this page or do this.")),
    404: (N_("Page not found"),
          N_("This page does not exist, or the record has been removed or is not "
             "visible to you.")),
    405: (N_("Not allowed here"), N_("This address does not accept this kind of request.")),
    413: (N_("Too large"),
          N_("The upload is larger than allowed (at most %(mb)s MB per file).")),
    500: (N_("Internal error"),
          N_("Something went wrong on our side. The error has been recorded; please try "
             "again later.")),
}
CSRF_TEXT = N_("The form has expired or did not come from this site. Please reload the "
               "page and send it again.")


def message_for(status: int, exc: Exception | None = None) -> tuple[str, str]:
    title, text = MESSAGES.get(status, MESSAGES[500] if status >= 500 else MESSAGES[400])
    if isinstance(exc, CSRFError):
        text = CSRF_TEXT
    mb = current_app.config.get("POOL_MAX_UPLOAD_MB", 10)
    mb = int(mb) if float(mb).is_integer() else mb
    return gettext(title), gettext(text, mb=mb) if status == 413 else gettext(text)


def wants_json() -> bool:
    return request.path.startswith("/api/")


def error_response(exc: Exception, status: int):
    title, text = message_for(status, exc)
    if wants_json():
        response = jsonify(message=text)
        response.status_code = status
    else:
        response = current_app.make_response((render_page(status, title, text), status))
    if isinstance(exc, HTTPException):
        # e.g. Allow on a 405, WWW-Authenticate on a 401
        for name, value in exc.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
    return response


def render_page(status: int, title: str, text: str) -> str:
    """The page in the pool's layout; a plain one if the layout fails."""
    appbuilder = getattr(current_app, "appbuilder", None)
    if appbuilder is not None:
        try:
            return render_template("errors/error.html", status=status, title=title,
                                   text=text, appbuilder=appbuilder,
                                   base_template=appbuilder.base_template)
        except Exception:  # noqa: BLE001  (the error page itself must not fail)
            log.exception("error page %s: the layout failed, a plain page instead", status)
            _rollback()
    return render_template("errors/plain.html", status=status, title=title, text=text,
                           **_plain_context())


def _plain_context() -> dict:
    from flask import url_for
    from flask_babel import get_locale

    def url(endpoint, **values):
        try:
            return url_for(endpoint, **values)
        except Exception:  # noqa: BLE001
            return None

    return {"home": url("PoolIndexView.index") or request.script_root + "/",
            "css": url("appbuilder.static", filename="css/bootstrap.min.css"),
            "locale": str(get_locale() or "de")}


def _rollback() -> None:
    try:
        from app.extensions import db

        db.session.rollback()
    except Exception:  # noqa: BLE001
        log.exception("rollback after an error failed")


def handle_http_error(exc: HTTPException):
    return error_response(exc, exc.code or 500)


def handle_server_error(exc: Exception):
    # Flask has logged the traceback (app.logger) before it called this;
    # the session may hold a failed transaction, which the layout would trip over.
    _rollback()
    return error_response(exc, 500)


def refuse_too_large():
    """before_request: a body over MAX_CONTENT_LENGTH is refused (413) from
    its Content-Length before any view reads it (FAB's API views would turn
    the 413 that reading raises into a 500)."""
    limit = request.max_content_length
    if limit is not None and (request.content_length or 0) > limit:
        abort(413)


def install(app: Flask) -> None:
    app.before_request(refuse_too_large)
    for status in (400, 401, 403, 404, 405, 413):
        app.register_error_handler(status, handle_http_error)
    app.register_error_handler(500, handle_server_error)
