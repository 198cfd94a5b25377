"""Change history (Änderungsverlauf): who changed which fields of a row, and when.

Written by the session guard for models with `__history__ = True`, in the
same transaction as the change itself, so no path can change such a row
without leaving a record. Rows here are only ever inserted: database
triggers (audit_triggers, installed by migration 0019) refuse to delete
them and to change them, except blanking both change columns to `{}` when a
customer's personal data is anonymised (app/services/privacy.py).
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
    #: {column: [old, new]} as stored (ids, decimals as text, enums by name):
    #: what recomputing an old period puts back (app/services/recompute.py)
    raw_values = Column(JSON)

    __table_args__ = (Index("ix_change_log_row", "table_name", "row_id"),)


def keep_login_history() -> None:
    """FAB's logins get a change history too: their status (active), names,
    e-mail and roles; not the password hash nor the login counters."""
    from flask_appbuilder.security.sqla.models import User

    User.__history__ = True
    User.__history_exclude__ = frozenset((
        "password", "last_login", "login_count", "fail_login_count", "created_on",
        "changed_on", "created_by_fk", "changed_by_fk"))
    User.__history_collections__ = ("roles",)


_KEPT = ("id", "table_name", "row_id", "action", "changed_on", "user_id")


def audit_triggers(dialect: str) -> list[str]:
    """DDL: the change log is append-only, in the database itself."""
    if dialect == "sqlite":
        changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in _KEPT)
        return [
            "CREATE TRIGGER change_log_no_update BEFORE UPDATE ON change_log "
            f"WHEN {changed} OR NEW.changes <> '{{}}' OR coalesce(NEW.raw_values, '{{}}') <> '{{}}' "
            "BEGIN SELECT RAISE(ABORT, 'the change log is append-only'); END",
            "CREATE TRIGGER change_log_no_delete BEFORE DELETE ON change_log "
            "BEGIN SELECT RAISE(ABORT, 'the change log is append-only'); END",
        ]
    changed = " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in _KEPT)
    return [
        "CREATE OR REPLACE FUNCTION change_log_refuse() RETURNS trigger AS $$ BEGIN "
        "RAISE EXCEPTION 'the change log is append-only'; END $$ LANGUAGE plpgsql",
        "CREATE TRIGGER change_log_no_update BEFORE UPDATE ON change_log FOR EACH ROW "
        f"WHEN ({changed} OR NEW.changes::text <> '{{}}' "
        "OR coalesce(NEW.raw_values::text, '{}') <> '{}') EXECUTE FUNCTION change_log_refuse()",
        "CREATE TRIGGER change_log_no_delete BEFORE DELETE ON change_log FOR EACH ROW "
        "EXECUTE FUNCTION change_log_refuse()",
    ]


def drop_audit_triggers(dialect: str) -> list[str]:
    if dialect == "sqlite":
        return ["DROP TRIGGER IF EXISTS change_log_no_update",
                "DROP TRIGGER IF EXISTS change_log_no_delete"]
    return ["DROP TRIGGER IF EXISTS change_log_no_update ON change_log",
            "DROP TRIGGER IF EXISTS change_log_no_delete ON change_log",
            "DROP FUNCTION IF EXISTS change_log_refuse()"]
