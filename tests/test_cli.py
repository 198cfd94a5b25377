"""`flask pool init`, `flask db upgrade` and `flask pool demo-data`."""
import re

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select

from app import create_app
from app.extensions import db
from app.models.crm import Company, Customer, Staff
from tests.conftest import make_config


def counts(app):
    sm = app.appbuilder.sm
    return {m.__name__: db.session.scalar(select(func.count()).select_from(m)) for m in (
        sm.role_model, sm.permissionview_model, sm.user_model, Company, Staff, Customer)}


def test_the_migrations_build_exactly_the_models(app):
    # Indexes of one database only (migrations 0005, 0015) are not in the models.
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
    diff = [d for d in diff if not (d[0] == "remove_index"
                                    and d[1].name.endswith(("_pg", "_sqlite")))]
    assert diff == []


def test_pool_init_is_idempotent(app):
    before = counts(app)
    result = app.test_cli_runner().invoke(args=["pool", "init"])
    assert result.exit_code == 0, result.output
    assert counts(app) == before


def test_db_upgrade_and_pool_init_build_an_empty_sqlite_database_from_nothing(tmp_path, _schema):
    fresh = create_app(make_config(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path}/new.db"))
    runner = fresh.test_cli_runner()
    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["pool", "init"])
    assert result.exit_code == 0, result.output
    with fresh.app_context():
        roles = {r.name for r in db.session.scalars(select(fresh.appbuilder.sm.role_model))}
        assert {"Admin", "Pool admin", "Pool staff", "Company admin", "Intermediary",
                "Customer"} <= roles
        db.engine.dispose()


def test_demo_data_creates_one_login_per_role_once(app, client):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["pool", "demo-data"])
    assert first.exit_code == 0, first.output
    after_first = counts(app)
    second = runner.invoke(args=["pool", "demo-data"])
    assert second.exit_code == 0
    assert "nothing changed" in second.output
    assert counts(app) == after_first
    assert after_first["Company"] == 6 and after_first["Customer"] == 7

    logins = re.findall(r"^\s+(Admin|Pool admin|Pool staff|Company admin|Intermediary|Customer)"
                        r"\s+(\S+)\s+(\S+)$", first.output, re.M)
    assert {role for role, *_ in logins} == {"Admin", "Pool admin", "Pool staff",
                                             "Company admin", "Intermediary", "Customer"}
    assert logins == re.findall(r"^\s+(Admin|Pool admin|Pool staff|Company admin|Intermediary"
                                r"|Customer)\s+(\S+)\s+(\S+)$", second.output, re.M)
    for role, username, password in logins:
        resp = client.post("/api/v1/security/login", json={
            "username": username, "password": password, "provider": "db"})
        assert resp.status_code == 200, (role, resp.json)
        user = app.appbuilder.sm.find_user(username=username)
        assert [r.name for r in user.roles] == [role]


def test_the_demo_company_admin_sees_only_its_firm(app, client):
    app.test_cli_runner().invoke(args=["pool", "demo-data"])
    from app.services.demo import demo_password
    resp = client.post("/api/v1/security/login", json={
        "username": "firmadmin", "password": demo_password("firmadmin"), "provider": "db"})
    token = {"Authorization": f"Bearer {resp.json['access_token']}"}
    names = {c["name"] for c in client.get("/api/v1/company/", headers=token).json["result"]}
    assert names == {"Maklerbüro Schmidt GmbH"}
    customers = client.get("/api/v1/customer/", headers=token).json["result"]
    assert {c["company"]["name"] for c in customers} == {"Maklerbüro Schmidt GmbH"}
    assert len(customers) == 3


def test_large_demo_data_builds_a_scaled_pool_once(app):
    from sqlalchemy import func, select

    from app.extensions import db
    from app.models.contracts import Contract
    from app.models.intermediaries import IntermediaryLevel
    from app.models.ledger import Booking, Receipt

    runner = app.test_cli_runner()
    result = runner.invoke(args=["pool", "demo-data", "--size", "large", "--scale", "0.001"])
    assert result.exit_code == 0, result.output
    assert "1,000 contracts" in result.output and "1,250 receipts" in result.output
    count = lambda model: db.session.scalar(select(func.count()).select_from(model))  # noqa: E731
    assert count(Contract) == 1000 and count(Receipt) == 1250
    assert count(Booking) > 2 * 1250                 # overrides up the chain
    assert count(IntermediaryLevel) > 50             # with level history
    depth = db.session.scalar(select(func.count(func.distinct(
        IntermediaryLevel.career_level_id))))
    assert depth == 10
    again = runner.invoke(args=["pool", "demo-data", "--size", "large", "--scale", "0.001"])
    assert "nothing changed" in again.output and count(Receipt) == 1250


def test_create_app_touches_no_database(tmp_path):
    target = tmp_path / "untouched.db"
    create_app(make_config(SQLALCHEMY_DATABASE_URI=f"sqlite:///{target}"))
    assert not target.exists()


def test_an_unknown_commission_model_is_refused_at_start():
    import pytest
    with pytest.raises(ValueError, match="POOL_COMMISSION_MODEL"):
        create_app(make_config(POOL_COMMISSION_MODEL="percent"))


def test_a_month_booked_in_many_chunks_links_every_booking_to_its_receipt(app, monkeypatch):
    """book_month in chunks of 100: each chunk is written by the writer thread
    while the next is computed, and on SQLite a booking's receipt id is its
    index in the chunk plus the chunk's first new receipt id (added in SQL).
    Every booking must name its own receipt and that receipt's contract."""
    from sqlalchemy import func, select

    from app.extensions import db
    from app.models.ledger import Booking, Receipt
    from app.services import large_demo

    large_demo.create_large_pool(0.001, book=False)
    monkeypatch.setattr(large_demo, "RECEIPT_CHUNK", 100)
    booked = large_demo.book_month()
    assert booked["receipts"] == 1250 and not booked["skipped"]
    count = lambda q: db.session.scalar(select(func.count()).select_from(q))  # noqa: E731
    assert count(Receipt) == 1250 and count(Booking) == booked["bookings"] > 2 * 1250
    assert count(select(Booking.id).join(Receipt, Receipt.id == Booking.receipt_id).where(
        Receipt.contract_id == Booking.contract_id).subquery()) == booked["bookings"]
    assert count(select(Receipt.id).where(~select(Booking.id).where(
        Booking.receipt_id == Receipt.id).exists()).subquery()) == 0
    # the amounts as booked: a receipt's shares (closer and overrides) never exceed it
    over = db.session.execute(select(Receipt.reference).join(
        Booking, Booking.receipt_id == Receipt.id).where(Booking.kind.in_(
            ["AP", "AP_ZV", "FP", "OVERRIDE"])).group_by(Receipt.id, Receipt.reference, Receipt.amount)
        .having(func.sum(Booking.amount) > Receipt.amount)).scalars().all()
    assert over == []
    again = large_demo.book_month()                       # the same references again
    assert again["receipts"] == 0 and len(again["skipped"]) == 1250
