"""add child chunks and dataset auto disable logs

Revision ID: e1944c35e15e
Revises: a91b476a53de
Create Date: 2025-01-06 14:42:51.204117

"""
import sqlalchemy as sa
from alembic import op

import models as models

# revision identifiers, used by Alembic.
revision = "e1944c35e15e"
down_revision = "a91b476a53de"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "child_chunks",
        sa.Column("id", models.types.StringUUID(), server_default=sa.text("uuid_generate_v4()"), nullable=False),
        sa.Column("tenant_id", models.types.StringUUID(), nullable=False),
        sa.Column("dataset_id", models.types.StringUUID(), nullable=False),
        sa.Column("document_id", models.types.StringUUID(), nullable=False),
        sa.Column("segment_id", models.types.StringUUID(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("word_count", sa.Integer(), nullable=False),
        sa.Column("index_node_id", sa.String(length=255), nullable=True),
        sa.Column("index_node_hash", sa.String(length=255), nullable=True),
        sa.Column("type", sa.String(length=255), server_default=sa.text("'automatic'::character varying"), nullable=False),
        sa.Column("created_by", models.types.StringUUID(), nullable=False),
        sa.Column("created_at", sa.DateTime(), server_default=sa.text("CURRENT_TIMESTAMP(0)"), nullable=False),
        sa.Column("updated_by", models.types.StringUUID(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), server_default=sa.text("CURRENT_TIMESTAMP(0)"), nullable=False),
        sa.Column("indexing_at", sa.DateTime(), nullable=True),
        sa.Column("completed_at", sa.DateTime(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="child_chunk_pkey"),
    )
    with op.batch_alter_table("child_chunks", schema=None) as batch_op:
        batch_op.create_index(
            "child_chunk_dataset_id_idx",
            ["tenant_id", "dataset_id", "document_id", "segment_id", "index_node_id"],
            unique=False,
        )

    op.create_table(
        "dataset_auto_disable_logs",
        sa.Column("id", models.types.StringUUID(), server_default=sa.text("uuid_generate_v4()"), nullable=False),
        sa.Column("tenant_id", models.types.StringUUID(), nullable=False),
        sa.Column("dataset_id", models.types.StringUUID(), nullable=False),
        sa.Column("document_id", models.types.StringUUID(), nullable=False),
        sa.Column("notified", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("created_at", sa.DateTime(), server_default=sa.text("CURRENT_TIMESTAMP(0)"), nullable=False),
        sa.PrimaryKeyConstraint("id", name="dataset_auto_disable_log_pkey"),
    )
    with op.batch_alter_table("dataset_auto_disable_logs", schema=None) as batch_op:
        batch_op.create_index("dataset_auto_disable_log_created_atx", ["created_at"], unique=False)
        batch_op.create_index("dataset_auto_disable_log_dataset_idx", ["dataset_id"], unique=False)
        batch_op.create_index("dataset_auto_disable_log_tenant_idx", ["tenant_id"], unique=False)


def downgrade():
    with op.batch_alter_table("dataset_auto_disable_logs", schema=None) as batch_op:
        batch_op.drop_index("dataset_auto_disable_log_tenant_idx")
        batch_op.drop_index("dataset_auto_disable_log_dataset_idx")
        batch_op.drop_index("dataset_auto_disable_log_created_atx")

    op.drop_table("dataset_auto_disable_logs")

    with op.batch_alter_table("child_chunks", schema=None) as batch_op:
        batch_op.drop_index("child_chunk_dataset_id_idx")

    op.drop_table("child_chunks")
