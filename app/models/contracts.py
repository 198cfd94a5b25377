"""Applications (Anträge) and contracts (Verträge)."""
import enum
from datetime import date

from flask_appbuilder import Model
from sqlalchemy import (
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    inspect,
    select,
)
from sqlalchemy.orm import relationship

from app.domain import applications as rules
from app.models.crm import enum_column
from app.models.mixins import AuditMixin
from app.models.products import MONEY


class ApplicationStatus(str, enum.Enum):
    DRAFT = "DRAFT"
    SUBMITTED = "SUBMITTED"
    IN_REVIEW = "IN_REVIEW"
    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"
    WITHDRAWN = "WITHDRAWN"


class ContractStatus(str, enum.Enum):
    ACTIVE = "ACTIVE"
    CANCELLED = "CANCELLED"
    ENDED = "ENDED"


class PaymentFrequency(str, enum.Enum):
    MONTHLY = "MONTHLY"
    QUARTERLY = "QUARTERLY"
    HALF_YEARLY = "HALF_YEARLY"
    YEARLY = "YEARLY"
    SINGLE = "SINGLE"


def _v(value):
    return value.value if isinstance(value, enum.Enum) else value


def _status_of(session, model, pk):
    if pk is None:
        return None
    with session.no_autoflush:
        return _v(session.execute(select(model.status).where(model.id == pk)).scalar())


def _newly_set(obj, attr, is_new):
    return getattr(obj, attr) is not None and (
        is_new or inspect(obj).attrs[attr].history.has_changes())


class Application(AuditMixin, Model):
    __history__ = True
    __tablename__ = "application"
    __scope_parent__ = "customer"
    __own_crm__ = True
    __principal_columns__ = {"intermediary": "intermediary_id"}
    id = Column(Integer, primary_key=True)
    customer_id = Column(Integer, ForeignKey("customer.id"), nullable=False, index=True)
    customer = relationship("Customer")
    product_id = Column(Integer, ForeignKey("product.id"), nullable=False)
    product = relationship("Product")
    intermediary_id = Column(Integer, ForeignKey("intermediary.id"), index=True)
    intermediary = relationship("Intermediary")
    combination_id = Column(Integer, ForeignKey("combination.id"))
    combination = relationship("Combination")
    premium = Column(MONEY, nullable=False, default=0)
    start_date = Column(Date)
    term_months = Column(Integer)
    status = enum_column(ApplicationStatus, "application_status", nullable=False,
                         default=ApplicationStatus.DRAFT)
    contract_id = Column(Integer, ForeignKey("contract.id"))
    contract = relationship("Contract", foreign_keys=[contract_id])

    def validate_row(self, session, is_new):
        from app.domain.values import to_decimal
        from app.models.intermediaries import Intermediary

        if is_new and _v(self.status) != "DRAFT":
            raise rules.TransitionError("status", old="—", new=_v(self.status))
        if not is_new and inspect(self).attrs.status.history.has_changes():
            old = inspect(self).attrs.status.history.deleted
            if old and not getattr(self, "_transition_checked", False):
                # Status changes go through transition_application (which checks
                # the table and creates the contract), never through an edit.
                raise rules.TransitionError("status", old=_v(old[0]), new=_v(self.status))
        if is_new or _newly_set(self, "intermediary_id", False) or _newly_set(
                self, "combination_id", False):
            rules.check_new_intermediary(
                _status_of(session, Intermediary, self.intermediary_id),
                self.combination_id is not None)
        to_decimal(self.premium, "premium", 2, 0)
        rules.check_contract_values(self.start_date, self.term_months, None, {})

    def __repr__(self):
        customer = self.customer.full_name if self.customer is not None else ""
        product = self.product.name if self.product is not None else ""
        return f"{customer} – {product}".strip(" –") or f"#{self.id}"


class Contract(AuditMixin, Model):
    __history__ = True
    __tablename__ = "contract"
    __scope_column__ = "managing_company_id"
    __own_crm__ = True
    __principal_columns__ = {"intermediary": "intermediary_id", "customer": "customer_id"}
    id = Column(Integer, primary_key=True)
    policy_number = Column(String(40), nullable=False)
    insurer_id = Column(Integer, ForeignKey("company.id"), nullable=False, index=True)
    insurer = relationship("Company", foreign_keys=[insurer_id])
    customer_id = Column(Integer, ForeignKey("customer.id"), nullable=False, index=True)
    customer = relationship("Customer")
    product_id = Column(Integer, ForeignKey("product.id"), nullable=False, index=True)
    product = relationship("Product")
    line_of_business_id = Column(Integer, ForeignKey("line_of_business.id"), index=True)
    line_of_business = relationship("LineOfBusiness")
    intermediary_id = Column(Integer, ForeignKey("intermediary.id"), index=True)
    intermediary = relationship("Intermediary")
    combination_id = Column(Integer, ForeignKey("combination.id"), index=True)
    combination = relationship("Combination")
    start_date = Column(Date, nullable=False)
    term_months = Column(Integer)
    payment_frequency = enum_column(PaymentFrequency, "payment_frequency", nullable=False,
                                    default=PaymentFrequency.MONTHLY)
    premium = Column(MONEY, nullable=False, default=0)
    premium_supplementary = Column(MONEY, nullable=False, default=0)
    valuation_sum = Column(MONEY)
    status = enum_column(ContractStatus, "contract_status", nullable=False,
                         default=ContractStatus.ACTIVE, index=True)
    policed_on = Column(Date, default=date.today)
    cancelled_on = Column(Date)
    managing_company_id = Column(Integer, ForeignKey("company.id"), nullable=False, index=True)
    managing_company = relationship("Company", foreign_keys=[managing_company_id])
    #: Conversion: the pool contract this broker-firm contract was copied from.
    source_contract_id = Column(Integer, ForeignKey("contract.id"))

    __table_args__ = (
        # per managing company: a broker firm's converted copy keeps the number
        UniqueConstraint("managing_company_id", "insurer_id", "policy_number",
                         name="uq_contract_company_insurer_policy"),
        # one copy of a pool contract per broker firm (conversion is idempotent)
        UniqueConstraint("managing_company_id", "source_contract_id",
                         name="uq_contract_company_source"),
        Index("ix_contract_policy_number", "policy_number"),
        # sort columns of the list; with the id, as the list orders (few
        # distinct values: without it every row of a value is sorted)
        Index("ix_contract_start_date", "start_date", "id"),
        Index("ix_contract_premium", "premium", "id"),
    )

    @property
    def company_id(self):
        return self.managing_company_id

    def __repr__(self):
        return self.policy_number or f"#{self.id}"

    def validate_row(self, session, is_new):
        from app.domain.values import to_decimal
        from app.models.crm import Customer
        from app.models.intermediaries import Intermediary
        from app.models.products import Product

        if not (self.policy_number or "").strip():
            raise rules.RequiredFieldError("policy_number")
        self.policy_number = self.policy_number.strip()
        with session.no_autoflush:
            product = session.get(Product, self.product_id)
        if product is not None:
            # Denormalised for the unique policy number per insurer and for search.
            self.insurer_id = product.insurer_id
            self.line_of_business_id = product.line_of_business_id
        if is_new or _newly_set(self, "intermediary_id", False) or _newly_set(
                self, "combination_id", False) or (
                not is_new and inspect(self).attrs.combination_id.history.has_changes()):
            with session.no_autoflush:
                customer = session.get(Customer, self.customer_id)
            advisor = customer.intermediary_id if customer is not None else None
            chosen = rules.contract_intermediary(
                self.intermediary_id, _status_of(session, Intermediary, self.intermediary_id),
                advisor, _status_of(session, Intermediary, advisor),
                self.combination_id is not None)
            if chosen != self.intermediary_id:
                # Set the relation, not only the column: a relation set to None
                # by the form would otherwise win at the flush.
                with session.no_autoflush:
                    self.intermediary = session.get(Intermediary, chosen)
                self.intermediary_id = chosen
        amounts = {f: to_decimal(getattr(self, f), f, 2, 0)
                   for f in ("premium", "premium_supplementary", "valuation_sum")}
        rules.check_contract_values(self.start_date, self.term_months, self.cancelled_on, amounts)
        with session.no_autoflush:
            clash = session.execute(select(Contract.id).where(
                Contract.managing_company_id == self.managing_company_id,
                Contract.insurer_id == self.insurer_id,
                Contract.policy_number == self.policy_number,
                Contract.id != (self.id or 0))).first()
        if clash:
            from app.domain.errors import N_, InvalidValueError
            raise InvalidValueError("policy_number", N_(
                "This policy number already exists for this insurer."))
