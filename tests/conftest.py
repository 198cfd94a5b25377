"""Fixtures: a fresh app per test on one migrated database per session.

The database is SQLite in a temporary folder, or the PostgreSQL server that
DATABASE_URL names (the CI runs the suite on both). After each test every
row except FAB's permissions and the seeded roles is deleted.
"""
from __future__ import annotations

import os
import tempfile

_tmp = tempfile.mkdtemp(prefix="pool-test-")
os.environ.setdefault("POOL_INSTANCE_DIR", _tmp)

import pytest  # noqa: E402
from sqlalchemy import bindparam, text  # noqa: E402

from app import create_app  # noqa: E402
from app.domain.chain import GENESIS  # noqa: E402
from app.extensions import db  # noqa: E402
from config import TestConfig, _database_url  # noqa: E402

# Tables emptied after every test, children first.
DATA_TABLES = ["clearance_case", "gdv_raw", "import_run", "import_profile",
               "insurer_broker_number", "insurer_agreement", "missing_rate", "booking", "statement_pdf", "statement", "settlement_run",
               "receipt", "change_log", "document", "message_read", "message", "message_thread", "application", "contract", "combination_member", "combination", "intermediary_level", "intermediary_rate",
               "product_rate", "product", "career_level", "customer", "staff", "intermediary",
               "company", "liability_model", "ab_user_role", "ab_user_group", "ab_api_key",
               "auth_session", "user_totp", "login_throttle", "ab_user"]


SEEDED_LINES: list[str] = []


def make_config(**overrides):
    url = os.environ.get("DATABASE_URL")
    uri = _database_url() if url else f"sqlite:///{_tmp}/test.db"
    return type("Cfg", (TestConfig,), {"SQLALCHEMY_DATABASE_URI": uri, **overrides})


@pytest.fixture(scope="session")
def _schema():
    app = create_app(make_config())
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        from app.services.setup import init_database

        init_database()
        SEEDED_LINES[:] = db.session.execute(text("SELECT code FROM line_of_business")).scalars()
        db.session.remove()
        db.engine.dispose()
    yield


def clean_database():
    from app.models.audit import audit_triggers, drop_audit_triggers
    from app.models.ledger import drop_ledger_triggers, ledger_triggers

    db.session.rollback()
    dialect = db.engine.dialect.name
    with db.engine.begin() as conn:
        # Bookings are immutable, also for tests: lift the triggers to empty
        # the ledger, and put them back.
        for ddl in drop_ledger_triggers(dialect) + drop_audit_triggers(dialect):
            conn.execute(text(ddl))
        conn.execute(text("UPDATE intermediary SET group_id = NULL"))
        conn.execute(text("UPDATE company SET parent_id = NULL"))
        for table in DATA_TABLES:
            conn.execute(text(f"DELETE FROM {table}"))
        # Lines of business are seeded by the migration: keep those.
        conn.execute(text("DELETE FROM line_of_business WHERE code NOT IN :codes")
                     .bindparams(bindparam("codes", expanding=True)), {"codes": SEEDED_LINES})
        for ddl in ledger_triggers(dialect) + audit_triggers(dialect):
            conn.execute(text(ddl))
        conn.execute(text("UPDATE ledger_head SET booking_id = 0, hash = :genesis"),
                     {"genesis": GENESIS})


@pytest.fixture(scope="session")
def _app(_schema):
    # One app for the suite: building one costs about 0.25 s (FAB registers
    # every view). Tests that need other settings build their own.
    return fresh_requests(create_app(make_config()))


def fresh_requests(app):
    """Each test request gets a fresh `g`, as in production. Inside the
    `app` fixture's application context Flask reuses that context (and its
    `g`) for every request, and Flask-Login would keep the first request's
    user in `g` for the next client's requests."""
    from flask import g

    def forget():
        g.__dict__.clear()

    app.before_request_funcs.setdefault(None, []).insert(0, forget)
    return app


@pytest.fixture
def app(_app):
    with _app.app_context():
        yield _app
        clean_database()
        db.session.remove()


@pytest.fixture
def client(app):
    return app.test_client()
