"""order status index

Revision ID: 0002
Revises: 0001
"""
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("orders_status_idx", "orders", ["status"])


def downgrade():
    op.drop_index("orders_status_idx", table_name="orders")
