"""Our FAB security manager: FAB's, with the pool's roles seeded from code."""
from flask import has_request_context, request
from flask_appbuilder.security.sqla.manager import SecurityManager
from flask_appbuilder.security.sqla.models import assoc_permissionview_role
from sqlalchemy import select


class PoolSecurityManager(SecurityManager):
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
