"""Core CRM (Dialogsystem): companies, their staff and their customers."""
import enum

from flask_appbuilder import Model
from sqlalchemy import (
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
)
from sqlalchemy.orm import relationship

from app.models.mixins import AuditMixin


class CompanyKind(str, enum.Enum):
    POOL = "POOL"
    INSURER = "INSURER"
    BROKER_GROUP = "BROKER_GROUP"
    BROKER_FIRM = "BROKER_FIRM"
    OTHER = "OTHER"


def enum_column(enum_cls, name, **kw):
    """An enum stored as its name in a VARCHAR with a CHECK constraint, the
    same on SQLite and PostgreSQL (no native PostgreSQL enum to migrate)."""
    return Column(
        Enum(enum_cls, native_enum=False, create_constraint=True, length=20,
             name=name, validate_strings=True),
        **kw,
    )


class AddressMixin:
    street = Column(String(200))
    postcode = Column(String(10))
    city = Column(String(100))
    country = Column(String(2), default="DE")
    email = Column(String(200))
    phone = Column(String(50))


class Company(AuditMixin, AddressMixin, Model):
    """A company (Unternehmen): the pool, an insurer, a broker group or firm."""
    __history__ = True

    __tablename__ = "company"
    __scope_column__ = "id"
    __own_crm__ = True
    id = Column(Integer, primary_key=True)
    name = Column(String(200), nullable=False, index=True)
    kind = enum_column(CompanyKind, "company_kind", nullable=False)
    parent_id = Column(Integer, ForeignKey("company.id"), index=True)
    parent = relationship("Company", remote_side=[id], backref="children")
    # An insurer's number in GDV data (VU-Nummer).
    #: the pool's own tax number and payout account (credit notes, SEPA)
    tax_number = Column(String(20))
    iban = Column(String(34))
    bic = Column(String(11))
    vu_number = Column(String(5), unique=True)
    #: An insurer's default cancellation liability model.
    liability_model_id = Column(Integer, ForeignKey("liability_model.id"))
    liability_model = relationship("LiabilityModel")

    __table_args__ = (CheckConstraint("parent_id IS NULL OR parent_id <> id",
                                      name="ck_company_not_own_parent"),)

    def validate_row(self, session, is_new):
        from app.domain.values import check_tax_number, normalise_bic, normalise_iban

        self.tax_number = check_tax_number(self.tax_number)
        self.iban = normalise_iban(self.iban)
        self.bic = normalise_bic(self.bic)

    def __repr__(self):
        return self.name or ""


class Staff(AuditMixin, AddressMixin, Model):
    """A person of a company with a login to the intranet (Mitarbeiter)."""
    __history__ = True

    __tablename__ = "staff"
    __scope_column__ = "company_id"
    id = Column(Integer, primary_key=True)
    company_id = Column(Integer, ForeignKey("company.id"), nullable=False, index=True)
    company = relationship("Company")
    first_name = Column(String(100), nullable=False)
    last_name = Column(String(100), nullable=False, index=True)
    user_id = Column(Integer, ForeignKey("ab_user.id"), unique=True)
    user = relationship("User", foreign_keys=[user_id])

    @property
    def name(self):
        return f"{self.first_name} {self.last_name}".strip()

    def __repr__(self):
        return self.name


class Customer(AuditMixin, AddressMixin, Model):
    """A customer (Kunde) of a tenant company, optionally with an advisor."""

    __history__ = True

    __tablename__ = "customer"
    __scope_column__ = "company_id"
    __own_crm__ = True
    __principal_columns__ = {"intermediary": "intermediary_id", "customer": "id"}
    id = Column(Integer, primary_key=True)
    company_id = Column(Integer, ForeignKey("company.id"), nullable=False)
    company = relationship("Company")
    intermediary_id = Column(Integer, ForeignKey("intermediary.id"), index=True)
    intermediary = relationship("Intermediary")
    name = Column(String(200), nullable=False)
    first_name = Column(String(100))
    birth_date = Column(Date)
    user_id = Column(Integer, ForeignKey("ab_user.id"), unique=True)
    user = relationship("User", foreign_keys=[user_id])
    #: Art. 18 DSGVO, restriction of processing: hidden from every screen and
    #: the API but the ledger, the export and the restricted customers' screen
    #: (app/security/scope.py); when, by whom, why
    restricted_on = Column(DateTime)
    restricted_by_fk = Column(Integer, ForeignKey("ab_user.id"))
    restricted_by = relationship("User", foreign_keys=[restricted_by_fk])
    restriction_reason = Column(String(500))
    #: retention over: personal data replaced by neutral values
    #: (app/services/privacy.py); set once, never cleared
    anonymised_on = Column(DateTime)

    __table_args__ = (
        Index("ix_customer_company_name", "company_id", "name"),
        # the restricted ones, looked up once per request (few or none)
        Index("ix_customer_restricted_on", "restricted_on"),
        Index("ix_customer_name", "name"),
        # the list's other sort columns, with the id as the list orders
        Index("ix_customer_first_name", "first_name", "id"),
        Index("ix_customer_postcode", "postcode", "id"),
        Index("ix_customer_city", "city", "id"),
    )

    def validate_row(self, session, is_new):
        from sqlalchemy import inspect, select

        from app.domain.intermediaries import check_new_assignment
        from app.models.intermediaries import Intermediary

        changed = is_new or inspect(self).attrs.intermediary_id.history.has_changes()
        if self.intermediary_id is not None and changed:
            # Rule 1: only ACTIVE intermediaries are newly entered as advisor;
            # an advisor who later becomes FORMER stays.
            with session.no_autoflush:
                status = session.execute(select(Intermediary.status).where(
                    Intermediary.id == self.intermediary_id)).scalar()
            check_new_assignment(getattr(status, "value", status), "intermediary")

    @property
    def full_name(self):
        return f"{self.name}, {self.first_name}" if self.first_name else self.name

    def __repr__(self):
        return self.full_name or ""
