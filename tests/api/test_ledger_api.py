"""The commission engine through the REST API on a fresh database:
worked example 1 and the cancellation example of domain.md."""
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from app.domain.errors import DomainError
from app.extensions import db
from app.models.contracts import Contract
from app.models.crm import CompanyKind
from app.models.intermediaries import IntermediaryRate
from app.models.ledger import Booking
from app.models.products import Product
from tests.factories import api_token, make_company, make_customer, make_staff
from tests.masterdata import line, person, pool_with_products


@pytest.fixture
def env(app, client):
    pool, alpha, product = pool_with_products()
    beta = make_company("Beta", CompanyKind.INSURER, parent=pool)
    liability = Product(insurer=beta, line_of_business=line("040"), key="PH", name="PH")
    car = Product(insurer=beta, line_of_business=line("050"), key="KFZ", name="KFZ")
    db.session.add_all([liability, car])
    group = person(pool, "Gruppe", "GROUP")
    a = person(pool, "A", group=group)
    a.reserve_rate = Decimal(10)
    a.fixum = Decimal("250.00")
    life, liability_line = line("010"), line("040")
    db.session.add_all([
        IntermediaryRate(intermediary=a, insurer=alpha, line_of_business=life, ap_rate=80),
        IntermediaryRate(intermediary=group, line_of_business=liability_line, fp_rate=70)])
    db.session.commit()
    customer = make_customer(pool, "Kunde", intermediary=a)
    make_staff(pool, "Pool staff", "ps")
    contracts = {}
    for number, prod in (("L-1", product), ("H-1", liability), ("K-1", car)):
        contracts[number] = Contract(policy_number=number, customer=customer, product=prod,
                                     start_date=date(2026, 1, 1), term_months=120,
                                     managing_company=pool)
    db.session.add_all(contracts.values())
    db.session.commit()
    return dict(a=a, contracts=contracts, auth=api_token(client, "ps"))


def receipt(client, env, number, kind, amount, **kw):
    body = {"contract": env["contracts"][number].id, "kind": kind, "amount": amount,
            "value_date": "2026-10-05"}
    body.update(kw)
    return client.post("/api/v1/receipt/", headers=env["auth"], json=body)


def bookings(env):
    db.session.expire_all()
    return sorted((b.kind.value, str(b.amount)) for b in db.session.query(Booking).filter_by(
        intermediary_id=env["a"].id))


def test_worked_example_1_through_the_api(client, env):
    assert receipt(client, env, "L-1", "AP", "1234.56", reference="R1").status_code == 201
    assert bookings(env) == [("AP", "987.65"), ("RESERVE_RETAIN", "-98.77")]
    assert receipt(client, env, "H-1", "FP", "100.00").status_code == 201
    assert ("FP", "70.00") in bookings(env)
    resp = receipt(client, env, "K-1", "AP", "50.00")
    assert resp.status_code == 201
    assert len(bookings(env)) == 3  # no rate anywhere for line 050: nothing booked
    from app.models.ledger import MissingRate
    gap = db.session.query(MissingRate).one()
    assert (gap.receipt_id, gap.intermediary_id) == (resp.json["id"], env["a"].id)
    from tests.factories import ui_login
    ui_login(client, "ps")
    page = client.get("/missingrateview/list/").get_data(as_text=True)
    assert "K-1" in page and "Fehlende" in page
    listed = client.get("/api/v1/booking/", headers=env["auth"]).json
    assert {r["amount"] for r in listed["result"]} == {"987.65", "-98.77", "70.00"}


def test_the_cancellation_example_and_its_withdrawal(client, env):
    receipt(client, env, "L-1", "AP", "1234.56")
    pk = env["contracts"]["L-1"].id
    resp = client.post(f"/api/v1/contract/{pk}/cancel", json={"date": "2027-03-01"},
                       headers=env["auth"])
    assert resp.status_code == 200, resp.json
    assert [b["amount"] for b in resp.json["bookings"]] == ["-757.20"]
    again = client.post(f"/api/v1/contract/{pk}/cancel", json={"date": "2027-04-01"},
                        headers=env["auth"])
    assert again.json["bookings"] == []  # cancelling twice changes nothing
    resp = client.post(f"/api/v1/contract/{pk}/uncancel", headers=env["auth"])
    assert [b["amount"] for b in resp.json["bookings"]] == ["757.20"]
    stornos = [b for k, b in bookings(env) if k == "STORNO"]
    assert sorted(stornos) == ["-757.20", "757.20"]


def test_a_cancellation_before_the_start_is_refused(client, env):
    pk = env["contracts"]["L-1"].id
    resp = client.post(f"/api/v1/contract/{pk}/cancel", json={"date": "2025-12-31"},
                       headers=env["auth"])
    assert resp.status_code == 422 and "date" in resp.json["message"]


@pytest.mark.parametrize("body, field", [
    ({"amount": "12.345"}, "amount"), ({"amount": "zwölf"}, "amount"), ({"kind": "BONUS"}, "kind"),
    ({"value_date": "05.10.2026"}, "value_date"), ({"contract": 987654}, "contract"),
])
def test_bad_receipts_book_nothing(client, env, body, field):
    full = {"contract": env["contracts"]["L-1"].id, "kind": "AP", "amount": "100.00",
            "value_date": "2026-10-05", **body}
    resp = client.post("/api/v1/receipt/", headers=env["auth"], json=full)
    assert resp.status_code == 422 and field in resp.json["message"], resp.json
    assert bookings(env) == []


def test_a_duplicate_insurer_reference_is_refused(client, env):
    assert receipt(client, env, "L-1", "AP", "10.00", reference="X-1").status_code == 201
    resp = receipt(client, env, "L-1", "FP", "10.00", reference="X-1")
    assert resp.status_code == 422 and "reference" in resp.json["message"]
    assert len(bookings(env)) == 2


def test_fixum_is_booked_once_per_month(client, env):
    resp = client.post("/api/v1/fixum/book", json={"month": "2026-10"}, headers=env["auth"])
    assert resp.status_code == 200 and resp.json["booked"] == 1
    resp = client.post("/api/v1/fixum/book", json={"month": "2026-10"}, headers=env["auth"])
    assert resp.json["booked"] == 0
    assert client.post("/api/v1/fixum/book", json={"month": "Oktober"},
                       headers=env["auth"]).status_code == 422
    assert bookings(env) == [("FIXUM", "250.00")]


def test_bookings_cannot_be_changed_or_deleted_by_orm_sql_or_api(client, env):
    receipt(client, env, "L-1", "AP", "1234.56")
    booking = db.session.query(Booking).filter_by(kind="AP").one()
    booking.amount = Decimal("1.00")
    with pytest.raises(DomainError):
        db.session.commit()
    db.session.rollback()
    db.session.delete(db.session.query(Booking).filter_by(kind="AP").one())
    with pytest.raises(DomainError):
        db.session.commit()
    db.session.rollback()
    for sql in ("UPDATE booking SET amount = 1", "DELETE FROM booking"):
        with pytest.raises(DBAPIError, match="immutable"):
            with db.engine.begin() as conn:
                conn.execute(text(sql))
    assert client.put(f"/api/v1/booking/{booking.id}", json={"amount": "1"},
                      headers=env["auth"]).status_code in (404, 405)
    assert client.delete(f"/api/v1/booking/{booking.id}",
                         headers=env["auth"]).status_code in (404, 405)
    assert ("AP", "987.65") in bookings(env)


def test_the_screens_book_a_receipt_and_cannot_change_bookings(client, env):
    from tests.factories import ui_login
    ui_login(client, "ps")
    resp = client.post("/receiptview/add", data={
        "contract": env["contracts"]["L-1"].id, "kind": "AP", "amount": "1.234,56",
        "value_date": "2026-10-05", "reference": "UI-1"})
    assert resp.status_code == 302, resp.get_data(as_text=True)[-1500:]
    assert bookings(env) == [("AP", "987.65"), ("RESERVE_RETAIN", "-98.77")]
    booking = db.session.query(Booking).filter_by(kind="AP").one()
    assert client.get("/bookingview/list/").status_code == 200
    assert "987,65" in client.get("/bookingview/list/").get_data(as_text=True)
    for url in (f"/bookingview/edit/{booking.id}", f"/bookingview/delete/{booking.id}"):
        assert client.post(url, data={"amount": "1"}).status_code in (302, 403, 404, 405)
    assert bookings(env) == [("AP", "987.65"), ("RESERVE_RETAIN", "-98.77")]


@pytest.fixture
def chain(app, client):
    """Worked examples 2 to 4: A (1) -> B (2) -> C (3); from 2026-11-01 A (2) -> C."""
    from app.models.products import ProductRate
    from tests.masterdata import entry, levels
    pool, alpha, product = pool_with_products()
    product.commission_model = "product_rate"
    units = Product(insurer=alpha, line_of_business=line("010"), key="U", name="Einheiten",
                    commission_model="product_units", units_per_1000=Decimal("2.5"))
    db.session.add(units)
    l1, l2, l3 = levels()
    l1.value_per_unit, l2.value_per_unit, l3.value_per_unit = 20, 26, 30
    for level, rate in ((l1, 40), (l2, 55), (l3, 70)):
        db.session.add(ProductRate(line_of_business=line("010"), career_level=level,
                                   ap_rate=rate))
    a, b, c = person(pool, "A"), person(pool, "B"), person(pool, "C")
    entry(c, date(2026, 1, 1), l3)
    entry(b, date(2026, 1, 1), l2, c)
    entry(a, date(2026, 1, 1), l1, b)
    entry(a, date(2026, 11, 1), l2, c)
    customer = make_customer(pool, "Kunde", intermediary=a)
    make_staff(pool, "Pool staff", "ps")
    contract = Contract(policy_number="D-1", customer=customer, product=product,
                        start_date=date(2026, 1, 1), managing_company=pool)
    db.session.add(contract)
    db.session.commit()
    return dict(a=a, b=b, c=c, contract=contract, customer=customer, units=units, pool=pool,
                auth=api_token(client, "ps"))


def amounts_of(chain_env, receipt_id=None):
    db.session.expire_all()
    out = {}
    query = db.session.query(Booking)
    if receipt_id:
        query = query.filter_by(receipt_id=receipt_id)
    for b in query:
        name = {chain_env["a"].id: "A", chain_env["b"].id: "B", chain_env["c"].id: "C"}[
            b.intermediary_id]
        out[name] = out.get(name, Decimal(0)) + b.amount
    return out


@pytest.mark.parametrize("day, expected", [
    ("2026-10-31", {"A": Decimal("400.00"), "B": Decimal("150.00"), "C": Decimal("150.00")}),
    ("2026-11-05", {"A": Decimal("550.00"), "C": Decimal("150.00")}),
])
def test_worked_examples_2_and_3_through_the_api(client, chain, day, expected):
    resp = client.post("/api/v1/receipt/", headers=chain["auth"], json={
        "contract": chain["contract"].id, "kind": "AP", "amount": "1000.00", "value_date": day})
    assert resp.status_code == 201, resp.json
    assert amounts_of(chain, resp.json["id"]) == expected


def test_worked_example_4_units_booked_at_policing_through_the_api(client, chain):
    resp = client.post("/api/v1/contract/", headers=chain["auth"], json={
        "policy_number": "U-1", "customer": chain["customer"].id, "product": chain["units"].id,
        "start_date": "2026-02-01", "policed_on": "2026-02-01", "valuation_sum": "48000.00"})
    assert resp.status_code == 201, resp.json
    assert amounts_of(chain) == {"A": Decimal("2400.00"), "B": Decimal("720.00"),
                                 "C": Decimal("480.00")}
    db.session.expire_all()
    assert {b.booking_date for b in db.session.query(Booking)} == {date(2026, 2, 1)}


def test_a_batch_books_like_single_receipts_and_skips_known_references(client, env):
    from app.services.ledger import book_receipts
    rows = [{"contract_id": env["contracts"]["L-1"].id, "kind": "AP", "amount": "1234.56",
             "value_date": date(2026, 10, 5), "reference": "B-1"},
            {"contract_id": env["contracts"]["H-1"].id, "kind": "FP", "amount": "100.00",
             "value_date": date(2026, 10, 5), "reference": "B-2"},
            {"contract_id": env["contracts"]["H-1"].id, "kind": "FP", "amount": "100.00",
             "value_date": date(2026, 10, 5), "reference": "B-2"}]
    rows.append({"contract_id": env["contracts"]["K-1"].id, "kind": "AP", "amount": "5.00",
                 "value_date": date(2026, 10, 5), "reference": "B-3"})
    report = book_receipts(rows)
    assert (report["receipts"], report["bookings"], report["skipped"]) == (3, 3, ["B-2"])
    assert report["missing_rates"] == 1
    assert bookings(env) == [("AP", "987.65"), ("FP", "70.00"), ("RESERVE_RETAIN", "-98.77")]
    again = book_receipts(rows)   # booking the same receipts twice books once
    assert again["receipts"] == 0 and sorted(again["skipped"]) == ["B-1", "B-2", "B-2", "B-3"]
    assert len(bookings(env)) == 3


def test_a_batch_keeps_the_reserve_cap_across_its_receipts_and_chunks(client, env):
    from app.services.ledger import BookingContext, book_receipts
    env["a"].reserve_cap = Decimal("150.00")
    db.session.commit()
    rows = [{"contract_id": env["contracts"]["L-1"].id, "kind": "AP", "amount": "1000.00",
             "value_date": date(2026, 10, 5), "reference": f"CAP-{i}"} for i in range(3)]
    context = BookingContext()                   # one run, booked in two chunks
    book_receipts(rows[:2], context=context)
    book_receipts(rows[2:], context=context)
    retained = [Decimal(b) for kind, b in bookings(env) if kind == "RESERVE_RETAIN"]
    assert sum(retained) == Decimal("-150.00")   # 80 + 70 + 0, never past the cap


@pytest.mark.parametrize("commit", [True, False])
def test_chunks_book_as_one_batch_does_and_catch_a_reference_repeated_later(client, env, commit):
    # On PostgreSQL the next chunk is computed while a writer thread inserts
    # the last: the result must be what one batch books.
    from app.models.ledger import Receipt
    from app.services.ledger import book_receipt_chunks
    rows = [{"contract_id": env["contracts"]["L-1"].id, "kind": "AP", "amount": "1234.56",
             "value_date": date(2026, 10, 5), "reference": "C-1"},
            {"contract_id": env["contracts"]["H-1"].id, "kind": "FP", "amount": "100.00",
             "value_date": date(2026, 10, 5), "reference": "C-2"},
            {"contract_id": env["contracts"]["H-1"].id, "kind": "FP", "amount": "50.00",
             "value_date": date(2026, 10, 6), "reference": "C-3"},
            {"contract_id": env["contracts"]["H-1"].id, "kind": "FP", "amount": "100.00",
             "value_date": date(2026, 10, 5), "reference": "C-2"},      # repeats chunk 1
            {"contract_id": env["contracts"]["L-1"].id, "kind": "FP", "amount": "10.00",
             "value_date": date(2026, 10, 7), "reference": None}]
    seen = []
    report = book_receipt_chunks(([r] if i != 0 else rows[:2] for i, r in enumerate(
        [None, *rows[2:]])), commit=commit, progress=seen.append)
    if not commit:
        db.session.commit()
    assert (report["receipts"], report["skipped"]) == (4, ["C-2"]) and seen == [2, 3, 4, 5]
    # the FP on L-1 books nothing (its rate row has no FP rate)
    assert bookings(env) == [("AP", "987.65"), ("FP", "35.00"), ("FP", "70.00"),
                             ("RESERVE_RETAIN", "-98.77")]
    assert report["bookings"] == 4
    ids = [r.id for r in db.session.query(Receipt).order_by(Receipt.id)]
    linked = sorted({b.receipt_id for b in db.session.query(Booking)})
    assert len(ids) == 4 and linked == ids[:3]       # each booking on its own receipt


def test_the_account_shows_a_running_balance(client, env):
    from tests.factories import ui_login
    receipt(client, env, "L-1", "AP", "1234.56")
    receipt(client, env, "H-1", "FP", "100.00")
    ui_login(client, "ps")
    page = client.get(f"/account/{env['a'].id}").get_data(as_text=True)
    assert "987,65" in page and "888,88" in page and "958,88" in page   # 987.65 - 98.77 + 70
    page = client.get(f"/account/{env['a'].id}?kind=FP").get_data(as_text=True)
    assert "70,00" in page and "987,65" not in page
    assert client.get("/account/987654").status_code == 404


def test_the_contract_screen_lists_its_bookings_with_rule_and_rate(client, env):
    from tests.factories import ui_login
    receipt(client, env, "L-1", "AP", "1234.56")
    ui_login(client, "ps")
    page = client.get(f"/contractview/show/{env['contracts']['L-1'].id}").get_data(as_text=True)
    assert "987,65" in page and "contract_percent:intermediary" in page and "80,00" in page


def test_corrections_through_the_api(client, env):
    receipt(client, env, "L-1", "AP", "1234.56")
    ap = db.session.query(Booking).filter_by(kind="AP").one()
    url = "/api/v1/booking/correction"
    body = {"intermediary": env["a"].id, "date": "2026-10-20", "reverses": ap.id}
    assert client.post(url, json=body, headers=env["auth"]).status_code == 422  # no reason
    resp = client.post(url, json={**body, "reason": "falscher Vertrag"}, headers=env["auth"])
    assert resp.status_code == 201 and resp.json["amount"] == "-987.65"
    resp = client.post(url, json={**body, "reason": "noch einmal"}, headers=env["auth"])
    assert resp.status_code == 422 and "reverses" in resp.json["message"]
    resp = client.post(url, json={"intermediary": env["a"].id, "date": "2026-10-20",
                                  "amount": "12.345", "reason": "x"}, headers=env["auth"])
    assert resp.status_code == 422 and "amount" in resp.json["message"]
    resp = client.post(url, json={"intermediary": 987654, "date": "2026-10-20", "amount": "1",
                                  "reason": "x"}, headers=env["auth"])
    assert resp.status_code == 404
