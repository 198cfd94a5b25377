"""The audit trail: who changed which master data when, before and after, in
a log the application can only append to; shown per record; and a settled
period recomputed exactly from the master data as it was."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select, text

from app.extensions import db
from app.models.audit import ChangeLog
from app.models.contracts import Contract
from app.models.intermediaries import Intermediary, IntermediaryLevel, IntermediaryRate
from app.models.ledger import Booking
from app.services.demo import create_demo_data, demo_password
from app.services.recompute import _Rewinder, recompute_period
from app.services.settlement import run_settlement
from tests.factories import ui_login


def _log(table, row_id):
    return db.session.execute(select(ChangeLog).where(
        ChangeLog.table_name == table, ChangeLog.row_id == row_id)
        .order_by(ChangeLog.id)).scalars().all()


@pytest.fixture
def demo(app):
    create_demo_data()
    db.session.commit()
    return app


def test_master_data_changes_are_logged_with_before_after_who_and_when(demo):
    rate = db.session.execute(select(IntermediaryRate)).scalars().first()
    person = rate.intermediary
    old_rate, old_iban = rate.ap_rate, person.iban
    rate.ap_rate = Decimal("12.5")
    person.iban = "DE02 1203 0000 0000 2020 51"
    person.status = "FORMER" if person.status.value == "ACTIVE" else "ACTIVE"
    db.session.commit()
    (entry,) = [e for e in _log("intermediary_rate", rate.id) if e.action == "UPDATE"]
    assert Decimal(entry.changes["ap_rate"][1]) == Decimal("12.5")
    assert [Decimal(v) for v in entry.raw_values["ap_rate"]] == [old_rate, Decimal("12.5")]
    assert entry.changed_on is not None
    person_entry = [e for e in _log("intermediary", person.id) if e.action == "UPDATE"][-1]
    assert person_entry.changes["iban"] == [old_iban, "DE02120300000000202051"]
    assert "status" in person_entry.changes and "status" in person_entry.raw_values


def test_a_deactivated_login_and_its_roles_are_logged_but_never_its_password(demo):
    sm = demo.appbuilder.sm
    user = sm.find_user(username="poolstaff")
    user.active = False
    user.roles = [sm.find_role("Pool admin")]
    user.password = "pbkdf2:sha256:1$x$y"
    db.session.commit()
    updates = [e for e in _log("ab_user", user.id) if e.action == "UPDATE"]
    changes = {k: v for e in updates for k, v in e.changes.items()}
    assert changes["active"] == ["True", "False"]
    assert changes["roles"] == ["Pool staff", "Pool admin"]
    assert all(e.user_id is None or e.user_id > 0 for e in updates)
    assert not any("password" in e.changes or "password" in (e.raw_values or {})
                   for e in _log("ab_user", user.id))


def test_the_change_log_is_append_only_in_the_database(demo):
    rate = db.session.execute(select(IntermediaryRate)).scalars().first()
    rate.fp_rate = Decimal("1.5")
    db.session.commit()
    entry = _log("intermediary_rate", rate.id)[-1]
    for sql in ("UPDATE change_log SET changes = '{\"fp_rate\": [\"0\", \"9\"]}' WHERE id = :id",
                "UPDATE change_log SET user_id = NULL WHERE id = :id",
                "UPDATE change_log SET row_id = row_id + 1 WHERE id = :id",
                "DELETE FROM change_log WHERE id = :id"):
        with pytest.raises(Exception, match="append-only"):
            with db.engine.begin() as conn:
                conn.execute(text(sql), {"id": entry.id})
    # the one change allowed: a customer's anonymisation blanks the values
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE change_log SET changes = '{}', raw_values = '{}' "
                          "WHERE id = :id"), {"id": entry.id})
    db.session.expire_all()
    assert db.session.get(ChangeLog, entry.id).changes == {}


def test_the_history_of_a_record_is_shown_on_its_page(demo):
    person = db.session.execute(select(Intermediary).where(Intermediary.iban.isnot(None))
                                ).scalars().first()
    person.iban = "DE02500105170137075030"
    db.session.commit()
    client = ui_login(demo.test_client(), "admin", demo_password("admin"))
    page = client.get(f"/intermediaryview/show/{person.id}").get_data(as_text=True)
    assert "DE02500105170137075030" in page
    assert "admin" in page or "Anna" in page


def test_every_record_that_keeps_a_history_shows_it_on_its_page(demo):
    rate = db.session.execute(select(IntermediaryRate)).scalars().first()
    rate.ap_rate = Decimal("12.34")
    level = db.session.execute(select(IntermediaryLevel)).scalars().first()
    level.valid_from = date(2021, 3, 1)
    db.session.commit()
    client = ui_login(demo.test_client(), "admin", demo_password("admin"))
    for url, new in ((f"/intermediaryrateview/show/{rate.id}", "12.34"),
                     (f"/intermediarylevelview/show/{level.id}", "2021-03-01")):
        page = client.get(url).get_data(as_text=True)
        assert "Änderungsverlauf" in page and new in page, url


def _settled_october():
    run_settlement("2026-10", final=True, today=date(2026, 11, 5))
    settled = db.session.execute(select(Booking).where(Booking.statement_id.isnot(None),
                                                       Booking.receipt_id.isnot(None))
                                 ).scalars().all()
    assert settled
    return settled


def _change_everything_settlement_reads():
    """After the period was settled: the rates edited, one deleted and a
    more specific one added, the reserve and the hierarchy changed, the
    contract moved to another intermediary."""
    rates = db.session.execute(select(IntermediaryRate)).scalars().all()
    for rate in rates:
        rate.ap_rate = Decimal(rate.ap_rate or 0) + 7
        rate.fp_rate = Decimal(rate.fp_rate or 0) + 1
    db.session.commit()
    db.session.delete(rates[-1])
    db.session.commit()
    first = rates[0]
    db.session.add(IntermediaryRate(intermediary_id=first.intermediary_id,
                                    insurer_id=first.insurer_id,
                                    line_of_business_id=first.line_of_business_id,
                                    product_id=None, term_min=1, term_max=99,
                                    ap_rate=Decimal("99"), ap_zv_rate=0, fp_rate=Decimal("9")))
    for person in db.session.execute(select(Intermediary)).scalars():
        person.reserve_rate = Decimal("33")
    level = db.session.execute(select(IntermediaryLevel)).scalars().first()
    if level is not None:
        level.valid_from = date(2020, 1, 1)
    db.session.commit()
    contract = db.session.execute(select(Contract).where(
        Contract.policy_number == "AL-2026-0001")).scalar_one()
    others = [p for p in db.session.execute(select(Intermediary.id).where(
        Intermediary.status == "ACTIVE")).scalars() if p != contract.intermediary_id]
    contract.intermediary_id = others[0]
    db.session.commit()


def test_a_settled_period_is_recomputed_exactly_after_its_master_data_changed(demo):
    settled = _settled_october()
    _change_everything_settlement_reads()
    report = recompute_period("2026-10")
    assert report["receipts"] >= 1 and report["lines"] >= len(settled)
    assert report["differences"] == []
    # read only: the master data is as it is now, nothing booked
    assert db.session.execute(select(IntermediaryRate.ap_rate).where(
        IntermediaryRate.ap_rate == Decimal("99"))).first()
    assert db.session.execute(select(Booking)).scalars().all().__len__() >= len(settled)


def test_without_the_history_the_recomputation_would_differ(demo, monkeypatch):
    # the control: the same recomputation on today's master data finds the
    # changes (so the test above can fail)
    _settled_october()
    _change_everything_settlement_reads()
    monkeypatch.setattr(_Rewinder, "back_to", lambda self, moment: db.session.expire_all())
    assert recompute_period("2026-10")["differences"]


def test_the_audit_trail_screen_is_for_the_pools_administrators(demo):
    rate = db.session.execute(select(IntermediaryRate)).scalars().first()
    rate.ap_rate = Decimal("11.11")
    db.session.commit()
    entry = _log("intermediary_rate", rate.id)[-1]
    for username in ("admin", "pooladmin"):
        client = ui_login(demo.test_client(), username, demo_password(username))
        listed = client.get("/changelogview/list/?_flt_0_table_name=intermediary_rate")
        assert listed.status_code == 200
        text_ = listed.get_data(as_text=True)
        assert "Änderungsprotokoll" in text_ and "11.11" in text_
        assert client.get(f"/changelogview/show/{entry.id}").status_code == 200
    for username in ("poolstaff", "firmadmin"):
        client = ui_login(demo.test_client(), username, demo_password(username))
        assert client.get("/changelogview/list/").status_code in (302, 403)
        assert "11.11" not in client.get(f"/changelogview/show/{entry.id}").get_data(as_text=True)
