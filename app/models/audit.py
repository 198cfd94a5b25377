"""Change history (Änderungsverlauf): who changed which fields of a row, and when.

Written by the session guard for models with `__history__ = True`, in the
same transaction as the change itself, so no path can change such a row
without leaving a record. Rows here are only ever inserted.
"""
from flask_appbuilder import Model
from sqlalchemy import JSON, Column, DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import relationship


class ChangeLog(Model):
    __tablename__ = "change_log"
    id = Column(Integer, primary_key=True)
    table_name = Column(String(60), nullable=False)
    row_id = Column(Integer, nullable=False)
    action = Column(String(6), nullable=False)  # INSERT, UPDATE, DELETE
    changed_on = Column(DateTime, nullable=False)
    user_id = Column(Integer, ForeignKey("ab_user.id"))
    user = relationship("User")
    #: {field: [old, new]} as text
    changes = Column(JSON, nullable=False)

    __table_args__ = (Index("ix_change_log_row", "table_name", "row_id"),)
