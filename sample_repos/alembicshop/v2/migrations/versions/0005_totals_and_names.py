"""bigint totals, default status, names from emails

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import context, op

from shop.config import settings

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    op.execute("ALTER TABLE orders ALTER COLUMN total TYPE bigint")
    op.execute("UPDATE orders SET status = 'new' WHERE status IS NULL")
    op.alter_column("orders", "status", existing_type=sa.String(32), nullable=False)
    if not context.is_offline_mode():
        # Per-row Python: only runs when rows exist.
        bind = op.get_bind()
        customers = sa.table("customers", sa.column("id"), sa.column("email"), sa.column("name"))
        for row in bind.execute(sa.select(customers.c.id, customers.c.email).where(customers.c.name.is_(None))):
            bind.execute(customers.update().where(customers.c.id == row.id).values(name=row.email.split("@")[0]))
    if settings.DB_TYPE == "postgresql":
        op.create_index("customers_email_lower_idx", "customers", [sa.text("lower(email)")])


def downgrade():
    op.execute("ALTER TABLE orders ALTER COLUMN total TYPE integer")
