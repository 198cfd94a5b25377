"""Receipts (Provisionseingänge) and the ledger of bookings (Buchungen).

Bookings are never changed or deleted: a correction is a new booking that
names the one it reverses (GoBD). Enforced three times: the session guard
(app/models/guards.py), database triggers (ledger_triggers below, installed
by migration), and no write screens or API for bookings.
"""
import enum

from flask_appbuilder import Model
from sqlalchemy import (
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import relationship

from app.models.crm import enum_column
from app.models.mixins import AuditMixin
from app.models.products import MONEY, RATE


class ReceiptKind(str, enum.Enum):
    AP = "AP"
    AP_ZV = "AP_ZV"
    FP = "FP"


class BookingKind(str, enum.Enum):
    AP = "AP"
    AP_ZV = "AP_ZV"
    FP = "FP"
    OVERRIDE = "OVERRIDE"
    STORNO = "STORNO"
    RESERVE_RETAIN = "RESERVE_RETAIN"
    RESERVE_RELEASE = "RESERVE_RELEASE"
    FIXUM = "FIXUM"
    CORRECTION = "CORRECTION"


class Receipt(AuditMixin, Model):
    __tablename__ = "receipt"
    __scope_parent__ = "contract"
    id = Column(Integer, primary_key=True)
    contract_id = Column(Integer, ForeignKey("contract.id"), nullable=False, index=True)
    contract = relationship("Contract")
    insurer_id = Column(Integer, ForeignKey("company.id"), nullable=False)
    kind = enum_column(ReceiptKind, "receipt_kind", nullable=False)
    amount = Column(MONEY, nullable=False)
    value_date = Column(Date, nullable=False)
    source = Column(String(40), nullable=False, default="manual")
    reference = Column(String(80))

    def validate_row(self, session, is_new):
        from sqlalchemy import select

        from app.domain.errors import N_, InvalidValueError, RequiredFieldError
        from app.domain.values import to_decimal
        from app.models.contracts import Contract

        if not is_new:
            raise InvalidValueError("receipt", N_(
                "A booked receipt cannot be changed; enter a correcting receipt."))
        if self.value_date is None:
            raise RequiredFieldError("value_date")
        if to_decimal(self.amount, "amount", 2) is None:
            raise RequiredFieldError("amount")
        with session.no_autoflush:
            contract = session.get(Contract, self.contract_id)
            self.insurer_id = contract.insurer_id
            self.reference = (self.reference or "").strip() or None
            if self.reference and session.execute(select(Receipt.id).where(
                    Receipt.insurer_id == self.insurer_id,
                    Receipt.reference == self.reference)).first():
                raise InvalidValueError("reference", N_(
                    "This insurer reference has already been booked."))

    __table_args__ = (
        # A reference of the same insurer is booked once (NULLs are not compared).
        UniqueConstraint("insurer_id", "reference", name="uq_receipt_insurer_reference"),
        # the list, newest first (a day holds tens of thousands: with the id)
        Index("ix_receipt_value_date", "value_date", "id"),
    )


class Booking(Model):
    __tablename__ = "booking"
    __principal_columns__ = {"intermediary": "intermediary_id"}
    __former_visible__ = True
    id = Column(Integer, primary_key=True)
    intermediary_id = Column(Integer, ForeignKey("intermediary.id"), nullable=False)
    intermediary = relationship("Intermediary")
    kind = enum_column(BookingKind, "booking_kind", nullable=False)
    amount = Column(MONEY, nullable=False)
    booking_date = Column(Date, nullable=False)
    contract_id = Column(Integer, ForeignKey("contract.id"), index=True)
    contract = relationship("Contract")
    receipt_id = Column(Integer, ForeignKey("receipt.id"), index=True)
    receipt = relationship("Receipt", backref="bookings")
    basis = Column(Numeric(16, 4))
    rate = Column(RATE)
    receipt_kind = Column(String(6))
    level_rank = Column(Integer)
    liability_model_id = Column(Integer, ForeignKey("liability_model.id"))
    rule = Column(String(120), nullable=False, default="")
    #: the booking this one cancels (corrections, withdrawn charge-backs)
    reverses_id = Column(Integer, ForeignKey("booking.id"), unique=True)
    reverses = relationship("Booking", remote_side=[id], foreign_keys=[reverses_id])
    #: the AP booking a charge-back or a reserve booking belongs to
    origin_id = Column(Integer, ForeignKey("booking.id"), index=True)
    #: FIXUM: the month "YYYY-MM", at most one per intermediary and month
    fixum_month = Column(String(7))
    reason = Column(String(200))
    statement_id = Column(Integer)
    created_on = Column(Date)
    created_by_fk = Column(Integer, ForeignKey("ab_user.id"))
    #: SHA-256 over the previous booking's hash and this one's content
    #: (app/domain/chain.py), set as it is inserted
    row_hash = Column(String(64), nullable=False)

    __table_args__ = (
        UniqueConstraint("intermediary_id", "fixum_month", name="uq_booking_fixum_month"),
        # an intermediary's account in its order, and its sums read from the
        # index alone: the top of a large hierarchy has 50,000 bookings a
        # month spread over as many pages of the table
        Index("ix_booking_intermediary_date", "intermediary_id", "booking_date", "id", "amount"),
        # the retained reserve of an intermediary (the extranet's overview)
        Index("ix_booking_reserve_retain", "intermediary_id",
              postgresql_where=text("kind = 'RESERVE_RETAIN'"),
              sqlite_where=text("kind = 'RESERVE_RETAIN'")),
        # the list, newest first (a day holds 100,000s: with the id)
        Index("ix_booking_date", "booking_date", "id"),
        # settled once by statement_id: room on the page for a HOT update (0014)
        {"postgresql_with": {"fillfactor": 50}},
    )


#: Columns a trigger compares: only statement_id may change, once, from NULL.
IMMUTABLE = ["id", "intermediary_id", "kind", "amount", "booking_date", "contract_id",
             "receipt_id", "basis", "rate", "receipt_kind", "level_rank", "liability_model_id",
             "rule", "reverses_id", "origin_id", "fixum_month", "reason", "created_on",
             "created_by_fk", "row_hash"]


def ledger_triggers(dialect: str) -> list[str]:
    """DDL of the triggers that refuse UPDATE (but setting statement_id once)
    and DELETE of bookings, in the database itself."""
    changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" if dialect == "sqlite"
                          else f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in IMMUTABLE)
    restated = ("OLD.statement_id IS NOT NULL" if dialect == "sqlite"
                else "OLD.statement_id IS NOT NULL")
    if dialect == "sqlite":
        return [
            "CREATE TRIGGER booking_no_update BEFORE UPDATE ON booking "
            f"WHEN {changed} OR {restated} "
            "BEGIN SELECT RAISE(ABORT, 'bookings are immutable'); END",
            "CREATE TRIGGER booking_no_delete BEFORE DELETE ON booking "
            "BEGIN SELECT RAISE(ABORT, 'bookings are immutable'); END",
        ]
    # PostgreSQL: the condition in WHEN, evaluated by the executor; the
    # function (which only refuses) runs for an offending row alone. A
    # PL/pgSQL check called for every row cost a quarter of settling a month.
    return [
        "CREATE OR REPLACE FUNCTION booking_refuse_change() RETURNS trigger AS $$ BEGIN "
        "RAISE EXCEPTION 'bookings are immutable'; END $$ LANGUAGE plpgsql",
        "CREATE TRIGGER booking_immutable BEFORE UPDATE ON booking FOR EACH ROW "
        f"WHEN ({restated} OR {changed}) EXECUTE FUNCTION booking_refuse_change()",
        "CREATE TRIGGER booking_no_delete BEFORE DELETE ON booking FOR EACH ROW "
        "EXECUTE FUNCTION booking_refuse_change()",
    ]


def drop_ledger_triggers(dialect: str) -> list[str]:
    if dialect == "sqlite":
        return ["DROP TRIGGER IF EXISTS booking_no_update",
                "DROP TRIGGER IF EXISTS booking_no_delete"]
    return ["DROP TRIGGER IF EXISTS booking_immutable ON booking",
            "DROP TRIGGER IF EXISTS booking_no_delete ON booking",
            "DROP FUNCTION IF EXISTS booking_refuse_change()"]


class LedgerHead(Model):
    """The hash chain's head: the last booking's id and hash (one row).
    Updated by every transaction that books, which locks it until commit."""

    __tablename__ = "ledger_head"
    id = Column(Integer, primary_key=True)
    booking_id = Column(Integer, nullable=False, default=0)
    hash = Column(String(64), nullable=False)


class MissingRate(Model):
    """A receipt that found no rate for one of its intermediaries (share 0);
    listed for staff and in the settlement answer."""

    __tablename__ = "missing_rate"
    __scope_parent__ = "contract"
    id = Column(Integer, primary_key=True)
    receipt_id = Column(Integer, ForeignKey("receipt.id"), nullable=False, index=True)
    receipt = relationship("Receipt")
    contract_id = Column(Integer, ForeignKey("contract.id"), nullable=False, index=True)
    contract = relationship("Contract")
    intermediary_id = Column(Integer, ForeignKey("intermediary.id"), nullable=False, index=True)
    intermediary = relationship("Intermediary")


class StatementStatus(str, enum.Enum):
    #: made by a final run under four-eyes approval, awaiting release: no
    #: number, no payout yet
    DRAFT = "DRAFT"
    #: issued: numbered, paid out, never changed
    FINAL = "FINAL"


class RunStatus(str, enum.Enum):
    AWAITING_RELEASE = "AWAITING_RELEASE"
    RELEASED = "RELEASED"


class SettlementRun(Model):
    """One final settlement run: the statements it made, who ran and who
    released it (four eyes), its payout file."""

    __tablename__ = "settlement_run"
    id = Column(Integer, primary_key=True)
    period = Column(String(7), nullable=False, index=True)
    status = Column(String(20), nullable=False)
    statements = Column(Integer, nullable=False, default=0)
    payout_total = Column(MONEY, nullable=False, default=0)
    #: JSON: intermediaries whose statement was withheld (no tax number)
    withheld = Column(Text, nullable=False, default="[]")
    created_on = Column(DateTime, nullable=False)
    created_by_fk = Column(Integer, ForeignKey("ab_user.id"))
    released_on = Column(DateTime)
    released_by_fk = Column(Integer, ForeignKey("ab_user.id"))
    #: the payout file (pain.001), made once at first download, and the
    #: payouts it held back (JSON)
    sepa_xml = Column(LargeBinary)
    sepa_sha256 = Column(String(64))
    sepa_held = Column(Text)


class Statement(Model):
    """A final statement (Courtageabrechnung) of one intermediary and month.
    Never changed once issued; numbers are gap-free per year."""

    __tablename__ = "statement"
    __principal_columns__ = {"intermediary": "intermediary_id"}
    __former_visible__ = True
    __scope_parent__ = "intermediary"
    id = Column(Integer, primary_key=True)
    number = Column(String(20), unique=True)
    year = Column(Integer)
    sequence = Column(Integer)
    intermediary_id = Column(Integer, ForeignKey("intermediary.id"), nullable=False)
    intermediary = relationship("Intermediary")
    run_id = Column(Integer, ForeignKey("settlement_run.id"), index=True)
    run = relationship("SettlementRun")
    period = Column(String(7), nullable=False, index=True)
    opening_balance = Column(MONEY, nullable=False)
    total = Column(MONEY, nullable=False)
    payout = Column(MONEY, nullable=False)
    carry_forward = Column(MONEY, nullable=False)
    #: retained cancellation reserve after the period (for the credit note)
    reserve_balance = Column(MONEY, nullable=False, default=0)
    status = Column(String(10), nullable=False, default="FINAL")
    created_on = Column(Date, nullable=False)

    __table_args__ = (
        UniqueConstraint("intermediary_id", "period", name="uq_statement_intermediary_period"),
        UniqueConstraint("year", "sequence", name="uq_statement_year_sequence"),
    )

    def validate_row(self, session, is_new):
        from app.domain.errors import N_, InvalidValueError

        if not is_new:
            raise InvalidValueError("statement", N_("A final statement is never changed."))


class StatementPdf(Model):
    """The issued credit note as PDF: made once, stored with its SHA-256, never
    made again in place."""

    __tablename__ = "statement_pdf"
    id = Column(Integer, primary_key=True)
    statement_id = Column(Integer, ForeignKey("statement.id"), nullable=False, unique=True)
    pdf = Column(LargeBinary, nullable=False)
    sha256 = Column(String(64), nullable=False)
    created_on = Column(DateTime, nullable=False)

    def validate_row(self, session, is_new):
        from app.domain.errors import N_, InvalidValueError

        if not is_new:
            raise InvalidValueError("pdf", N_("An issued credit note is never made again."))
