"""the channel's own message id, unique per channel (exactly-once delivery of updates)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 14:15:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('channel_message_id', sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint('uq_message_channel_id', ['channel', 'channel_message_id'])


def downgrade() -> None:
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_constraint('uq_message_channel_id', type_='unique')
        batch_op.drop_column('channel_message_id')
