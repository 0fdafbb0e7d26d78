"""app status, app tags; drop tidb auth bindings

Revision ID: b7e5c2a93f14
Revises: e1944c35e15e
Create Date: 2025-02-14 09:32:05.618902

"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import models as models

# revision identifiers, used by Alembic.
revision = "b7e5c2a93f14"
down_revision = "e1944c35e15e"
branch_labels = None
depends_on = None

app_status = postgresql.ENUM("normal", "archived", name="app_status", create_type=False)


def upgrade():
    app_status.create(op.get_bind(), checkfirst=True)

    op.create_table(
        "app_tags",
        sa.Column("id", models.types.StringUUID(), server_default=sa.text("uuid_generate_v4()"), nullable=False),
        sa.Column("tenant_id", models.types.StringUUID(), nullable=False),
        sa.Column("app_id", models.types.StringUUID(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("created_by", models.types.StringUUID(), nullable=False),
        sa.Column("created_at", sa.DateTime(), server_default=sa.text("CURRENT_TIMESTAMP"), nullable=False),
        sa.ForeignKeyConstraint(["app_id"], ["apps.id"], name="app_tags_app_id_fkey", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="app_tag_pkey"),
        sa.UniqueConstraint("app_id", "name", name="app_tags_app_id_key"),
    )
    with op.batch_alter_table("app_tags", schema=None) as batch_op:
        batch_op.create_index("app_tags_tenant_id_idx", ["tenant_id"], unique=False)

    with op.batch_alter_table("apps", schema=None) as batch_op:
        batch_op.add_column(sa.Column("status", app_status, server_default="normal", nullable=True))
        batch_op.alter_column(
            "enable_site", existing_type=sa.BOOLEAN(), server_default=sa.text("false"), existing_nullable=False
        )

    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_active_at", sa.DateTime(), nullable=True))

    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_column("read_account_id")

    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.alter_column("answer", existing_type=sa.TEXT(), nullable=True)

    with op.batch_alter_table("workflow_runs", schema=None) as batch_op:
        batch_op.alter_column(
            "graph", existing_type=sa.TEXT(), comment="serialized workflow graph", existing_nullable=True
        )

    with op.batch_alter_table("end_users", schema=None) as batch_op:
        batch_op.drop_index("end_user_session_id_idx")
        batch_op.create_index("end_user_session_idx", ["session_id", "type"], unique=False)

    with op.batch_alter_table("tidb_auth_bindings", schema=None) as batch_op:
        batch_op.drop_index("tidb_auth_bindings_tenant_idx")
        batch_op.drop_index("tidb_auth_bindings_status_idx")
        batch_op.drop_index("tidb_auth_bindings_created_at_idx")
        batch_op.drop_index("tidb_auth_bindings_active_idx")

    op.drop_table("tidb_auth_bindings")


def downgrade():
    op.create_table(
        "tidb_auth_bindings",
        sa.Column("id", postgresql.UUID(), server_default=sa.text("uuid_generate_v4()"), nullable=False),
        sa.Column("tenant_id", postgresql.UUID(), nullable=True),
        sa.Column("cluster_id", sa.VARCHAR(length=255), nullable=False),
        sa.Column("cluster_name", sa.VARCHAR(length=255), nullable=False),
        sa.Column("active", sa.BOOLEAN(), server_default=sa.text("false"), nullable=False),
        sa.Column("status", sa.VARCHAR(length=255), server_default=sa.text("'CREATING'::character varying"), nullable=False),
        sa.Column("account", sa.VARCHAR(length=255), nullable=False),
        sa.Column("password", sa.VARCHAR(length=255), nullable=False),
        sa.Column("created_at", postgresql.TIMESTAMP(), server_default=sa.text("CURRENT_TIMESTAMP"), nullable=False),
        sa.PrimaryKeyConstraint("id", name="tidb_auth_bindings_pkey"),
    )
    with op.batch_alter_table("tidb_auth_bindings", schema=None) as batch_op:
        batch_op.create_index("tidb_auth_bindings_active_idx", ["active"], unique=False)
        batch_op.create_index("tidb_auth_bindings_created_at_idx", ["created_at"], unique=False)
        batch_op.create_index("tidb_auth_bindings_status_idx", ["status"], unique=False)
        batch_op.create_index("tidb_auth_bindings_tenant_idx", ["tenant_id"], unique=False)

    with op.batch_alter_table("end_users", schema=None) as batch_op:
        batch_op.drop_index("end_user_session_idx")
        batch_op.create_index("end_user_session_id_idx", ["session_id", "type"], unique=False)

    with op.batch_alter_table("workflow_runs", schema=None) as batch_op:
        batch_op.alter_column("graph", existing_type=sa.TEXT(), comment=None, existing_nullable=True)

    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.alter_column("answer", existing_type=sa.TEXT(), nullable=False)

    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("read_account_id", postgresql.UUID(), nullable=True))

    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("last_active_at")

    with op.batch_alter_table("apps", schema=None) as batch_op:
        batch_op.alter_column(
            "enable_site", existing_type=sa.BOOLEAN(), server_default=sa.text("true"), existing_nullable=False
        )
        batch_op.drop_column("status")

    with op.batch_alter_table("app_tags", schema=None) as batch_op:
        batch_op.drop_index("app_tags_tenant_id_idx")

    op.drop_table("app_tags")
    app_status.drop(op.get_bind(), checkfirst=True)
