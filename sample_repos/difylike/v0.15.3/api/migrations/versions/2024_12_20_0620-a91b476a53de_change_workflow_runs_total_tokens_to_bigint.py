"""change workflow_runs.total_tokens to bigint

Revision ID: a91b476a53de
Revises: d7999dfa4aae
Create Date: 2024-12-20 06:20:08.711340

"""
import sqlalchemy as sa
from alembic import op

import models as models

# revision identifiers, used by Alembic.
revision = "a91b476a53de"
down_revision = "d7999dfa4aae"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("workflow_runs", schema=None) as batch_op:
        batch_op.alter_column(
            "total_tokens", existing_type=sa.INTEGER(), type_=sa.BigInteger(), existing_nullable=False
        )

    with op.batch_alter_table("end_users", schema=None) as batch_op:
        batch_op.alter_column(
            "session_id", existing_type=sa.VARCHAR(length=255), type_=sa.String(), existing_nullable=False
        )


def downgrade():
    with op.batch_alter_table("end_users", schema=None) as batch_op:
        batch_op.alter_column(
            "session_id", existing_type=sa.String(), type_=sa.VARCHAR(length=255), existing_nullable=False
        )

    with op.batch_alter_table("workflow_runs", schema=None) as batch_op:
        batch_op.alter_column(
            "total_tokens", existing_type=sa.BigInteger(), type_=sa.INTEGER(), existing_nullable=False
        )
