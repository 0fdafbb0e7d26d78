"""init

Revision ID: 0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

import shop.types

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "customers",
        sa.Column("id", shop.types.StringUUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("email", sa.String(255), nullable=False),
        sa.Column("name", sa.String(255), nullable=True),
        sa.PrimaryKeyConstraint("id", name="customers_pkey"),
        sa.UniqueConstraint("email", name="customers_email_key"),
    )
    op.create_table(
        "orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", shop.types.StringUUID(), nullable=False),
        sa.Column("total", sa.Integer(), server_default="0", nullable=False),
        sa.Column("status", sa.String(32), nullable=True),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name="orders_customer_id_fkey"),
        sa.PrimaryKeyConstraint("id", name="orders_pkey"),
    )
    # Rows the later data migrations work on (an app's first release ships with a demo shop).
    op.execute("INSERT INTO customers (email, name) VALUES ('ada@example.com', 'Ada'), ('bob@example.com', NULL)")
    op.execute("INSERT INTO orders (customer_id, total) SELECT id, 10 FROM customers")


def downgrade():
    op.drop_table("orders")
    op.drop_table("customers")
