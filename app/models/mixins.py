"""Shared columns: who created and changed a row, and when."""
from datetime import datetime, timezone

from flask import has_request_context
from sqlalchemy import Column, DateTime, ForeignKey, Integer
from sqlalchemy.orm import declared_attr, relationship


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _user_id():
    """The logged-in user's id, or None for CLI jobs and imports."""
    if not has_request_context():
        return None
    from app.security.scope import current_request_user

    user = current_request_user()
    try:
        return user.id if user and user.is_authenticated else None
    except AttributeError:
        return None


class AuditMixin:
    """created/changed by/on. Unlike FAB's mixin the users are optional,
    because the CLI, the scheduler and imports write rows without a login."""

    created_on = Column(DateTime, default=_now, nullable=False)
    changed_on = Column(DateTime, default=_now, onupdate=_now, nullable=False)

    @declared_attr
    def created_by_fk(cls):
        return Column(Integer, ForeignKey("ab_user.id"), default=_user_id, nullable=True)

    @declared_attr
    def changed_by_fk(cls):
        return Column(
            Integer, ForeignKey("ab_user.id"), default=_user_id, onupdate=_user_id,
            nullable=True,
        )

    @declared_attr
    def created_by(cls):
        return relationship("User", foreign_keys=[cls.created_by_fk], viewonly=True)

    @declared_attr
    def changed_by(cls):
        return relationship("User", foreign_keys=[cls.changed_by_fk], viewonly=True)
