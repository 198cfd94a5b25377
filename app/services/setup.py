"""Deployment step: schema migrations, FAB permissions, the pool's roles."""
from flask import current_app
from flask_migrate import upgrade

from app.extensions import db


def init_database() -> None:
    upgrade()
    appbuilder = current_app.appbuilder
    sm = appbuilder.sm
    # The Admin role must exist before the sync, which grants it every permission.
    sm.find_role(sm.auth_role_admin) or sm.add_role(sm.auth_role_admin)
    # FAB_UPDATE_PERMS is off in web workers; the sync runs here, once per deploy.
    appbuilder.add_permissions(update_perms=True)
    appbuilder.sm.seed()
    db.session.commit()
