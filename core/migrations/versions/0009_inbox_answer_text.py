"""inbox questions keep the answer they got (a customer's 没用, or a handoff after an answer)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27 10:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('unanswered_questions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('answer', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('unanswered_questions', schema=None) as batch_op:
        batch_op.drop_column('answer')
