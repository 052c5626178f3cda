"""unanswered questions

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 11:41:27.715047
"""

from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('unanswered_questions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('reason', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('entry_id', sa.String(length=96), nullable=True),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['message_id'], ['messages.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('unanswered_questions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_unanswered_questions_message_id'), ['message_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_unanswered_questions_resolved_at'), ['resolved_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('unanswered_questions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_unanswered_questions_resolved_at'))
        batch_op.drop_index(batch_op.f('ix_unanswered_questions_message_id'))

    op.drop_table('unanswered_questions')
