"""Extension objects, created without an app; `create_app` binds them."""
from flask_appbuilder.models.sqla import Model
from flask_appbuilder.models.sqla.base import SQLA
from flask_migrate import Migrate
from flask_wtf.csrf import CSRFProtect

# Built on FAB's Model so that its security tables and ours share one metadata,
# which is what Alembic compares against.
db = SQLA(model_class=Model)
migrate = Migrate()
csrf = CSRFProtect()
