"""briefing notes: what the office was told when an issue was made (a photo Word could
not take, an adoption not recorded), kept with the issue for its page

Revision ID: 0010_briefing_notes
Revises: 0009_publishing
Create Date: 2026-12-03 16:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0010_briefing_notes'
down_revision: str | None = '0009_publishing'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('briefing', schema=None) as batch_op:
        batch_op.add_column(sa.Column('notes', sa.JSON(), nullable=False, server_default='[]'))

    # The default only filled the rows already there; the model sets the value.
    with op.batch_alter_table('briefing', schema=None) as batch_op:
        batch_op.alter_column('notes', server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('briefing', schema=None) as batch_op:
        batch_op.drop_column('notes')
