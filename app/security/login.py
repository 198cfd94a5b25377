"""The login: password, the growing delay per account, the second factor.

The same steps serve the login form and the API login:

1. The account's delay (app/domain/access.py `login_refused_until`): after
   3 failed logins in a row each further attempt waits 1, 2, 4, ... seconds,
   at most 15 minutes; an attempt within the delay is refused unchecked,
   with the same message whether or not the account exists (unknown login
   names get their own counter). The count is in the database, so it holds
   across workers; a successful login resets it. Never a permanent lockout.
2. The password (against FAB's hash; unknown and inactive logins cost the
   same hash check).
3. With a confirmed TOTP second factor: the code (a second form step; the
   API's "totp" field). Wrong codes count as failed logins.

Per client address the Flask-Limiter limit of FAB stays in front of both.
Every outcome is logged to "pool.security" (the login name, never the
password).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

from flask import current_app, flash, g, redirect, request, session, url_for
from flask_appbuilder import expose
from flask_appbuilder.const import (
    API_SECURITY_ACCESS_TOKEN_KEY,
    API_SECURITY_REFRESH_TOKEN_KEY,
)
from flask_appbuilder.security.api import SecurityApi as FabSecurityApi
from flask_appbuilder.security.decorators import no_cache
from flask_appbuilder.security.forms import LoginForm_db
from flask_appbuilder.security.utils import is_null_password
from flask_appbuilder.security.views import AuthDBView as FabAuthDBView
from flask_appbuilder.utils.base import get_safe_redirect
from flask_babel import gettext, lazy_gettext
from flask_jwt_extended import (
    create_access_token,
    create_refresh_token,
    get_jwt,
    jwt_required,
)
from sqlalchemy import delete, select, update
from werkzeug.security import check_password_hash

from app.domain.access import login_refused_until
from app.extensions import db
from app.security import sessions, totp

OK, NEED_CODE, FAILED, DELAYED = "ok", "need_code", "failed", "delayed"
#: the second step of a form login must follow the first within this time
PENDING_SECONDS = 300
PENDING_KEY = "pool_pending_login"

DELAY_MESSAGE = lazy_gettext("Too many failed logins. Please wait a moment and try again.")


@dataclass
class Attempt:
    outcome: str
    user: object = None


# --- the delay per account -----------------------------------------------------------

def throttle_key(user, name: str) -> str:
    if user is not None:
        return f"user:{user.id}"
    digest = hashlib.sha256((name or "").strip().lower().encode()).hexdigest()
    return f"name:{digest}"


def refused_until(key: str):
    from app.models.auth import LoginThrottle

    row = db.session.execute(select(LoginThrottle.failures, LoginThrottle.last_failed)
                             .where(LoginThrottle.key == key)).first()
    if row is None:
        return None
    until = login_refused_until(row.failures, row.last_failed)
    return until if until is not None and sessions.utcnow() < until else None


def record_failure(key: str) -> None:
    """One more failed login of `key` (atomic: concurrent failures all count)."""
    from app.models.auth import LoginThrottle

    table = LoginThrottle.__table__
    now = sessions.utcnow()
    dialect = db.session.get_bind().dialect.name
    if dialect in ("postgresql", "sqlite"):
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        stmt = insert(table).values(key=key, failures=1, last_failed=now)
        stmt = stmt.on_conflict_do_update(index_elements=[table.c.key], set_={
            "failures": table.c.failures + 1, "last_failed": now})
        db.session.execute(stmt)
    else:  # pragma: no cover  (other databases: update, else insert)
        done = db.session.execute(update(table).where(table.c.key == key).values(
            failures=table.c.failures + 1, last_failed=now))
        if not done.rowcount:
            db.session.execute(table.insert().values(key=key, failures=1, last_failed=now))
    db.session.commit()


def clear_failures(key: str) -> None:
    from app.models.auth import LoginThrottle

    db.session.execute(delete(LoginThrottle.__table__).where(
        LoginThrottle.__table__.c.key == key))
    db.session.commit()


# --- the steps -----------------------------------------------------------------------

def _log():
    return sessions.security_log()


def _client() -> str:
    return request.remote_addr or "-"


def _find_user(name: str):
    sm = current_app.appbuilder.sm
    user = sm.find_user(username=name)
    if user is None:
        user = sm.find_user(email=name)
    return user


def check_password(name: str | None, password: str | None, channel: str) -> Attempt:
    """Step 1 and 2: the delay, then the password."""
    name = (name or "").strip()
    if not name:
        return Attempt(FAILED)
    user = _find_user(name)
    key = throttle_key(user, name)
    if refused_until(key) is not None:
        _log().warning("login refused (delay after failed logins): username=%r channel=%s "
                       "ip=%s", name, channel, _client())
        return Attempt(DELAYED)
    sm = current_app.appbuilder.sm
    if user is None or not user.is_active or is_null_password(password):
        # the same hash work as for a real account
        check_password_hash(current_app.config["AUTH_DB_FAKE_PASSWORD_HASH_CHECK"], "password")
        ok = False
    else:
        ok = check_password_hash(user.password, password)
    if not ok:
        record_failure(key)
        if user is not None:
            sm.update_user_auth_stat(user, False)
        _log().warning("login failed: username=%r channel=%s ip=%s", name, channel, _client())
        return Attempt(FAILED)
    if totp.enrolled(user.id):
        return Attempt(NEED_CODE, user)
    return Attempt(OK, user)


def check_code(user, code: str | None, channel: str) -> Attempt:
    """Step 3: the TOTP code of a user whose password was right."""
    key = throttle_key(user, user.username)
    if refused_until(key) is not None:
        _log().warning("login refused (delay after failed logins): username=%r channel=%s "
                       "ip=%s", user.username, channel, _client())
        return Attempt(DELAYED)
    if not totp.use_code(user.id, code):
        record_failure(key)
        current_app.appbuilder.sm.update_user_auth_stat(user, False)
        _log().warning("TOTP code refused: username=%r channel=%s ip=%s", user.username,
                       channel, _client())
        return Attempt(FAILED)
    return Attempt(OK, user)


def succeeded(user, channel: str) -> None:
    """Bookkeeping of a complete login (before the session starts: FAB's
    statistics are written while nobody is logged in yet)."""
    clear_failures(throttle_key(user, user.username))
    current_app.appbuilder.sm.update_user_auth_stat(user, True)
    _log().info("login succeeded: username=%r channel=%s ip=%s", user.username, channel,
                _client())


# --- the form ------------------------------------------------------------------------

class AuthDBView(FabAuthDBView):
    """FAB's login form with the delay, the second step and server-side
    sessions. (Same class name as FAB's: its endpoints stay AuthDBView.*.)"""

    login_code_template = "security/login_code.html"
    #: usable by every login, extranet and former intermediaries too
    extranet = True
    former_allowed = True

    def _refuse(self, outcome: str, next_url: str | None):
        flash(str(DELAY_MESSAGE if outcome == DELAYED else self.invalid_login_message),
              "warning")
        return redirect(self.appbuilder.get_url_for_login_with(next_url or None))

    @expose("/login/", methods=["GET", "POST"])
    @no_cache
    def login(self):
        if g.user is not None and g.user.is_authenticated:
            return redirect(self._get_safe_next_url())
        form = LoginForm_db()
        if form.validate_on_submit():
            next_url = get_safe_redirect(request.args.get("next", ""))
            attempt = check_password(form.username.data, form.password.data, "web")
            if attempt.outcome == NEED_CODE:
                locale = session.get("locale")
                session.clear()
                if locale:
                    session["locale"] = locale
                session[PENDING_KEY] = {"user_id": attempt.user.id, "next": next_url,
                                        "at": sessions._epoch(sessions.utcnow())}
                return redirect(url_for(".login_code"))
            if attempt.outcome != OK:
                return self._refuse(attempt.outcome, next_url)
            succeeded(attempt.user, "web")
            sessions.begin_web_login(attempt.user)
            return redirect(next_url)
        return self.render_template(self.login_template, title=self.title, form=form,
                                    appbuilder=self.appbuilder)

    def _pending_user(self):
        pending = session.get(PENDING_KEY)
        if not isinstance(pending, dict):
            return None, None
        if sessions._epoch(sessions.utcnow()) - int(pending.get("at", 0)) > PENDING_SECONDS:
            session.pop(PENDING_KEY, None)
            return None, None
        user = self.appbuilder.sm.get_user_by_id(pending.get("user_id"))
        if user is None or not user.is_active:
            return None, None
        return user, pending.get("next") or self.appbuilder.get_url_for_index

    @expose("/login/code", methods=["GET", "POST"])
    @no_cache
    def login_code(self):
        """The second step: the 6-digit code of the authenticator app."""
        if g.user is not None and g.user.is_authenticated:
            return redirect(self.appbuilder.get_url_for_index)
        user, next_url = self._pending_user()
        if user is None:
            return redirect(self.appbuilder.get_url_for_login)
        if request.method == "POST":
            attempt = check_code(user, request.form.get("code"), "web")
            if attempt.outcome == OK:
                succeeded(user, "web")
                sessions.begin_web_login(user)
                return redirect(get_safe_redirect(next_url))
            if attempt.outcome == DELAYED:
                session.pop(PENDING_KEY, None)
                return self._refuse(DELAYED, next_url)
            flash(gettext("This code is not right; enter the current 6-digit code of "
                          "your app."), "warning")
            return redirect(url_for(".login_code"))
        return self.render_template(self.login_code_template, title=self.title,
                                    appbuilder=self.appbuilder)

    @expose("/logout/")
    def logout(self):
        user = self._get_authenticated_user()
        if user is not None:
            # every session of the user ends on the server (screens and API)
            connection = db.session.connection()
            sessions.end_user_sessions(connection, [user.id], "logout")
            db.session.commit()
            _log().info("logout: username=%r", user.username)
        sessions.end_web_login("logout")
        if user is not None:
            self.appbuilder.sm.on_user_logout(user)
        return redirect(current_app.config.get("LOGOUT_REDIRECT_URL",
                                               self.appbuilder.get_url_for_index))


# --- the API -------------------------------------------------------------------------

class SecurityApi(FabSecurityApi):
    """FAB's API login with the delay, the second factor ("totp") and a
    server-side session in every token (claim "sid"). (Same class name as
    FAB's: its blueprint and the login limit stay.)"""

    @expose("/login", methods=["POST"])
    def login(self):
        """Login endpoint for the API: a JWT access token (and a refresh token)
        ---
        post:
          description: >-
            Authenticate with login name and password (and, for a login with a
            second factor, the current 6-digit TOTP code in "totp"); returns a
            JWT access token and optionally a refresh token.
          requestBody:
            required: true
            content:
              application/json:
                schema:
                  type: object
                  properties:
                    username:
                      type: string
                    password:
                      type: string
                    provider:
                      type: string
                      enum:
                      - db
                    refresh:
                      type: boolean
                    totp:
                      description: The current TOTP code (logins with a second factor)
                      type: string
          responses:
            200:
              description: Authentication Successful
              content:
                application/json:
                  schema:
                    type: object
                    properties:
                      access_token:
                        type: string
                      refresh_token:
                        type: string
            400:
              $ref: '#/components/responses/400'
            401:
              $ref: '#/components/responses/401'
            429:
              description: Too many failed logins of this account; try again later
        """
        body = request.get_json(silent=True) if request.is_json else None
        if not isinstance(body, dict):
            return self.response_400(message="Request payload is not JSON")
        errors = {}
        for field in ("username", "password"):
            if not isinstance(body.get(field), str) or not body.get(field):
                errors[field] = ["Missing data for required field."]
        if body.get("provider", "db") != "db":
            errors["provider"] = ["Must be one of: db."]
        if "totp" in body and not isinstance(body["totp"], str):
            errors["totp"] = ["Not a valid string."]
        if "refresh" in body and not isinstance(body["refresh"], bool):
            errors["refresh"] = ["Not a valid boolean."]
        unknown = set(body) - {"username", "password", "provider", "refresh", "totp"}
        for field in unknown:
            errors[field] = ["Unknown field."]
        if errors:
            return self.response_400(message=errors)
        attempt = check_password(body["username"], body["password"], "api")
        if attempt.outcome == NEED_CODE:
            if not body.get("totp"):
                return self.response(401, message="TOTP code required", totp_required=True)
            attempt = check_code(attempt.user, body["totp"], "api")
        if attempt.outcome == DELAYED:
            return self.response(429, message=str(DELAY_MESSAGE))
        if attempt.outcome != OK:
            return self.response_401()
        user = attempt.user
        succeeded(user, "api")
        token = sessions.start_session(user, "api")
        claims = {"sid": token}
        resp = {API_SECURITY_ACCESS_TOKEN_KEY: create_access_token(
            identity=str(user.id), fresh=True, additional_claims=claims)}
        if body.get("refresh"):
            resp[API_SECURITY_REFRESH_TOKEN_KEY] = create_refresh_token(
                identity=str(user.id), additional_claims=claims)
        return self.response(200, **resp)

    @expose("/refresh", methods=["POST"])
    @jwt_required(refresh=True)
    def refresh(self):
        """A new access token for a refresh token of an open session
        ---
        post:
          responses:
            200:
              description: Refresh Successful
              content:
                application/json:
                  schema:
                    type: object
                    properties:
                      access_token:
                        type: string
            401:
              $ref: '#/components/responses/401'
          security:
            - jwt_refresh: []
        """
        data = get_jwt()
        token = create_access_token(identity=data["sub"], fresh=False,
                                    additional_claims={"sid": data.get("sid")})
        return self.response(200, **{API_SECURITY_ACCESS_TOKEN_KEY: token})
