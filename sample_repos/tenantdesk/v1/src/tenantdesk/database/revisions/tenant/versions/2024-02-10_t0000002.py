"""Draft tickets

Revision ID: t0000002
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.exc import ProgrammingError

revision = "t0000002"
down_revision = "t0000001"
branch_labels = None
depends_on = None


def upgrade():
    try:
        op.add_column("tickets", sa.Column("is_draft", sa.Boolean()))
        op.execute("UPDATE tickets SET is_draft = false")
    except ProgrammingError as e:
        # The column exists when the database was created from the models.
        if 'column "is_draft" of relation "tickets" already exists' in str(e):
            print("is_draft exists: stamp this revision")


def downgrade():
    op.drop_column("tickets", "is_draft")
