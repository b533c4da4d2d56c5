"""replies: bounced addresses, outbox looked up by recipient

Revision ID: 0004_replies
Revises: 0003_rules
Create Date: 2026-11-21 22:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import mailintake.store.models


revision: str = '0004_replies'
down_revision: str | None = '0003_rules'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('reply_bounce',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('address', sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('diagnostic', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
    sa.Column('bounced_at', mailintake.store.models.AwareDateTime(timezone=True), nullable=False),
    sa.Column('until', mailintake.store.models.AwareDateTime(timezone=True), nullable=False),
    sa.Column('inbound_id', sa.Integer(), nullable=True),
    sa.Column('outbox_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['inbound_id'], ['inbound_message.id'], ),
    sa.ForeignKeyConstraint(['outbox_id'], ['outbox.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('reply_bounce', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reply_bounce_address'), ['address'], unique=False)
        batch_op.create_index(batch_op.f('ix_reply_bounce_until'), ['until'], unique=False)

    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbox_recipient'), ['recipient'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_recipient'))

    with op.batch_alter_table('reply_bounce', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reply_bounce_until'))
        batch_op.drop_index(batch_op.f('ix_reply_bounce_address'))

    op.drop_table('reply_bounce')
