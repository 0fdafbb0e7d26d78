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

    op.create_table('accounts',
    sa.Column('id', sa.UUID(), server_default=sa.text('uuid_generate_v4()'), nullable=False),
    sa.Column('name', sa.VARCHAR(length=255), nullable=False),
    sa.Column('email', sa.VARCHAR(length=255), nullable=False),
    sa.Column('password', sa.VARCHAR(length=255), nullable=True),
    sa.Column('password_salt', sa.VARCHAR(length=255), nullable=True),
    sa.Column('avatar', sa.VARCHAR(length=255), nullable=True),
    sa.Column('interface_language', sa.VARCHAR(length=255), nullable=True),
    sa.Column('interface_theme', sa.VARCHAR(length=255), nullable=True),
    sa.Column('timezone', sa.VARCHAR(length=255), nullable=True),
    sa.Column('last_login_at', postgresql.TIMESTAMP(), nullable=True),
    sa.Column('last_login_ip', sa.VARCHAR(length=255), nullable=True),
    sa.Column('status', sa.VARCHAR(length=16), server_default=sa.text("'active'::character varying"), nullable=False),
    sa.Column('initialized_at', postgresql.TIMESTAMP(), nullable=True),
    sa.Column('created_at', postgresql.TIMESTAMP(), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.Column('updated_at', postgresql.TIMESTAMP(), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.PrimaryKeyConstraint('id', name='account_pkey')
    )
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.create_index('account_email_idx', ['email'], unique=False)

    op.create_table('apps',
    sa.Column('id', sa.UUID(), server_default=sa.text('uuid_generate_v4()'), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('name', sa.VARCHAR(length=255), nullable=False),
    sa.Column('description', sa.TEXT(), server_default=sa.text("''::character varying"), nullable=False),
    sa.Column('mode', sa.VARCHAR(length=255), nullable=False),
    sa.Column('icon_type', sa.VARCHAR(length=255), nullable=True),
    sa.Column('icon', sa.VARCHAR(length=255), nullable=True),
    sa.Column('icon_background', sa.VARCHAR(length=255), nullable=True),
    sa.Column('app_model_config_id', sa.UUID(), nullable=True),
    sa.Column('workflow_id', sa.UUID(), nullable=True),
    sa.Column('enable_site', sa.BOOLEAN(), server_default=sa.text('true'), nullable=False),
    sa.Column('enable_api', sa.BOOLEAN(), server_default=sa.text('true'), nullable=False),
    sa.Column('api_rpm', sa.INTEGER(), server_default=sa.text('0'), nullable=False),
    sa.Column('api_rph', sa.INTEGER(), server_default=sa.text('0'), nullable=False),
    sa.Column('is_demo', sa.BOOLEAN(), server_default=sa.text('false'), nullable=False),
    sa.Column('is_public', sa.BOOLEAN(), server_default=sa.text('false'), nullable=False),
    sa.Column('is_universal', sa.BOOLEAN(), server_default=sa.text('false'), nullable=False),
    sa.Column('tracing', sa.TEXT(), nullable=True),
    sa.Column('max_active_requests', sa.INTEGER(), nullable=True),
    sa.Column('created_by', sa.UUID(), nullable=True),
    sa.Column('created_at', postgresql.TIMESTAMP(), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.Column('updated_by', sa.UUID(), nullable=True),
    sa.Column('updated_at', postgresql.TIMESTAMP(), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.Column('use_icon_as_answer_icon', sa.BOOLEAN(), server_default=sa.text('false'), nullable=False),
    sa.PrimaryKeyConstraint('id', name='app_pkey')
    )
    with op.batch_alter_table('apps', schema=None) as batch_op:
        batch_op.create_index('app_tenant_id_idx', ['tenant_id'], unique=False)

    op.create_table('conversations',
    sa.Column('id', sa.UUID(), server_default=sa.text('uuid_generate_v4()'), nullable=False),
    sa.Column('app_id', sa.UUID(), nullable=False),
    sa.Column('app_model_config_id', sa.UUID(), nullable=True),
    sa.Column('model_provider', sa.VARCHAR(length=255), nullable=True),
    sa.Column('override_model_configs', sa.TEXT(), nullable=True),
    sa.Column('model_id', sa.VARCHAR(length=255), nullable=True),
    sa.Column('mode', sa.VARCHAR(length=255), nullable=False),
    sa.Column('name', sa.VARCHAR(length=255), nullable=False),
    sa.Column('summary', sa.TEXT(), nullable=True),
    sa.Column('inputs', postgresql.JSON(astext_type=sa.Text()), nullable=True),
    sa.Column('introduction', sa.TEXT(), nullable=True),
    sa.Column('system_instruction', sa.TEXT(), nullable=True),
    sa.Column('system_instruction_tokens', sa.INTEGER(), server_default=sa.text('0'), nullable=False),
    sa.Column('status', sa.VARCHAR(length=255), nullable=False),
    sa.Column('invoke_from', sa.VARCHAR(length=255), nullable=True),
    sa.Column('from_source', sa.VARCHAR(length=255), nullable=False),
    sa.Column('from_end_user_id', sa.UUID(), nullable=True),
    sa.Column('from_account_id', sa.UUID(), nullable=True),
    sa.Column('read_at', postgresql.TIMESTAMP(), nullable=True),
    sa.Column('read_account_id', sa.UUID(), nullable=True),
    sa.Column('dialogue_count', sa.INTEGER(), nullable=False),
    sa.Column('created_at', postgresql.TIMESTAMP(), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.Column('updated_at', postgresql.TIMESTAMP(), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.Column('is_deleted', sa.BOOLEAN(), server_default=sa.text('false'), nullable=False),
    sa.PrimaryKeyConstraint('id', name='conversation_pkey')
    )
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.create_index('conversation_app_from_user_idx', ['app_id', 'from_source', 'from_end_user_id'], unique=False)

    op.create_table('datasets',
    sa.Column('id', sa.UUID(), server_default=sa.text('uuid_generate_v4()'), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('name', sa.VARCHAR(length=255), nullable=False),
    sa.Column('description', sa.TEXT(), nullable=True),
    sa.Column('provider', sa.VARCHAR(length=255), server_default=sa.text("'vendor'::character varying"), nullable=False),
    sa.Column('permission', sa.VARCHAR(length=255), server_default=sa.text("'only_me'::character varying"), nullable=False),
    sa.Column('data_source_type', sa.VARCHAR(length=255), nullable=True),
    sa.Column('indexing_technique', sa.VARCHAR(length=255), nullable=True),
    sa.Column('index_struct', sa.TEXT(), nullable=True),
    sa.Column('created_by', sa.UUID(), nullable=False),
    sa.Column('created_at', postgresql.TIMESTAMP(), server_default=sa.text('CURRENT_TIMESTAMP(0)'), nullable=False),
    sa.Column('updated_by', sa.UUID(), nullable=True),
    sa.Column('updated_at', postgresql.TIMESTAMP(), server_default=sa.text('CURRENT_TIMESTAMP(0)'), nullable=False),
    sa.Column('embedding_model', sa.VARCHAR(length=255), nullable=True),
    sa.Column('embedding_model_provider', sa.VARCHAR(length=255), nullable=True),
    sa.Column('collection_binding_id', sa.UUID(), nullable=True),
    sa.Column('retrieval_model', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.PrimaryKeyConstraint('id', name='dataset_pkey')
    )
    with op.batch_alter_table('datasets', schema=None) as batch_op:
        batch_op.create_index('dataset_tenant_idx', ['tenant_id'], unique=False)
        batch_op.create_index('retrieval_model_idx', ['retrieval_model'], unique=False, postgresql_using='gin')

    op.create_table('document_segments',
    sa.Column('id', sa.UUID(), server_default=sa.text('uuid_generate_v4()'), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('dataset_id', sa.UUID(), nullable=False),
    sa.Column('document_id', sa.UUID(), nullable=False),
    sa.Column('position', sa.INTEGER(), nullable=False),
    sa.Column('content', sa.TEXT(), nullable=False),
    sa.Column('answer', sa.TEXT(), nullable=True),
    sa.Column('word_count', sa.INTEGER(), nullable=False),
    sa.Column('tokens', sa.INTEGER(), nullable=False),
    sa.Column('keywords', postgresql.JSON(astext_type=sa.Text()), nullable=True),
    sa.Column('index_node_id', sa.VARCHAR(length=255), nullable=True),
    sa.Column('index_node_hash', sa.VARCHAR(length=255), nullable=True),
    sa.Column('hit_count', sa.INTEGER(), nullable=False),
    sa.Column('enabled', sa.BOOLEAN(), server_default=sa.text('true'), nullable=False),
    sa.Column('disabled_at', postgresql.TIMESTAMP(), nullable=True),
    sa.Column('disabled_by', sa.UUID(), nullable=True),
    sa.Column('status', sa.VARCHAR(length=255), server_default=sa.text("'waiting'::character varying"), nullable=False),
    sa.Column('created_by', sa.UUID(), nullable=False),
    sa.Column('created_at', postgresql.TIMESTAMP(), server_default=sa.text('CURRENT_TIMESTAMP(0)'), nullable=False),
    sa.Column('updated_by', sa.UUID(), nullable=True),
    sa.Column('updated_at', postgresql.TIMESTAMP(), server_default=sa.text('CURRENT_TIMESTAMP(0)'), nullable=False),
    sa.Column('indexing_at', postgresql.TIMESTAMP(), nullable=True),
    sa.Column('completed_at', postgresql.TIMESTAMP(), nullable=True),
    sa.Column('error', sa.TEXT(), nullable=True),
    sa.Column('stopped_at', postgresql.TIMESTAMP(), nullable=True),
    sa.PrimaryKeyConstraint('id', name='document_segment_pkey')
    )
    with op.batch_alter_table('document_segments', schema=None) as batch_op:
        batch_op.create_index('document_segment_dataset_id_idx', ['dataset_id'], unique=False)
        batch_op.create_index('document_segment_dataset_node_idx', ['dataset_id', 'index_node_id'], unique=False)
        batch_op.create_index('document_segment_document_id_idx', ['document_id'], unique=False)
        batch_op.create_index('document_segment_tenant_dataset_idx', ['dataset_id', 'tenant_id'], unique=False)
        batch_op.create_index('document_segment_tenant_document_idx', ['document_id', 'tenant_id'], unique=False)
        batch_op.create_index('document_segment_tenant_idx', ['tenant_id'], unique=False)

    op.create_table('documents',
    sa.Column('id', sa.UUID(), server_default=sa.text('uuid_generate_v4()'), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('dataset_id', sa.UUID(), nullable=False),
    sa.Column('position', sa.INTEGER(), nullable=False),
    sa.Column('data_source_type', sa.VARCHAR(length=255), nullable=False),
    sa.Column('data_source_info', sa.TEXT(), nullable=True),
    sa.Column('dataset_process_rule_id', sa.UUID(), nullable=True),
    sa.Column('batch', sa.VARCHAR(length=255), nullable=False),
    sa.Column('name', sa.VARCHAR(length=255), nullable=False),
    sa.Column('created_from', sa.VARCHAR(length=255), nullable=False),
    sa.Column('created_by', sa.UUID(), nullable=False),
    sa.Column('created_api_request_id', sa.UUID(), nullable=True),
    sa.Column('created_at', postgresql.TIMESTAMP(), server_default=sa.text('CURRENT_TIMESTAMP(0)'), nullable=False),
    sa.Column('processing_started_at', postgresql.TIMESTAMP(), nullable=True),
    sa.Column('file_id', sa.TEXT(), nullable=True),
    sa.Column('word_count', sa.INTEGER(), nullable=True),
    sa.Column('parsing_completed_at', postgresql.TIMESTAMP(), nullable=True),
    sa.Column('cleaning_completed_at', postgresql.TIMESTAMP(), nullable=True),
    sa.Column('splitting_completed_at', postgresql.TIMESTAMP(), nullable=True),
    sa.Column('tokens', sa.INTEGER(), nullable=True),
    sa.Column('indexing_latency', sa.DOUBLE_PRECISION(precision=53), nullable=True),
    sa.Column('completed_at', postgresql.TIMESTAMP(), nullable=True),
    sa.Column('is_paused', sa.BOOLEAN(), server_default=sa.text('false'), nullable=True),
    sa.Column('paused_by', sa.UUID(), nullable=True),
    sa.Column('paused_at', postgresql.TIMESTAMP(), nullable=True),
    sa.Column('error', sa.TEXT(), nullable=True),
    sa.Column('stopped_at', postgresql.TIMESTAMP(), nullable=True),
    sa.Column('indexing_status', sa.VARCHAR(length=255), server_default=sa.text("'waiting'::character varying"), nullable=False),
    sa.Column('enabled', sa.BOOLEAN(), server_default=sa.text('true'), nullable=False),
    sa.Column('disabled_at', postgresql.TIMESTAMP(), nullable=True),
    sa.Column('disabled_by', sa.UUID(), nullable=True),
    sa.Column('archived', sa.BOOLEAN(), server_default=sa.text('false'), nullable=False),
    sa.Column('archived_reason', sa.VARCHAR(length=255), nullable=True),
    sa.Column('archived_by', sa.UUID(), nullable=True),
    sa.Column('archived_at', postgresql.TIMESTAMP(), nullable=True),
    sa.Column('updated_at', postgresql.TIMESTAMP(), server_default=sa.text('CURRENT_TIMESTAMP(0)'), nullable=False),
    sa.Column('doc_type', sa.VARCHAR(length=40), nullable=True),
    sa.Column('doc_metadata', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('doc_form', sa.VARCHAR(length=255), server_default=sa.text("'text_model'::character varying"), nullable=False),
    sa.Column('doc_language', sa.VARCHAR(length=255), nullable=True),
    sa.PrimaryKeyConstraint('id', name='document_pkey')
    )
    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.create_index('document_dataset_id_idx', ['dataset_id'], unique=False)
        batch_op.create_index('document_is_paused_idx', ['is_paused'], unique=False)
        batch_op.create_index('document_metadata_idx', ['doc_metadata'], unique=False, postgresql_using='gin')
        batch_op.create_index('document_tenant_idx', ['tenant_id'], unique=False)

    op.create_table('end_users',
    sa.Column('id', sa.UUID(), server_default=sa.text('uuid_generate_v4()'), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('app_id', sa.UUID(), nullable=True),
    sa.Column('type', sa.VARCHAR(length=255), nullable=False),
    sa.Column('external_user_id', sa.VARCHAR(length=255), nullable=True),
    sa.Column('name', sa.VARCHAR(length=255), nullable=True),
    sa.Column('is_anonymous', sa.BOOLEAN(), server_default=sa.text('true'), nullable=False),
    sa.Column('session_id', sa.VARCHAR(length=255), nullable=False),
    sa.Column('created_at', postgresql.TIMESTAMP(), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.Column('updated_at', postgresql.TIMESTAMP(), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.PrimaryKeyConstraint('id', name='end_user_pkey')
    )
    with op.batch_alter_table('end_users', schema=None) as batch_op:
        batch_op.create_index('end_user_session_id_idx', ['session_id', 'type'], unique=False)
        batch_op.create_index('end_user_tenant_session_id_idx', ['tenant_id', 'session_id', 'type'], unique=False)

    op.create_table('messages',
    sa.Column('id', sa.UUID(), server_default=sa.text('uuid_generate_v4()'), nullable=False),
    sa.Column('app_id', sa.UUID(), nullable=False),
    sa.Column('model_provider', sa.VARCHAR(length=255), nullable=True),
    sa.Column('model_id', sa.VARCHAR(length=255), nullable=True),
    sa.Column('override_model_configs', sa.TEXT(), nullable=True),
    sa.Column('conversation_id', sa.UUID(), nullable=False),
    sa.Column('inputs', postgresql.JSON(astext_type=sa.Text()), nullable=True),
    sa.Column('query', sa.TEXT(), nullable=False),
    sa.Column('message', postgresql.JSON(astext_type=sa.Text()), nullable=False),
    sa.Column('message_tokens', sa.INTEGER(), server_default=sa.text('0'), nullable=False),
    sa.Column('message_unit_price', sa.NUMERIC(precision=10, scale=4), nullable=False),
    sa.Column('message_price_unit', sa.NUMERIC(precision=10, scale=7), server_default=sa.text('0.001'), nullable=False),
    sa.Column('answer', sa.TEXT(), nullable=False),
    sa.Column('answer_tokens', sa.INTEGER(), server_default=sa.text('0'), nullable=False),
    sa.Column('answer_unit_price', sa.NUMERIC(precision=10, scale=4), nullable=False),
    sa.Column('answer_price_unit', sa.NUMERIC(precision=10, scale=7), server_default=sa.text('0.001'), nullable=False),
    sa.Column('parent_message_id', sa.UUID(), nullable=True),
    sa.Column('provider_response_latency', sa.DOUBLE_PRECISION(precision=53), server_default=sa.text('0'), nullable=False),
    sa.Column('total_price', sa.NUMERIC(precision=10, scale=7), nullable=True),
    sa.Column('currency', sa.VARCHAR(length=255), nullable=False),
    sa.Column('status', sa.VARCHAR(length=255), server_default=sa.text("'normal'::character varying"), nullable=False),
    sa.Column('error', sa.TEXT(), nullable=True),
    sa.Column('message_metadata', sa.TEXT(), nullable=True),
    sa.Column('invoke_from', sa.VARCHAR(length=255), nullable=True),
    sa.Column('from_source', sa.VARCHAR(length=255), nullable=False),
    sa.Column('from_end_user_id', sa.UUID(), nullable=True),
    sa.Column('from_account_id', sa.UUID(), nullable=True),
    sa.Column('created_at', postgresql.TIMESTAMP(), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.Column('updated_at', postgresql.TIMESTAMP(), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.Column('agent_based', sa.BOOLEAN(), server_default=sa.text('false'), nullable=False),
    sa.Column('workflow_run_id', sa.UUID(), nullable=True),
    sa.PrimaryKeyConstraint('id', name='message_pkey')
    )
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.create_index('message_account_idx', ['app_id', 'from_source', 'from_account_id'], unique=False)
        batch_op.create_index('message_app_id_idx', ['app_id', 'created_at'], unique=False)
        batch_op.create_index('message_conversation_id_idx', ['conversation_id'], unique=False)
        batch_op.create_index('message_created_at_idx', ['created_at'], unique=False)
        batch_op.create_index('message_end_user_idx', ['app_id', 'from_source', 'from_end_user_id'], unique=False)
        batch_op.create_index('message_workflow_run_id_idx', ['conversation_id', 'workflow_run_id'], unique=False)

    op.create_table('tenant_account_joins',
    sa.Column('id', sa.UUID(), server_default=sa.text('uuid_generate_v4()'), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('account_id', sa.UUID(), nullable=False),
    sa.Column('current', sa.BOOLEAN(), server_default=sa.text('false'), nullable=False),
    sa.Column('role', sa.VARCHAR(length=16), server_default=sa.text("'normal'::character varying"), nullable=False),
    sa.Column('invited_by', sa.UUID(), nullable=True),
    sa.Column('created_at', postgresql.TIMESTAMP(), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.Column('updated_at', postgresql.TIMESTAMP(), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.PrimaryKeyConstraint('id', name='tenant_account_join_pkey'),
    sa.UniqueConstraint('tenant_id', 'account_id', name='unique_tenant_account_join', postgresql_nulls_not_distinct=False)
    )
    with op.batch_alter_table('tenant_account_joins', schema=None) as batch_op:
        batch_op.create_index('tenant_account_join_account_id_idx', ['account_id'], unique=False)
        batch_op.create_index('tenant_account_join_tenant_id_idx', ['tenant_id'], unique=False)

    op.create_table('tenants',
    sa.Column('id', sa.UUID(), server_default=sa.text('uuid_generate_v4()'), nullable=False),
    sa.Column('name', sa.VARCHAR(length=255), nullable=False),
    sa.Column('encrypt_public_key', sa.TEXT(), nullable=True),
    sa.Column('plan', sa.VARCHAR(length=255), server_default=sa.text("'basic'::character varying"), nullable=False),
    sa.Column('status', sa.VARCHAR(length=255), server_default=sa.text("'normal'::character varying"), nullable=False),
    sa.Column('custom_config', sa.TEXT(), nullable=True),
    sa.Column('created_at', postgresql.TIMESTAMP(), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.Column('updated_at', postgresql.TIMESTAMP(), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.PrimaryKeyConstraint('id', name='tenant_pkey')
    )
    op.create_table('workflow_node_executions',
    sa.Column('id', sa.UUID(), server_default=sa.text('uuid_generate_v4()'), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('app_id', sa.UUID(), nullable=False),
    sa.Column('workflow_id', sa.UUID(), nullable=False),
    sa.Column('triggered_from', sa.VARCHAR(length=255), nullable=False),
    sa.Column('workflow_run_id', sa.UUID(), nullable=True),
    sa.Column('index', sa.INTEGER(), nullable=False),
    sa.Column('predecessor_node_id', sa.VARCHAR(length=255), nullable=True),
    sa.Column('node_execution_id', sa.VARCHAR(length=255), nullable=True),
    sa.Column('node_id', sa.VARCHAR(length=255), nullable=False),
    sa.Column('node_type', sa.VARCHAR(length=255), nullable=False),
    sa.Column('title', sa.VARCHAR(length=255), nullable=False),
    sa.Column('inputs', sa.TEXT(), nullable=True),
    sa.Column('process_data', sa.TEXT(), nullable=True),
    sa.Column('outputs', sa.TEXT(), nullable=True),
    sa.Column('status', sa.VARCHAR(length=255), nullable=False),
    sa.Column('error', sa.TEXT(), nullable=True),
    sa.Column('elapsed_time', sa.DOUBLE_PRECISION(precision=53), server_default=sa.text('0'), nullable=False),
    sa.Column('execution_metadata', sa.TEXT(), nullable=True),
    sa.Column('created_at', postgresql.TIMESTAMP(), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.Column('created_by_role', sa.VARCHAR(length=255), nullable=False),
    sa.Column('created_by', sa.UUID(), nullable=False),
    sa.Column('finished_at', postgresql.TIMESTAMP(), nullable=True),
    sa.PrimaryKeyConstraint('id', name='workflow_node_execution_pkey')
    )
    with op.batch_alter_table('workflow_node_executions', schema=None) as batch_op:
        batch_op.create_index('workflow_node_execution_id_idx', ['tenant_id', 'app_id', 'workflow_id', 'triggered_from', 'node_execution_id'], unique=False)
        batch_op.create_index('workflow_node_execution_node_run_idx', ['tenant_id', 'app_id', 'workflow_id', 'triggered_from', 'node_id'], unique=False)
        batch_op.create_index('workflow_node_execution_workflow_run_idx', ['tenant_id', 'app_id', 'workflow_id', 'triggered_from', 'workflow_run_id'], unique=False)

    op.create_table('workflow_runs',
    sa.Column('id', sa.UUID(), server_default=sa.text('uuid_generate_v4()'), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('app_id', sa.UUID(), nullable=False),
    sa.Column('sequence_number', sa.INTEGER(), nullable=False),
    sa.Column('workflow_id', sa.UUID(), nullable=False),
    sa.Column('type', sa.VARCHAR(length=255), nullable=False),
    sa.Column('triggered_from', sa.VARCHAR(length=255), nullable=False),
    sa.Column('version', sa.VARCHAR(length=255), nullable=False),
    sa.Column('graph', sa.TEXT(), nullable=True),
    sa.Column('inputs', sa.TEXT(), nullable=True),
    sa.Column('status', sa.VARCHAR(length=255), nullable=False),
    sa.Column('outputs', sa.TEXT(), nullable=True),
    sa.Column('error', sa.TEXT(), nullable=True),
    sa.Column('elapsed_time', sa.DOUBLE_PRECISION(precision=53), server_default=sa.text('0'), nullable=False),
    sa.Column('total_tokens', sa.INTEGER(), server_default=sa.text('0'), nullable=False),
    sa.Column('total_steps', sa.INTEGER(), server_default=sa.text('0'), nullable=True),
    sa.Column('created_by_role', sa.VARCHAR(length=255), nullable=False),
    sa.Column('created_by', sa.UUID(), nullable=False),
    sa.Column('created_at', postgresql.TIMESTAMP(), server_default=sa.text('CURRENT_TIMESTAMP(0)'), nullable=False),
    sa.Column('finished_at', postgresql.TIMESTAMP(), nullable=True),
    sa.PrimaryKeyConstraint('id', name='workflow_run_pkey')
    )
    with op.batch_alter_table('workflow_runs', schema=None) as batch_op:
        batch_op.create_index('workflow_run_tenant_app_sequence_idx', ['tenant_id', 'app_id', 'sequence_number'], unique=False)
        batch_op.create_index('workflow_run_triggerd_from_idx', ['tenant_id', 'app_id', 'triggered_from'], unique=False)

    op.create_table('workflows',
    sa.Column('id', sa.UUID(), server_default=sa.text('uuid_generate_v4()'), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('app_id', sa.UUID(), nullable=False),
    sa.Column('type', sa.VARCHAR(length=255), nullable=False),
    sa.Column('version', sa.VARCHAR(length=255), nullable=False),
    sa.Column('graph', sa.TEXT(), nullable=False),
    sa.Column('features', sa.TEXT(), nullable=False),
    sa.Column('created_by', sa.UUID(), nullable=False),
    sa.Column('created_at', postgresql.TIMESTAMP(), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.Column('updated_by', sa.UUID(), nullable=True),
    sa.Column('updated_at', postgresql.TIMESTAMP(), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.Column('environment_variables', sa.TEXT(), server_default=sa.text("'{}'::text"), nullable=False),
    sa.Column('conversation_variables', sa.TEXT(), server_default=sa.text("'{}'::text"), nullable=False),
    sa.PrimaryKeyConstraint('id', name='workflow_pkey')
    )
    with op.batch_alter_table('workflows', schema=None) as batch_op:
        batch_op.create_index('workflow_version_idx', ['tenant_id', 'app_id', 'version'], unique=False)


def downgrade():
    op.drop_table("workflows")
    op.drop_table("workflow_runs")
    op.drop_table("workflow_node_executions")
    op.drop_table("tenants")
    op.drop_table("tenant_account_joins")
    op.drop_table("messages")
    op.drop_table("end_users")
    op.drop_table("documents")
    op.drop_table("document_segments")
    op.drop_table("datasets")
    op.drop_table("conversations")
    op.drop_table("apps")
    op.drop_table("accounts")
