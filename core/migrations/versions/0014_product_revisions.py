"""products carry a revision number and keep their changes, like KB entries (the owner's catalog page);
the demo's products get their own pictures instead of one per category

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 03:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


# The demo products of a shop made before each had its own picture (the category pictures are gone).
DEMO_PRODUCTS = """puer-raw-cake puer-ripe-cake puer-mini-tuo dianhong-golden flower-cake-rose flower-cake-gift yunnan-coffee
    matsutake-dried boletus-dried xuanwei-ham dahongpao rougui shuixian tieguanyin white-tea-shoumei white-tea-baimudan
    zhengshan longjing jinhua-ham anji-white hetian-jujube ruoqiang-jujube turpan-raisins badam xinjiang-walnut
    dried-figs dried-apricot sichuan-bacon sichuan-sausage rabbit-heads cold-eaten-rabbit beef-jerky dengying-beef
    pixian-douban sichuan-pickles fuling-zhacai cantonese-mooncake wife-cake almond-biscuits chicken-biscuits
    xinhui-chenpi jdz-blue-tea-set jdz-linglong-bowls jdz-famille-vase yixing-xishi-pot yixing-shipiao-pot
    suzhou-silk-scarf suzhou-embroidery-fan anhua-dark-tea""".split()


def upgrade() -> None:
    op.create_table('product_revisions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.String(length=64), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('author', sa.String(length=64), nullable=False),
    sa.Column('before', sa.JSON(), nullable=True),
    sa.Column('after', sa.JSON(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('product_revisions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_product_revisions_product_id'), ['product_id'], unique=False)
    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.add_column(sa.Column('revision', sa.Integer(), nullable=False, server_default='1'))
    products = sa.table('products', sa.column('id', sa.String), sa.column('category', sa.String),
                        sa.column('image', sa.String))
    op.execute(products.update()
               .where(products.c.id.in_(DEMO_PRODUCTS),
                      products.c.image == sa.literal('/static/products/') + products.c.category + sa.literal('.png'))
               .values(image=sa.literal('/static/products/') + products.c.id + sa.literal('.png')))


def downgrade() -> None:
    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.drop_column('revision')
    with op.batch_alter_table('product_revisions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_product_revisions_product_id'))
    op.drop_table('product_revisions')
