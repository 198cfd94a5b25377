"""Our FAB security manager: FAB's, with the pool's roles seeded from code."""
from flask_appbuilder.security.sqla.manager import SecurityManager


class PoolSecurityManager(SecurityManager):
    def seed(self) -> None:
        from app.security.roles import seed_roles

        seed_roles(self)
