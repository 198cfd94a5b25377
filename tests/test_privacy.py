"""Data protection (docs/data-protection.md): the customer export, restriction
of processing, anonymisation once the retention has ended."""
from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select, text

from app.domain.access import POOL_ADMIN
from app.extensions import db
from app.models.audit import ChangeLog
from app.models.contracts import Contract, ContractStatus
from app.models.crm import Customer
from app.models.documents import Document
from app.models.intermediaries import IntermediaryRate
from app.models.ledger import Booking, Receipt, ReceiptKind, Statement
from app.services.documents import document_path, store_document
from app.services.ledger import bookings_for_receipt
from app.services.privacy import KINDS, anonymise
from app.services.settlement import run_settlement
from tests.extranet_world import build_world
from tests.factories import api_token, make_admin, make_staff, ui_login
from tests.masterdata import line

PDF = b"%PDF-1.4\n% Kundenakte Xaver\n%%EOF\n"
FAR_FUTURE = date(2040, 1, 1)


@pytest.fixture
def world(app):
    w = build_world()
    make_staff(w["pool"], POOL_ADMIN, "pa")
    make_admin("root")
    db.session.add(IntermediaryRate(intermediary=w["a"], insurer=w["product"].insurer,
                                    line_of_business=line("010"), ap_rate=80))
    db.session.commit()
    w["x_doc"] = store_document("customer", w["x"], "ausweis.pdf", PDF, "Ausweis")
    w["contract_doc"] = store_document("contract", w["contracts"]["P-A"], "antrag.pdf",
                                       PDF + b"% Antrag\n", "Antrag")
    x = w["x"]
    x.email = "xaver@example.com"
    db.session.commit()
    return w


def login(app, username):
    client = app.test_client()
    return ui_login(client, username)


def unzip(data: bytes) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(data))


def check_export(data: bytes, w):
    zf = unzip(data)
    names = set(zf.namelist())
    assert {"export.json"} | {f"{k}.csv" for k in KINDS} <= names
    doc = json.loads(zf.read("export.json"))
    (customer,) = doc["customer"]
    assert customer["name"] == "Xaver" and customer["first_name"] == "Xenia"
    assert customer["birth_date"] == "1970-01-02" and customer["email"] == "xaver@example.com"
    assert customer["login"] == "kunde-x" and customer["advisor"] == "Anna Acker"
    assert [c["policy_number"] for c in doc["contracts"]] == ["P-A"]
    assert doc["contracts"][0]["premium"] == "0.00"
    assert [a["id"] for a in doc["applications"]] == [w["application"].id]
    by_name = {d["filename"]: d for d in doc["documents"]}
    # the two stored files are in the ZIP, the two rows without a file are listed
    assert {"ausweis.pdf", "antrag.pdf", "police.pdf", "intern.pdf"} == set(by_name)
    assert zf.read(by_name["ausweis.pdf"]["file_in_export"]) == PDF
    assert zf.read(by_name["antrag.pdf"]["file_in_export"]) == PDF + b"% Antrag\n"
    assert by_name["police.pdf"]["file_in_export"] is None
    assert by_name["ausweis.pdf"]["belongs_to"] == f"customer:{w['x'].id}"
    history = [(h["table"], h["row_id"], h["action"]) for h in doc["change_history"]]
    assert ("customer", w["x"].id, "INSERT") in history
    assert ("contract", w["contracts"]["P-A"].id, "INSERT") in history
    changed = [h for h in doc["change_history"] if h["table"] == "customer"
               and h["action"] == "UPDATE"]
    assert changed[-1]["changes"]["email"] == [None, "xaver@example.com"]
    # foreign data is not in it
    assert b"Yilmaz" not in zf.read("export.json") and "P-B" not in json.dumps(doc)
    for kind, fields in KINDS.items():
        rows = list(csv.reader(io.StringIO(zf.read(f"{kind}.csv").decode("utf-8-sig")),
                               delimiter=";"))
        assert rows[0] == list(fields)
        assert len(rows) - 1 == len(doc[kind])
    customer_csv = list(csv.DictReader(io.StringIO(
        zf.read("customer.csv").decode("utf-8-sig")), delimiter=";"))
    assert customer_csv[0]["name"] == "Xaver"
    return doc


# --- export ----------------------------------------------------------------------------

def test_the_export_from_the_show_page_holds_the_data_and_the_documents(app, world):
    client = login(app, "ps")
    x = world["x"]
    page = client.get(f"/customerview/show/{x.id}")
    assert page.status_code == 200
    assert f"/privacy/customer/{x.id}/export".encode() in page.data
    assert b"/restrict" not in page.data         # Pool staff may not restrict
    resp = client.get(f"/privacy/customer/{x.id}/export")
    assert resp.status_code == 200, resp.data[:300]
    assert resp.mimetype == "application/zip"
    assert "no-store" in resp.headers["Cache-Control"]
    assert f"datenauskunft-kunde-{x.id}-" in resp.headers["Content-Disposition"]
    check_export(resp.data, world)


def test_the_export_through_the_api(app, world, client):
    auth = api_token(client, "ps")
    resp = client.get(f"/api/v1/customer/{world['x'].id}/export", headers=auth)
    assert resp.status_code == 200
    assert "no-store" in resp.headers["Cache-Control"]
    check_export(resp.data, world)


def test_the_export_is_refused_out_of_scope_and_without_permission(app, world, client):
    x, k1 = world["x"], world["k1"]
    # the company admin of broker firm F1 may not see the pool's customer X
    admin_f1 = login(app, "ca1")
    assert admin_f1.get(f"/privacy/customer/{x.id}/export").status_code == 404
    assert admin_f1.get("/privacy/customer/99999/export").status_code == 404
    auth = api_token(client, "ca1")
    assert client.get(f"/api/v1/customer/{x.id}/export", headers=auth).status_code == 404
    # its own firm's customer: yes, with only what it may see
    own = client.get(f"/api/v1/customer/{k1.id}/export", headers=auth)
    assert own.status_code == 200
    assert [c["policy_number"] for c in json.loads(
        unzip(own.data).read("export.json"))["contracts"]] == ["E-1"]
    # extranet logins have no export at all
    for username in ("makler-a", "kunde-x"):
        token = api_token(client, username)
        assert client.get(f"/api/v1/customer/{x.id}/export", headers=token).status_code == 403
        assert login(app, username).get(f"/privacy/customer/{x.id}/export").status_code == 403
    assert client.get(f"/api/v1/customer/{x.id}/export").status_code == 401


def test_the_export_on_the_command_line(app, world, tmp_path):
    runner = app.test_cli_runner()
    target = tmp_path / "x.zip"
    result = runner.invoke(args=["pool", "export-customer", str(world["x"].id), str(target)])
    assert result.exit_code == 0, result.output
    check_export(target.read_bytes(), world)
    again = runner.invoke(args=["pool", "export-customer", str(world["x"].id), str(target)])
    assert again.exit_code != 0 and "exists already" in again.output
    missing = runner.invoke(args=["pool", "export-customer", "99999", str(tmp_path / "n.zip")])
    assert missing.exit_code != 0 and not (tmp_path / "n.zip").exists()
    assert list(tmp_path.iterdir()) == [target]


# --- restriction -----------------------------------------------------------------------

def restrict_x(app, world, reason="Widerspruch des Kunden, Klärung läuft"):
    client = login(app, "pa")
    resp = client.post(f"/privacy/customer/{world['x'].id}/restrict", data={"reason": reason})
    assert resp.status_code == 302, resp.data[:500]
    return client


def visible_to_staff(app, client, world, auth):
    """Where X (name Xaver, contract P-A) shows up for a staff login."""
    x, contract = world["x"], world["contracts"]["P-A"]
    ui = login(app, auth)
    token = api_token(client, auth)
    found = {
        "list": b"Xaver" in ui.get("/customerview/list/").data,
        "search": b"Xaver" in ui.get("/customerview/list/?_flt_0_name=Xav").data,
        "show": ui.get(f"/customerview/show/{x.id}").status_code == 200,
        "lookup": b"Xaver" in ui.get("/lookup/customer/?q=Xav").data,
        "api_get": client.get(f"/api/v1/customer/{x.id}", headers=token).status_code == 200,
        "api_list": x.id in [r["id"] for r in client.get(
            "/api/v1/customer/?q=(page_size:100)", headers=token).json["result"]],
        "contract": client.get(f"/api/v1/contract/{contract.id}",
                               headers=token).status_code == 200,
        "document": client.get(f"/api/v1/document/{world['x_doc'].id}",
                               headers=token).status_code == 200,
    }
    return found


def test_a_restricted_customer_is_hidden_everywhere_but_the_restricted_screen(app, world,
                                                                               client):
    x = world["x"]
    before = visible_to_staff(app, client, world, "ps")
    assert all(before.values()), before
    admin = restrict_x(app, world)
    db.session.expire_all()
    assert x.restricted_on is not None and x.restriction_reason.startswith("Widerspruch")
    assert x.restricted_by.username == "pa"
    for username in ("ps", "root"):
        after = visible_to_staff(app, client, world, username)
        assert not any(after.values()), (username, after)
    # the restricted customers' screen and its API list it
    screen = admin.get("/privacy/restricted/")
    assert screen.status_code == 200 and b"Xaver" in screen.data
    assert "Klärung läuft".encode() in screen.data
    token = api_token(client, "pa")
    listed = client.get("/api/v1/customer/restricted", headers=token).json["result"]
    assert [(r["id"], r["restricted_by"]) for r in listed] == [(x.id, "pa")]
    # ...only for Pool admin and Admin
    assert login(app, "ps").get("/privacy/restricted/").status_code == 403
    assert client.get("/api/v1/customer/restricted",
                      headers=api_token(client, "ps")).status_code == 403
    # the export still works
    assert admin.get(f"/privacy/customer/{x.id}/export").status_code == 200


def test_a_restricted_customer_is_hidden_from_the_extranet_and_its_own_login(app, world,
                                                                             client):
    x = world["x"]
    broker = api_token(client, "makler-a")
    me = api_token(client, "kunde-x")
    assert x.id in [r["id"] for r in client.get("/api/v1/customer/", headers=broker)
                    .json["result"]]
    assert client.get("/api/v1/folder/contracts", headers=me).status_code == 200
    restrict_x(app, world)
    assert x.id not in [r["id"] for r in client.get("/api/v1/customer/", headers=broker)
                        .json["result"]]
    assert client.get(f"/api/v1/customer/{x.id}", headers=broker).status_code == 404
    contract = world["contracts"]["P-A"].id
    assert client.get(f"/api/v1/contract/{contract}", headers=broker).status_code == 404
    assert client.get(f"/api/v1/application/{world['application'].id}",
                      headers=broker).status_code == 404
    extranet = login(app, "makler-a")
    screen = extranet.get("/my/customers/list/")
    assert screen.status_code == 200 and b"Eigenkunde" in screen.data
    assert b"Xaver" not in screen.data
    assert extranet.get(f"/my/customers/show/{x.id}").status_code == 404
    # its own login sees nothing (folder and API)
    assert client.get("/api/v1/folder/contracts", headers=me).status_code == 403
    folder = login(app, "kunde-x").get("/folder/")
    assert folder.status_code == 403 and b"P-A" not in folder.data
    # other customers are not affected
    assert client.get(f"/api/v1/customer/{world['k1'].id}", headers=broker).status_code == 200


def test_the_ledger_still_books_and_settles_a_restricted_customers_receipts(app, world,
                                                                            client):
    restrict_x(app, world)
    contract = world["contracts"]["P-A"]
    # an insurer's commission arrives (import, service): booked as ever
    receipt = Receipt(contract=contract, kind=ReceiptKind.AP, amount=Decimal("1000.00"),
                      value_date=date(2026, 10, 5), reference="R-X-1", source="import")
    db.session.add(receipt)
    made, _missing = bookings_for_receipt(receipt)
    db.session.add_all(made)
    db.session.commit()
    booked = db.session.execute(select(Booking.amount).where(
        Booking.receipt_id == receipt.id)).scalars().all()
    assert booked == [Decimal("800.00")]
    answer = run_settlement("2026-10", True, today=date(2026, 11, 23))
    statement = db.session.execute(select(Statement).where(
        Statement.intermediary_id == world["a"].id)).scalar_one()
    assert statement.total == Decimal("920.00")      # 800 + the correction of 120
    assert answer["statements"]
    # staff still see the receipt and the bookings (the settlement screens)
    token = api_token(client, "ps")
    receipts = client.get("/api/v1/receipt/", headers=token).json["result"]
    assert receipt.id in [r["id"] for r in receipts]
    bookings = client.get("/api/v1/booking/?q=(page_size:100)", headers=token).json["result"]
    assert [b["amount"] for b in bookings if b["receipt"] == {"id": receipt.id}] == ["800.00"]
    # but a manual entry names a contract nobody sees any more: refused, nothing written
    count = db.session.execute(text("SELECT COUNT(*) FROM receipt")).scalar()
    resp = client.post("/api/v1/receipt/", headers=token, json={
        "contract": contract.id, "kind": "AP", "amount": "5.00", "value_date": "2026-10-06"})
    assert resp.status_code == 422 and "contract" in resp.json["message"]
    assert db.session.execute(text("SELECT COUNT(*) FROM receipt")).scalar() == count


def test_lifting_the_restriction_shows_the_customer_again(app, world, client):
    admin = restrict_x(app, world)
    x = world["x"]
    resp = admin.post(f"/privacy/customer/{x.id}/lift")
    assert resp.status_code == 302 and f"/customerview/show/{x.id}" in resp.headers["Location"]
    assert b"Xaver" in admin.get(resp.headers["Location"]).data
    db.session.expire_all()
    assert x.restricted_on is None and x.restriction_reason is None
    assert all(visible_to_staff(app, client, world, "ps").values())
    assert client.get("/api/v1/folder/contracts",
                      headers=api_token(client, "kunde-x")).status_code == 200
    assert b"Xaver" not in admin.get("/privacy/restricted/").data
    # lifting again: nothing to lift
    assert admin.post(f"/privacy/customer/{x.id}/lift").status_code == 404
    history = db.session.execute(select(ChangeLog).where(
        ChangeLog.table_name == "customer", ChangeLog.row_id == x.id,
        ChangeLog.action == "UPDATE").order_by(ChangeLog.id)).scalars().all()
    assert [h.changes["restriction_reason"][1] for h in history[-2:]] == [
        "Widerspruch des Kunden, Klärung läuft", None]


def test_restriction_through_the_api(app, world, client):
    x = world["x"]
    token = api_token(client, "pa")
    missing = client.post(f"/api/v1/customer/{x.id}/restrict", headers=token, json={})
    assert missing.status_code == 422 and "reason" in missing.json["message"]
    long = client.post(f"/api/v1/customer/{x.id}/restrict", headers=token,
                       json={"reason": "x" * 501})
    assert long.status_code == 422 and "reason" in long.json["message"]
    db.session.expire_all()
    assert x.restricted_on is None
    done = client.post(f"/api/v1/customer/{x.id}/restrict", headers=token,
                       json={"reason": "Art. 18 Abs. 1 lit. a"})
    assert done.status_code == 200 and done.json["result"]["restricted_by"] == "pa"
    assert client.get(f"/api/v1/customer/{x.id}", headers=token).status_code == 404
    # out of reach for the company admin of F1 and for Pool staff
    for username in ("ca1", "ps"):
        other = api_token(client, username)
        assert client.post(f"/api/v1/customer/{x.id}/unrestrict",
                           headers=other).status_code == 403
    lifted = client.post(f"/api/v1/customer/{x.id}/unrestrict", headers=token)
    assert lifted.status_code == 200
    assert client.get(f"/api/v1/customer/{x.id}", headers=token).status_code == 200
    assert client.post(f"/api/v1/customer/{x.id}/unrestrict", headers=token).status_code == 404


def test_a_restriction_needs_a_reason(app, world):
    client = login(app, "pa")
    x = world["x"]
    form = client.get(f"/privacy/customer/{x.id}/restrict")
    assert form.status_code == 200 and b'name="reason"' in form.data
    resp = client.post(f"/privacy/customer/{x.id}/restrict", data={"reason": "  "})
    assert resp.status_code == 200 and b"has-error" in resp.data
    db.session.expire_all()
    assert x.restricted_on is None
    # the show page offers it to Pool admin
    assert f"/privacy/customer/{x.id}/restrict".encode() in client.get(
        f"/customerview/show/{x.id}").data


# --- anonymisation -----------------------------------------------------------------------

@pytest.fixture
def retention_world(world):
    """X: contract P-A ended in 2036, not due in 2040. O: an old customer whose
    contract ended in 2010 (receipt and bookings of 2010), due in 2040. R: an
    old customer, restricted. X's firm customer K1 has an ACTIVE contract."""
    w = world
    pa = w["contracts"]["P-A"]
    pa.status = ContractStatus.ENDED
    old = Customer(name="Oldenburg", first_name="Olga", company=w["pool"], intermediary=w["a"],
                   birth_date=date(1950, 5, 5), street="Alte Str. 1", postcode="12345",
                   city="Altstadt", email="olga@example.com", phone="0301234")
    restricted = Customer(name="Rest", company=w["pool"], intermediary=w["a"],
                          restricted_on=datetime(2030, 1, 1), restriction_reason="Klage")
    db.session.add_all([old, restricted])
    db.session.flush()
    contracts = []
    for number, customer in (("O-1", old), ("R-1", restricted)):
        contracts.append(Contract(policy_number=number, customer=customer,
                                  product=w["product"], intermediary=w["a"],
                                  start_date=date(2000, 1, 1), term_months=120,
                                  status=ContractStatus.ENDED, managing_company=w["pool"]))
    db.session.add_all(contracts)
    db.session.commit()
    old.city = "Neustadt"                       # a change in its history
    db.session.commit()
    receipt = Receipt(contract=contracts[0], kind=ReceiptKind.AP, amount=Decimal("100.00"),
                      value_date=date(2010, 3, 1), reference="OLD-1")
    db.session.add(receipt)
    made, _missing = bookings_for_receipt(receipt)
    db.session.add_all(made)
    db.session.commit()
    from app.services.crm import set_principal_login
    from tests.factories import PASSWORD

    set_principal_login(old, "kunde-o", PASSWORD)
    db.session.commit()
    w["o_doc"] = store_document("customer", old, "alt.pdf", PDF, "Alt")
    w["o_contract_doc"] = store_document("contract", contracts[0], "police-alt.pdf", PDF)
    w.update(old=old, restricted=restricted, o_contract=contracts[0])
    return w


def snapshot():
    """Every row of the tables the anonymisation could touch."""
    out = {}
    for table in ("customer", "contract", "application", "document", "change_log", "receipt",
                  "booking", "ab_user"):
        out[table] = [tuple(r) for r in db.session.execute(text(
            f"SELECT * FROM {table} ORDER BY id")).all()]
    return out


def test_anonymisation_of_a_customer_past_retention(app, retention_world):
    w = retention_world
    old, x = w["old"], w["x"]
    paths = [document_path(w["o_doc"]), document_path(w["o_contract_doc"])]
    assert all(p.exists() for p in paths)
    before = snapshot()
    dry = anonymise(apply=False, today=FAR_FUTURE)
    assert dry["due"] == 1 and dry["anonymised"] == 0 and dry["documents"] == 2
    assert dry["restricted_skipped"] == 1
    assert snapshot() == before and all(p.exists() for p in paths)      # dry run: nothing

    counts = anonymise(apply=True, today=FAR_FUTURE)
    assert counts["anonymised"] == 1 and counts["documents"] == 2
    assert counts["history"] == dry["history"]
    after = snapshot()
    # bookings and receipts exactly as they were, contracts too
    for table in ("booking", "receipt", "contract", "application"):
        assert after[table] == before[table], table
    db.session.expire_all()
    assert old.name == "anonymisiert" and old.anonymised_on is not None
    for field in ("first_name", "birth_date", "street", "postcode", "city", "email", "phone"):
        assert getattr(old, field) is None, field
    assert old.user.username == f"anonymisiert-{old.id}" and not old.user.active
    assert old.company_id == w["pool"].id and old.intermediary_id == w["a"].id
    assert db.session.execute(select(Document).where(Document.id.in_(
        [w["o_doc"].id, w["o_contract_doc"].id]))).first() is None
    assert not any(p.exists() for p in paths)
    # no personal text left in the change history (the customer's, its login's,
    # its contract's); who changed which row when stays
    entries = db.session.execute(select(ChangeLog).where(
        ((ChangeLog.table_name == "customer") & (ChangeLog.row_id == old.id))
        | ((ChangeLog.table_name == "contract") & (ChangeLog.row_id == w["o_contract"].id))
        | ((ChangeLog.table_name == "ab_user") & (ChangeLog.row_id == old.user_id)))
        .order_by(ChangeLog.id)).scalars().all()
    every = json.dumps([row for row in after["change_log"]], default=str, ensure_ascii=False)
    for personal in ("Oldenburg", "Olga", "Altstadt", "Neustadt", "olga@example.com",
                     "1950-05-05", "0301234", "kunde-o"):
        assert personal not in every, personal
    own = [e for e in entries if e.table_name == "customer"]
    assert [e.action for e in own] == ["INSERT", "UPDATE", "UPDATE"]
    assert all(e.changes == {} for e in own)
    assert len(after["change_log"]) == len(before["change_log"]) + len(
        [e for e in entries if e.id > max(r[0] for r in before["change_log"])])
    # X (retention running), the restricted one and everyone else untouched
    others = [r for r in before["customer"] if r[0] != old.id]
    assert [r for r in after["customer"] if r[0] != old.id] == others
    assert x.name == "Xaver" and document_path(w["x_doc"]).exists()
    assert w["restricted"].name == "Rest" and w["restricted"].anonymised_on is None
    # again: nothing to do, nothing changed
    again = anonymise(apply=True, today=FAR_FUTURE)
    assert again["due"] == 0 and again["anonymised"] == 0
    assert snapshot() == after


def test_within_retention_nothing_is_due(app, retention_world):
    before = snapshot()
    # O's last voucher is the contract document uploaded this year: 8 years
    last_day = date(date.today().year + 8, 12, 31)
    counts = anonymise(apply=True, today=last_day)
    assert counts["due"] == 0 and counts["anonymised"] == 0
    assert snapshot() == before
    assert anonymise(apply=False, today=date(last_day.year + 1, 1, 1))["due"] == 1
    # without that document: the booking of 2010, kept to 2020-12-31
    db.session.delete(retention_world["o_contract_doc"])
    db.session.commit()
    assert anonymise(apply=False, today=date(2020, 12, 31))["due"] == 0
    assert anonymise(apply=False, today=date(2021, 1, 1))["due"] == 1


def test_anonymise_on_the_command_line(app, retention_world):
    runner = app.test_cli_runner()
    before = snapshot()
    dry = runner.invoke(args=["pool", "anonymise", "--date", "2040-01-01"])
    assert dry.exit_code == 0, dry.output
    assert "Dry run" in dry.output and "1 due" in dry.output
    assert snapshot() == before
    done = runner.invoke(args=["pool", "anonymise", "--apply", "--date", "2040-01-01"])
    assert done.exit_code == 0, done.output
    assert "Anonymised (2040-01-01): 1 of" in done.output
    again = runner.invoke(args=["pool", "anonymise", "--apply", "--date", "2040-01-01"])
    assert "Anonymised (2040-01-01): 0 of" in again.output
    bad = runner.invoke(args=["pool", "anonymise", "--date", "01.01.2040"])
    assert bad.exit_code != 0 and "--date" in bad.output


def test_bad_retention_settings_are_refused_naming_the_setting(app, retention_world):
    before = snapshot()
    app.config["POOL_RETENTION_VOUCHERS_YEARS"] = -1
    try:
        result = app.test_cli_runner().invoke(args=["pool", "anonymise", "--apply"])
    finally:
        app.config["POOL_RETENTION_VOUCHERS_YEARS"] = 8
    assert result.exit_code != 0 and "POOL_RETENTION_VOUCHERS_YEARS" in result.output
    assert snapshot() == before
