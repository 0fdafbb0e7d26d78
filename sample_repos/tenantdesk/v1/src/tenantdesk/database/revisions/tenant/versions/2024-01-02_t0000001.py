"""Initial tenant revision (the tables come from the models)

Revision ID: t0000001
"""
revision = "t0000001"
down_revision = ""
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
