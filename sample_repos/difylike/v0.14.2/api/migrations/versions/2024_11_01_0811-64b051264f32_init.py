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


def downgrade():
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_index("account_email_idx")

    op.drop_table("accounts")
    op.drop_table("tenants")
