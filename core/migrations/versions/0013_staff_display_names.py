"""staff accounts carry display_name: what customers see ("店员 小王 已接入")

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 10:20:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('staff_accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('display_name', sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('staff_accounts', schema=None) as batch_op:
        batch_op.drop_column('display_name')
