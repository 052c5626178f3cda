"""handoffs carry set_aside: the network limit whose trip took a waiting handoff out of the staff queue

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 10:10:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('handoffs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('set_aside', sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('handoffs', schema=None) as batch_op:
        batch_op.drop_column('set_aside')
