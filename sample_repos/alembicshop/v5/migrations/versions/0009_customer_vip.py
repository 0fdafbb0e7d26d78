"""customers vip flag

Revision ID: 0009
Revises: 0008
"""
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("customers", sa.Column("vip", sa.Boolean(), nullable=True))


def downgrade():
    op.drop_column("customers", "vip")
