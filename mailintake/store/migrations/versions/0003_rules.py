"""rules: text fingerprints for duplicates, versions for corrections

Revision ID: 0003_rules
Revises: 0002_reading
Create Date: 2026-11-21 22:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import mailintake.store.models


revision: str = '0003_rules'
down_revision: str | None = '0002_reading'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('submission', schema=None) as batch_op:
        batch_op.add_column(sa.Column('text_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('subject_key', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('version', sa.Integer(), nullable=False, server_default='1'))
        batch_op.add_column(sa.Column('replaces_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_submission_text_hash'), ['text_hash'], unique=False)
        batch_op.create_index(batch_op.f('ix_submission_subject_key'), ['subject_key'], unique=False)
        batch_op.create_foreign_key('fk_submission_replaces_id_submission', 'submission', ['replaces_id'], ['id'])

    # The defaults only filled the rows already there; the models set the values.
    with op.batch_alter_table('submission', schema=None) as batch_op:
        batch_op.alter_column('text_hash', server_default=None)
        batch_op.alter_column('subject_key', server_default=None)
        batch_op.alter_column('version', server_default=None)

    op.create_table('text_band',
    sa.Column('band', sa.BigInteger(), nullable=False),
    sa.Column('submission_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['submission_id'], ['submission.id'], ),
    sa.PrimaryKeyConstraint('band', 'submission_id')
    )


def downgrade() -> None:
    op.drop_table('text_band')
    with op.batch_alter_table('submission', schema=None) as batch_op:
        batch_op.drop_constraint('fk_submission_replaces_id_submission', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_submission_subject_key'))
        batch_op.drop_index(batch_op.f('ix_submission_text_hash'))
        batch_op.drop_column('replaces_id')
        batch_op.drop_column('version')
        batch_op.drop_column('subject_key')
        batch_op.drop_column('text_hash')
