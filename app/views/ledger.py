"""Receipts (booked on save), the read-only ledger, and the actions cancel,
uncancel and Fixum."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from flask import abort, request, url_for
from flask_appbuilder import BaseView, has_access
from flask_appbuilder import expose as view_expose
from flask_appbuilder.api import BaseApi, expose, protect, safe
from flask_appbuilder.security.decorators import permission_name
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, false, func, or_, select
from sqlalchemy.orm import selectinload

from app.domain.errors import N_, DomainError, InvalidValueError
from app.extensions import db
from app.models.contracts import Contract
from app.models.ledger import Booking, BookingKind, MissingRate, Receipt
from app.services.ledger import (
    book_fixum,
    bookings_for_receipt,
    cancel_contract,
    uncancel_contract,
)
from app.views.base import (
    PoolModelRestApi,
    PoolModelView,
    RefusalMixin,
    chosen_in_search,
    datamodel,
    get_visible,
)
from app.views.lookup import lookup_field

LABELS = {"contract": _l("Contract"), "contract.policy_number": _l("Contract"),
          "kind": _l("Kind"), "amount": _l("Amount €"), "value_date": _l("Value date"),
          "reference": _l("Insurer reference"), "source": _l("Source"),
          "intermediary": _l("Intermediary"), "intermediary.name": _l("Intermediary"),
          "booking_date": _l("Booking date"), "basis": _l("Basis"), "rate": _l("Rate %"),
          "rule": _l("Rule"), "receipt_kind": _l("From receipt kind"),
          "level_rank": _l("Level"), "reverses": _l("Reverses")}


class ReceiptView(PoolModelView):
    datamodel = datamodel(Receipt, eager=("contract",))
    class_permission_name = "Receipt"
    list_title = _l("Receipts")
    show_title = add_title = _l("Receipt")
    label_columns = LABELS
    include_route_methods = {"list", "show", "add"}
    list_columns = ["contract.policy_number", "kind", "amount", "value_date", "reference"]
    show_columns = ["contract", "kind", "amount", "value_date", "reference", "source"]
    add_columns = ["contract", "kind", "amount", "value_date", "reference"]
    search_columns = ["kind", "value_date", "reference"]
    order_columns = ["value_date"]                  # indexed: over a million rows a month
    base_order = ("value_date", "desc")
    add_form_extra_fields = {"contract": lookup_field("Contract", "contract", required=True)}

    def pre_add(self, item):
        item.source = "manual"
        db.session.add(item)
        bookings, _missing = bookings_for_receipt(item)
        db.session.add_all(bookings)


class BookingView(PoolModelView):
    """An intermediary's account (Kontoauszug): read only."""

    datamodel = datamodel(Booking, eager=("intermediary", "contract"))
    class_permission_name = "Booking"
    list_title = _l("Bookings")
    show_title = _l("Booking")
    label_columns = LABELS
    include_route_methods = {"list", "show"}
    list_columns = ["booking_date", "intermediary.name", "kind", "amount",
                    "contract.policy_number", "rate", "rule"]
    show_columns = ["booking_date", "intermediary", "kind", "amount", "contract", "basis",
                    "rate", "receipt_kind", "level_rank", "rule", "reverses"]
    search_columns = ["intermediary", "kind", "booking_date"]
    search_form_query_rel_fields = {"intermediary": chosen_in_search("intermediary")}
    order_columns = ["booking_date"]                # indexed: millions of rows a month
    base_order = ("booking_date", "desc")


class ContractBookingView(BookingView):
    """A contract's bookings, with the rule, rate, basis and level behind each line."""

    list_title = _l("Bookings")
    list_columns = ["booking_date", "intermediary.name", "kind", "receipt_kind", "basis",
                    "rate", "level_rank", "amount", "rule"]


class ReceiptApi(PoolModelRestApi):
    resource_name = "receipt"
    datamodel = datamodel(Receipt)
    class_permission_name = "Receipt"
    include_route_methods = {"get", "get_list", "post", "info"}
    list_columns = show_columns = ["id", "contract.id", "kind", "amount", "value_date",
                                   "reference", "source"]
    add_columns = ["contract", "kind", "amount", "value_date", "reference"]
    search_columns = ["contract", "kind", "value_date", "reference"]
    order_columns = ["id", "value_date"]

    def pre_add(self, item):
        # The receipt and its bookings commit together (datamodel.add).
        item.source = "api"
        db.session.add(item)
        bookings, _missing = bookings_for_receipt(item)
        db.session.add_all(bookings)


class BookingApi(PoolModelRestApi):
    resource_name = "booking"
    datamodel = datamodel(Booking)
    class_permission_name = "Booking"
    include_route_methods = {"get", "get_list", "info"}
    list_columns = show_columns = [
        "id", "intermediary.id", "kind", "amount", "booking_date", "contract.id", "receipt.id",
        "reverses.id", "statement_id", "basis", "rate", "receipt_kind", "level_rank", "rule"]
    search_columns = ["intermediary", "kind", "booking_date", "contract", "receipt"]
    order_columns = ["id", "booking_date"]


def _day(value, field="date"):
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise InvalidValueError(field, N_("Give a date as YYYY-MM-DD.")) from None


class ContractActionsApi(RefusalMixin, BaseApi):
    """POST /api/v1/contract/<id>/cancel and /uncancel."""

    resource_name = "contract"
    class_permission_name = "Contract"
    method_permission_name = {"cancel": "write", "uncancel": "write"}

    @expose("/<int:pk>/cancel", methods=["POST"])
    @protect()
    @safe
    @permission_name("cancel")
    def cancel(self, pk):
        """Cancel with charge-backs; cancelling again changes nothing.
        ---
        post:
          requestBody:
            content:
              application/json:
                schema: {type: object, properties: {date: {type: string, format: date}, reason: {type: string}}}
          responses:
            200: {description: Cancelled}
            404: {$ref: '#/components/responses/404'}
            422: {$ref: '#/components/responses/422'}
        """
        contract = get_visible(Contract, pk)
        if contract is None:
            return self.response_404()
        data = request.get_json(silent=True) or {}
        try:
            made = cancel_contract(contract, _day(data.get("date")), data.get("reason"))
        except DomainError as exc:
            return self._refused(exc)
        return self.response(200, id=contract.id, status=contract.status.value,
                             bookings=[{"id": b.id, "intermediary": b.intermediary_id,
                                        "amount": str(b.amount)} for b in made])

    @expose("/<int:pk>/uncancel", methods=["POST"])
    @protect()
    @safe
    @permission_name("uncancel")
    def uncancel(self, pk):
        """Withdraw the cancellation, reversing its charge-backs.
        ---
        post:
          responses:
            200: {description: Withdrawn}
            404: {$ref: '#/components/responses/404'}
        """
        contract = get_visible(Contract, pk)
        if contract is None:
            return self.response_404()
        made = uncancel_contract(contract)
        return self.response(200, id=contract.id, status=contract.status.value,
                             bookings=[{"id": b.id, "amount": str(b.amount)} for b in made])


class CorrectionApi(RefusalMixin, BaseApi):
    """POST /api/v1/booking/correction: a manual correction by staff."""

    resource_name = "booking"
    class_permission_name = "Booking"
    method_permission_name = {"correction": "write"}

    @expose("/correction", methods=["POST"])
    @protect()
    @safe
    @permission_name("correction")
    def correction(self):
        """A correction booking with a reason; with `reverses`, the exact negative
        of that booking (at most once).
        ---
        post:
          requestBody:
            content:
              application/json:
                schema:
                  type: object
                  properties:
                    intermediary: {type: integer}
                    amount: {type: string}
                    date: {type: string, format: date}
                    reason: {type: string}
                    reverses: {type: integer}
          responses:
            201: {description: Booked}
            404: {$ref: '#/components/responses/404'}
            422: {$ref: '#/components/responses/422'}
        """
        from app.models.intermediaries import Intermediary
        from app.services.ledger import book_correction

        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            return self.response_400(message="Request is not a JSON object")
        person = get_visible(Intermediary, data.get("intermediary"))
        if person is None:
            return self.response_404()
        try:
            booking = book_correction(person.id, data.get("amount"),
                                      _day(data.get("date")), str(data.get("reason") or ""),
                                      data.get("reverses"))
        except DomainError as exc:
            return self._refused(exc)
        return self.response(201, id=booking.id, amount=str(booking.amount))


class FixumApi(RefusalMixin, BaseApi):
    resource_name = "fixum"
    class_permission_name = "Booking"
    method_permission_name = {"book": "write"}

    @expose("/book", methods=["POST"])
    @protect()
    @safe
    @permission_name("book")
    def book(self):
        """Fixum bookings for a month (once per intermediary and month).
        ---
        post:
          requestBody:
            content:
              application/json:
                schema: {type: object, properties: {month: {type: string}}}
          responses:
            200: {description: Booked}
            422: {$ref: '#/components/responses/422'}
        """
        data = request.get_json(silent=True) or {}
        try:
            made = book_fixum(str(data.get("month", "")))
        except DomainError as exc:
            return self._refused(exc)
        return self.response(200, month=data.get("month"), booked=len(made))


class MissingRateView(PoolModelView):
    """Receipts that found no rate: the share was 0; fix the rates and correct."""

    datamodel = datamodel(MissingRate, eager=("contract", "intermediary", "receipt"))
    class_permission_name = "Booking"
    list_title = _l("Missing rates")
    label_columns = {**LABELS, "receipt.value_date": _l("Value date"),
                     "receipt.kind": _l("Kind"), "receipt.amount": _l("Amount €")}
    include_route_methods = {"list"}
    list_columns = ["contract.policy_number", "intermediary.name", "receipt.kind",
                    "receipt.amount", "receipt.value_date"]
    search_columns = ["intermediary"]
    search_form_query_rel_fields = {"intermediary": chosen_in_search("intermediary")}
    base_order = ("id", "desc")


def register(appbuilder):
    from app.models.intermediaries import Combination
    from app.views.lookup import register_lookup

    register_lookup("combination", Combination, "Contract", [Combination.name],
                    [Combination.name])
    register_lookup("contract", Contract, "Contract", [Contract.policy_number],
                    [Contract.policy_number])
    appbuilder.add_view(ReceiptView, "Receipts", label=_l("Receipts"), icon="fa-coins",
                        category="Commission", category_label=_l("Commission"))
    appbuilder.add_view(BookingView, "Bookings", label=_l("Bookings"), icon="fa-book-open",
                        category="Commission")
    appbuilder.add_view(MissingRateView, "Missing rates", label=_l("Missing rates"),
                        icon="fa-exclamation-triangle", category="Commission")
    appbuilder.add_view_no_menu(AccountView)
    appbuilder.add_view_no_menu(ContractBookingView)
    for api in (ReceiptApi, BookingApi, ContractActionsApi, CorrectionApi, FixumApi):
        appbuilder.add_api(api)


#: bookings per page of an account
ACCOUNT_PAGE = 100


def _before(booking):
    """Bookings before this one in the account's order (date, id)."""
    return or_(Booking.booking_date < booking.booking_date,
               and_(Booking.booking_date == booking.booking_date, Booking.id < booking.id))


def _after(booking):
    return or_(Booking.booking_date > booking.booking_date,
               and_(Booking.booking_date == booking.booking_date, Booking.id > booking.id))


class AccountView(BaseView):  # noqa: D101
    """An intermediary's account (Kontoauszug): bookings with a running balance."""

    route_base = "/account"
    class_permission_name = "Booking"
    #: also an intermediary's own account in the extranet (former ones too)
    extranet = True
    former_allowed = True
    method_permission_name = {"show": "read"}
    default_view = "show"

    @view_expose("/<int:pk>")
    @has_access
    def show(self, pk):
        from app.models.intermediaries import Intermediary

        person = get_visible(Intermediary, pk)
        if person is None:
            abort(404)
        try:
            start = date.fromisoformat(request.args["from"]) if request.args.get("from") else None
            end = date.fromisoformat(request.args["to"]) if request.args.get("to") else None
        except ValueError:
            start = end = None
        kind = request.args.get("kind") or None
        page = max(0, min(request.args.get("page", 0, type=int), 10_000))
        opening = Decimal(0)
        if start is not None:
            opening = Decimal(db.session.execute(select(func.coalesce(func.sum(Booking.amount), 0))
                                                 .where(Booking.intermediary_id == pk,
                                                        Booking.booking_date < start)).scalar())
        # One page of bookings, newest page first (the top of a large
        # hierarchy books tens of thousands a month), and the running balance
        # of its lines from one sum before the page and the bookings of
        # every kind within it.
        base = [Booking.intermediary_id == pk]
        if start is not None:
            base.append(Booking.booking_date >= start)
        stmt = select(Booking).where(*base).options(selectinload(Booking.contract))
        if end is not None:
            stmt = stmt.where(Booking.booking_date <= end)
        if kind:
            stmt = stmt.where(Booking.kind == BookingKind(kind) if kind in BookingKind.__members__
                              else false())
        shown = db.session.execute(stmt.order_by(Booking.booking_date.desc(), Booking.id.desc())
                                   .offset(page * ACCOUNT_PAGE).limit(ACCOUNT_PAGE + 1)
                                   ).scalars().all()
        earlier = len(shown) > ACCOUNT_PAGE
        shown = shown[:ACCOUNT_PAGE][::-1]
        rows = []
        if shown:
            first, last = shown[0], shown[-1]
            running = opening + Decimal(db.session.execute(
                select(func.coalesce(func.sum(Booking.amount), 0))
                .where(*base, _before(first))).scalar())
            balances = {}
            for pk_, amount in db.session.execute(
                    select(Booking.id, Booking.amount)
                    .where(*base, ~_before(first), ~_after(last))
                    .order_by(Booking.booking_date, Booking.id)):
                running += amount
                balances[pk_] = running
            rows = [(b, balances[b.id]) for b in shown]
            if earlier:
                opening = rows[0][1] - first.amount     # before the first line shown

        def page_url(number):
            params = {k: v for k, v in request.args.items() if k != "page"}
            return url_for("AccountView.show", pk=pk, **params, **(
                {"page": number} if number else {}))
        return self.render_template("account.html", person=person, rows=rows, opening=opening,
                                    show_opening=start is not None or earlier,
                                    earlier_url=page_url(page + 1) if earlier else None,
                                    later_url=page_url(page - 1) if page else None,
                                    args=request.args, kinds=[k.value for k in BookingKind])
