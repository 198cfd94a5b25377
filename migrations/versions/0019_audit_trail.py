"""audit trail: the change log append-only, with each change's raw values

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07

change_log.raw_values (the values as stored, to put a row back as it was
when an old period is recomputed) and triggers that refuse to change or
delete a change log row (app/models/audit.py audit_triggers).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade():
    from app.models.audit import audit_triggers

    op.add_column('change_log', sa.Column('raw_values', sa.JSON(), nullable=True))
    for ddl in audit_triggers(op.get_bind().dialect.name):
        op.execute(ddl)


def downgrade():
    from app.models.audit import drop_audit_triggers

    for ddl in drop_audit_triggers(op.get_bind().dialect.name):
        op.execute(ddl)
    with op.batch_alter_table('change_log') as batch_op:
        batch_op.drop_column('raw_values')
