"""reading: the pictures read from a piece, with sizes and captions

Revision ID: 0002_reading
Revises: 0001
Create Date: 2026-11-21 22:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0002_reading'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('submission', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pictures', sa.JSON(), nullable=False, server_default='[]'))

    # The default only filled the rows already there; the model sets the value.
    with op.batch_alter_table('submission', schema=None) as batch_op:
        batch_op.alter_column('pictures', server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('submission', schema=None) as batch_op:
        batch_op.drop_column('pictures')
