"""Documents attached to customers, products, applications, contracts and messages."""
from flask_appbuilder import Model
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Integer,
    String,
)
from sqlalchemy.orm import relationship

from app.models.mixins import AuditMixin

OWNERS = ("customer", "product", "application", "contract", "message")


class Document(AuditMixin, Model):
    """A stored file. The bytes live under POOL_UPLOAD_DIR with a generated
    name; the row keeps the original name, the detected type and a SHA-256."""

    __tablename__ = "document"
    #: A document is visible to whoever may see its owner.
    __scope_owners__ = ("customer", "application", "contract", "message")
    id = Column(Integer, primary_key=True)
    filename = Column(String(120), nullable=False)
    content_type = Column(String(100), nullable=False)
    size = Column(Integer, nullable=False)
    sha256 = Column(String(64), nullable=False)
    stored_name = Column(String(80), nullable=False, unique=True)
    description = Column(String(200))
    released_to_customer = Column(Boolean, nullable=False, default=False)
    customer_id = Column(Integer, ForeignKey("customer.id"), index=True)
    customer = relationship("Customer", backref="documents")
    product_id = Column(Integer, ForeignKey("product.id"), index=True)
    product = relationship("Product", backref="documents")
    application_id = Column(Integer, ForeignKey("application.id"), index=True)
    application = relationship("Application", backref="documents")
    contract_id = Column(Integer, ForeignKey("contract.id"), index=True)
    contract = relationship("Contract", backref="documents")
    message_id = Column(Integer, ForeignKey("message.id"), index=True)
    message = relationship("Message", backref="attachments")

    __table_args__ = (CheckConstraint(
        "(CASE WHEN customer_id IS NULL THEN 0 ELSE 1 END + CASE WHEN product_id IS NULL "
        "THEN 0 ELSE 1 END + CASE WHEN application_id IS NULL THEN 0 ELSE 1 END + CASE WHEN "
        "contract_id IS NULL THEN 0 ELSE 1 END + CASE WHEN message_id IS NULL THEN 0 ELSE 1 "
        "END) = 1", name="ck_document_one_owner"),)

    @property
    def owner_name(self):
        for name in OWNERS:
            if getattr(self, f"{name}_id") is not None:
                return name
        return None

    @property
    def owner(self):
        name = self.owner_name
        return getattr(self, name) if name else None

    def __repr__(self):
        return self.filename or ""
