"""Messages in the screens: the intermediary's extranet messages, the pool's
inbox, the unread badge in the menu, and what nobody else sees or writes."""
from __future__ import annotations

import io
import re

import pytest

from app.extensions import db
from app.models.documents import Document
from app.models.messages import Message, MessageRead, MessageThread
from tests.api.test_messages_api import build_messages_world, clean_messages
from tests.domain.test_documents import PDF
from tests.factories import ui_login


@pytest.fixture(autouse=True)
def _messages_cleanup(app):
    clean_messages()
    yield
    clean_messages()


@pytest.fixture
def world(app):
    return build_messages_world()


def html(resp):
    return resp.get_data(as_text=True)


def badge(client):
    """The unread count in the menu bar (0 when there is no badge), on a page
    every login may open (its profile)."""
    resp = client.get("/users/userinfo/")
    assert resp.status_code == 200
    found = re.search(r'id="pool-unread-count">(\d+)<', html(resp))
    return int(found.group(1)) if found else 0


def count(model):
    db.session.expire_all()
    return db.session.query(model).count()


def login_as(client, username):
    client.get("/logout/")
    return ui_login(client, username)


def new_thread(client, **fields):
    data = {k: str(v) for k, v in fields.items() if k != "file"}
    if "file" in fields:
        data["file"] = fields["file"]
    return client.post("/my/messages/new", content_type="multipart/form-data", data=data)


def test_an_intermediary_and_the_pool_talk_about_a_contract(client, world):
    contract = world["contracts"]["M-A"]
    login_as(client, "makler-a")
    page = html(client.get("/my/messages/new"))
    # the choice offers its own contracts and applications, nothing else
    assert f'value="contract:{contract.id}"' in page and "M-A" in page
    assert f'value="application:{world["applications"]["A"].id}"' in page
    assert "M-B" not in page and f'application:{world["applications"]["B"].id}"' not in page
    resp = new_thread(client, subject="Schadenmeldung", body="Bitte prüfen.",
                      about=f"contract:{contract.id}",
                      file=(io.BytesIO(PDF), "schaden.pdf"))
    assert resp.status_code == 302, html(resp)[:2000]
    thread = db.session.query(MessageThread).one()
    assert resp.headers["Location"].endswith(f"/my/messages/{thread.id}")
    assert (thread.intermediary_id, thread.contract_id) == (world["a"].id, contract.id)
    doc = db.session.query(Document).filter(Document.message_id.isnot(None)).one()
    page = html(client.get(f"/my/messages/{thread.id}"))
    assert "Bitte prüfen." in page and f"/my/messages/attachment/{doc.id}" in page
    assert client.get(f"/my/messages/attachment/{doc.id}").data == PDF
    assert "Schadenmeldung" in html(client.get("/my/messages/"))
    assert badge(client) == 0

    # the pool: unread in the menu and the inbox
    login_as(client, "ps")
    assert badge(client) == 1
    inbox = html(client.get("/messages/"))
    assert "Schadenmeldung" in inbox and "Anna Acker" in inbox and "M-A" in inbox
    assert 'class="badge pool-unread-badge">1<' in inbox
    assert "Schadenmeldung" in html(client.get("/messages/?unread=1"))
    page = html(client.get(f"/messages/{thread.id}"))
    assert "Bitte prüfen." in page and f"/messages/attachment/{doc.id}" in page
    assert client.get(f"/messages/attachment/{doc.id}").data == PDF
    # reading marked it read
    assert badge(client) == 0
    assert "Schadenmeldung" not in html(client.get("/messages/?unread=1"))
    resp = client.post(f"/messages/{thread.id}/reply", content_type="multipart/form-data",
                       data={"body": "Wir kümmern uns.",
                             "file": (io.BytesIO(b""), "")})   # no file chosen
    assert resp.status_code == 302, html(resp)[:2000]
    reply = db.session.query(Message).order_by(Message.id.desc()).first()
    assert reply.from_pool is True and reply.body == "Wir kümmern uns."
    assert reply.attachments == []

    # the intermediary: the reply unread, then read
    login_as(client, "makler-a")
    assert badge(client) == 1
    assert 'class="badge pool-unread-badge">1<' in html(client.get("/my/messages/"))
    page = html(client.get(f"/my/messages/{thread.id}"))
    assert "Wir kümmern uns." in page
    assert badge(client) == 0
    assert db.session.query(MessageRead).count() == 2


def test_staff_start_a_thread_to_an_intermediary(client, world):
    login_as(client, "ps")
    contract = world["contracts"]["M-A"]
    page = html(client.get(f"/messages/new?intermediary={world['a'].id}&contract={contract.id}"))
    assert "Anna Acker" in page and "M-A" in page
    resp = client.post("/messages/new", data={
        "intermediary": world["a"].id, "subject": "Unterlagen", "body": "Bitte nachreichen.",
        "contract": contract.id})
    assert resp.status_code == 302, html(resp)[:2000]
    thread = db.session.query(MessageThread).one()
    assert thread.messages[0].from_pool is True
    # about B's contract for A: refused, nothing written
    resp = client.post("/messages/new", data={
        "intermediary": world["a"].id, "subject": "X", "body": "Y",
        "contract": world["contracts"]["M-B"].id})
    assert resp.status_code == 200 and count(MessageThread) == 1
    application = world["applications"]["A"]
    resp = client.post("/messages/new", data={
        "intermediary": world["a"].id, "subject": "Antrag", "body": "Unterschrift fehlt.",
        "application": application.id})
    assert resp.status_code == 302, html(resp)[:2000]
    pk = int(resp.headers["Location"].rsplit("/", 1)[1])
    page = html(client.get(f"/messages/{pk}"))
    assert f"/applicationview/show/{application.id}" in page and "Xaver" in page
    login_as(client, "makler-a")
    assert badge(client) == 2
    login_as(client, "makler-b")
    assert badge(client) == 0


def test_another_intermediary_sees_and_writes_nothing_of_it(client, world):
    login_as(client, "makler-a")
    new_thread(client, subject="Vertraulich", body="Nur für den Pool.",
               file=(io.BytesIO(PDF), "geheim.pdf"))
    thread = db.session.query(MessageThread).one()
    doc = db.session.query(Document).filter(Document.message_id.isnot(None)).one()
    login_as(client, "makler-b")
    assert "Vertraulich" not in html(client.get("/my/messages/"))
    assert client.get(f"/my/messages/{thread.id}").status_code == 404
    assert client.get(f"/my/messages/attachment/{doc.id}").status_code == 404
    assert client.get(f"/documents/{doc.id}/download").status_code in (403, 404)
    assert client.post(f"/my/messages/{thread.id}/reply",
                       data={"body": "Hallo?"}).status_code == 404
    assert badge(client) == 0
    assert count(Message) == 1 and db.session.query(MessageRead).count() == 0
    # the intranet inbox is closed to extranet logins
    assert client.get("/messages/").status_code == 403
    assert client.get(f"/messages/{thread.id}").status_code == 403


@pytest.mark.parametrize("tamper", ["contract:B", "application:B", "intermediary",
                                    "nonsense:1", "contract:999999"])
def test_tampered_choices_are_refused_and_nothing_is_written(client, world, tamper):
    login_as(client, "makler-a")
    data = {"subject": "Betreff", "body": "Text"}
    if tamper == "contract:B":
        data["about"] = f"contract:{world['contracts']['M-B'].id}"
    elif tamper == "application:B":
        data["about"] = f"application:{world['applications']['B'].id}"
    elif tamper == "intermediary":
        data["intermediary"] = world["b"].id
    else:
        data["about"] = tamper
    resp = new_thread(client, **data, file=(io.BytesIO(PDF), "x.pdf"))
    assert resp.status_code == 200
    assert "has-error" in html(resp) or "alert-danger" in html(resp)
    assert "Keine gültige Auswahl." in html(resp)
    assert count(MessageThread) == 0 and count(Message) == 0
    assert db.session.query(Document).count() == 0


def test_an_empty_body_is_refused_on_its_field(client, world):
    login_as(client, "makler-a")
    resp = new_thread(client, subject="Betreff", body="   ")
    page = html(resp)
    assert resp.status_code == 200
    assert re.search(r'has-error"><label for="body">.*?Dieses Feld wird benötigt\.', page, re.S)
    assert 'value="Betreff"' in page          # the input is kept
    assert count(MessageThread) == 0
    new_thread(client, subject="Betreff", body="Text")
    thread = db.session.query(MessageThread).one()
    resp = client.post(f"/my/messages/{thread.id}/reply", data={"body": ""})
    assert resp.status_code == 200 and "Dieses Feld wird benötigt." in html(resp)
    assert count(Message) == 1


def test_an_attachment_over_the_limit_is_refused(app, client, world):
    from tests.api.test_documents_api import stored_files

    login_as(client, "makler-a")
    before = stored_files(app)
    old = app.config["POOL_MAX_UPLOAD_MB"]
    app.config["POOL_MAX_UPLOAD_MB"] = 0.0001  # 100 bytes
    try:
        resp = new_thread(client, subject="Betreff", body="Text",
                          file=(io.BytesIO(PDF + b" " * 200), "gross.pdf"))
    finally:
        app.config["POOL_MAX_UPLOAD_MB"] = old
    assert resp.status_code == 200 and 'has-error"><label for="file">' in html(resp)
    assert count(MessageThread) == 0 and count(Message) == 0
    assert db.session.query(Document).count() == 0 and stored_files(app) == before


def test_who_may_use_which_screen(client, world):
    login_as(client, "ca1")                      # a company admin: no messages at all
    for url in ("/messages/", "/messages/new", "/my/messages/", "/my/messages/new"):
        assert client.get(url).status_code in (403, 404), url
    assert badge(client) == 0
    assert 'href="/messages/"' not in html(client.get("/"))
    login_as(client, "ps")                        # staff: the inbox in the menu
    assert 'href="/messages/"' in html(client.get("/"))
    assert client.get("/my/messages/").status_code == 404
    login_as(client, "makler-a")                  # the extranet: its messages
    assert 'href="/my/messages/"' in html(client.get("/my/messages/"))
    client.get("/logout/")
    assert client.get("/my/messages/").status_code in (302, 401)
