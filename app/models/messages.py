"""Messages between an intermediary and the pool: threads, optionally about a
contract or an application, with attachments (documents) and read state."""
from flask_appbuilder import Model
from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import relationship

from app.models.mixins import AuditMixin


class MessageThread(AuditMixin, Model):
    __tablename__ = "message_thread"
    #: staff see the threads of intermediaries in their company scope; an
    #: intermediary its own (app/security/scope.py)
    __scope_parent__ = "intermediary"
    __principal_columns__ = {"intermediary": "intermediary_id"}
    id = Column(Integer, primary_key=True)
    intermediary_id = Column(Integer, ForeignKey("intermediary.id"), nullable=False, index=True)
    intermediary = relationship("Intermediary")
    subject = Column(String(200), nullable=False)
    contract_id = Column(Integer, ForeignKey("contract.id"), index=True)
    contract = relationship("Contract")
    application_id = Column(Integer, ForeignKey("application.id"), index=True)
    application = relationship("Application")
    last_message_on = Column(DateTime, index=True)

    def __repr__(self):
        return self.subject or ""


class Message(Model):
    __tablename__ = "message"
    __scope_parent__ = "thread"
    __principal_parent__ = "thread"
    id = Column(Integer, primary_key=True)
    thread_id = Column(Integer, ForeignKey("message_thread.id"), nullable=False, index=True)
    thread = relationship("MessageThread", backref="messages")
    body = Column(Text, nullable=False)
    #: written by pool staff (else by the intermediary)
    from_pool = Column(Boolean, nullable=False, default=False)
    sender_id = Column(Integer, ForeignKey("ab_user.id"))
    sender = relationship("User", foreign_keys=[sender_id])
    created_on = Column(DateTime, nullable=False)


class MessageRead(Model):
    """Up to when a user has read a thread (unread = newer messages of the
    other side)."""

    __tablename__ = "message_read"
    id = Column(Integer, primary_key=True)
    thread_id = Column(Integer, ForeignKey("message_thread.id"), nullable=False)
    user_id = Column(Integer, ForeignKey("ab_user.id"), nullable=False, index=True)
    read_until = Column(DateTime, nullable=False)

    __table_args__ = (UniqueConstraint("thread_id", "user_id", name="uq_message_read"),)
