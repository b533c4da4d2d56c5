"""console: who may log in to the web console, their sessions, the audit trail,
the mailbox's last error, the full-text index of the pieces, and the indexes a
piece's page looks up by

Revision ID: 0008_console
Revises: 0007_notices
Create Date: 2026-12-03 08:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import mailintake.store.models
from mailintake.store import search


revision: str = '0008_console'
down_revision: str | None = '0007_notices'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WHEN = mailintake.store.models.AwareDateTime(timezone=True)


def upgrade() -> None:
    bind = op.get_bind()
    op.create_table(
        'console_user',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column('role', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column('password_hash', sqlmodel.sql.sqltypes.AutoString(length=200),
                  nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('created_at', _WHEN, nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('name'),
    )
    op.create_table(
        'console_session',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('token_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('csrf', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('created_at', _WHEN, nullable=False),
        sa.Column('expires_at', _WHEN, nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['console_user.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('token_hash'),
    )
    with op.batch_alter_table('console_session', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_console_session_user_id'), ['user_id'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_console_session_expires_at'), ['expires_at'],
                              unique=False)
    op.create_table(
        'audit',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('who', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column('at', _WHEN, nullable=False),
        sa.Column('action', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column('target', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column('detail', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('audit', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_target'), ['target'], unique=False)
    with op.batch_alter_table('runtime', schema=None) as batch_op:
        batch_op.add_column(sa.Column(
            'last_error', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False,
            server_default=''))
        batch_op.add_column(sa.Column('last_error_at', _WHEN, nullable=True))
    # What a piece's page looks up: the version that replaced it, the replies to its mail.
    with op.batch_alter_table('submission', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_submission_replaces_id'), ['replaces_id'],
                              unique=False)
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbox_inbound_id'), ['inbound_id'], unique=False)
    statements = (search.sqlite_schema() if bind.dialect.name == "sqlite"
                  else search.postgresql_schema())
    for statement in statements:
        bind.exec_driver_sql(statement)


def downgrade() -> None:
    bind = op.get_bind()
    statements = (search.sqlite_drop() if bind.dialect.name == "sqlite"
                  else search.postgresql_drop())
    for statement in statements:
        bind.exec_driver_sql(statement)
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_inbound_id'))
    with op.batch_alter_table('submission', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_submission_replaces_id'))
    with op.batch_alter_table('runtime', schema=None) as batch_op:
        batch_op.drop_column('last_error_at')
        batch_op.drop_column('last_error')
    op.drop_table('audit')
    op.drop_table('console_session')
    op.drop_table('console_user')
