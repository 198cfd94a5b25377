"""Intermediaries (Vermittler), their rates, hierarchy entries and combinations."""
import enum

from flask_appbuilder import Model
from sqlalchemy import (
    Boolean,
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

from app.domain import combinations as combo_rules
from app.domain import hierarchy as hierarchy_rules
from app.domain import intermediaries as rules
from app.domain import rates as rate_rules
from app.domain.values import (
    check_rate,
    check_register_number,
    check_tax_number,
    normalise_bic,
    normalise_iban,
    to_decimal,
)
from app.models.crm import AddressMixin, enum_column
from app.models.mixins import AuditMixin
from app.models.products import MONEY, RATE


class IntermediaryStatus(str, enum.Enum):
    ACTIVE = "ACTIVE"
    PROSPECT = "PROSPECT"
    FORMER = "FORMER"
    GROUP = "GROUP"


def _old_value(obj, attr):
    hist = inspect(obj).attrs[attr].history
    return hist.deleted[0] if hist.deleted else None


def _value(v):
    return v.value if isinstance(v, enum.Enum) else v


class Intermediary(AuditMixin, AddressMixin, Model):
    __history__ = True
    __tablename__ = "intermediary"
    __principal_columns__ = {"intermediary": "id"}
    __former_visible__ = True
    __scope_column__ = "company_id"
    id = Column(Integer, primary_key=True)
    name = Column(String(200), nullable=False, index=True)
    status = enum_column(IntermediaryStatus, "intermediary_status", nullable=False,
                         default=IntermediaryStatus.ACTIVE)
    company_id = Column(Integer, ForeignKey("company.id"), nullable=False, index=True)
    company = relationship("Company")
    group_id = Column(Integer, ForeignKey("intermediary.id"), index=True)
    group = relationship("Intermediary", remote_side=[id], backref="group_members")
    register_number = Column(String(20))
    tax_number = Column(String(20))
    iban = Column(String(34))
    bic = Column(String(11))
    reserve_rate = Column(RATE, nullable=False, default=0)
    reserve_cap = Column(MONEY)
    fixum = Column(MONEY, nullable=False, default=0)
    #: the extranet login of this intermediary
    user_id = Column(Integer, ForeignKey("ab_user.id"), unique=True)
    user = relationship("User", foreign_keys=[user_id])

    __table_args__ = (
        # sort columns of the list, with the id as the list orders
        Index("ix_intermediary_status", "status", "id"),
        Index("ix_intermediary_city", "city", "id"),
    )

    def validate_row(self, session, is_new):
        status = _value(self.status)
        if not is_new and inspect(self).attrs.status.history.has_changes():
            rules.check_status_change(_value(_old_value(self, "status")), status)
        if self.group_id is not None:
            with session.no_autoflush:
                group_status = session.execute(
                    select(Intermediary.status).where(Intermediary.id == self.group_id)).scalar()
            if self.group_id == self.id:  # its own group: refused by check_group
                group_status = status
            rules.check_group(status, _value(group_status) or "missing")
        self.register_number = check_register_number(self.register_number)
        self.tax_number = check_tax_number(self.tax_number)
        self.iban = normalise_iban(self.iban)
        self.bic = normalise_bic(self.bic)
        check_rate(self.reserve_rate, "reserve_rate")
        to_decimal(self.reserve_cap, "reserve_cap", 2, 0)
        to_decimal(self.fixum, "fixum", 2)

    def __repr__(self):
        return self.name or ""


class IntermediaryRate(AuditMixin, Model):
    """A rate row of the contract percentage model."""

    __history__ = True

    __tablename__ = "intermediary_rate"
    __principal_columns__ = {"intermediary": "intermediary_id"}
    __scope_parent__ = "intermediary"
    id = Column(Integer, primary_key=True)
    intermediary_id = Column(Integer, ForeignKey("intermediary.id"), nullable=False, index=True)
    intermediary = relationship("Intermediary", backref="rates")
    insurer_id = Column(Integer, ForeignKey("company.id"))
    insurer = relationship("Company")
    line_of_business_id = Column(Integer, ForeignKey("line_of_business.id"))
    line_of_business = relationship("LineOfBusiness")
    product_id = Column(Integer, ForeignKey("product.id"))
    product = relationship("Product")
    term_min = Column(Integer)
    term_max = Column(Integer)
    ap_rate = Column(RATE, nullable=False, default=0)
    ap_zv_rate = Column(RATE, nullable=False, default=0)
    fp_rate = Column(RATE, nullable=False, default=0)
    liability_model_id = Column(Integer, ForeignKey("liability_model.id"))
    liability_model = relationship("LiabilityModel")
    liability_from_insurer = Column(Boolean, nullable=False, default=False)

    def to_domain(self) -> rate_rules.RateRow:
        return rate_rules.RateRow(
            self.id, self.insurer_id, self.line_of_business_id, self.product_id,
            self.term_min, self.term_max, self.ap_rate, self.ap_zv_rate, self.fp_rate,
            self.liability_model_id, bool(self.liability_from_insurer))

    def validate_row(self, session, is_new):
        for field in ("ap_rate", "ap_zv_rate", "fp_rate"):
            check_rate(getattr(self, field), field)
        with session.no_autoflush:
            siblings = session.execute(select(IntermediaryRate).where(
                IntermediaryRate.intermediary_id == self.intermediary_id,
                IntermediaryRate.id != (self.id or 0))).scalars().all()
        rate_rules.check_row(self.to_domain(), [s.to_domain() for s in siblings])


class IntermediaryLevel(AuditMixin, Model):
    """Vermittlerstufe: from `valid_from`, the career level and the supervisor."""

    __history__ = True

    __tablename__ = "intermediary_level"
    __principal_columns__ = {"intermediary": "intermediary_id"}
    __scope_parent__ = "intermediary"
    id = Column(Integer, primary_key=True)
    intermediary_id = Column(Integer, ForeignKey("intermediary.id"), nullable=False)
    intermediary = relationship("Intermediary", foreign_keys=[intermediary_id],
                                backref="levels")
    valid_from = Column(Date, nullable=False)
    career_level_id = Column(Integer, ForeignKey("career_level.id"))
    career_level = relationship("CareerLevel")
    supervisor_id = Column(Integer, ForeignKey("intermediary.id"), index=True)
    supervisor = relationship("Intermediary", foreign_keys=[supervisor_id])

    __table_args__ = (UniqueConstraint("intermediary_id", "valid_from",
                                       name="uq_intermediary_level_date"),)

    def to_domain(self) -> hierarchy_rules.LevelEntry:
        return hierarchy_rules.LevelEntry(self.intermediary_id, self.valid_from,
                                          self.career_level_id, self.supervisor_id, self.id)

    def validate_row(self, session, is_new):
        if self.valid_from is None:
            from app.domain.errors import RequiredFieldError
            raise RequiredFieldError("valid_from")
        with session.no_autoflush:
            rows = session.execute(select(
                IntermediaryLevel.intermediary_id, IntermediaryLevel.valid_from,
                IntermediaryLevel.career_level_id, IntermediaryLevel.supervisor_id,
                IntermediaryLevel.id)).all()
        others = [hierarchy_rules.LevelEntry(*r) for r in rows if r[4] != self.id]
        hierarchy_rules.check_entry(self.to_domain(), others)


class Combination(AuditMixin, Model):
    """Vermittlerkombination: ACTIVE intermediaries with shares summing to 100 %."""
    __history__ = True

    __tablename__ = "combination"
    id = Column(Integer, primary_key=True)
    name = Column(String(200), nullable=False, unique=True)

    @classmethod
    def __scope_clause__(cls, condition_for):
        """Visible with one of its members (app/security/scope.py)."""
        from sqlalchemy import select

        inner = condition_for(Intermediary)
        if inner is None:
            return None
        return cls.id.in_(select(CombinationMember.combination_id).join(
            Intermediary, Intermediary.id == CombinationMember.intermediary_id).where(inner))
    members = relationship("CombinationMember", back_populates="combination",
                           cascade="all, delete-orphan")

    def validate_members(self, session):
        with session.no_autoflush:
            pairs = []
            for m in self.members:
                status = m.intermediary.status if m.intermediary is not None else None
                if status is None and m.intermediary_id is not None:
                    status = session.execute(select(Intermediary.status).where(
                        Intermediary.id == m.intermediary_id)).scalar()
                pairs.append((m.intermediary_id or id(m), _value(status), _share(m.share)))
        combo_rules.check_members(pairs)

    def __repr__(self):
        return self.name or ""


def _share(value):
    from decimal import Decimal
    return to_decimal(value, "members", 4, 0, 100) or Decimal(0)


class CombinationMember(Model):
    __history__ = True
    __tablename__ = "combination_member"
    id = Column(Integer, primary_key=True)
    combination_id = Column(Integer, ForeignKey("combination.id"), nullable=False, index=True)
    combination = relationship("Combination", back_populates="members")
    intermediary_id = Column(Integer, ForeignKey("intermediary.id"), nullable=False, index=True)
    intermediary = relationship("Intermediary")
    share = Column(RATE, nullable=False)

    __table_args__ = (UniqueConstraint("combination_id", "intermediary_id",
                                       name="uq_combination_member"),)
