"""Initial core revision (the tables come from the models)

Revision ID: c0000001
"""
revision = "c0000001"
down_revision = ""
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
