"""contract numbers unique per managing company; one copy per source

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-23 16:40:00

"""
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('contract', schema=None) as batch_op:
        batch_op.drop_constraint('uq_contract_insurer_policy', type_='unique')
        batch_op.create_unique_constraint(
            'uq_contract_company_insurer_policy',
            ['managing_company_id', 'insurer_id', 'policy_number'])
        batch_op.create_unique_constraint(
            'uq_contract_company_source', ['managing_company_id', 'source_contract_id'])


def downgrade():
    with op.batch_alter_table('contract', schema=None) as batch_op:
        batch_op.drop_constraint('uq_contract_company_source', type_='unique')
        batch_op.drop_constraint('uq_contract_company_insurer_policy', type_='unique')
        batch_op.create_unique_constraint('uq_contract_insurer_policy',
                                          ['insurer_id', 'policy_number'])
