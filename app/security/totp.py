"""The optional TOTP second factor (RFC 6238: 6 digits, 30-second steps).

A staff login enrols on its "Login security" page (the secret as text and as
a QR code drawn here as inline SVG, confirmed with a first code); from then
on the login asks for a code after the password, screens and API alike.
A code is accepted in its step and the neighbouring ones (clock drift) and
only once: the step of the last used code is stored. An Admin can reset a
user's second factor (a lost phone).
"""
from __future__ import annotations

import hmac

import pyotp
import segno
from flask import abort, current_app, flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_babel import gettext
from flask_login import current_user
from sqlalchemy import delete, insert, or_, select, update

from app.extensions import db
from app.security import sessions

STEP = 30
DIGITS = 6


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, username: str) -> str:
    issuer = current_app.config.get("APP_NAME", "Vermittlerpool")
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=issuer)


def qr_svg(uri: str) -> str:
    """The QR code of `uri` as an inline <svg> (no image service, no script)."""
    return segno.make(uri, error="m").svg_inline(scale=4, border=2, dark="#000",
                                                 light="#fff")


def code_for(secret: str, moment) -> str:
    """The code of `moment` (tests and the enrol page's help)."""
    return pyotp.TOTP(secret).generate_otp(sessions._epoch(moment) // STEP)


def matching_step(secret: str, code: str | None, moment, window: int = 1) -> int | None:
    """The time step whose code `code` is, within `window` steps of
    `moment`, or None."""
    code = (code or "").replace(" ", "").strip()
    if len(code) != DIGITS or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    now = sessions._epoch(moment) // STEP
    for step in sorted(range(now - window, now + window + 1), key=lambda s: abs(s - now)):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def enrolled(user_id: int) -> bool:
    from app.models.auth import UserTotp

    return db.session.execute(select(UserTotp.user_id).where(
        UserTotp.user_id == user_id, UserTotp.confirmed.isnot(None))).first() is not None


def use_code(user_id: int, code: str | None) -> bool:
    """Whether `code` is a valid, not yet used code of the user's confirmed
    second factor; marks it used (atomically: two workers cannot both
    accept one code)."""
    from app.models.auth import UserTotp

    row = db.session.execute(select(UserTotp.secret).where(
        UserTotp.user_id == user_id, UserTotp.confirmed.isnot(None))).first()
    if row is None:
        return False
    step = matching_step(row.secret, code, sessions.utcnow())
    if step is None:
        return False
    table = UserTotp.__table__
    done = db.session.execute(update(table).where(
        table.c.user_id == user_id,
        or_(table.c.last_step.is_(None), table.c.last_step < step)).values(last_step=step))
    db.session.commit()
    return bool(done.rowcount)


def reset(user_id: int) -> bool:
    from app.models.auth import UserTotp

    done = db.session.execute(delete(UserTotp.__table__).where(
        UserTotp.__table__.c.user_id == user_id))
    db.session.commit()
    return bool(done.rowcount)


class LoginSecurityView(BaseView):
    """The own second factor; for Admins also the reset of others'."""

    route_base = "/login-security"
    default_view = "index"

    def _require_login(self):
        if not current_user.is_authenticated:
            return redirect(self.appbuilder.get_url_for_login_with(request.full_path))
        return None

    @staticmethod
    def _is_admin() -> bool:
        from app.domain.access import ADMIN

        return any(role.name == ADMIN for role in current_user.roles)

    @staticmethod
    def _own_row():
        from app.models.auth import UserTotp

        return db.session.execute(select(UserTotp).where(
            UserTotp.user_id == current_user.id)).scalar()

    @expose("/")
    def index(self):
        refused = self._require_login()
        if refused:
            return refused
        from app.models.auth import UserTotp

        enrolled_users = []
        if self._is_admin():
            user_model = self.appbuilder.sm.user_model
            enrolled_users = db.session.execute(
                select(user_model.id, user_model.username, UserTotp.confirmed)
                .join(UserTotp, UserTotp.user_id == user_model.id)
                .where(UserTotp.confirmed.isnot(None)).order_by(user_model.username)).all()
        return self.render_template("security/login_security.html", totp=self._own_row(),
                                    enrolled_users=enrolled_users, is_admin=self._is_admin())

    @expose("/totp/setup", methods=["POST"])
    def setup(self):
        refused = self._require_login()
        if refused:
            return refused
        from app.models.auth import UserTotp

        row = self._own_row()
        if row is not None and row.confirmed is not None:
            flash(gettext("The second factor is set up already; an administrator can "
                          "reset it."), "warning")
            return redirect(url_for(".index"))
        table = UserTotp.__table__
        db.session.execute(delete(table).where(table.c.user_id == current_user.id))
        db.session.execute(insert(table).values(user_id=current_user.id, secret=new_secret()))
        db.session.commit()
        return redirect(url_for(".confirm"))

    @expose("/totp/confirm", methods=["GET", "POST"])
    def confirm(self):
        refused = self._require_login()
        if refused:
            return refused
        from app.models.auth import UserTotp

        row = self._own_row()
        if row is None or row.confirmed is not None:
            return redirect(url_for(".index"))
        error = None
        if request.method == "POST":
            step = matching_step(row.secret, request.form.get("code"), sessions.utcnow())
            if step is not None:
                table = UserTotp.__table__
                db.session.execute(update(table).where(table.c.user_id == current_user.id)
                                   .values(confirmed=sessions.utcnow(), last_step=step))
                db.session.commit()
                sessions.security_log().info("TOTP enrolled: user=%s", current_user.username)
                flash(gettext("The second factor is set up: from now on the login asks "
                              "for a code."), "success")
                return redirect(url_for(".index"))
            error = gettext("This code is not right; enter the current 6-digit code of "
                            "your app.")
        uri = provisioning_uri(row.secret, current_user.username)
        return self.render_template("security/totp_confirm.html", secret=row.secret,
                                    qr=qr_svg(uri), error=error)

    @expose("/totp/reset/<int:user_id>", methods=["POST"])
    def reset_user(self, user_id):
        refused = self._require_login()
        if refused:
            return refused
        if not self._is_admin():
            abort(403)
        user = self.appbuilder.sm.get_user_by_id(user_id)
        if user is None:
            abort(404)
        if reset(user_id):
            sessions.security_log().warning("TOTP reset: user=%s by=%s", user.username,
                                            current_user.username)
            flash(gettext("The second factor of %(user)s has been reset.",
                          user=user.username), "success")
        return redirect(url_for(".index"))
