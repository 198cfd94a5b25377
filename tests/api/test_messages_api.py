"""Messages through the REST API: threads between an intermediary and the
pool, attachments, unread counts, and that nobody else sees or writes any
of it."""
from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import text

from app.extensions import db
from app.models.contracts import Application, Contract
from app.models.crm import CompanyKind
from app.models.documents import Document
from app.models.messages import Message, MessageRead, MessageThread
from app.services.crm import set_principal_login
from tests.domain.test_documents import PDF
from tests.factories import (
    PASSWORD,
    api_token,
    make_company,
    make_customer,
    make_intermediary,
    make_staff,
)
from tests.masterdata import pool_with_products

MESSAGE_TABLES = ("message_read", "message", "message_thread")


def clean_messages():
    """The suite's cleanup (tests/conftest.py) does not know the message
    tables yet: empty them around each test of these modules."""
    db.session.rollback()
    with db.engine.begin() as conn:
        conn.execute(text("DELETE FROM document WHERE message_id IS NOT NULL"))
        for table in MESSAGE_TABLES:
            conn.execute(text(f"DELETE FROM {table}"))


@pytest.fixture(autouse=True)
def _messages_cleanup(app):
    clean_messages()
    yield
    clean_messages()


def build_messages_world():
    """A pool, two broker firms each with an intermediary login, pool
    contracts and an application of each, pool staff and a company admin.

        F1 - A ("makler-a"): customer X, contract M-A, application of X
        F2 - B ("makler-b"): customer Y, contract M-B, application of Y
    """
    pool, _alpha, product = pool_with_products()
    f1 = make_company("Makler Eins GmbH", CompanyKind.BROKER_FIRM, parent=pool)
    f2 = make_company("Makler Zwei GmbH", CompanyKind.BROKER_FIRM, parent=pool)
    a = make_intermediary(f1, "Anna Acker")
    b = make_intermediary(f2, "Bernd Berg")
    x = make_customer(pool, "Xaver", intermediary=a)
    y = make_customer(pool, "Yilmaz", intermediary=b)
    contracts = {}
    for number, customer, person in (("M-A", x, a), ("M-B", y, b)):
        contracts[number] = Contract(policy_number=number, customer=customer, product=product,
                                     intermediary=person, start_date=date(2026, 1, 1),
                                     term_months=120, managing_company=pool)
    db.session.add_all(contracts.values())
    applications = {}
    for key, customer, person in (("A", x, a), ("B", y, b)):
        applications[key] = Application(customer=customer, product=product, intermediary=person,
                                        premium=Decimal("50.00"), start_date=date(2027, 1, 1))
    db.session.add_all(applications.values())
    db.session.commit()
    for record, username in ((a, "makler-a"), (b, "makler-b")):
        set_principal_login(record, username, PASSWORD)
    db.session.commit()
    make_staff(pool, "Pool staff", "ps")
    make_staff(f1, "Company admin", "ca1")
    return dict(pool=pool, f1=f1, f2=f2, a=a, b=b, x=x, y=y, product=product,
                contracts=contracts, applications=applications)


@pytest.fixture
def world(app, client):
    w = build_messages_world()
    w["auth"] = {name: api_token(client, name) for name in ("makler-a", "makler-b", "ps",
                                                            "ca1")}
    return w


def count(model):
    db.session.expire_all()
    return db.session.query(model).count()


def unread(client, auth):
    resp = client.get("/api/v1/message_thread/unread", headers=auth)
    assert resp.status_code == 200, resp.json
    return resp.json["count"]


def start(client, auth, **body):
    return client.post("/api/v1/message_thread/", json=body, headers=auth)


def start_with_file(client, auth, data=PDF, name="schaden.pdf", **fields):
    return client.post("/api/v1/message_thread/", headers=auth,
                       content_type="multipart/form-data",
                       data={**{k: str(v) for k, v in fields.items()},
                             "file": (io.BytesIO(data), name)})


def test_a_conversation_about_a_contract_with_attachment_and_unread_state(client, world):
    a_auth, ps = world["auth"]["makler-a"], world["auth"]["ps"]
    contract = world["contracts"]["M-A"]
    resp = start_with_file(client, a_auth, subject="Schadenmeldung", body="Bitte prüfen.",
                           contract=contract.id)
    assert resp.status_code == 201, resp.json
    pk = resp.json["id"]
    thread = db.session.get(MessageThread, pk)
    assert (thread.intermediary_id, thread.contract_id) == (world["a"].id, contract.id)
    assert thread.last_message_on is not None
    (first,) = thread.messages
    assert first.from_pool is False and first.body == "Bitte prüfen."
    (doc,) = first.attachments
    assert doc.filename == "schaden.pdf" and doc.message_id == first.id

    # the pool sees it, unread
    assert unread(client, ps) == 1
    listed = client.get("/api/v1/message_thread/", headers=ps).json
    assert [r["id"] for r in listed["result"]] == [pk]
    assert listed["result"][0]["unread"] == 1
    assert listed["result"][0]["contract"] == {"id": contract.id}
    msgs = client.get(f"/api/v1/message/?q=(filters:!((col:thread,opr:rel_o_m,value:{pk})))",
                      headers=ps).json["result"]
    assert [m["body"] for m in msgs] == ["Bitte prüfen."]
    assert msgs[0]["attachments"][0]["id"] == doc.id
    got = client.get(f"/api/v1/message/attachment/{doc.id}", headers=ps)
    assert got.status_code == 200 and got.data == PDF
    assert "attachment" in got.headers["Content-Disposition"]
    # the writer has nothing unread: its own message does not count
    assert unread(client, a_auth) == 0

    # staff read and reply
    assert client.post(f"/api/v1/message_thread/{pk}/read", headers=ps).status_code == 200
    assert unread(client, ps) == 0
    resp = client.post(f"/api/v1/message_thread/{pk}/reply", headers=ps,
                       content_type="multipart/form-data",
                       data={"body": "Erledigt.", "file": (io.BytesIO(PDF), "antwort.pdf")})
    assert resp.status_code == 201, resp.json
    reply = db.session.get(Message, resp.json["id"])
    assert reply.from_pool is True
    (answer_doc,) = resp.json["attachments"]
    assert client.get(f"/api/v1/message/attachment/{answer_doc}",
                      headers=a_auth).data == PDF
    assert client.get(f"/api/v1/message/attachment/{answer_doc}",
                      headers=world["auth"]["makler-b"]).status_code == 404
    db.session.expire_all()
    assert db.session.get(MessageThread, pk).last_message_on == reply.created_on

    # the intermediary sees the reply unread, then read
    assert unread(client, a_auth) == 1
    show = client.get(f"/api/v1/message_thread/{pk}", headers=a_auth).json
    assert show["result"]["unread"] == 1
    assert client.post(f"/api/v1/message_thread/{pk}/read", headers=a_auth).status_code == 200
    assert unread(client, a_auth) == 0
    assert unread(client, ps) == 0
    assert db.session.query(MessageRead).count() == 2


def test_another_intermediary_sees_nothing_of_it(client, world):
    a_auth, b_auth = world["auth"]["makler-a"], world["auth"]["makler-b"]
    pk = start_with_file(client, a_auth, subject="Vertraulich", body="Nur für den Pool.",
                         contract=world["contracts"]["M-A"].id).json["id"]
    doc = db.session.query(Document).filter(Document.message_id.isnot(None)).one()
    message = db.session.query(Message).one()
    before = count(Message)
    assert client.get(f"/api/v1/message_thread/{pk}", headers=b_auth).status_code == 404
    assert client.get("/api/v1/message_thread/", headers=b_auth).json["result"] == []
    assert client.get("/api/v1/message/", headers=b_auth).json["result"] == []
    assert client.get(f"/api/v1/message/{message.id}", headers=b_auth).status_code == 404
    assert client.get(f"/api/v1/message/attachment/{doc.id}",
                      headers=b_auth).status_code == 404
    assert client.get(f"/api/v1/document/{doc.id}/download",
                      headers=b_auth).status_code == 404
    assert client.post(f"/api/v1/message_thread/{pk}/reply", json={"body": "Hallo?"},
                       headers=b_auth).status_code == 404
    assert client.post(f"/api/v1/message_thread/{pk}/read", headers=b_auth).status_code == 404
    assert unread(client, b_auth) == 0
    assert count(Message) == before
    assert db.session.query(MessageRead).count() == 0
    # the pool's reply does not reach B either
    client.post(f"/api/v1/message_thread/{pk}/reply", json={"body": "Antwort"},
                headers=world["auth"]["ps"])
    assert unread(client, b_auth) == 0 and unread(client, a_auth) == 1


def test_an_intermediary_cannot_write_about_or_for_others(client, world):
    a_auth = world["auth"]["makler-a"]
    foreign_contract = world["contracts"]["M-B"]
    cases = [
        ({"subject": "S", "body": "B", "contract": foreign_contract.id}, "contract"),
        ({"subject": "S", "body": "B", "application": world["applications"]["B"].id},
         "application"),
        ({"subject": "S", "body": "B", "intermediary": world["b"].id}, "intermediary"),
        ({"subject": "S", "body": "B", "contract": 10**30}, "contract"),
        ({"subject": "S", "body": "B", "contract": {"id": foreign_contract.id}}, "contract"),
    ]
    for body, field in cases:
        resp = start(client, a_auth, **body)
        assert resp.status_code == 422, (body, resp.json)
        assert field in resp.json["message"], (body, resp.json)
    # a foreign thread id, an attachment to a foreign contract's thread: nothing written
    resp = start_with_file(client, a_auth, subject="S", body="B", contract=foreign_contract.id)
    assert resp.status_code == 422 and "contract" in resp.json["message"]
    assert count(MessageThread) == 0 and count(Message) == 0
    assert db.session.query(Document).count() == 0
    # its own: forced to itself when left out
    resp = start(client, a_auth, subject="Eigenes", body="Text",
                 application=world["applications"]["A"].id)
    assert resp.status_code == 201, resp.json
    assert db.session.get(MessageThread, resp.json["id"]).intermediary_id == world["a"].id


def test_staff_start_threads_for_an_intermediary_about_its_contracts_only(client, world):
    ps = world["auth"]["ps"]
    resp = start(client, ps, subject="Unterlagen", body="Bitte nachreichen.")
    assert resp.status_code == 422 and "intermediary" in resp.json["message"]
    resp = start(client, ps, intermediary=world["a"].id, subject="Unterlagen", body="x",
                 contract=world["contracts"]["M-B"].id)
    assert resp.status_code == 422 and "contract" in resp.json["message"]
    resp = start(client, ps, intermediary=world["a"].id, subject="Unterlagen", body="x",
                 contract=world["contracts"]["M-A"].id,
                 application=world["applications"]["A"].id)
    assert resp.status_code == 422 and "application" in resp.json["message"]
    assert count(MessageThread) == 0
    resp = start(client, ps, intermediary=world["a"].id, subject="Unterlagen",
                 body="Bitte nachreichen.", contract=world["contracts"]["M-A"].id)
    assert resp.status_code == 201, resp.json
    thread = db.session.get(MessageThread, resp.json["id"])
    assert thread.messages[0].from_pool is True
    assert unread(client, world["auth"]["makler-a"]) == 1
    assert unread(client, world["auth"]["ps"]) == 0
    assert unread(client, world["auth"]["makler-b"]) == 0


@pytest.mark.parametrize("body, field", [
    ({"subject": "S", "body": ""}, "body"),
    ({"subject": "S", "body": "   "}, "body"),
    ({"subject": "S"}, "body"),
    ({"subject": "", "body": "Text"}, "subject"),
    ({"subject": "S" * 201, "body": "Text"}, "subject"),
    ({"subject": "S", "body": 5}, "body"),
    ({"subject": "S", "body": "B", "nonsense": 1}, "nonsense"),
])
def test_invalid_input_names_the_field_and_writes_nothing(client, world, body, field):
    resp = start(client, world["auth"]["makler-a"], **body)
    assert resp.status_code == 422, resp.json
    assert field in resp.json["message"]
    assert count(MessageThread) == 0 and count(Message) == 0


def test_an_empty_reply_is_refused(client, world):
    a_auth = world["auth"]["makler-a"]
    pk = start(client, a_auth, subject="S", body="B").json["id"]
    for body in ({"body": ""}, {"body": "  "}, {}):
        resp = client.post(f"/api/v1/message_thread/{pk}/reply", json=body, headers=a_auth)
        assert resp.status_code == 422 and "body" in resp.json["message"], resp.json
    assert count(Message) == 1


def test_an_attachment_over_the_limit_stores_nothing(app, client, world):
    from tests.api.test_documents_api import stored_files

    a_auth = world["auth"]["makler-a"]
    pk = start(client, a_auth, subject="S", body="B").json["id"]
    before = stored_files(app)
    old = app.config["POOL_MAX_UPLOAD_MB"]
    app.config["POOL_MAX_UPLOAD_MB"] = 0.0001  # 100 bytes
    try:
        resp = client.post(f"/api/v1/message_thread/{pk}/reply", headers=a_auth,
                           content_type="multipart/form-data",
                           data={"body": "Anbei", "file": (io.BytesIO(PDF + b" " * 200),
                                                           "gross.pdf")})
        assert resp.status_code == 422 and "file" in resp.json["message"], resp.json
        resp = start_with_file(client, a_auth, data=PDF + b" " * 200, subject="S2", body="B2")
        assert resp.status_code == 422 and "file" in resp.json["message"], resp.json
    finally:
        app.config["POOL_MAX_UPLOAD_MB"] = old
    assert count(Message) == 1 and count(MessageThread) == 1
    assert db.session.query(Document).count() == 0 and stored_files(app) == before
    # within the limit: the reply and its file commit together
    resp = client.post(f"/api/v1/message_thread/{pk}/reply", headers=a_auth,
                       content_type="multipart/form-data",
                       data={"body": "Anbei", "file": (io.BytesIO(PDF), "klein.pdf")})
    assert resp.status_code == 201, resp.json
    assert len(resp.json["attachments"]) == 1
    assert len(stored_files(app)) == len(before) + 1


def test_a_company_admin_and_the_pool_outside_see_nothing(client, world):
    pk = start(client, world["auth"]["makler-a"], subject="S", body="B").json["id"]
    ca = world["auth"]["ca1"]
    for resp in (client.get("/api/v1/message_thread/", headers=ca),
                 client.get(f"/api/v1/message_thread/{pk}", headers=ca),
                 client.get("/api/v1/message_thread/unread", headers=ca),
                 client.get("/api/v1/message/", headers=ca),
                 client.post(f"/api/v1/message_thread/{pk}/reply", json={"body": "x"},
                             headers=ca),
                 start(client, ca, intermediary=world["a"].id, subject="S", body="B")):
        assert resp.status_code in (403, 404), resp.status_code
    assert count(Message) == 1


def test_staff_of_another_branch_do_not_see_the_threads(client, world):
    # staff of broker firm F2's subtree (not the pool) cannot see A's threads
    from app.domain.access import POOL_STAFF

    pk = start(client, world["auth"]["makler-a"], subject="S", body="B").json["id"]
    make_staff(world["f2"], POOL_STAFF, "ps2")
    auth = api_token(client, "ps2")
    assert client.get(f"/api/v1/message_thread/{pk}", headers=auth).status_code == 404
    assert client.get("/api/v1/message_thread/", headers=auth).json["result"] == []
    assert unread(client, auth) == 0
    assert client.post(f"/api/v1/message_thread/{pk}/reply", json={"body": "x"},
                       headers=auth).status_code == 404
    resp = start(client, auth, intermediary=world["a"].id, subject="S", body="B")
    assert resp.status_code == 422 and "intermediary" in resp.json["message"]
    assert count(Message) == 1


def test_an_intermediary_login_without_its_record_and_a_customer_see_and_write_nothing(
        client, world):
    from tests.factories import make_user

    pk = start(client, world["auth"]["makler-a"], subject="S", body="B").json["id"]
    make_user("Intermediary", "vm")                # a login not linked to an intermediary
    make_user("Customer", "kd")
    for username in ("vm", "kd"):
        auth = api_token(client, username)
        resp = client.get("/api/v1/message_thread/", headers=auth)
        assert resp.status_code == 403 or resp.json["result"] == []
        assert client.get(f"/api/v1/message_thread/{pk}", headers=auth).status_code in (403,
                                                                                       404)
        for body in ({"subject": "S", "body": "B"},
                     {"subject": "S", "body": "B", "intermediary": world["a"].id}):
            assert start(client, auth, **body).status_code in (403, 422)
    assert count(MessageThread) == 1 and count(Message) == 1
