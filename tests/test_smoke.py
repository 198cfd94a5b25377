from app.models.crm import CompanyKind
from tests.factories import api_token, make_company, make_customer, make_staff, ui_login


def test_pool_staff_lists_customers(app, client):
    pool = make_company("Pool", CompanyKind.POOL)
    make_customer(pool, "Meier")
    staff = make_staff(pool, "Pool staff")
    ui_login(client, staff.user.username)
    resp = client.get("/customerview/list/")
    assert resp.status_code == 200
    assert "Meier" in resp.get_data(as_text=True)
    headers = api_token(client, staff.user.username)
    resp = client.get("/api/v1/customer/", headers=headers)
    assert resp.status_code == 200, resp.json
    assert resp.json["count"] == 1
