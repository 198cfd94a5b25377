"""indexes for the list filters, sorts and searches of the screens (large pool)

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-23

Both databases (declared in the models): the sort and filter columns of the
lists over large tables that had none (contract start and premium, customer
first name, postcode and city, intermediary status and city, receipt value
date, booking date, statement period, missing rate intermediary); an
intermediary's bookings with their amounts in the index (its account and
sums without reading the table), and its retained reserve (partial index).

Searches are case-insensitive ("starts with", "contains"), which a plain
index does not serve:

- PostgreSQL: "starts with" is lower(x) LIKE lower('y%'), found in a
  lower(x) text_pattern_ops index of the searched names and numbers (with
  statistics, so the planner knows how many rows match); "contains" is
  ILIKE '%y%', served by trigram indexes (pg_trgm, GIN). CREATE EXTENSION
  pg_trgm needs a superuser or, since PostgreSQL 13, the database owner (a
  trusted extension); where the app's user may not, the trigram indexes are
  left out with a warning and "contains" scans the table.
- SQLite: LIKE is case-insensitive itself (ASCII) and uses an index for a
  prefix only if that index is COLLATE NOCASE (app/views/base.py `_like`);
  "contains" always scans there.

These dialect-specific indexes live only here, named *_pg and *_sqlite.
"""
import logging

import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

#: (table, columns) of the indexes declared in the models. A sort column
#: comes with the id, as the lists order by both: a value shared by many
#: rows (a receipt's day) is then read in order, not sorted.
INDEXES = [
    ("contract", ["start_date", "id"]), ("contract", ["premium", "id"]),
    ("customer", ["first_name", "id"]), ("customer", ["postcode", "id"]),
    ("customer", ["city", "id"]),
    ("intermediary", ["status", "id"]), ("intermediary", ["city", "id"]),
    ("receipt", ["value_date", "id"]), ("booking", ["booking_date", "id"]),
    ("statement", ["period"]), ("missing_rate", ["intermediary_id"]),
]
NAMES = {("booking", "booking_date"): "ix_booking_date"}

#: PostgreSQL: trigram indexes over the searched text columns (one GIN index
#: serves a condition on any of its columns)
TRIGRAM = {
    "ix_contract_policy_number_trgm_pg": ("contract", ["policy_number"]),
    "ix_customer_search_trgm_pg": ("customer", ["name", "first_name", "postcode", "city",
                                                "email"]),
    "ix_intermediary_search_trgm_pg": ("intermediary", ["name", "city", "register_number"]),
}
#: PostgreSQL: the prefix searches of the large tables
LOWER = {
    "ix_contract_policy_number_lower_pg": ("contract", "policy_number"),
    "ix_customer_name_lower_pg": ("customer", "name"),
    "ix_intermediary_name_lower_pg": ("intermediary", "name"),
}
#: SQLite: the prefix searches of the large tables
NOCASE = {
    "ix_contract_policy_number_nocase_sqlite": ("contract", "policy_number"),
    "ix_customer_name_nocase_sqlite": ("customer", "name"),
    "ix_intermediary_name_nocase_sqlite": ("intermediary", "name"),
}


def _name(table, columns):
    return NAMES.get((table, columns[0]), f"ix_{table}_{columns[0]}")


def _trigram_extension(bind) -> bool:
    try:
        with bind.begin_nested():
            bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except sa.exc.DBAPIError as exc:
        logging.getLogger("alembic").warning(
            "pg_trgm not available (%s): searches will scan the tables",
            str(exc.orig).strip().splitlines()[0])
        return False
    return True


#: an intermediary's account, in its order and with the amounts (sums from
#: the index alone); was (intermediary_id, booking_date)
ACCOUNT = ["intermediary_id", "booking_date", "id", "amount"]
RETAINED = "kind = 'RESERVE_RETAIN'"


def upgrade():
    for table, columns in INDEXES:
        op.create_index(_name(table, columns), table, columns, unique=False)
    op.drop_index("ix_booking_intermediary_date", table_name="booking")
    op.create_index("ix_booking_intermediary_date", "booking", ACCOUNT, unique=False)
    op.create_index("ix_booking_reserve_retain", "booking", ["intermediary_id"], unique=False,
                    postgresql_where=sa.text(RETAINED), sqlite_where=sa.text(RETAINED))
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        for name, (table, column) in LOWER.items():
            op.execute(f"CREATE INDEX {name} ON {table} (lower({column}) text_pattern_ops)")
        if _trigram_extension(bind):
            for name, (table, columns) in TRIGRAM.items():
                ops = ", ".join(f"{c} gin_trgm_ops" for c in columns)
                op.execute(f"CREATE INDEX {name} ON {table} USING gin ({ops})")
    elif bind.dialect.name == "sqlite":
        for name, (table, column) in NOCASE.items():
            op.execute(f"CREATE INDEX {name} ON {table} ({column} COLLATE NOCASE)")


def downgrade():
    dialect = op.get_bind().dialect.name
    names = ({**LOWER, **TRIGRAM} if dialect == "postgresql" else NOCASE if dialect == "sqlite"
             else {})
    for name in names:
        op.execute(f"DROP INDEX IF EXISTS {name}")
    op.drop_index("ix_booking_reserve_retain", table_name="booking")
    op.drop_index("ix_booking_intermediary_date", table_name="booking")
    op.create_index("ix_booking_intermediary_date", "booking",
                    ["intermediary_id", "booking_date"], unique=False)
    for table, columns in INDEXES:
        op.drop_index(_name(table, columns), table_name=table)
