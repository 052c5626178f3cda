"""customer chat-token versions and client addresses, server-side staff sessions, per-account sign-in backoff

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 06:30:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('customers', schema=None) as batch_op:
        # NULL: no chat token issued yet (a Telegram customer, or a web customer from before tokens)
        batch_op.add_column(sa.Column('chat_token_version', sa.Integer(), nullable=True))
        # where the customer's last message came from, for the open-handoffs-per-address limit
        batch_op.add_column(sa.Column('client_address', sa.String(length=45), nullable=True))
    with op.batch_alter_table('staff_accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('failed_logins', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        'staff_sessions',
        sa.Column('id', sa.String(length=43), nullable=False),
        sa.Column('account_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['account_id'], ['staff_accounts.id'], ),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_staff_sessions_account_id', 'staff_sessions', ['account_id'])


def downgrade() -> None:
    op.drop_index('ix_staff_sessions_account_id', table_name='staff_sessions')
    op.drop_table('staff_sessions')
    with op.batch_alter_table('staff_accounts', schema=None) as batch_op:
        batch_op.drop_column('locked_until')
        batch_op.drop_column('failed_logins')
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_column('client_address')
        batch_op.drop_column('chat_token_version')
