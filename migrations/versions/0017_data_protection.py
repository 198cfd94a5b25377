"""data protection: restriction, anonymisation

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07

Customer columns of Art. 18 DSGVO (restriction of processing: when, by
whom, why) and of the anonymisation once the retention has ended
(app/services/privacy.py, docs/data-protection.md).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('customer', schema=None) as batch_op:
        batch_op.add_column(sa.Column('restricted_on', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('restricted_by_fk', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('restriction_reason', sa.String(length=500),
                                      nullable=True))
        batch_op.add_column(sa.Column('anonymised_on', sa.DateTime(), nullable=True))
        batch_op.create_foreign_key('fk_customer_restricted_by_fk', 'ab_user',
                                    ['restricted_by_fk'], ['id'])
        batch_op.create_index('ix_customer_restricted_on', ['restricted_on'], unique=False)


def downgrade():
    with op.batch_alter_table('customer', schema=None) as batch_op:
        batch_op.drop_index('ix_customer_restricted_on')
        batch_op.drop_constraint('fk_customer_restricted_by_fk', type_='foreignkey')
        batch_op.drop_column('anonymised_on')
        batch_op.drop_column('restriction_reason')
        batch_op.drop_column('restricted_by_fk')
        batch_op.drop_column('restricted_on')
