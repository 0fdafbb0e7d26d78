"""merge the note and phone branches

Revision ID: 0004
Revises: 0003a, 0003b
"""
revision = "0004"
down_revision = ("0003a", "0003b")
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
