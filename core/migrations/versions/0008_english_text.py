"""optional English text: a KB entry's answer, a product's unit, shelf life, storage and description

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26 10:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

PRODUCT_COLUMNS = (
    ('unit_en', sa.String(length=32)),
    ('shelf_life_en', sa.Text()),
    ('storage_en', sa.Text()),
    ('description_en', sa.Text()),
)


def upgrade() -> None:
    # Existing rows get '' through a server default, which is then dropped again:
    # the models give the default in Python, like every other column.
    with op.batch_alter_table('kb_entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('answer_en', sa.Text(), nullable=False, server_default=''))
    with op.batch_alter_table('products', schema=None) as batch_op:
        for name, type_ in PRODUCT_COLUMNS:
            batch_op.add_column(sa.Column(name, type_, nullable=False, server_default=''))

    with op.batch_alter_table('kb_entries', schema=None) as batch_op:
        batch_op.alter_column('answer_en', existing_type=sa.Text(), existing_nullable=False, server_default=None)
    with op.batch_alter_table('products', schema=None) as batch_op:
        for name, type_ in PRODUCT_COLUMNS:
            batch_op.alter_column(name, existing_type=type_, existing_nullable=False, server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('products', schema=None) as batch_op:
        for name, _ in reversed(PRODUCT_COLUMNS):
            batch_op.drop_column(name)
    with op.batch_alter_table('kb_entries', schema=None) as batch_op:
        batch_op.drop_column('answer_en')
