"""Imports through the API and the screens; clearance cases resolved."""
from __future__ import annotations

import io
import json

from app.extensions import db
from app.models.contracts import Contract
from app.models.crm import Company, CompanyKind
from app.models.imports import ClearanceCase, ImportProfile
from tests.factories import api_token, make_staff, ui_login
from tests.test_import_gdv import SAMPLE, insurer  # noqa: F401
from tests.test_import_receipts import PROFILE


def staff():
    pool = db.session.query(Company).filter_by(kind=CompanyKind.POOL).first()
    make_staff(pool, "Pool staff", "ps-imp")


def test_gdv_through_the_api_and_a_bad_file_names_the_line(app, client, insurer):  # noqa: F811
    staff()
    auth = api_token(client, "ps-imp")
    lines = SAMPLE.read_bytes().split(b"\n")
    lines[4] = lines[4][:100]
    bad = client.post("/api/v1/import/gdv", headers=auth, data={
        "file": (io.BytesIO(b"\n".join(lines)), "bad.txt")}, content_type="multipart/form-data")
    assert bad.status_code == 422
    (error,) = bad.json["message"]["errors"]
    assert error["line"] == 5 and error["field"] == "line"
    assert db.session.query(Contract).count() == 0
    good = client.post("/api/v1/import/gdv", headers=auth, data={
        "file": (io.BytesIO(SAMPLE.read_bytes()), SAMPLE.name)},
        content_type="multipart/form-data")
    assert good.status_code == 201 and good.json["report"]["created"] == 14
    again = client.post("/api/v1/import/gdv", headers=auth, data={
        "file": (io.BytesIO(SAMPLE.read_bytes()), SAMPLE.name)},
        content_type="multipart/form-data")
    assert again.status_code == 200 and again.json["duplicate"] is True
    report = client.get(f"/api/v1/import/{good.json['id']}", headers=auth)
    assert report.json["report"]["records"]["0200"] >= 14
    cases = client.get("/api/v1/clearance_case/", headers=auth).json["result"]
    assert {c["reason"] for c in cases} == {"UNKNOWN_BROKER"}
    done = client.put(f"/api/v1/clearance_case/{cases[0]['id']}", headers=auth,
                      json={"status": "RESOLVED", "note": "Makler zugeordnet"})
    assert done.status_code == 200
    # intermediaries and company admins have no imports
    firm = Company(name="Fremd", kind=CompanyKind.BROKER_FIRM,
                   parent=db.session.query(Company).filter_by(kind=CompanyKind.POOL).first())
    db.session.add(firm)
    db.session.commit()
    make_staff(firm, "Company admin", "ca-imp")
    other = api_token(client, "ca-imp")
    assert client.get("/api/v1/clearance_case/", headers=other).status_code == 403
    assert client.post("/api/v1/import/gdv", headers=other, data={
        "file": (io.BytesIO(SAMPLE.read_bytes()), "x.txt")},
        content_type="multipart/form-data").status_code == 403


def test_the_import_screen_runs_a_receipts_file_and_shows_the_report(app, client,
                                                                     insurer):  # noqa: F811
    staff()
    db.session.add(ImportProfile(name="muster", insurer=insurer,
                                 definition=json.dumps({**PROFILE, "name": "muster"})))
    db.session.commit()
    ui_login(client, "ps-imp")
    page = client.get("/imports/")
    assert page.status_code == 200 and 'id="gdv-form"' in page.text
    client.post("/imports/start", data={"kind": "gdv", "file": (
        io.BytesIO(SAMPLE.read_bytes()), SAMPLE.name)}, content_type="multipart/form-data")
    number = db.session.query(Contract).first().policy_number
    csv = f"VSNR;Betrag;Datum;Art;Beleg\n{number};12,50;05.10.2026;Folgeprovision;M-1\n" \
          "UNBEKANNT;1,00;05.10.2026;Folgeprovision;M-2\n"
    done = client.post("/imports/start", data={"kind": "receipts", "profile": "muster", "file": (
        io.BytesIO(csv.encode()), "muster.csv")}, content_type="multipart/form-data")
    shown = client.get(done.headers["Location"]).text
    assert "Report" in shown or "Bericht" in shown
    assert db.session.query(ClearanceCase).filter_by(reason="NO_CONTRACT").count() == 1
    bad = client.post("/imports/start", data={"kind": "receipts", "profile": "muster", "file": (
        io.BytesIO(csv.replace("12,50", "12x").encode()), "bad.csv")},
        content_type="multipart/form-data")
    page = client.get(bad.headers["Location"]).text
    assert 'id="import-error"' in page and ("Line 2" in page or "Zeile 2" in page)
    cases = client.get("/clearancecaseview/list/")
    assert cases.status_code == 200 and "UNBEKANNT" in cases.text
