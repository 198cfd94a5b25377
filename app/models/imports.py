"""Imports of insurers' data: GDV files and commission statements.

Every run is recorded with its file's SHA-256 (the same file again changes
nothing) and its report; the raw GDV lines stay linked to the contracts
they created or updated (audit); what cannot be assigned goes to the
clearance list (Klärfälle) for staff.
"""
from flask_appbuilder import Model
from sqlalchemy import (
    Column,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import relationship


class ImportRun(Model):
    __tablename__ = "import_run"
    id = Column(Integer, primary_key=True)
    #: GDV or RECEIPTS
    kind = Column(String(10), nullable=False)
    filename = Column(String(200), nullable=False)
    sha256 = Column(String(64), nullable=False)
    profile_id = Column(Integer, ForeignKey("import_profile.id"))
    profile = relationship("ImportProfile")
    #: DONE, DUPLICATE (the same file again: nothing done)
    status = Column(String(10), nullable=False)
    #: JSON: lines read, records per type, created, updated, skipped, cases
    report = Column(Text, nullable=False, default="{}")
    started_on = Column(DateTime, nullable=False)
    finished_on = Column(DateTime)
    user_id = Column(Integer, ForeignKey("ab_user.id"))

    def __repr__(self):
        return f"{self.kind} {self.filename}"


class GdvRaw(Model):
    """The raw lines of one contract in one GDV file (audit)."""

    __tablename__ = "gdv_raw"
    id = Column(Integer, primary_key=True)
    run_id = Column(Integer, ForeignKey("import_run.id"), nullable=False, index=True)
    contract_id = Column(Integer, ForeignKey("contract.id"), index=True)
    line_from = Column(Integer, nullable=False)
    line_to = Column(Integer, nullable=False)
    raw = Column(Text, nullable=False)


class InsurerBrokerNumber(Model):
    """An insurer's number for one of the pool's intermediaries (GDV 33-42)."""
    __history__ = True

    __tablename__ = "insurer_broker_number"
    id = Column(Integer, primary_key=True)
    insurer_id = Column(Integer, ForeignKey("company.id"), nullable=False)
    insurer = relationship("Company")
    number = Column(String(10), nullable=False)
    intermediary_id = Column(Integer, ForeignKey("intermediary.id"), nullable=False)
    intermediary = relationship("Intermediary")

    __table_args__ = (UniqueConstraint("insurer_id", "number",
                                       name="uq_insurer_broker_number"),)


class ImportProfile(Model):
    """How an insurer's commission statement (CSV or Excel) is read: the
    mapping of app/domain/receipt_import.Profile, stored as JSON."""

    __tablename__ = "import_profile"
    id = Column(Integer, primary_key=True)
    name = Column(String(100), nullable=False, unique=True)
    insurer_id = Column(Integer, ForeignKey("company.id"))
    insurer = relationship("Company")
    definition = Column(Text, nullable=False)

    def __repr__(self):
        return self.name or ""


class ClearanceCase(Model):
    """Klärfall: a record the import could not assign (unknown insurer,
    product, broker; a receipt without contract). Staff resolve it."""

    __tablename__ = "clearance_case"
    id = Column(Integer, primary_key=True)
    run_id = Column(Integer, ForeignKey("import_run.id"), nullable=False, index=True)
    run = relationship("ImportRun")
    #: UNKNOWN_INSURER, UNKNOWN_PRODUCT, UNKNOWN_BROKER, NO_CONTRACT, DUPLICATE
    reason = Column(String(20), nullable=False, index=True)
    line = Column(Integer)
    #: what was looked for (VU number, product name, broker number, policy number)
    key = Column(String(100), nullable=False)
    detail = Column(Text)
    contract_id = Column(Integer, ForeignKey("contract.id"))
    contract = relationship("Contract")
    #: OPEN or RESOLVED
    status = Column(String(10), nullable=False, default="OPEN", index=True)
    resolved_on = Column(DateTime)
    resolved_by_fk = Column(Integer, ForeignKey("ab_user.id"))
    note = Column(String(500))
