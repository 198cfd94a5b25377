"""Intermediaries (Vermittler). Issue 3 adds their master data and rules."""
import enum

from flask_appbuilder import Model
from sqlalchemy import Column, ForeignKey, Integer, String
from sqlalchemy.orm import relationship

from app.models.crm import AddressMixin, enum_column
from app.models.mixins import AuditMixin


class IntermediaryStatus(str, enum.Enum):
    ACTIVE = "ACTIVE"
    PROSPECT = "PROSPECT"
    FORMER = "FORMER"
    GROUP = "GROUP"


class Intermediary(AuditMixin, AddressMixin, Model):
    __tablename__ = "intermediary"
    __scope_column__ = "company_id"
    id = Column(Integer, primary_key=True)
    name = Column(String(200), nullable=False, index=True)
    status = enum_column(IntermediaryStatus, "intermediary_status", nullable=False,
                         default=IntermediaryStatus.ACTIVE)
    company_id = Column(Integer, ForeignKey("company.id"), nullable=False, index=True)
    company = relationship("Company")

    def __repr__(self):
        return self.name or ""
