"""link orders to invoices (the invoices table does not exist: this revision fails)

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("orders", sa.Column("invoice_id", sa.Integer(), nullable=True))
    op.create_foreign_key("orders_invoice_id_fkey", "orders", "invoices", ["invoice_id"], ["id"])


def downgrade():
    op.drop_column("orders", "invoice_id")
