"""The settlement example of domain.md: October pays out 1,208.88; November
carries -437.20 forward."""
from datetime import date
from decimal import Decimal

import pytest

from app.extensions import db
from app.models.contracts import Contract
from app.models.ledger import Booking, Statement
from app.services.ledger import cancel_contract
from app.services.settlement import run_settlement
from tests.api.test_ledger_api import env  # noqa: F401  (the same pool)


@pytest.fixture
def month(app, client, env):  # noqa: F811
    contract = db.session.get(Contract, env["contracts"]["L-1"].id)
    contract.start_date = date(2025, 9, 1)   # so that 2026-11-01 is 14 months in
    db.session.commit()
    for number, kind, amount, day in (("L-1", "AP", "1234.56", "2026-10-05"),
                                      ("H-1", "FP", "100.00", "2026-10-07")):
        resp = client.post("/api/v1/receipt/", headers=env["auth"], json={
            "contract": env["contracts"][number].id, "kind": kind, "amount": amount,
            "value_date": day})
        assert resp.status_code == 201
    return env


def test_a_preview_writes_nothing(client, month):
    resp = client.post("/api/v1/settlement/run", json={"period": "2026-10", "final": False},
                       headers=month["auth"])
    assert resp.status_code == 200, resp.json
    (line,) = resp.json["statements"]
    assert line == {"intermediary": month["a"].id, "total": "1208.88", "payout": "1208.88",
                    "carry_forward": "0.00"}
    assert db.session.query(Statement).count() == 0
    assert db.session.query(Booking).filter_by(kind="FIXUM").count() == 0


def test_the_settlement_example_final_runs(client, month):
    resp = client.post("/api/v1/settlement/run", json={"period": "2026-10", "final": True},
                       headers=month["auth"])
    assert resp.status_code == 200, resp.json
    (october,) = resp.json["statements"]
    assert (october["payout"], october["carry_forward"]) == ("1208.88", "0.00")
    assert october["number"].startswith("2026-")
    again = client.post("/api/v1/settlement/run", json={"period": "2026-10", "final": True},
                        headers=month["auth"])
    assert again.json["statements"] == []          # a final month again creates nothing
    assert db.session.query(Booking).filter(Booking.statement_id.is_(None)).count() == 0
    # November: the charge-back, another FP, the Fixum
    contract = db.session.get(Contract, month["contracts"]["L-1"].id)
    assert [str(b.amount) for b in cancel_contract(contract, date(2026, 11, 1))] == ["-757.20"]
    client.post("/api/v1/receipt/", headers=month["auth"], json={
        "contract": month["contracts"]["H-1"].id, "kind": "FP", "amount": "100.00",
        "value_date": "2026-11-07"})
    answer = run_settlement("2026-11", final=True, today=date(2026, 12, 1))
    (november,) = answer["statements"]
    assert (november["total"], november["payout"], november["carry_forward"]) == (
        "-437.20", "0.00", "-437.20")
    numbers = [s.sequence for s in db.session.query(Statement).order_by(Statement.sequence)]
    assert numbers == [1, 2]                        # gap-free per year
    december = run_settlement("2026-12", final=False)
    assert Decimal(december["statements"][0]["total"]) == Decimal("-187.20")  # -437.20 + 250


@pytest.mark.parametrize("body, field", [({"period": "2026-13"}, "period"),
                                         ({"period": "2099-01", "final": True}, "period")])
def test_bad_runs_are_refused(client, month, body, field):
    resp = client.post("/api/v1/settlement/run", json=body, headers=month["auth"])
    assert resp.status_code == 422 and field in resp.json["message"]
    assert db.session.query(Statement).count() == 0


def test_statements_are_read_only_and_missing_rates_are_reported(client, month):
    resp = client.post("/api/v1/receipt/", headers=month["auth"], json={
        "contract": month["contracts"]["K-1"].id, "kind": "AP", "amount": "50.00",
        "value_date": "2026-10-09"})
    assert resp.status_code == 201
    answer = client.post("/api/v1/settlement/run", json={"period": "2026-10", "final": True},
                         headers=month["auth"]).json
    assert answer["missing_rates"] == [{"contract": month["contracts"]["K-1"].id,
                                        "policy_number": "K-1", "intermediary": month["a"].id,
                                        "receipt": resp.json["id"]}]
    pk = answer["statements"][0]["id"]
    got = client.get(f"/api/v1/statement/{pk}", headers=month["auth"]).json["result"]
    assert got["payout"] == "1208.88" and got["period"] == "2026-10"
    assert client.put(f"/api/v1/statement/{pk}", json={"payout": "1"},
                      headers=month["auth"]).status_code in (404, 405)


def test_bookings_are_settled_onto_their_statement_range_by_range(client, month, monkeypatch):
    """SQLite settles the run's bookings reading the table in ranges of ids
    (settlement.RANGE): with ranges of one booking each, every booking up to
    the month's end lands on its intermediary's statement and nothing later."""
    from app.services import settlement

    monkeypatch.setattr(settlement, "RANGE", 1)
    client.post("/api/v1/receipt/", headers=month["auth"], json={
        "contract": month["contracts"]["H-1"].id, "kind": "FP", "amount": "100.00",
        "value_date": "2026-11-07"})                      # after the month: stays open
    answer = run_settlement("2026-10", final=True, today=date(2026, 11, 23))
    (statement,) = answer["statements"]
    settled = db.session.query(Booking).filter(Booking.statement_id.isnot(None)).all()
    assert settled and {b.statement_id for b in settled} == {statement["id"]}
    assert {b.intermediary_id for b in settled} == {month["a"].id}
    assert sum(b.amount for b in settled) == Decimal(statement["total"])
    still_open = db.session.query(Booking).filter(Booking.statement_id.is_(None)).all()
    assert still_open and all(b.booking_date > date(2026, 10, 31) for b in still_open)
