"""Products and the master data commissions are computed from: lines of
business, cancellation liability models, career levels, product rates."""
import enum

from flask_appbuilder import Model
from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    select,
)
from sqlalchemy.orm import relationship

from app.domain import products as rules
from app.domain.values import check_rate, to_decimal
from app.models.crm import enum_column
from app.models.mixins import AuditMixin

RATE = Numeric(7, 4)
MONEY = Numeric(12, 2)
FACTOR = Numeric(12, 4)


class LiabilityMethod(str, enum.Enum):
    PRO_RATA = "PRO_RATA"
    FULL = "FULL"
    STAGED = "STAGED"
    COMBINED = "COMBINED"


class CommissionModel(str, enum.Enum):
    contract_percent = "contract_percent"
    product_rate = "product_rate"
    product_units = "product_units"


class LineOfBusiness(AuditMixin, Model):
    """Sparte, with its GDV code."""
    __history__ = True

    #: visible to extranet logins too (the product catalogue)
    __public__ = True
    __tablename__ = "line_of_business"
    id = Column(Integer, primary_key=True)
    code = Column(String(3), nullable=False, unique=True)
    name = Column(String(100), nullable=False)
    reserve_applies = Column(Boolean, nullable=False, default=False)

    def validate_row(self, session, is_new):
        rules.check_line_code(self.code)

    def __repr__(self):
        return f"{self.code} {self.name}" if self.code else (self.name or "")


class LiabilityModel(AuditMixin, Model):
    """Stornohaftungsmodell: months, method and, for STAGED, a table of stages."""
    __history__ = True

    #: visible to extranet logins too (the product catalogue)
    __public__ = True
    __tablename__ = "liability_model"
    id = Column(Integer, primary_key=True)
    name = Column(String(100), nullable=False, unique=True)
    months = Column(Integer, nullable=False)
    method = enum_column(LiabilityMethod, "liability_method", nullable=False)
    #: COMBINED: months of full liability before pro rata.
    full_months = Column(Integer)
    #: STAGED: [{"months": 12, "percent": "100"}, ...], liable percent up to that month.
    stages = Column(JSON)

    def validate_row(self, session, is_new):
        self.stages = rules.check_liability_model(
            self.months, self.method.value if self.method else None, self.full_months,
            self.stages)

    def __repr__(self):
        return self.name or ""


class CareerLevel(AuditMixin, Model):
    """Karrierestufe: rank 1 is the lowest."""
    __history__ = True

    #: visible to extranet logins too (the product catalogue)
    __public__ = True
    __tablename__ = "career_level"
    id = Column(Integer, primary_key=True)
    rank = Column(Integer, nullable=False, unique=True)
    name = Column(String(100), nullable=False)
    value_per_unit = Column(FACTOR, nullable=False, default=0)

    def validate_row(self, session, is_new):
        if self.rank is None or self.rank < 1:
            from app.domain.errors import N_, InvalidValueError
            raise InvalidValueError("rank", N_("Must be at least %(min)s."), min="1")
        to_decimal(self.value_per_unit, "value_per_unit", 4, 0)

    def __repr__(self):
        return f"{self.rank} {self.name}" if self.rank else (self.name or "")


class Product(AuditMixin, Model):
    """A product of an insurer, with the pool's own commission agreement."""

    __history__ = True

    #: visible to extranet logins too (the product catalogue)
    __public__ = True
    __tablename__ = "product"
    id = Column(Integer, primary_key=True)
    insurer_id = Column(Integer, ForeignKey("company.id"), nullable=False, index=True)
    insurer = relationship("Company")
    line_of_business_id = Column(Integer, ForeignKey("line_of_business.id"), nullable=False,
                                 index=True)
    line_of_business = relationship("LineOfBusiness")
    key = Column(String(30), nullable=False)
    name = Column(String(200), nullable=False, index=True)
    description = Column(Text)
    active = Column(Boolean, nullable=False, default=True)
    # Courtagevereinbarung: what the pool receives from the insurer, in percent.
    pool_ap_rate = Column(RATE, nullable=False, default=0)
    pool_ap_zv_rate = Column(RATE, nullable=False, default=0)
    pool_fp_rate = Column(RATE, nullable=False, default=0)
    units_per_1000 = Column(FACTOR, nullable=False, default=0)
    #: None: the pool's setting POOL_COMMISSION_MODEL applies.
    commission_model = enum_column(CommissionModel, "commission_model", nullable=True)

    __table_args__ = (UniqueConstraint("insurer_id", "key", name="uq_product_insurer_key"),)

    def validate_row(self, session, is_new):
        from app.domain.errors import N_, InvalidValueError
        from app.models.crm import Company, CompanyKind

        kind = session.execute(select(Company.kind).where(Company.id == self.insurer_id)).scalar()
        if kind != CompanyKind.INSURER:
            raise InvalidValueError("insurer", N_("Choose a company of kind insurer."))
        for field in ("pool_ap_rate", "pool_ap_zv_rate", "pool_fp_rate"):
            check_rate(getattr(self, field), field)
        to_decimal(self.units_per_1000, "units_per_1000", 4, 0)

    def __repr__(self):
        return self.name or ""


class ProductRate(AuditMixin, Model):
    """Rates per career level, of a product or (as default) of a line."""

    __history__ = True

    __tablename__ = "product_rate"
    id = Column(Integer, primary_key=True)
    product_id = Column(Integer, ForeignKey("product.id"), index=True)
    product = relationship("Product", backref="rates")
    line_of_business_id = Column(Integer, ForeignKey("line_of_business.id"), index=True)
    line_of_business = relationship("LineOfBusiness")
    career_level_id = Column(Integer, ForeignKey("career_level.id"), nullable=False)
    career_level = relationship("CareerLevel")
    ap_rate = Column(RATE, nullable=False, default=0)
    ap_zv_rate = Column(RATE, nullable=False, default=0)
    fp_rate = Column(RATE, nullable=False, default=0)

    __table_args__ = (
        CheckConstraint("(product_id IS NULL) <> (line_of_business_id IS NULL)",
                        name="ck_product_rate_product_xor_line"),
    )

    def validate_row(self, session, is_new):
        rules.check_product_rate_target(self.product_id, self.line_of_business_id)
        for field in ("ap_rate", "ap_zv_rate", "fp_rate"):
            check_rate(getattr(self, field), field)
        target = (ProductRate.product_id == self.product_id if self.product_id
                  else ProductRate.line_of_business_id == self.line_of_business_id)
        with session.no_autoflush:
            clash = session.execute(select(ProductRate.id).where(
                target, ProductRate.career_level_id == self.career_level_id,
                ProductRate.id != (self.id or 0))).first()
        if clash:
            from app.domain.errors import N_, InvalidValueError
            raise InvalidValueError("career_level", N_(
                "There is already a rate for this career level."))


class InsurerAgreement(AuditMixin, Model):
    """The pool's commission agreement with an insurer (Courtagezusage): what
    the insurer pays the pool, per product or line (the most specific wins);
    the reconciliation's expected commission."""
    __history__ = True

    __tablename__ = "insurer_agreement"
    id = Column(Integer, primary_key=True)
    insurer_id = Column(Integer, ForeignKey("company.id"), nullable=False, index=True)
    insurer = relationship("Company")
    line_of_business_id = Column(Integer, ForeignKey("line_of_business.id"))
    line_of_business = relationship("LineOfBusiness")
    product_id = Column(Integer, ForeignKey("product.id"))
    product = relationship("Product")
    ap_rate = Column(RATE, nullable=False, default=0)
    ap_zv_rate = Column(RATE, nullable=False, default=0)
    fp_rate = Column(RATE, nullable=False, default=0)
