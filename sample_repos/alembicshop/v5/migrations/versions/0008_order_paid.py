"""orders paid flag

Revision ID: 0008
Revises: 0007e
"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007e"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("orders", sa.Column("paid", sa.Boolean(), nullable=True))


def downgrade():
    op.drop_column("orders", "paid")
