"""The change history (Änderungsverlauf) shown under a record."""
from __future__ import annotations

from flask import current_app, request
from sqlalchemy import select

from app.extensions import db
from app.models.audit import ChangeLog
from app.models.documents import OWNERS


def _view_of_blueprint(name):
    for view in current_app.appbuilder.baseviews:
        if getattr(view, "blueprint", None) is not None and view.blueprint.name == name:
            return view
    return None


def change_history(pk, limit: int = 50):
    """(entries, labels, document owner or None) for the record `pk` of the
    current screen; entries newest first. Only for screens whose model keeps
    a history; the caller has already been allowed to see the record."""
    view = _view_of_blueprint(request.blueprint)
    model = getattr(getattr(view, "datamodel", None), "obj", None)
    owner = request.blueprint[:-4].lower() if request.blueprint else None
    owner = owner if owner in OWNERS else None
    if model is None or not getattr(model, "__history__", False):
        return [], {}, owner
    rows = db.session.execute(
        select(ChangeLog).where(ChangeLog.table_name == model.__tablename__,
                                ChangeLog.row_id == int(pk))
        .order_by(ChangeLog.id.desc()).limit(limit)).scalars().all()
    labels = {k.removesuffix(".name"): v for k, v in view.label_columns.items()}
    return rows, labels, owner
