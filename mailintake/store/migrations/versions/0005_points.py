"""points: adoptions (采用) and the points ledger (积分台账)

Revision ID: 0005_points
Revises: 0004_replies
Create Date: 2026-11-21 22:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import mailintake.store.models


revision: str = '0005_points'
down_revision: str | None = '0004_replies'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('adoption',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('submission_id', sa.Integer(), nullable=False),
    sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('brief', sa.Boolean(), nullable=False),
    sa.Column('shares', sa.JSON(), nullable=False),
    sa.Column('adopted_at', mailintake.store.models.AwareDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', mailintake.store.models.AwareDateTime(timezone=True), nullable=True),
    sa.Column('created_at', mailintake.store.models.AwareDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['submission_id'], ['submission.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('submission_id', 'channel')
    )
    with op.batch_alter_table('adoption', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_adoption_adopted_at'), ['adopted_at'], unique=False)

    op.create_table('point',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('correspondent_id', sa.Integer(), nullable=True),
    sa.Column('submission_id', sa.Integer(), nullable=True),
    sa.Column('adoption_id', sa.Integer(), nullable=True),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('points', sa.Numeric(precision=10, scale=2, asdecimal=False), nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('period', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('earned_at', mailintake.store.models.AwareDateTime(timezone=True), nullable=False),
    sa.Column('entry_key', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True),
    sa.Column('created_at', mailintake.store.models.AwareDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['adoption_id'], ['adoption.id'], ),
    sa.ForeignKeyConstraint(['correspondent_id'], ['correspondent.id'], ),
    sa.ForeignKeyConstraint(['submission_id'], ['submission.id'], ),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('entry_key')
    )
    with op.batch_alter_table('point', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_point_adoption_id'), ['adoption_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_point_correspondent_id'), ['correspondent_id'], unique=False)
        batch_op.create_index('ix_point_earned_unit', ['earned_at', 'unit_id'], unique=False)
        batch_op.create_index('ix_point_kind_submission', ['kind', 'submission_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_point_unit_id'), ['unit_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('point', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_point_unit_id'))
        batch_op.drop_index('ix_point_kind_submission')
        batch_op.drop_index('ix_point_earned_unit')
        batch_op.drop_index(batch_op.f('ix_point_correspondent_id'))
        batch_op.drop_index(batch_op.f('ix_point_adoption_id'))

    op.drop_table('point')
    with op.batch_alter_table('adoption', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_adoption_adopted_at'))

    op.drop_table('adoption')
