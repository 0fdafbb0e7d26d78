"""orders archived flag

Revision ID: 0008
Revises: 0007
"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("orders", sa.Column("archived", sa.Boolean(), nullable=True))


def downgrade():
    op.drop_column("orders", "archived")
