"""What every benchmark shares: the app on a fresh database, statistics, logins."""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("POOL_INSTANCE_DIR", tempfile.mkdtemp(prefix="pool-bench-"))

from sqlalchemy import text  # noqa: E402

from app import create_app  # noqa: E402
from app.extensions import db  # noqa: E402
from config import Config, _database_url  # noqa: E402

PASSWORD = "correct horse battery"  # the password tests.factories gives logins


def bench_app():
    """The app on the PostgreSQL database DATABASE_URL names (its tables are
    dropped!) or on a fresh SQLite file in a temporary folder."""
    uri = (_database_url() if os.environ.get("DATABASE_URL")
           else f"sqlite:///{os.environ['POOL_INSTANCE_DIR']}/bench.db")
    return create_app(type("BenchConfig", (Config,), {
        "SQLALCHEMY_DATABASE_URI": uri, "WTF_CSRF_ENABLED": False,
        "AUTH_RATE_LIMITED": False, "RATELIMIT_ENABLED": False}))


def fresh_schema() -> None:
    """An empty database at the newest migration, with roles."""
    from app.services.setup import init_database

    if db.engine.dialect.name == "postgresql":
        with db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    init_database()


def analyze() -> None:
    """Statistics for bulk-loaded tables (autovacuum would gather them within
    a minute); measure with them, as in production."""
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))
    else:
        with db.engine.begin() as conn:
            conn.execute(text("ANALYZE"))


def staff_client(app, username="bench"):
    """A test client logged in to the screens."""
    client = app.test_client()
    client.post("/login/", data={"username": username, "password": PASSWORD})
    return client


def api_client(app, username="bench"):
    """A test client sending a JWT of the REST API."""
    client = app.test_client()
    token = client.post("/api/v1/security/login", json={
        "username": username, "password": PASSWORD, "provider": "db"}).json["access_token"]
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client
