"""Document upload and download: type, size, and access (404 for others)."""
import io
from pathlib import Path

import pytest

from app.extensions import db
from app.models.documents import Document
from tests.domain.test_documents import EXE, PDF
from tests.factories import api_token, make_company, make_customer, make_staff, ui_login
from tests.masterdata import pool_with_products


def stored_files(app):
    root = Path(app.config["POOL_UPLOAD_DIR"])
    return sorted(p.name for p in root.rglob("*") if p.is_file()) if root.exists() else []


@pytest.fixture
def env(app, client):
    pool, alpha, product = pool_with_products()
    firm_a = make_company("Firma A", parent=pool)
    firm_b = make_company("Firma B", parent=pool)
    make_staff(firm_a, "Company admin", "a")
    make_staff(firm_b, "Company admin", "b")
    make_staff(pool, "Pool staff", "ps")
    return dict(pool=pool, product=product, customer_a=make_customer(firm_a, "Kunde A"),
                customer_b=make_customer(firm_b, "Kunde B"), auth_a=api_token(client, "a"),
                auth_b=api_token(client, "b"), auth_ps=api_token(client, "ps"))


def upload(client, auth, owner, owner_id, data, name="police.pdf", **extra):
    return client.post("/api/v1/document/upload", headers=auth, content_type="multipart/form-data",
                       data={"owner": owner, "owner_id": str(owner_id),
                             "file": (io.BytesIO(data), name), **extra})


def test_a_pdf_is_stored_with_hash_and_downloaded_by_who_may_see_it(app, client, env):
    before = stored_files(app)
    resp = upload(client, env["auth_a"], "customer", env["customer_a"].id, PDF,
                  released_to_customer="true", description="Police")
    assert resp.status_code == 201, resp.json
    doc = db.session.get(Document, resp.json["id"])
    assert (doc.content_type, doc.size, doc.released_to_customer) == ("application/pdf",
                                                                     len(PDF), True)
    assert len(stored_files(app)) == len(before) + 1
    assert doc.stored_name in stored_files(app) and "police" not in doc.stored_name
    import hashlib
    assert doc.sha256 == hashlib.sha256(PDF).hexdigest()
    got = client.get(f"/api/v1/document/{doc.id}/download", headers=env["auth_a"])
    assert got.status_code == 200 and got.data == PDF
    assert got.headers["Content-Type"] == "application/pdf"
    assert "attachment" in got.headers["Content-Disposition"]
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    # the pool sees it too (the firm lies below the pool), the other firm does not
    assert client.get(f"/api/v1/document/{doc.id}/download", headers=env["auth_ps"]).status_code == 200
    assert client.get(f"/api/v1/document/{doc.id}/download", headers=env["auth_b"]).status_code == 404
    assert client.get(f"/api/v1/document/{doc.id}", headers=env["auth_b"]).status_code == 404
    assert client.delete(f"/api/v1/document/{doc.id}", headers=env["auth_b"]).status_code == 404


@pytest.mark.parametrize("data, name", [(EXE, "rechnung.pdf"), (b"<html></html>", "x.pdf"),
                                        (b"", "leer.pdf")])
def test_forbidden_types_store_nothing(app, client, env, data, name):
    before = stored_files(app)
    resp = upload(client, env["auth_a"], "customer", env["customer_a"].id, data, name)
    assert resp.status_code == 422 and "file" in resp.json["message"]
    assert db.session.query(Document).count() == 0
    assert stored_files(app) == before


def test_a_file_over_the_limit_stores_nothing(app, client, env):
    before = stored_files(app)
    old = app.config["POOL_MAX_UPLOAD_MB"]
    app.config["POOL_MAX_UPLOAD_MB"] = 0.0001  # 100 bytes
    try:
        resp = upload(client, env["auth_a"], "customer", env["customer_a"].id, PDF + b" " * 200)
    finally:
        app.config["POOL_MAX_UPLOAD_MB"] = old
    assert resp.status_code == 422 and "file" in resp.json["message"]
    assert db.session.query(Document).count() == 0 and stored_files(app) == before


def test_uploading_to_a_foreign_owner_answers_404(app, client, env):
    before = stored_files(app)
    resp = upload(client, env["auth_a"], "customer", env["customer_b"].id, PDF)
    assert resp.status_code == 404
    resp = upload(client, env["auth_a"], "product", env["product"].id, PDF)
    assert resp.status_code == 404  # company admins may not change products
    resp = upload(client, env["auth_a"], "nonsense", 1, PDF)
    assert resp.status_code == 422
    assert stored_files(app) == before


def test_documents_in_the_screens(app, client, env):
    from tests.domain.test_documents import PNG
    ui_login(client, "a")
    url = f"/documents/upload/customer/{env['customer_a'].id}"
    assert client.get(url).status_code == 200
    resp = client.post(url, content_type="multipart/form-data", data={
        "file": (io.BytesIO(EXE), "trojan.pdf")})
    assert resp.status_code == 200 and "nicht erlaubt" in resp.get_data(as_text=True)
    resp = client.post(url, content_type="multipart/form-data", data={
        "file": (io.BytesIO(PNG), "scan.png"), "description": "Ausweis"})
    assert resp.status_code == 302
    doc = db.session.query(Document).one()
    page = client.get(f"/customerview/show/{env['customer_a'].id}").get_data(as_text=True)
    assert "scan.png" in page and f"/documents/{doc.id}/download" in page
    assert client.get(f"/documents/{doc.id}/download").status_code == 200
    assert client.get(f"/documents/upload/customer/{env['customer_b'].id}").status_code == 404
    client.get("/logout/")
    ui_login(client, "b")
    assert client.get(f"/documents/{doc.id}/download").status_code == 404


def test_an_intermediary_login_cannot_fetch_documents(app, client, env):
    from tests.factories import make_user
    resp = upload(client, env["auth_a"], "customer", env["customer_a"].id, PDF)
    make_user("Intermediary", "vm")
    auth = api_token(client, "vm")
    pk = resp.json["id"]
    assert client.get(f"/api/v1/document/{pk}/download", headers=auth).status_code in (403, 404)
    assert client.get(f"/api/v1/document/{pk}", headers=auth).status_code in (403, 404)
    ui_login(client, "vm")
    assert client.get(f"/documents/{pk}/download").status_code in (302, 403, 404)
