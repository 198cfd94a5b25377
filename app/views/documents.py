"""Document upload and download, always through permission and scope checks."""
from __future__ import annotations

from flask import abort, flash, redirect, request, send_file, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.api import expose as api_expose
from flask_appbuilder.api import protect, safe
from flask_appbuilder.security.decorators import permission_name
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape

from app.domain.errors import DomainError, InvalidChoiceError
from app.models.contracts import Application, Contract
from app.models.crm import Customer
from app.models.documents import OWNERS, Document
from app.models.messages import Message
from app.models.products import Product
from app.services.documents import (
    delete_file,
    document_path,
    max_upload_bytes,
    read_limited,
    store_document,
)
from app.views.base import (
    PoolModelRestApi,
    PoolModelView,
    datamodel,
    error_text,
    get_visible,
)

OWNER_MODELS = {"customer": (Customer, "Customer"), "product": (Product, "Product"),
                "application": (Application, "Application"), "contract": (Contract, "Contract"),
                "message": (Message, "Message")}
LABELS = {"filename": _l("File"), "description": _l("Description"), "size": _l("Size"),
          "released_to_customer": _l("Released to the customer"),
          "content_type": _l("Type"), "created_on": _l("Uploaded on"),
          "created_by": _l("Uploaded by"), "sha256": _l("SHA-256"), "owner": _l("Belongs to")}


def owner_url(target, pk) -> str:
    """Where the owner is shown: the extranet's own screens for extranet logins."""
    from app.security.scope import current_scope

    name = type(target).__name__
    if current_scope().extranet_only:
        extranet = {"Application": "MyApplicationView", "Contract": "MyContractView",
                    "Customer": "MyCustomerView"}
        if name in extranet:
            return url_for(f"{extranet[name]}.show", pk=pk)
        return url_for("PoolIndexView.index") if name != "Message" else url_for(
            "MyMessagesView.index")
    if name == "Message":
        return url_for("MessagesView.index")
    return url_for(f"{name}View.show", pk=pk)


def visible_owner(sm, owner: str | None, pk, write: bool):
    """The owner row if the caller may see it (and change it, for uploads)."""
    if owner not in OWNER_MODELS:
        return None
    model, resource = OWNER_MODELS[owner]
    if not sm.has_access("can_write" if write else "can_read", resource):
        return None
    return get_visible(model, pk)


def visible_document(sm, pk):
    """A document the caller may see: visible itself and its owner readable."""
    document = get_visible(Document, pk)
    if document is None or visible_owner(sm, document.owner_name,
                                         getattr(document, f"{document.owner_name}_id"),
                                         write=False) is None:
        return None
    return document


def _download(document):
    response = send_file(document_path(document), mimetype=document.content_type,
                         as_attachment=True, download_name=document.filename,
                         max_age=0, etag=document.sha256)
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


class DocumentView(PoolModelView):
    datamodel = datamodel(Document)
    class_permission_name = "Document"
    list_title = _l("Documents")
    show_title = _l("Document")
    label_columns = LABELS
    list_columns = ["download", "description", "released_to_customer", "created_on"]
    # own columns only: a relation here lists every related row in the search form
    search_columns = ["filename", "description", "released_to_customer"]
    show_columns = ["download", "description", "content_type", "size", "sha256",
                    "released_to_customer", "created_on", "created_by"]
    edit_columns = ["description", "released_to_customer"]
    include_route_methods = {"list", "show", "edit", "delete"}
    label_columns = {**LABELS, "download": _l("File")}
    base_order = ("created_on", "desc")

    def post_delete(self, item):
        delete_file(item)


def _download_link(self):
    return Markup(f'<a href="{url_for("DocumentsView.download", pk=self.id)}">'
                  f'{escape(self.filename)}</a>')


Document.download = property(_download_link)


class DocumentsView(BaseView):
    route_base = "/documents"
    #: upload and download for the extranet too (permission and scope checked)
    extranet = True
    class_permission_name = "Document"
    method_permission_name = {"upload": "write", "download": "read"}
    default_view = "upload"

    @expose("/upload/<owner>/<int:pk>", methods=["GET", "POST"])
    @has_access
    def upload(self, owner, pk):
        target = visible_owner(self.appbuilder.sm, owner, pk, write=True)
        if target is None:
            abort(404)
        error = None
        if request.method == "POST":
            file = request.files.get("file")
            data = read_limited(file.stream, max_upload_bytes()) if file else b""
            try:
                store_document(owner, target, file.filename if file else None, data,
                               request.form.get("description"),
                               request.form.get("released_to_customer") == "y")
            except DomainError as exc:
                error = error_text(exc)
            else:
                flash(gettext("Document stored."), "success")
                return redirect(owner_url(target, pk))
        return self.render_template("document_upload.html", owner=owner, target=target,
                                    error=error, max_mb=max_upload_bytes() / 1_000_000)

    @expose("/<int:pk>/download")
    @has_access
    def download(self, pk):
        document = visible_document(self.appbuilder.sm, pk)
        if document is None:
            abort(404)
        return _download(document)


class DocumentApi(PoolModelRestApi):
    resource_name = "document"
    datamodel = datamodel(Document)
    class_permission_name = "Document"
    method_permission_name = {**PoolModelRestApi.method_permission_name, "upload": "write",
                              "download": "read"}
    list_columns = show_columns = ["id", "filename", "content_type", "size", "sha256",
                                   "description", "released_to_customer", "customer.id",
                                   "product.id", "application.id", "contract.id", "created_on"]
    edit_columns = ["description", "released_to_customer"]
    add_columns = ["description"]
    include_route_methods = {"get", "get_list", "put", "delete", "info", "upload", "download"}
    search_columns = ["customer", "product", "application", "contract", "released_to_customer"]
    order_columns = ["id", "created_on"]

    def post_delete(self, item):
        delete_file(item)

    @api_expose("/upload", methods=["POST"])
    @protect()
    @safe
    @permission_name("upload")
    def upload(self):
        """Upload a document (multipart: file, owner, owner_id, description,
        released_to_customer).
        ---
        post:
          requestBody:
            content:
              multipart/form-data:
                schema:
                  type: object
                  properties:
                    file: {type: string, format: binary}
                    owner: {type: string, enum: [customer, product, application, contract]}
                    owner_id: {type: integer}
                    description: {type: string}
                    released_to_customer: {type: boolean}
          responses:
            201: {description: Stored}
            404: {$ref: '#/components/responses/404'}
            422: {$ref: '#/components/responses/422'}
        """
        owner = request.form.get("owner")
        if owner not in OWNERS:
            return self._refused(InvalidChoiceError("owner"))
        target = visible_owner(self.appbuilder.sm, owner, request.form.get("owner_id"), True)
        if target is None:
            return self.response_404()
        file = request.files.get("file")
        data = read_limited(file.stream, max_upload_bytes()) if file else b""
        try:
            document = store_document(
                owner, target, file.filename if file else None, data,
                request.form.get("description"),
                request.form.get("released_to_customer", "").lower() in ("1", "true", "y"))
        except DomainError as exc:
            return self._refused(exc)
        return self.response(201, id=document.id, sha256=document.sha256,
                             content_type=document.content_type, size=document.size)

    @api_expose("/<int:pk>/download", methods=["GET"])
    @protect()
    @safe
    @permission_name("download")
    def download(self, pk):
        """The document's bytes.
        ---
        get:
          responses:
            200: {description: The file}
            404: {$ref: '#/components/responses/404'}
        """
        document = visible_document(self.appbuilder.sm, pk)
        if document is None:
            return self.response_404()
        return _download(document)


def register(appbuilder):
    appbuilder.add_view_no_menu(DocumentView)
    appbuilder.add_view_no_menu(DocumentsView)
    appbuilder.add_api(DocumentApi)
