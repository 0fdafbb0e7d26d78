"""init

Revision ID: 64b051264f32
Revises:
Create Date: 2024-11-01 08:11:42.511042

"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import models as models

# revision identifiers, used by Alembic.
revision = "64b051264f32"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.execute('CREATE EXTENSION IF NOT EXISTS "uuid-ossp";')

    op.create_table(
        "tenants",
        sa.Column("id", postgresql.UUID(), server_default=sa.text("uuid_generate_v4()"), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("encrypt_public_key", sa.Text(), nullable=True),
        sa.Column("plan", sa.String(length=255), server_default=sa.text("'basic'::character varying"), nullable=False),
        sa.Column("status", sa.String(length=255), server_default=sa.text("'normal'::character varying"), nullable=False),
        sa.Column("custom_config", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), server_default=sa.text("CURRENT_TIMESTAMP"), nullable=False),
        sa.Column("updated_at", sa.DateTime(), server_default=sa.text("CURRENT_TIMESTAMP"), nullable=False),
        sa.PrimaryKeyConstraint("id", name="tenant_pkey"),
    )

    op.create_table(
        "accounts",
        sa.Column("id", postgresql.UUID(), server_default=sa.text("uuid_generate_v4()"), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("email", sa.String(length=255), nullable=False),
        sa.Column("password", sa.String(length=255), nullable=True),
        sa.Column("password_salt", sa.String(length=255), nullable=True),
        sa.Column("avatar", sa.String(length=255), nullable=True),
        sa.Column("interface_language", sa.String(length=255), nullable=True),
        sa.Column("interface_theme", sa.String(length=255), nullable=True),
        sa.Column("timezone", sa.String(length=255), nullable=True),
        sa.Column("last_login_at", sa.DateTime(), nullable=True),
        sa.Column("last_login_ip", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=16), server_default=sa.text("'active'::character varying"), nullable=False),
        sa.Column("initialized_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), server_default=sa.text("CURRENT_TIMESTAMP"), nullable=False),
        sa.Column("updated_at", sa.DateTime(), server_default=sa.text("CURRENT_TIMESTAMP"), nullable=False),
        sa.PrimaryKeyConstraint("id", name="account_pkey"),
    )
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.create_index("account_email_idx", ["email"], unique=False)

    op.create_table(
        "end_users",
        sa.Column("id", postgresql.UUID(), server_default=sa.text("uuid_generate_v4()"), nullable=False),
        sa.Column("tenant_id", postgresql.UUID(), nullable=False),
        sa.Column("app_id", postgresql.UUID(), nullable=True),
        sa.Column("type", sa.String(length=255), nullable=False),
        sa.Column("external_user_id", sa.String(length=255), nullable=True),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("is_anonymous", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("session_id", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(), server_default=sa.text("CURRENT_TIMESTAMP(0)"), nullable=False),
        sa.Column("updated_at", sa.DateTime(), server_default=sa.text("CURRENT_TIMESTAMP(0)"), nullable=False),
        sa.PrimaryKeyConstraint("id", name="end_user_pkey"),
    )
    with op.batch_alter_table("end_users", schema=None) as batch_op:
        batch_op.create_index("end_user_session_id_idx", ["session_id", "type"], unique=False)
        batch_op.create_index("end_user_tenant_session_id_idx", ["tenant_id", "session_id", "type"], unique=False)

    op.create_table(
        "workflow_runs",
        sa.Column("id", postgresql.UUID(), server_default=sa.text("uuid_generate_v4()"), nullable=False),
        sa.Column("tenant_id", postgresql.UUID(), nullable=False),
        sa.Column("app_id", postgresql.UUID(), nullable=False),
        sa.Column("sequence_number", sa.Integer(), nullable=False),
        sa.Column("workflow_id", postgresql.UUID(), nullable=False),
        sa.Column("type", sa.String(length=255), nullable=False),
        sa.Column("triggered_from", sa.String(length=255), nullable=False),
        sa.Column("version", sa.String(length=255), nullable=False),
        sa.Column("graph", sa.Text(), nullable=True),
        sa.Column("inputs", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=255), nullable=False),
        sa.Column("outputs", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("elapsed_time", sa.Float(), server_default=sa.text("0"), nullable=False),
        sa.Column("total_tokens", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("total_steps", sa.Integer(), server_default=sa.text("0"), nullable=True),
        sa.Column("created_by_role", sa.String(length=255), nullable=False),
        sa.Column("created_by", postgresql.UUID(), nullable=False),
        sa.Column("created_at", sa.DateTime(), server_default=sa.text("CURRENT_TIMESTAMP(0)"), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="workflow_run_pkey"),
    )
    with op.batch_alter_table("workflow_runs", schema=None) as batch_op:
        batch_op.create_index("workflow_run_tenant_app_sequence_idx", ["tenant_id", "app_id", "sequence_number"], unique=False)
        batch_op.create_index("workflow_run_triggerd_from_idx", ["tenant_id", "app_id", "triggered_from"], unique=False)


def downgrade():
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_index("account_email_idx")

    op.drop_table("workflow_runs")
    op.drop_table("end_users")
    op.drop_table("accounts")
    op.drop_table("tenants")
