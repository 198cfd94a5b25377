"""Security headers on every answer, `no-store` on everything but static
files, and a log line for every refused request (401, 403).

Headers (flask-talisman):
- Content-Security-Policy with a fresh nonce per request for scripts
  (`script-src 'self' 'nonce-…'`): only our own script files and inline
  scripts that carry the nonce run. Templates give it to every script tag
  (`baselib.get_nonce()`, FAB's templates do the same); it is never added to
  HTML after rendering, so an injected script stays blocked. There are no
  inline event handlers (onclick=…): pages bind their events in JS files.
  `style-src` allows 'unsafe-inline': FAB's templates and ours, select2 and
  the date picker set `style="…"` attributes; CSS cannot run code.
  `img-src` allows data: URIs (the Swagger UI's icons).
- Strict-Transport-Security (one year, includeSubDomains; POOL_HSTS,
  POOL_HSTS_MAX_AGE) on every answer that went over HTTPS, as RFC 6797
  wants (browsers ignore it over http): the app sees HTTPS by
  X-Forwarded-Proto from the reverse proxy that terminates it.
- POOL_FORCE_HTTPS (default off): the app redirects http to https itself.
  The reverse proxy normally does that; tests and development run on http.
- X-Frame-Options DENY and frame-ancestors 'none'; X-Content-Type-Options
  nosniff; Referrer-Policy strict-origin-when-cross-origin.

Cache-Control: `no-store` on every answer except static files (which keep
their max-age): pages of logged-in users, downloads (PDFs, CSV, SEPA XML,
documents) and API answers must not stay in a browser's or proxy's cache,
and the anonymous pages (login form, error pages) carry session-bound CSRF
tokens or nothing worth caching.
"""
from __future__ import annotations

import re

from flask import Flask, g, request, session
from flask_talisman import Talisman
from werkzeug.local import LocalProxy

from app.security.sessions import is_static, security_log

ONE_YEAR = 365 * 24 * 3600

CSP = {
    "default-src": "'self'",
    "script-src": "'self'",              # + 'nonce-…' per request
    "style-src": "'self' 'unsafe-inline'",
    "img-src": "'self' data:",
    "font-src": "'self'",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "frame-ancestors": "'none'",
    "form-action": "'self'",
}


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def init_security_headers(app: Flask) -> Talisman:
    talisman = Talisman()
    talisman.init_app(
        app,
        force_https=bool(app.config.get("POOL_FORCE_HTTPS")),
        force_https_permanent=False,
        frame_options="DENY",
        strict_transport_security=bool(app.config.get("POOL_HSTS", True)),
        strict_transport_security_max_age=int(app.config.get("POOL_HSTS_MAX_AGE", ONE_YEAR)),
        strict_transport_security_include_subdomains=True,
        content_security_policy=CSP,
        content_security_policy_nonce_in=["script-src"],
        referrer_policy="strict-origin-when-cross-origin",
        # The cookie settings stay those of config.py (Talisman would force
        # Secure cookies at the first request and overwrite SameSite).
        session_cookie_secure=False,
        session_cookie_http_only=True,
        session_cookie_samesite=app.config.get("SESSION_COOKIE_SAMESITE") or "Lax",
        x_content_type_options=True,
    )
    # The nonce is made before any other before_request function runs: a
    # gate that refuses the request (403) still gets an error page whose
    # scripts carry the nonce.
    funcs = app.before_request_funcs.setdefault(None, [])
    funcs.remove(talisman._make_nonce)
    funcs.insert(0, talisman._make_nonce)
    app.after_request(no_store)
    app.after_request(log_refusal)
    app.extensions["pool.talisman"] = talisman
    return talisman


def no_store(response):
    if is_static():
        return response
    if "no-store" not in (response.headers.get("Cache-Control") or ""):
        response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    response.headers.pop("Expires", None)
    return response


def current_user_id() -> str:
    """The id of the user this request was made by, or "anonymous"; from
    what the request loaded already (no query after an error)."""
    for user in (g.get("_login_user"), g.get("user")):
        try:
            # g.user may be flask_login's proxy: only a real user object counts
            if user is not None and not isinstance(user, LocalProxy) and \
                    getattr(user, "is_authenticated", False):
                return str(user.get_id())
        except Exception:  # noqa: BLE001  (a broken session must not hide the refusal)
            continue
    user_id = session.get("_user_id") if session else None
    return str(user_id) if user_id else "anonymous"


def _clean(value: str) -> str:
    return _CONTROL.sub("?", value)[:300]


def log_refusal(response):
    """401 and 403, from the UI and the API: who, what, from where. No query
    string (it may carry personal data), no credentials."""
    if response.status_code in (401, 403):
        security_log().warning(
            "access refused: status=%s user=%s method=%s path=%s remote=%s",
            response.status_code, current_user_id(), request.method,
            _clean(request.path), _clean(request.remote_addr or "-"))
    return response
