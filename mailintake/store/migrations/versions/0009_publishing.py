"""publishing: the 通报 of each period, 约稿 solicitations and the units they ask,
the office's 简报 issues and the pieces they carry, and how a piece reached the
office when no mail brought it

Revision ID: 0009_publishing
Revises: 0008_console
Create Date: 2026-12-03 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import mailintake.store.models

revision: str = '0009_publishing'
down_revision: str | None = '0008_console'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WHEN = mailintake.store.models.AwareDateTime(timezone=True)


def _text(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    with op.batch_alter_table('inbound_message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('via', _text(20), nullable=False, server_default=''))
    op.create_table(
        'bulletin',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('period', _text(40), nullable=False),
        sa.Column('preface', sa.Text(), nullable=False),
        sa.Column('created_at', _WHEN, nullable=False),
        sa.Column('created_by', _text(100), nullable=False),
        sa.Column('sent_at', _WHEN, nullable=True),
        sa.Column('sent_by', _text(100), nullable=False),
        sa.Column('sends', sa.Integer(), nullable=False),
        sa.Column('recipients', sa.Integer(), nullable=False),
        sa.Column('sent_text', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('period'),
    )
    op.create_table(
        'solicitation',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('number', _text(40), nullable=False),
        sa.Column('topic', _text(200), nullable=False),
        sa.Column('request', sa.Text(), nullable=False),
        sa.Column('deadline', _WHEN, nullable=False),
        sa.Column('points', sa.Numeric(10, 2, asdecimal=False), nullable=True),
        sa.Column('created_at', _WHEN, nullable=False),
        sa.Column('created_by', _text(100), nullable=False),
        sa.Column('closed_at', _WHEN, nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('number'),
    )
    with op.batch_alter_table('solicitation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_solicitation_deadline'), ['deadline'], unique=False)
    op.create_table(
        'solicitation_unit',
        sa.Column('solicitation_id', sa.Integer(), nullable=False),
        sa.Column('unit_id', sa.Integer(), nullable=False),
        sa.Column('submission_id', sa.Integer(), nullable=True),
        sa.Column('answered_at', _WHEN, nullable=True),
        sa.ForeignKeyConstraint(['solicitation_id'], ['solicitation.id']),
        sa.ForeignKeyConstraint(['unit_id'], ['unit.id']),
        sa.ForeignKeyConstraint(['submission_id'], ['submission.id']),
        sa.PrimaryKeyConstraint('solicitation_id', 'unit_id'),
    )
    with op.batch_alter_table('solicitation_unit', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_solicitation_unit_submission_id'),
                              ['submission_id'], unique=False)
    op.create_table(
        'briefing',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('year', sa.Integer(), nullable=False),
        sa.Column('number', sa.Integer(), nullable=False),
        sa.Column('title', _text(200), nullable=False),
        sa.Column('issued_on', sa.Date(), nullable=False),
        sa.Column('stored_path', _text(1000), nullable=False),
        sa.Column('created_at', _WHEN, nullable=False),
        sa.Column('created_by', _text(100), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('year', 'number', name='uq_briefing_issue'),
    )
    op.create_table(
        'briefing_piece',
        sa.Column('briefing_id', sa.Integer(), nullable=False),
        sa.Column('submission_id', sa.Integer(), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('adoption_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['briefing_id'], ['briefing.id']),
        sa.ForeignKeyConstraint(['submission_id'], ['submission.id']),
        sa.ForeignKeyConstraint(['adoption_id'], ['adoption.id']),
        sa.PrimaryKeyConstraint('briefing_id', 'submission_id'),
    )
    with op.batch_alter_table('briefing_piece', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_briefing_piece_submission_id'),
                              ['submission_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('briefing_piece', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_briefing_piece_submission_id'))
    op.drop_table('briefing_piece')
    op.drop_table('briefing')
    with op.batch_alter_table('solicitation_unit', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_solicitation_unit_submission_id'))
    op.drop_table('solicitation_unit')
    with op.batch_alter_table('solicitation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_solicitation_deadline'))
    op.drop_table('solicitation')
    op.drop_table('bulletin')
    with op.batch_alter_table('inbound_message', schema=None) as batch_op:
        batch_op.drop_column('via')
