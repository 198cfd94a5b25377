"""tamper-evident ledger: each booking's hash chained to the previous one

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07

booking.row_hash (app/domain/chain.py) and ledger_head, the chain's head.
Bookings already there are chained here in id order, then row_hash is NOT
NULL: no path can insert an unsealed booking. The immutability triggers are
lifted for that and put back covering row_hash too.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade():
    from app.domain import chain
    from app.models.ledger import drop_ledger_triggers, ledger_triggers

    bind = op.get_bind()
    dialect = bind.dialect.name
    for ddl in drop_ledger_triggers(dialect):
        op.execute(ddl)
    op.add_column('booking', sa.Column('row_hash', sa.String(length=64), nullable=True))
    op.create_table('ledger_head',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('booking_id', sa.Integer(), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    columns = ", ".join(("id",) + chain.CHAIN_COLUMNS)
    previous, last_id = chain.GENESIS, 0
    while True:
        rows = bind.execute(sa.text(
            f"SELECT {columns} FROM booking WHERE id > :last ORDER BY id LIMIT 20000"),
            {"last": last_id}).all()
        if not rows:
            break
        sealed = []
        for pk, *values in rows:
            previous = chain.link(previous, values)
            sealed.append({"pk": pk, "h": previous})
        bind.execute(sa.text("UPDATE booking SET row_hash = :h WHERE id = :pk"), sealed)
        last_id = rows[-1][0]
    bind.execute(sa.text("INSERT INTO ledger_head (id, booking_id, hash) VALUES (1, :id, :h)"),
                 {"id": last_id, "h": previous})
    # from now on no booking can be written unsealed, by any path
    with op.batch_alter_table('booking') as batch_op:
        batch_op.alter_column('row_hash', existing_type=sa.String(length=64), nullable=False)
    for ddl in ledger_triggers(dialect):
        op.execute(ddl)


def downgrade():
    from app.models.ledger import drop_ledger_triggers, ledger_triggers

    dialect = op.get_bind().dialect.name
    for ddl in drop_ledger_triggers(dialect):
        op.execute(ddl)
    op.drop_table('ledger_head')
    with op.batch_alter_table('booking') as batch_op:
        batch_op.drop_column('row_hash')
    for ddl in ledger_triggers(dialect):
        op.execute(ddl.replace(" OR NEW.row_hash IS NOT OLD.row_hash", "")
                   .replace(" OR NEW.row_hash IS DISTINCT FROM OLD.row_hash", ""))
