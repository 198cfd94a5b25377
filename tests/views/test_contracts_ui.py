"""Applications, contracts, contract search and the FORMER report in the screens."""
import pytest

from app.extensions import db
from app.models.contracts import Application, Contract
from app.models.crm import Customer
from app.models.intermediaries import IntermediaryStatus
from tests.factories import make_customer, make_staff, ui_login
from tests.masterdata import person, pool_with_products


@pytest.fixture
def env(app, client):
    pool, alpha, product = pool_with_products()
    max_ = person(pool, "Max")
    customer = make_customer(pool, "Schulz", intermediary=max_)
    make_staff(pool, "Pool staff", "ps")
    ui_login(client, "ps")
    return dict(pool=pool, alpha=alpha, product=product, max=max_, customer=customer)


def text(resp):
    return resp.get_data(as_text=True)


def test_a_contract_is_entered_with_german_amounts(client, env):
    resp = client.post("/contractview/add", data={
        "policy_number": "LV-100", "customer": env["customer"].id,
        "product": env["product"].id, "start_date": "2026-01-01", "term_months": "120",
        "payment_frequency": "YEARLY", "premium": "1.200,50", "premium_supplementary": "0",
        "status": "ACTIVE"})
    assert resp.status_code == 302, text(resp)[-2000:]
    contract = db.session.query(Contract).one()
    assert str(contract.premium) == "1200.50" and contract.intermediary_id == env["max"].id
    page = text(client.get(f"/contractview/show/{contract.id}"))
    assert "1.200,50" in page and "Jährlich" in page


def test_a_duplicate_policy_number_is_refused_at_the_field(client, env):
    data = {"policy_number": "LV-1", "customer": env["customer"].id,
            "product": env["product"].id, "start_date": "2026-01-01", "premium": "1",
            "premium_supplementary": "0", "status": "ACTIVE", "payment_frequency": "MONTHLY"}
    assert client.post("/contractview/add", data=data).status_code == 302
    resp = client.post("/contractview/add", data=data)
    assert resp.status_code == 200 and "bereits" in text(resp)
    assert db.session.query(Contract).count() == 1


def test_the_application_workflow_in_the_screen(client, env):
    resp = client.post("/applicationview/add", data={
        "customer": env["customer"].id, "product": env["product"].id,
        "intermediary": env["max"].id, "premium": "80,00", "start_date": "2026-12-01"})
    assert resp.status_code == 302, text(resp)[-2000:]
    application = db.session.query(Application).one()
    url = f"/applicationview/transition/{application.id}"
    page = text(client.post(url, data={"to": "ACCEPTED"}, follow_redirects=True))
    assert "nicht zulässig" in page or "nicht erlaubt" in page
    client.post(url, data={"to": "SUBMITTED"})
    client.post(url, data={"to": "IN_REVIEW"})
    page = text(client.post(url, data={"to": "ACCEPTED", "policy_number": "AR-9"},
                            follow_redirects=True))
    assert "AR-9" in page
    db.session.expire_all()
    assert db.session.get(Application, application.id).contract.policy_number == "AR-9"


def test_the_contract_search_finds_by_each_field(client, env):
    for i in range(3):
        db.session.add(Contract(policy_number=f"LV-{i:03d}", customer=env["customer"],
                                product=env["product"], start_date=__import__("datetime").date(2026, 1, 1),
                                managing_company=env["pool"]))
    db.session.commit()
    assert text(client.get("/contracts/search/?policy_number=LV-00")).count("LV-00") >= 3
    assert "LV-001" in text(client.get("/contracts/search/?customer=Schu"))
    assert "LV-001" not in text(client.get("/contracts/search/?customer=Meier"))
    assert "LV-002" in text(client.get(f"/contracts/search/?intermediary={env['max'].id}"))
    assert "LV-002" in text(client.get(f"/contracts/search/?insurer={env['alpha'].id}"))
    line = env["product"].line_of_business_id
    assert "LV-002" in text(client.get(f"/contracts/search/?line={line}&status=ACTIVE"))
    assert "LV-002" not in text(client.get("/contracts/search/?status=CANCELLED"))


def test_customers_of_former_intermediaries_are_reported_and_reassigned(client, env):
    env["max"].status = IntermediaryStatus.FORMER
    julia = person(env["pool"], "Julia")
    db.session.commit()
    page = text(client.get("/former-advisors/"))
    assert "Schulz" in page and "Max" in page
    resp = client.post("/former-advisors/reassign", data={
        "customer": [env["customer"].id], "intermediary": env["max"].id})
    assert resp.status_code == 302
    db.session.expire_all()
    assert db.session.get(Customer, env["customer"].id).intermediary_id == env["max"].id
    resp = client.post("/former-advisors/reassign", data={
        "customer": [env["customer"].id], "intermediary": julia.id})
    assert resp.status_code == 302
    db.session.expire_all()
    assert db.session.get(Customer, env["customer"].id).intermediary_id == julia.id
    assert "Schulz" not in text(client.get("/former-advisors/"))
    assert client.post("/former-advisors/reassign", data={
        "customer": [987654], "intermediary": julia.id}).status_code == 404


def test_the_start_page_warns_about_customers_of_former_intermediaries(client, env):
    assert "alert-warning" not in text(client.get("/"))
    env["max"].status = IntermediaryStatus.FORMER
    db.session.commit()
    page = text(client.get("/"))
    assert "alert-warning" in page and "1 Kunden" in page


def test_a_contract_form_refuses_a_non_active_intermediary(client, env):
    prospect = person(env["pool"], "Paula", IntermediaryStatus.PROSPECT)
    resp = client.post("/contractview/add", data={
        "policy_number": "LV-9", "customer": env["customer"].id, "product": env["product"].id,
        "intermediary": prospect.id, "start_date": "2026-01-01", "premium": "1",
        "premium_supplementary": "0", "status": "ACTIVE", "payment_frequency": "MONTHLY"})
    assert resp.status_code == 200 and "AKTIV" in text(resp)
    assert db.session.query(Contract).count() == 0


def test_the_contract_screen_shows_the_history_of_changes(client, env, app):
    from app.models.audit import ChangeLog
    resp = client.post("/contractview/add", data={
        "policy_number": "LV-H", "customer": env["customer"].id, "product": env["product"].id,
        "start_date": "2026-01-01", "premium": "10,00", "premium_supplementary": "0",
        "status": "ACTIVE", "payment_frequency": "MONTHLY"})
    assert resp.status_code == 302
    contract = db.session.query(Contract).one()
    data = {"policy_number": "LV-H", "customer": env["customer"].id, "intermediary": env["max"].id,
            "product": env["product"].id, "start_date": "2026-01-01", "premium": "12,50",
            "premium_supplementary": "0", "status": "ACTIVE", "payment_frequency": "QUARTERLY",
            "managing_company": env["pool"].id}
    assert client.post(f"/contractview/edit/{contract.id}", data=data).status_code == 302
    entries = db.session.query(ChangeLog).filter_by(table_name="contract",
                                                    row_id=contract.id).order_by(ChangeLog.id).all()
    assert [e.action for e in entries] == ["INSERT", "UPDATE"]
    assert entries[1].changes["premium"] == ["10.00", "12.50"]
    assert entries[1].changes["payment_frequency"] == ["MONTHLY", "QUARTERLY"]
    assert entries[1].user.username == "ps"
    page = text(client.get(f"/contractview/show/{contract.id}"))
    assert "Änderungsverlauf" in page and "12.50" in page and "ps" in page


def test_a_refused_change_leaves_no_history(client, env):
    from app.models.audit import ChangeLog
    before = db.session.query(ChangeLog).count()
    client.post("/contractview/add", data={
        "policy_number": "LV-X", "customer": env["customer"].id, "product": env["product"].id,
        "start_date": "2026-01-01", "term_months": "0", "premium": "1",
        "premium_supplementary": "0", "status": "ACTIVE", "payment_frequency": "MONTHLY"})
    assert db.session.query(ChangeLog).count() == before
