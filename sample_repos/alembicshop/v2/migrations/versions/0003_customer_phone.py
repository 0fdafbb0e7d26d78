"""customer phone (the other branch)

Revision ID: 0003b
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003b"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("customers", sa.Column("phone", sa.String(32), nullable=True))


def downgrade():
    op.drop_column("customers", "phone")
