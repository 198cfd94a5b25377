"""Server-side sessions: every login is a row of auth_session.

A screen login keeps a random token in the signed session cookie (the
server stores its SHA-256); an API login puts it into its JWTs. Each request
looks the row up by that hash (one indexed query, joined with the user's
active flag) and is served only while the row is not ended and the user is
active: logout, deactivation, deletion and a password change end the rows on
the server, so a copied cookie or token stops working at once.

Timeouts: the absolute one counts from the row's creation; the idle one
from the last request, kept in the signed cookie (refreshed at most once a
minute) so that requests write nothing. Staff and extranet logins have
their own limits (config: POOL_SESSION_IDLE_MINUTES_STAFF etc.).
"""
from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import datetime, timedelta, timezone

from flask import (
    current_app,
    flash,
    g,
    has_request_context,
    jsonify,
    redirect,
    request,
    session,
)
from flask_babel import gettext
from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from app.domain.access import session_expiry
from app.extensions import db


def security_log() -> logging.Logger:
    """The logger of auth events. (Alembic's fileConfig, run by migrations in
    this process, disables loggers that existed before it: enable it again.)"""
    logger = logging.getLogger("pool.security")
    logger.disabled = False
    return logger


#: session keys: the login's token, the time of its last request (epoch seconds)
SID_KEY = "pool_sid"
SEEN_KEY = "pool_seen"
#: the last request is noted in the cookie at most this often (seconds)
SEEN_RESOLUTION = 60


def utcnow() -> datetime:
    """The clock of sessions and login delays (tests move it)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _epoch(moment: datetime) -> int:
    return int(moment.replace(tzinfo=timezone.utc).timestamp())


def _from_epoch(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, timezone.utc).replace(tzinfo=None)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def limits(extranet: bool) -> tuple[timedelta, timedelta]:
    """(idle, absolute) timeouts of a staff or an extranet login."""
    cfg = current_app.config
    kind = "EXTRANET" if extranet else "STAFF"
    return (timedelta(minutes=float(cfg[f"POOL_SESSION_IDLE_MINUTES_{kind}"])),
            timedelta(hours=float(cfg[f"POOL_SESSION_ABSOLUTE_HOURS_{kind}"])))


def is_extranet_login(user) -> bool:
    from app.security.scope import scope_for_user

    return scope_for_user(user).extranet_only


def start_session(user, channel: str) -> str:
    """A new session row for `user`; returns the token the client keeps."""
    from app.models.auth import AuthSession

    token = secrets.token_urlsafe(32)
    db.session.execute(AuthSession.__table__.insert().values(
        token_hash=token_hash(token), user_id=user.id, channel=channel,
        extranet=is_extranet_login(user), created=utcnow()))
    db.session.commit()
    return token


def end_session(token: str | None, reason: str) -> None:
    from app.models.auth import AuthSession

    if not token:
        return
    db.session.execute(update(AuthSession.__table__)
                       .where(AuthSession.token_hash == token_hash(token),
                              AuthSession.ended.is_(None))
                       .values(ended=utcnow(), end_reason=reason))
    db.session.commit()


def end_user_sessions(connection, user_ids, reason: str, keep: str | None = None) -> int:
    """End every open session of these users (`keep`: the hash of one to
    spare, the current one of a user changing its own password). Runs on the
    given connection, in the caller's transaction."""
    from app.models.auth import AuthSession

    table = AuthSession.__table__
    stmt = (update(table).where(table.c.user_id.in_(list(user_ids)), table.c.ended.is_(None))
            .values(ended=utcnow(), end_reason=reason))
    if keep is not None:
        stmt = stmt.where(table.c.token_hash != keep)
    return connection.execute(stmt).rowcount or 0


def lookup(token: str | None):
    """The session row of a token with its user's active flag, or None."""
    from flask_appbuilder.security.sqla.models import User

    from app.models.auth import AuthSession

    if not token:
        return None
    return db.session.execute(
        select(AuthSession.id, AuthSession.user_id, AuthSession.channel, AuthSession.extranet,
               AuthSession.created, AuthSession.ended, User.active)
        .join(User, User.id == AuthSession.user_id)
        .where(AuthSession.token_hash == token_hash(token))).first()


def verdict(row, user_id, channel: str, last_seen: datetime | None = None) -> str | None:
    """None if the session may serve this request, else why not: "missing",
    "ended", "inactive", "idle" or "absolute"."""
    if row is None or row.channel != channel or (
            user_id is not None and str(row.user_id) != str(user_id)):
        return "missing"
    if row.ended is not None:
        return "ended"
    if not row.active:
        return "inactive"
    idle, absolute = limits(row.extranet)
    now = utcnow()
    return session_expiry(row.created, last_seen or now, now, idle, absolute)


# --- screens -------------------------------------------------------------------------

def begin_web_login(user) -> None:
    """After a successful login: a new session (nothing of the old one stays
    but the chosen language: no session fixation), then Flask-Login's."""
    from flask_login import login_user

    locale = session.get("locale")
    session.clear()
    if locale:
        session["locale"] = locale
    login_user(user, remember=False)
    token = start_session(user, "web")
    session[SID_KEY] = token
    session[SEEN_KEY] = _epoch(utcnow())
    request.environ["pool.sid"] = token_hash(token)


def end_web_login(reason: str = "logout") -> None:
    from flask_login import logout_user

    end_session(session.get(SID_KEY), reason)
    session.clear()
    logout_user()


def is_static() -> bool:
    """A static file (FAB's or ours): no session, its caching kept."""
    endpoint = request.endpoint or ""
    return endpoint == "static" or endpoint.endswith(".static")


def session_gate():
    """before_request, first of all: a screen login is served only while its
    server-side session is open and within its timeouts. Otherwise the user
    is logged out and sent to the login page (401 under /api/)."""
    if is_static():
        return None
    # the user is loaded afresh for every request (an app context kept
    # across requests, as in tests, must not carry one over)
    g.pop("_login_user", None)
    if "_user_id" not in session:
        if SID_KEY in session:
            session.pop(SID_KEY, None)
            session.pop(SEEN_KEY, None)
        return None
    token = session.get(SID_KEY)
    row = lookup(token)
    seen = session.get(SEEN_KEY)
    last_seen = _from_epoch(seen) if isinstance(seen, int) else None
    why = verdict(row, session.get("_user_id"), "web", last_seen)
    if why is None:
        request.environ["pool.sid"] = token_hash(token)
        now = _epoch(utcnow())
        if not isinstance(seen, int) or now - seen >= SEEN_RESOLUTION:
            session[SEEN_KEY] = now
        return None
    user_id = session.get("_user_id")
    if why in ("idle", "absolute"):
        security_log().info("session expired (%s): user_id=%s", why, user_id)
        end_session(token, why)
    else:
        security_log().info("session refused (%s): user_id=%s", why, user_id)
    from flask_login import logout_user

    message = gettext("Your session has ended. Please log in again.")
    locale = session.get("locale")
    session.clear()
    if locale:
        session["locale"] = locale
    logout_user()
    if request.path.startswith("/api/"):
        return jsonify(message=message), 401
    flash(message, "warning")
    appbuilder = current_app.appbuilder
    target = request.full_path if request.method == "GET" else None
    return redirect(appbuilder.get_url_for_login_with(target) if target
                    else appbuilder.get_url_for_login)


def current_session_hash() -> str | None:
    """The hash of this request's session token (screens), if any."""
    if not has_request_context():
        return None
    return request.environ.get("pool.sid")


# --- API logins ----------------------------------------------------------------------

def api_session_user(jwt_data) -> int | None:
    """The user id a JWT may act for: its session open, its user active,
    within the absolute timeout."""
    row = lookup(jwt_data.get("sid"))
    if row is None or str(row.user_id) != str(jwt_data.get("sub")):
        return None
    why = verdict(row, None, "api")
    if why is not None:
        if why == "absolute":
            end_session(jwt_data.get("sid"), why)
            security_log().info("session expired (%s): user_id=%s channel=api", why,
                                row.user_id)
        return None
    return row.user_id


# --- ending all sessions of a user ---------------------------------------------------

def _user_changes(session_: Session, flush_context) -> None:
    """after_flush: a user deactivated, deleted or given a new password loses
    every open session (screens and API) in the same transaction; a user
    changing its own password keeps the session it does so in."""
    from flask_appbuilder.security.sqla.models import User
    from sqlalchemy import inspect

    ended: dict[str, set[int]] = {}
    for obj in session_.dirty:
        if not isinstance(obj, User) or obj.id is None:
            continue
        state = inspect(obj)
        active = state.attrs.active.history
        if active.has_changes() and not obj.active:
            ended.setdefault("deactivated", set()).add(obj.id)
        elif state.attrs.password.history.has_changes():
            ended.setdefault("password", set()).add(obj.id)
    for obj in session_.deleted:
        if isinstance(obj, User) and obj.id is not None:
            ended.setdefault("deleted", set()).add(obj.id)
    if not ended:
        return
    keep = current_session_hash()
    connection = session_.connection()
    for reason, ids in ended.items():
        count = end_user_sessions(connection, ids, reason,
                                  keep=keep if reason == "password" else None)
        security_log().warning("sessions ended (%s): user_ids=%s sessions=%d", reason,
                               sorted(ids), count)


_installed = False


def install(app) -> None:
    global _installed
    # First of every before_request: nothing reads the user before this check.
    app.before_request_funcs.setdefault(None, []).insert(0, session_gate)
    if not _installed:
        event.listen(Session, "after_flush", _user_changes)
        _installed = True


def purge_sessions(now: datetime | None = None) -> int:
    """Delete the rows of sessions that ended, or began beyond any absolute
    timeout, more than POOL_SESSION_KEEP_DAYS ago: a large pool's logins add
    about a million rows a month. Open sessions are never touched."""
    from sqlalchemy import delete, or_

    from app.models.auth import AuthSession

    cfg = current_app.config
    now = now or utcnow()
    cutoff = now - timedelta(days=int(cfg.get("POOL_SESSION_KEEP_DAYS") or 30))
    longest = max(float(cfg["POOL_SESSION_ABSOLUTE_HOURS_STAFF"]),
                  float(cfg["POOL_SESSION_ABSOLUTE_HOURS_EXTRANET"]))
    table = AuthSession.__table__
    gone = db.session.execute(delete(table).where(or_(
        table.c.ended < cutoff,
        table.c.created < cutoff - timedelta(hours=longest)))).rowcount or 0
    db.session.commit()
    return gone
