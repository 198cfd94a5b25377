"""Our FAB security manager: FAB's, with the pool's roles seeded from code,
our login (app/security/login.py) and server-side sessions (sessions.py)."""
from flask import g, has_request_context, request
from flask_appbuilder.security.sqla.manager import SecurityManager
from flask_appbuilder.security.sqla.models import assoc_permissionview_role
from sqlalchemy import select

from app.security.login import AuthDBView, SecurityApi


class PoolSecurityManager(SecurityManager):
    authdbview = AuthDBView
    security_api = SecurityApi
    #: FAB's login statistics chart: not offered (an unknown grouping in its
    #: URL answered 500, and login counts per user are no business data)
    userstatschartview = None

    def register_views(self):
        super().register_views()
        from app.security.totp import LoginSecurityView

        self.appbuilder.add_view_no_menu(LoginSecurityView)

    def load_user(self, pk):
        """Flask-Login's loader: only for a request whose server-side session
        the session gate has found open (never from a remember-me cookie)."""
        if has_request_context() and not request.environ.get("pool.sid"):
            return None
        return super().load_user(pk)

    def load_user_jwt(self, _jwt_header, jwt_data):
        """A JWT acts only while its session (claim "sid") is open and its
        user active: logout, deactivation and password changes end it."""
        from app.security.sessions import api_session_user

        user_id = api_session_user(jwt_data)
        if user_id is None:
            return None
        user = self.get_user_by_id(int(user_id))
        if user is not None and user.is_active:
            g.user = user
            return user
        return None

    def seed(self) -> None:
        from app.security.roles import seed_roles

        seed_roles(self)

    def exist_permission_on_roles(self, view_name, permission_name, role_ids) -> bool:
        """FAB asks the database once per check: about 50 times a page (every
        menu item). Here the roles' permissions are read once per request."""
        if not has_request_context():
            return super().exist_permission_on_roles(view_name, permission_name, role_ids)
        cache = request.environ.setdefault("pool.permissions", {})
        key = tuple(sorted(role_ids))
        if key not in cache:
            pv = self.permissionview_model
            cache[key] = frozenset(self.session.execute(
                select(self.viewmenu_model.name, self.permission_model.name)
                .select_from(pv)
                .join(self.permission_model, self.permission_model.id == pv.permission_id)
                .join(self.viewmenu_model, self.viewmenu_model.id == pv.view_menu_id)
                .join(assoc_permissionview_role,
                      assoc_permissionview_role.c.permission_view_id == pv.id)
                .where(assoc_permissionview_role.c.role_id.in_(key))).all())
        return (view_name, permission_name) in cache[key]
