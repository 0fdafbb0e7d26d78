"""customers name index, built concurrently

Revision ID: 0006
Revises: 0005
"""
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    with op.get_context().autocommit_block():
        op.create_index("customers_name_idx", "customers", ["name"], postgresql_concurrently=True)


def downgrade():
    op.drop_index("customers_name_idx", table_name="customers")
