"""Logins: server-side sessions, the growing delay after failed logins, TOTP.

Written by app/security (sessions.py, login.py, totp.py) with plain
statements, not through the session guard: these are the system's own
bookkeeping of a login, not data a user edits.
"""
from flask_appbuilder import Model
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    String,
)


class AuthSession(Model):
    """One login: a screen session (its token in the signed session cookie)
    or an API login (its token in the JWTs). A request is served only while
    its row exists, is not ended and its user is active."""

    __tablename__ = "auth_session"
    id = Column(Integer, primary_key=True)
    #: SHA-256 of the token the client holds (the token itself is not stored)
    token_hash = Column(String(64), nullable=False, unique=True)
    user_id = Column(Integer, ForeignKey("ab_user.id", ondelete="CASCADE"), nullable=False,
                     index=True)
    #: "web" or "api"
    channel = Column(String(8), nullable=False)
    #: an extranet login (Intermediary, Customer): the shorter timeouts
    extranet = Column(Boolean, nullable=False, default=False)
    created = Column(DateTime, nullable=False)
    ended = Column(DateTime)
    #: logout, idle, absolute, deactivated, password, deleted
    end_reason = Column(String(20))


class LoginThrottle(Model):
    """Failed logins in a row of one account (or of one unknown login name,
    so that the delay tells nothing about which accounts exist)."""

    __tablename__ = "login_throttle"
    #: "user:<id>" or "name:<sha256 of the lower-cased name>"
    key = Column(String(80), primary_key=True)
    failures = Column(Integer, nullable=False, default=0)
    last_failed = Column(DateTime)


class UserTotp(Model):
    """The TOTP second factor of a login (RFC 6238, 30-second steps)."""

    __tablename__ = "user_totp"
    user_id = Column(Integer, ForeignKey("ab_user.id", ondelete="CASCADE"), primary_key=True)
    secret = Column(String(64), nullable=False)
    #: when the first code was confirmed; None while enrolling
    confirmed = Column(DateTime)
    #: the last time step whose code was used: each code works once
    last_step = Column(BigInteger)
