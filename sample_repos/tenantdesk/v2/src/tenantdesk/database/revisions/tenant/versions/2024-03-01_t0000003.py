"""Ticket priority

Revision ID: t0000003
"""
import sqlalchemy as sa
from alembic import op

revision = "t0000003"
down_revision = "t0000002"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("tickets", sa.Column("priority", sa.Integer(), server_default="0", nullable=False))


def downgrade():
    op.drop_column("tickets", "priority")
