"""Bill tokens, of a column type from a type library

Revision ID: 0002
"""
import sqlalchemy as sa
import fancytypes
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("bills", sa.Column("token", fancytypes.types.token.TokenType(length=16), nullable=True))


def downgrade():
    op.drop_column("bills", "token")
