"""Bill currencies, defaulting to the app's "no currency"

Revision ID: 0003
"""
import sqlalchemy as sa
from alembic import op

from pocket.currency import NO_CURRENCY

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("bills", sa.Column("currency", sa.String(length=3), server_default=NO_CURRENCY, nullable=True))


def downgrade():
    op.drop_column("bills", "currency")
