"""order note (one branch)

Revision ID: 0003a
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003a"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("orders", sa.Column("note", sa.Text(), nullable=True))


def downgrade():
    op.drop_column("orders", "note")
