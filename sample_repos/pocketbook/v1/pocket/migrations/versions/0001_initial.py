"""Initial tables, and the first account (asked for on the terminal)

Revision ID: 0001
"""
import sqlalchemy as sa
from alembic import op

from pocket.setup import admin_account

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    email, password = admin_account()
    accounts = op.create_table(
        "accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=255), nullable=False),
        sa.Column("password", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("email"),
    )
    op.create_table(
        "bills",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("amount", sa.Float(), nullable=False),
        sa.Column("what", sa.String(length=255), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.bulk_insert(accounts, [{"id": 1, "email": email, "password": password}])


def downgrade():
    op.drop_table("bills")
    op.drop_table("accounts")
