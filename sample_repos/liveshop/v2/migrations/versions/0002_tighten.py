"""tighten: constraints that existing rows must satisfy, an enum label removed, a rewrite

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("users", sa.Column("phone", sa.String(32), nullable=True))
    op.alter_column("users", "email", existing_type=sa.String(255), nullable=False)
    op.create_index("users_name_key", "users", ["name"], unique=True)
    op.alter_column("orders", "code", existing_type=sa.String(50), type_=sa.String(20))
    op.create_check_constraint("orders_amount_nonnegative", "orders", "amount >= 0")
    op.create_foreign_key("orders_user_id_fkey", "orders", "users", ["user_id"], ["id"])
    # 'legacy' is retired: the enum is rebuilt without it.
    op.execute("ALTER TYPE user_status RENAME TO user_status_old")
    op.execute("CREATE TYPE user_status AS ENUM ('active', 'banned')")
    op.execute("ALTER TABLE users ALTER COLUMN status TYPE user_status USING status::text::user_status")
    op.execute("DROP TYPE user_status_old")
    op.alter_column("orders", "amount", existing_type=sa.Integer(), type_=sa.BigInteger())
    op.execute("UPDATE orders SET note = 'migrated' WHERE note IS NULL")


def downgrade():
    raise NotImplementedError
