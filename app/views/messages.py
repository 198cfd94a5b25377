"""Messages between intermediaries and the pool (threads, attachments, unread
state): staff inbox, the extranet's messages, the REST resources, and the
unread count for the menu.

Every thread, message and attachment is loaded through the caller's scope
(a foreign id answers 404 like a missing one); every write goes through
app/services/messages.py and the session guard.
"""
from __future__ import annotations

from flask import abort, flash, redirect, request, send_file, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.api import expose as api_expose
from flask_appbuilder.api import protect, safe
from flask_appbuilder.security.decorators import permission_name
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from marshmallow import Schema, ValidationError, fields
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from app.domain.errors import DomainError
from app.extensions import db
from app.models.contracts import Application, Contract
from app.models.documents import Document
from app.models.intermediaries import Intermediary
from app.models.messages import Message, MessageRead, MessageThread
from app.security.scope import current_request_user, current_scope
from app.services import messages as service
from app.services.documents import document_path, max_upload_bytes, read_limited
from app.views.base import (
    API_PERMISSIONS,
    MAX_ID,
    PoolModelRestApi,
    datamodel,
    error_text,
    get_visible,
)

PAGE = 50


def _user():
    """The logged-in user (screens: session, API: JWT), or None."""
    user = current_request_user()
    return user if user is not None and getattr(user, "is_authenticated", False) else None


def _as_pool() -> bool:
    """Whether the caller writes as the pool (staff) or as the intermediary."""
    scope = current_scope()
    return scope.principal is None and not scope.extranet_only


def _attachment_from_request():
    """(filename, bytes) of an uploaded file, or None when none was chosen."""
    file = request.files.get("file")
    if file is None or not file.filename:
        return None
    return file.filename, read_limited(file.stream, max_upload_bytes())


def _download(document: Document):
    response = send_file(document_path(document), mimetype=document.content_type,
                         as_attachment=True, download_name=document.filename,
                         max_age=0, etag=document.sha256)
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def visible_attachment(pk) -> Document | None:
    """A message's attachment the caller may see: the document and its
    message visible through the scope."""
    document = get_visible(Document, pk)
    if document is None or document.message_id is None:
        return None
    if get_visible(Message, document.message_id) is None:
        return None
    return document


def about_text(thread: MessageThread) -> str:
    """What a thread is about: the contract's number or the application."""
    if thread.contract is not None:
        return f"{gettext('Contract')} {thread.contract.policy_number}"
    if thread.application is not None:
        return application_text(thread.application)
    return ""


def application_text(application: Application) -> str:
    parts = [f"{gettext('Application')} {application.id}"]
    if application.customer is not None:
        parts.append(str(application.customer))
    if application.product is not None:
        parts.append(application.product.name)
    return " – ".join(parts)


def _thread_list(stmt, page: int):
    stmt = (stmt.options(selectinload(MessageThread.intermediary),
                         selectinload(MessageThread.contract),
                         selectinload(MessageThread.application)
                         .selectinload(Application.customer),
                         selectinload(MessageThread.application)
                         .selectinload(Application.product))
            .order_by(MessageThread.last_message_on.desc(), MessageThread.id.desc())
            .offset(page * PAGE).limit(PAGE + 1))
    rows = db.session.execute(stmt).scalars().all()
    return rows[:PAGE], len(rows) > PAGE


class _MessagesScreens:
    """What the staff inbox and the extranet's messages share."""

    class_permission_name = "Message"
    method_permission_name = {"index": "read", "thread": "read", "attachment": "read",
                              "reply": "write", "new": "write"}
    default_view = "index"
    staff = True

    # --- hooks ---------------------------------------------------------------
    def _allowed(self) -> bool:
        return True

    def _filtered(self, stmt):
        return stmt

    def _new_form_context(self, values) -> dict:
        return {}

    def _new_values(self) -> dict:
        raise NotImplementedError

    # --- screens -------------------------------------------------------------
    def _endpoint(self, name):
        return f"{type(self).__name__}.{name}"

    @expose("/")
    @has_access
    def index(self):
        if not self._allowed():
            abort(404)
        page = max(0, min(request.args.get("page", 0, type=int), 10_000))
        stmt = self._filtered(service.visible_threads())
        only_unread = request.args.get("unread") == "1"
        user = _user()
        if only_unread and user is not None:
            unread_ids = select(service.unread_select(user.id, service.reads_from_pool())
                                .subquery().c.thread_id)
            stmt = stmt.where(MessageThread.id.in_(unread_ids))
        threads, more = _thread_list(stmt, page)
        unread = service.unread_by_thread([t.id for t in threads],
                                          user.id if user else None)
        return self.render_template(
            "messages/inbox.html", threads=threads, unread=unread, page=page, more=more,
            staff=self.staff, endpoint=self._endpoint, about_text=about_text,
            only_unread=only_unread, args=request.args)

    def _thread_page(self, thread, values=None, errors=None):
        """The thread with its messages; showing it marks it read (a
        re-shown form after a refused reply changes nothing)."""
        user = _user()
        previous = None
        if user is not None:
            previous = db.session.execute(select(MessageRead.read_until).where(
                MessageRead.thread_id == thread.id,
                MessageRead.user_id == user.id)).scalar()
            if errors is None:
                try:
                    service.mark_read(thread, user.id)
                except DomainError:
                    db.session.rollback()
        # loaded after mark_read's commit, so nothing is reloaded row by row
        messages = db.session.execute(
            select(Message).where(Message.thread_id == thread.id)
            .options(selectinload(Message.attachments), selectinload(Message.sender))
            .order_by(Message.created_on, Message.id)).scalars().all()
        other_side = service.reads_from_pool()
        new_ids = {m.id for m in messages if m.from_pool is other_side
                   and (previous is None or m.created_on > previous)}
        return self.render_template(
            "messages/thread.html", thread=thread, messages=messages, new_ids=new_ids,
            staff=self.staff, endpoint=self._endpoint, about_text=about_text,
            values=values or {}, errors=errors or {},
            max_mb=max_upload_bytes() / 1_000_000)

    @expose("/<int:pk>")
    @has_access
    def thread(self, pk):
        if not self._allowed():
            abort(404)
        thread = service.get_thread(pk)
        if thread is None:
            abort(404)
        return self._thread_page(thread)

    @expose("/<int:pk>/reply", methods=["POST"])
    @has_access
    def reply(self, pk):
        if not self._allowed():
            abort(404)
        thread = service.get_thread(pk)
        if thread is None:
            abort(404)
        body = request.form.get("body", "")
        try:
            service.reply(thread, body, from_pool=_as_pool(),
                          sender_user_id=_user().id,
                          attachment=_attachment_from_request())
        except DomainError as exc:
            db.session.rollback()
            thread = service.get_thread(pk)
            if thread is None:
                abort(404)
            field = exc.field if exc.field in ("body", "file") else "_"
            return self._thread_page(thread, values={"body": body},
                                     errors={field: error_text(exc)})
        flash(gettext("Message sent."), "success")
        return redirect(url_for(self._endpoint("thread"), pk=pk))

    @expose("/new", methods=["GET", "POST"])
    @has_access
    def new(self):
        if not self._allowed():
            abort(404)
        errors = {}
        if request.method == "POST":
            values = self._new_values()
            try:
                thread = service.start_thread(
                    values.get("intermediary"), values.get("subject"), values.get("body"),
                    values.get("contract"), values.get("application"),
                    from_pool=_as_pool(), sender_user_id=_user().id,
                    attachment=_attachment_from_request())
            except DomainError as exc:
                db.session.rollback()
                errors = {self._error_field(exc.field): error_text(exc)}
            else:
                flash(gettext("Message sent."), "success")
                return redirect(url_for(self._endpoint("thread"), pk=thread.id))
        else:
            values = {k: request.args.get(k, "") for k in
                      ("intermediary", "contract", "application")}
        return self.render_template(
            "messages/new.html", values=values, errors=errors, staff=self.staff,
            endpoint=self._endpoint, max_mb=max_upload_bytes() / 1_000_000,
            subject_max=service.SUBJECT_MAX, body_max=service.BODY_MAX,
            **self._new_form_context(values))

    #: fields of the new-thread form that show their own message
    new_fields = ("intermediary", "contract", "application", "subject", "body", "file")

    def _error_field(self, field):
        return field if field in self.new_fields else "_"

    @expose("/attachment/<int:pk>")
    @has_access
    def attachment(self, pk):
        if not self._allowed():
            abort(404)
        document = visible_attachment(pk)
        if document is None:
            abort(404)
        return _download(document)


class MessagesView(_MessagesScreens, BaseView):
    """The pool's inbox: every thread of the intermediaries in the caller's
    company scope, newest first, with unread counts."""

    route_base = "/messages"
    staff = True

    def _allowed(self):
        return not current_scope().extranet_only

    def _filtered(self, stmt):
        pk = request.args.get("intermediary", type=int)
        if pk and 0 < pk <= MAX_ID:
            stmt = stmt.where(MessageThread.intermediary_id == pk)
        return stmt

    def _new_values(self):
        form = request.form
        return {k: form.get(k, "") for k in
                ("intermediary", "subject", "body", "contract", "application")}

    def _new_form_context(self, values):
        # the chosen rows for the search boxes (only if visible)
        return {"chosen_intermediary": get_visible(Intermediary, values.get("intermediary")),
                "chosen_contract": get_visible(Contract, values.get("contract"))}


class MyMessagesView(_MessagesScreens, BaseView):
    """The extranet: an intermediary's own threads with the pool."""

    route_base = "/my/messages"
    extranet = True
    staff = False

    def _allowed(self):
        # staff have their inbox; this screen is the intermediary's
        return current_scope().extranet_only

    def _new_values(self):
        form = request.form
        values = {k: form.get(k, "") for k in ("subject", "body", "about")}
        # not in the form: whatever is posted is checked (own or refused)
        values["intermediary"] = form.get("intermediary") or None
        if values["about"]:
            kind, _, pk = values["about"].partition(":")
            if kind in ("contract", "application"):
                values[kind] = pk or "0"
            else:
                values["contract"] = "0"       # refused like a foreign id
        return values

    new_fields = ("about", "intermediary", "subject", "body", "file")

    def _error_field(self, field):
        return "about" if field in ("contract", "application") else super()._error_field(field)

    def _new_form_context(self, values):
        scope = current_scope()
        if scope.intermediary_id is None:
            return {"contracts": [], "applications": []}
        contracts, applications = service.own_references(scope.intermediary_id)
        if not values.get("about"):
            if values.get("contract"):
                values["about"] = f"contract:{values['contract']}"
            elif values.get("application"):
                values["about"] = f"application:{values['application']}"
        return {"contracts": contracts, "applications": applications,
                "application_text": application_text}


# --- REST API ----------------------------------------------------------------

class ThreadPostSchema(Schema):
    """POST /api/v1/message_thread/: a thread with its first message. The
    intermediary is required for staff; an intermediary's login may leave it
    out (its own) and gets any other refused."""

    intermediary = fields.Raw(load_default=None, allow_none=True,
                              metadata={"description": "id of the intermediary"})
    subject = fields.String(load_default=None, allow_none=True)
    body = fields.String(load_default=None, allow_none=True,
                         metadata={"description": "the first message"})
    contract = fields.Raw(load_default=None, allow_none=True,
                          metadata={"description": "id of a contract of the intermediary"})
    application = fields.Raw(load_default=None, allow_none=True,
                             metadata={"description": "id of an application of the intermediary"})


def _request_data():
    """The request's fields: JSON object or multipart form (with `file`)."""
    if request.is_json:
        data = request.get_json(silent=True)
        return data if isinstance(data, dict) else None
    if request.mimetype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        return {k: v for k, v in request.form.items()}
    return None


class MessageThreadApi(PoolModelRestApi):
    resource_name = "message_thread"
    datamodel = datamodel(MessageThread)
    class_permission_name = "Message"
    method_permission_name = {**API_PERMISSIONS, "reply": "write", "read": "write",
                              "unread": "read"}
    include_route_methods = {"get", "get_list", "post", "reply", "read", "unread"}
    list_columns = show_columns = ["id", "intermediary.id", "subject", "contract.id",
                                   "application.id", "last_message_on", "created_on"]
    add_model_schema = ThreadPostSchema()
    extra_result_fields = {"unread": {"type": "integer"}}
    search_columns = ["intermediary", "contract", "application", "subject", "last_message_on"]
    order_columns = ["id", "last_message_on", "created_on"]
    base_order = ("last_message_on", "desc")

    def pre_get_list(self, data):
        counts = service.unread_by_thread(data.get("ids") or [])
        for pk, row in zip(data.get("ids") or [], data.get("result") or [], strict=True):
            row["unread"] = counts.get(pk, 0)

    def pre_get(self, data):
        data["result"]["unread"] = service.unread_by_thread([data["id"]]).get(data["id"], 0)

    def post_headless(self):
        """A thread with its first message (JSON, or multipart with `file`)."""
        data = _request_data()
        if data is None:
            return self.response_400(message="Request is not a JSON object")
        user = _user()
        try:
            values = self.add_model_schema.load(data)
            thread = service.start_thread(
                values["intermediary"], values["subject"], values["body"],
                values["contract"], values["application"], from_pool=_as_pool(),
                sender_user_id=user.id if user else None,
                attachment=_attachment_from_request())
        except (ValidationError, DomainError, IntegrityError) as exc:
            return self._refused(exc)
        return self.response(201, id=thread.id, result=self.show_model_schema.dump(thread))

    @api_expose("/<int:pk>/reply", methods=["POST"])
    @protect()
    @safe
    @permission_name("reply")
    def reply(self, pk):
        """Reply in a thread: {"body"} as JSON, or multipart with body and file.
        ---
        post:
          parameters:
          - {in: path, name: pk, schema: {type: integer}}
          requestBody:
            content:
              application/json:
                schema: {type: object, properties: {body: {type: string}}}
              multipart/form-data:
                schema:
                  type: object
                  properties:
                    body: {type: string}
                    file: {type: string, format: binary}
          responses:
            201: {description: Sent}
            404: {$ref: '#/components/responses/404'}
            422: {$ref: '#/components/responses/422'}
        """
        thread = service.get_thread(pk)
        if thread is None:
            return self.response_404()
        data = _request_data()
        if data is None:
            return self.response_400(message="Request is not a JSON object")
        body = data.get("body")
        user = _user()
        try:
            if body is not None and not isinstance(body, str):
                raise ValidationError({"body": [gettext("Not a valid string.")]})
            message = service.reply(thread, body, from_pool=_as_pool(),
                                    sender_user_id=user.id if user else None,
                                    attachment=_attachment_from_request())
        except (ValidationError, DomainError, IntegrityError) as exc:
            return self._refused(exc)
        return self.response(201, id=message.id, thread=thread.id,
                             attachments=[d.id for d in message.attachments])

    @api_expose("/<int:pk>/read", methods=["POST"])
    @protect()
    @safe
    @permission_name("read")
    def read(self, pk):
        """Mark the thread read up to its newest message (for the caller).
        ---
        post:
          parameters:
          - {in: path, name: pk, schema: {type: integer}}
          responses:
            200: {description: Marked read}
            404: {$ref: '#/components/responses/404'}
        """
        thread = service.get_thread(pk)
        user = _user()
        if thread is None or user is None:
            return self.response_404()
        try:
            service.mark_read(thread, user.id)
        except DomainError as exc:
            return self._refused(exc)
        return self.response(200, id=thread.id, unread=0)

    @api_expose("/unread", methods=["GET"])
    @protect()
    @safe
    @permission_name("unread")
    def unread(self):
        """The caller's unread messages over all its threads.
        ---
        get:
          responses:
            200:
              description: Count
              content:
                application/json:
                  schema: {type: object, properties: {count: {type: integer}}}
        """
        return self.response(200, count=service.unread_count())


class MessageApi(PoolModelRestApi):
    """The messages, read only (they are written through the threads)."""

    resource_name = "message"
    datamodel = datamodel(Message)
    class_permission_name = "Message"
    method_permission_name = {**API_PERMISSIONS, "attachment": "read"}
    include_route_methods = {"get", "get_list", "attachment"}
    list_columns = show_columns = ["id", "thread.id", "body", "from_pool", "created_on"]
    extra_result_fields = {"attachments": {"type": "array", "items": {
        "type": "object", "properties": {
            "id": {"type": "integer"}, "filename": {"type": "string"},
            "content_type": {"type": "string"}, "size": {"type": "integer"}}}}}
    search_columns = ["thread", "from_pool", "created_on"]
    order_columns = ["id", "created_on"]
    base_order = ("created_on", "asc")

    def _attachments(self, ids):
        rows = db.session.execute(
            select(Document.message_id, Document.id, Document.filename,
                   Document.content_type, Document.size)
            .where(Document.message_id.in_(ids)).order_by(Document.id)).all() if ids else []
        out: dict[int, list] = {}
        for message_id, pk, filename, content_type, size in rows:
            out.setdefault(message_id, []).append(
                {"id": pk, "filename": filename, "content_type": content_type, "size": size})
        return out

    def pre_get_list(self, data):
        found = self._attachments(data.get("ids") or [])
        for pk, row in zip(data.get("ids") or [], data.get("result") or [], strict=True):
            row["attachments"] = found.get(pk, [])

    def pre_get(self, data):
        data["result"]["attachments"] = self._attachments([data["id"]]).get(data["id"], [])

    @api_expose("/attachment/<int:pk>", methods=["GET"])
    @protect()
    @safe
    @permission_name("attachment")
    def attachment(self, pk):
        """An attachment's bytes (a document of a message the caller sees).
        ---
        get:
          parameters:
          - {in: path, name: pk, schema: {type: integer}}
          responses:
            200: {description: The file}
            404: {$ref: '#/components/responses/404'}
        """
        document = visible_attachment(pk)
        if document is None:
            return self.response_404()
        return _download(document)


# --- the unread count in the menu ---------------------------------------------

def unread_messages_context():
    """`unread_messages` (count) and `unread_messages_url` for every page:
    0 without a login or without the permission; one COUNT per request."""
    from flask import has_request_context

    if not has_request_context():
        return {"unread_messages": 0, "unread_messages_url": None}
    cache = request.environ
    if "pool.unread_messages" not in cache:
        cache["pool.unread_messages"] = _menu_count()
    count, url = cache["pool.unread_messages"]
    return {"unread_messages": count, "unread_messages_url": url}


def _menu_count():
    from flask import current_app

    user = _user()
    if user is None:
        return 0, None
    sm = current_app.appbuilder.sm
    if not sm.has_access("can_read", "Message"):
        return 0, None
    scope = current_scope()
    if scope.principal == "intermediary":
        url = url_for("MyMessagesView.index", unread=1)
    elif scope.extranet_only:
        return 0, None
    else:
        url = url_for("MessagesView.index", unread=1)
    count = service.unread_count(user.id)
    return count, (url if count else None)


def register(appbuilder):
    appbuilder.add_view(MessagesView, "Messages", label=_l("Messages"), icon="fa-envelope",
                        category="Commission", category_label=_l("Commission"))
    appbuilder.add_view(MyMessagesView, "My messages", label=_l("Messages"),
                        icon="fa-envelope")
    appbuilder.add_api(MessageThreadApi)
    appbuilder.add_api(MessageApi)
    from flask import current_app

    # register_views runs inside the app context of create_app
    current_app.context_processor(unread_messages_context)
