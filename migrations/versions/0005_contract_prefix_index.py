"""PostgreSQL: an index for prefix search on policy numbers

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23

LIKE 'V123%' can use a plain btree index only under the C collation; a
varchar_pattern_ops index serves it under any collation (de_DE included).
SQLite's LIKE is case-insensitive and cannot use an index either way.
"""
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

#: Indexes that exist only on PostgreSQL (the schema test ignores them).
PG_ONLY_INDEXES = ("ix_contract_policy_number_prefix_pg", "ix_customer_name_prefix_pg")


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE INDEX ix_contract_policy_number_prefix_pg "
                   "ON contract (policy_number varchar_pattern_ops)")
        op.execute("CREATE INDEX ix_customer_name_prefix_pg ON customer (name varchar_pattern_ops)")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for name in PG_ONLY_INDEXES:
            op.execute(f"DROP INDEX IF EXISTS {name}")
