"""notices: the period a piece counts for, per-item adoption, the unit's leader,
the Message-ID of each reply

Revision ID: 0007_notices
Revises: 0006_service
Create Date: 2026-12-02 18:30:00.000000
"""

import re
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import mailintake.store.models


revision: str = '0007_notices'
down_revision: str | None = '0006_service'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# SQLite names no constraint; this names the old unique one so batch mode can drop it.
_NAMES = {"uq": "uq_%(table_name)s_%(column_0_name)s"}
_MESSAGE_ID = re.compile(rb"^Message-ID:[ \t]*<([^>\r\n]{1,300})>", re.IGNORECASE | re.MULTILINE)


def _old_unique(bind: sa.engine.Connection) -> str:
    if bind.dialect.name == "sqlite":
        return "uq_adoption_submission_id"
    for found in sa.inspect(bind).get_unique_constraints("adoption"):
        if sorted(found["column_names"]) == ["channel", "submission_id"]:
            return str(found["name"])
    return "adoption_submission_id_channel_key"


def upgrade() -> None:
    bind = op.get_bind()
    with op.batch_alter_table('unit', schema=None) as batch_op:
        batch_op.add_column(sa.Column(
            'leader', sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False,
            server_default=''))

    # Pieces filed before count at their arrival, as they always did.
    with op.batch_alter_table('submission', schema=None) as batch_op:
        batch_op.add_column(sa.Column(
            'counted_at', mailintake.store.models.AwareDateTime(timezone=True), nullable=True))
    op.execute("UPDATE submission SET counted_at = received_at")
    with op.batch_alter_table('submission', schema=None) as batch_op:
        batch_op.alter_column('counted_at', existing_type=mailintake.store.models.AwareDateTime(
            timezone=True), nullable=False)
        batch_op.create_index(batch_op.f('ix_submission_counted_at'), ['counted_at'],
                              unique=False)

    with op.batch_alter_table('adoption', schema=None, naming_convention=_NAMES) as batch_op:
        batch_op.add_column(sa.Column('item', sa.Integer(), nullable=False, server_default='0'))
        batch_op.drop_constraint(_old_unique(bind), type_='unique')
        batch_op.create_unique_constraint(
            'uq_adoption_piece_item', ['submission_id', 'channel', 'item'])

    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column(
            'message_id', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False,
            server_default=''))
        batch_op.create_index(batch_op.f('ix_outbox_message_id'), ['message_id'], unique=False)
    # Replies already queued: their Message-ID from their header.
    outbox = sa.table('outbox', sa.column('id', sa.Integer), sa.column('raw', sa.LargeBinary),
                      sa.column('message_id', sa.String))
    found = []
    for row_id, raw in bind.execute(sa.select(outbox.c.id, outbox.c.raw)):
        head = bytes(raw or b"").split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
        match = _MESSAGE_ID.search(head)
        if match:
            found.append({"row": row_id, "mid": match.group(1).decode("ascii", "replace")})
    if found:
        bind.execute(outbox.update().where(outbox.c.id == sa.bindparam("row"))
                     .values(message_id=sa.bindparam("mid")), found)


def downgrade() -> None:
    bind = op.get_bind()
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_message_id'))
        batch_op.drop_column('message_id')
    with op.batch_alter_table('adoption', schema=None) as batch_op:
        batch_op.drop_constraint('uq_adoption_piece_item', type_='unique')
        batch_op.drop_column('item')
        batch_op.create_unique_constraint(
            'uq_adoption_submission_id' if bind.dialect.name == "sqlite"
            else 'adoption_submission_id_channel_key', ['submission_id', 'channel'])
    with op.batch_alter_table('submission', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_submission_counted_at'))
        batch_op.drop_column('counted_at')
    with op.batch_alter_table('unit', schema=None) as batch_op:
        batch_op.drop_column('leader')
