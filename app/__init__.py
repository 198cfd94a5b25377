"""Vermittlerpool: the application factory."""
from __future__ import annotations

from typing import Any

from flask import Flask
from flask_appbuilder import AppBuilder

from app.extensions import csrf, db, migrate


def create_app(config: Any = None) -> Flask:
    """Build the Flask app. Creates nothing in the database."""
    app = Flask(__name__, instance_relative_config=True)
    init_config(app, config)
    init_proxy(app)
    init_extensions(app)
    init_appbuilder(app)
    init_security_headers(app)
    register_template_filters(app)
    register_cli(app)
    return app


def init_config(app: Flask, config: Any) -> None:
    from config import Config

    app.config.from_object(config or Config)
    from config import COMMISSION_MODELS

    if app.config["POOL_COMMISSION_MODEL"] not in COMMISSION_MODELS:
        raise ValueError(
            f"POOL_COMMISSION_MODEL must be one of {', '.join(COMMISSION_MODELS)}, "
            f"not {app.config['POOL_COMMISSION_MODEL']!r}"
        )
    validator = app.config.get("FAB_PASSWORD_COMPLEXITY_VALIDATOR")
    if isinstance(validator, str):
        from werkzeug.utils import import_string

        app.config["FAB_PASSWORD_COMPLEXITY_VALIDATOR"] = import_string(validator)


def init_proxy(app: Flask) -> None:
    """Behind POOL_PROXY_FIX reverse proxies: the client's address, scheme and host
    from their X-Forwarded-* headers (the login limit counts per client address)."""
    hops = int(app.config.get("POOL_PROXY_FIX") or 0)
    if hops > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops,
                                x_port=hops, x_prefix=hops)


def init_extensions(app: Flask) -> None:
    from app import models  # noqa: F401  (registers every model on the metadata)
    from app.models.guards import install_guards

    db.init_app(app)
    # Batch mode: SQLite alters tables by copying them; a no-op elsewhere.
    migrate.init_app(app, db, directory=str(_migrations_dir()),
                     render_as_batch=True, compare_type=True)
    # Must come before AppBuilder: FAB exempts its API only from an already
    # registered CSRFProtect, and refuses state-changing GETs only with it.
    csrf.init_app(app)
    install_guards()
    from app.services.ledger_chain import install as install_ledger_chain

    install_ledger_chain()
    from app.models.audit import keep_login_history

    keep_login_history()
    init_sqlite(app)


def init_sqlite(app: Flask) -> None:
    """SQLite connections: POOL_SQLITE_CACHE_MB of page cache each (SQLite's
    2 MB default spills a month's dirty pages to the file, syncing the journal
    each time) and the write-ahead log (POOL_SQLITE_WAL: readers go on while a
    run writes; NORMAL sync, which loses no committed transaction but the last
    on power loss, never corrupts)."""
    from sqlalchemy import event

    cache_mb = int(app.config.get("POOL_SQLITE_CACHE_MB") or 0)
    wal = bool(app.config.get("POOL_SQLITE_WAL"))
    with app.app_context():
        engine = db.engine
    if engine.dialect.name != "sqlite" or not (cache_mb or wal):
        return

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        if cache_mb:
            cursor.execute(f"PRAGMA cache_size = -{cache_mb * 1024}")
        if wal:
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()


def init_appbuilder(app: Flask) -> None:
    from app.security.manager import PoolSecurityManager
    from app.views import register_views
    from app.views.index import PoolIndexView

    with app.app_context():
        appbuilder = AppBuilder(
            security_manager_class=PoolSecurityManager,
            indexview=PoolIndexView,
            base_template="pool_base.html",
            update_perms=False,
        )
        appbuilder.init_app(app, db.session)
        register_views(appbuilder)
        appbuilder.post_init()
        limit_api_login(app, appbuilder)
    from app.security import extranet, sessions

    extranet.install(app)
    sessions.install(app)


def init_security_headers(app: Flask) -> None:
    """CSP with nonces, HSTS, no-store, refused-access log, generic error pages."""
    from app.security import errors, headers

    headers.init_security_headers(app)
    errors.install(app)


def limit_api_login(app: Flask, appbuilder) -> None:
    """FAB limits only the login form; the API login gets the same limit."""
    if app.config.get("AUTH_RATE_LIMITED"):
        appbuilder.sm.limiter.limit(app.config["AUTH_RATE_LIMIT"], methods=["POST"])(
            app.blueprints["SecurityApi"]
        )


def register_template_filters(app: Flask) -> None:
    from flask_babel import format_date

    from app.views.fields import format_number

    app.add_template_filter(format_number, "pool_number")
    app.context_processor(history_context)
    app.add_template_filter(lambda d: format_date(d, "medium") if d else "", "pool_date")
    app.add_template_filter(lambda d: format_date(d, "MMM yy") if d else "", "pool_month")
    from flask_babel import get_locale

    app.jinja_env.globals["pool_locale"] = lambda: str(get_locale() or "de")
    app.jinja_env.globals["pool_staff_login"] = _staff_login
    from flask_babel import format_datetime

    app.add_template_filter(lambda d: format_datetime(d, "medium") if d else "", "pool_datetime")


def _staff_login() -> bool:
    """A logged-in intranet user (not a broker's or customer's login)."""
    from flask_login import current_user

    from app.security.scope import current_scope

    return bool(current_user.is_authenticated) and not current_scope().extranet_only


def history_context():
    """`change_history()` for show pages: the changes of the shown row."""
    from app.views.history import change_history

    return {"change_history": change_history}


def register_cli(app: Flask) -> None:
    from app.cli import pool

    app.cli.add_command(pool)


def _migrations_dir():
    from pathlib import Path

    return Path(__file__).resolve().parent.parent / "migrations"
