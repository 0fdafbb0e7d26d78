-- modeldiff: upgrade v0.15.3 (c135292ebb) -> v1.0.0 (daddba4f5b), sqlite

CREATE TABLE app_tags (
    id CHAR(36) DEFAULT (uuid_generate_v4()) NOT NULL, 
    tenant_id CHAR(36) NOT NULL, 
    app_id CHAR(36) NOT NULL, 
    name VARCHAR(255) NOT NULL, 
    created_by CHAR(36) NOT NULL, 
    created_at DATETIME DEFAULT CURRENT_TIMESTAMP NOT NULL, 
    CONSTRAINT app_tag_pkey PRIMARY KEY (id), 
    CONSTRAINT app_tags_app_id_fkey FOREIGN KEY(app_id) REFERENCES apps (id) ON DELETE CASCADE, 
    CONSTRAINT app_tags_app_id_key UNIQUE (app_id, name)
);

CREATE INDEX app_tags_tenant_id_idx ON app_tags (tenant_id);

DROP INDEX tidb_auth_bindings_active_idx;

DROP INDEX tidb_auth_bindings_created_at_idx;

DROP INDEX tidb_auth_bindings_status_idx;

DROP INDEX tidb_auth_bindings_tenant_idx;

DROP TABLE tidb_auth_bindings;

ALTER TABLE accounts ADD COLUMN last_active_at DATETIME;

CREATE TABLE _alembic_tmp_apps (
    id CHAR(36) DEFAULT (uuid_generate_v4()) NOT NULL, 
    tenant_id CHAR(36) NOT NULL, 
    name VARCHAR(255) NOT NULL, 
    description TEXT DEFAULT '' NOT NULL, 
    mode VARCHAR(255) NOT NULL, 
    icon_type VARCHAR(255), 
    icon VARCHAR(255), 
    icon_background VARCHAR(255), 
    app_model_config_id CHAR(36), 
    workflow_id CHAR(36), 
    enable_site BOOLEAN DEFAULT false NOT NULL, 
    enable_api BOOLEAN DEFAULT true NOT NULL, 
    api_rpm INTEGER DEFAULT 0 NOT NULL, 
    api_rph INTEGER DEFAULT 0 NOT NULL, 
    is_demo BOOLEAN DEFAULT false NOT NULL, 
    is_public BOOLEAN DEFAULT false NOT NULL, 
    is_universal BOOLEAN DEFAULT false NOT NULL, 
    tracing TEXT, 
    max_active_requests INTEGER, 
    created_by CHAR(36), 
    created_at DATETIME DEFAULT CURRENT_TIMESTAMP NOT NULL, 
    updated_by CHAR(36), 
    updated_at DATETIME DEFAULT CURRENT_TIMESTAMP NOT NULL, 
    use_icon_as_answer_icon BOOLEAN DEFAULT false NOT NULL, 
    status VARCHAR(8) DEFAULT 'normal', 
    CONSTRAINT app_pkey PRIMARY KEY (id)
);

INSERT INTO _alembic_tmp_apps (id, tenant_id, name, description, mode, icon_type, icon, icon_background, app_model_config_id, workflow_id, enable_site, enable_api, api_rpm, api_rph, is_demo, is_public, is_universal, tracing, max_active_requests, created_by, created_at, updated_by, updated_at, use_icon_as_answer_icon) SELECT apps.id, apps.tenant_id, apps.name, apps.description, apps.mode, apps.icon_type, apps.icon, apps.icon_background, apps.app_model_config_id, apps.workflow_id, apps.enable_site, apps.enable_api, apps.api_rpm, apps.api_rph, apps.is_demo, apps.is_public, apps.is_universal, apps.tracing, apps.max_active_requests, apps.created_by, apps.created_at, apps.updated_by, apps.updated_at, apps.use_icon_as_answer_icon 
FROM apps;

DROP TABLE apps;

ALTER TABLE _alembic_tmp_apps RENAME TO apps;

CREATE INDEX app_tenant_id_idx ON apps (tenant_id);

CREATE TABLE _alembic_tmp_conversations (
    id CHAR(36) DEFAULT (uuid_generate_v4()) NOT NULL, 
    app_id CHAR(36) NOT NULL, 
    app_model_config_id CHAR(36), 
    model_provider VARCHAR(255), 
    override_model_configs TEXT, 
    model_id VARCHAR(255), 
    mode VARCHAR(255) NOT NULL, 
    name VARCHAR(255) NOT NULL, 
    summary TEXT, 
    inputs JSON, 
    introduction TEXT, 
    system_instruction TEXT, 
    system_instruction_tokens INTEGER DEFAULT 0 NOT NULL, 
    status VARCHAR(255) NOT NULL, 
    invoke_from VARCHAR(255), 
    from_source VARCHAR(255) NOT NULL, 
    from_end_user_id CHAR(36), 
    from_account_id CHAR(36), 
    read_at DATETIME, 
    dialogue_count INTEGER NOT NULL, 
    created_at DATETIME DEFAULT CURRENT_TIMESTAMP NOT NULL, 
    updated_at DATETIME DEFAULT CURRENT_TIMESTAMP NOT NULL, 
    is_deleted BOOLEAN DEFAULT false NOT NULL, 
    CONSTRAINT conversation_pkey PRIMARY KEY (id)
);

INSERT INTO _alembic_tmp_conversations (id, app_id, app_model_config_id, model_provider, override_model_configs, model_id, mode, name, summary, inputs, introduction, system_instruction, system_instruction_tokens, status, invoke_from, from_source, from_end_user_id, from_account_id, read_at, dialogue_count, created_at, updated_at, is_deleted) SELECT conversations.id, conversations.app_id, conversations.app_model_config_id, conversations.model_provider, conversations.override_model_configs, conversations.model_id, conversations.mode, conversations.name, conversations.summary, conversations.inputs, conversations.introduction, conversations.system_instruction, conversations.system_instruction_tokens, conversations.status, conversations.invoke_from, conversations.from_source, conversations.from_end_user_id, conversations.from_account_id, conversations.read_at, conversations.dialogue_count, conversations.created_at, conversations.updated_at, conversations.is_deleted 
FROM conversations;

DROP TABLE conversations;

ALTER TABLE _alembic_tmp_conversations RENAME TO conversations;

CREATE INDEX conversation_app_from_user_idx ON conversations (app_id, from_source, from_end_user_id);

DROP INDEX end_user_session_id_idx;

CREATE INDEX end_user_session_idx ON end_users (session_id, type);

CREATE TABLE _alembic_tmp_messages (
    id CHAR(36) DEFAULT (uuid_generate_v4()) NOT NULL, 
    app_id CHAR(36) NOT NULL, 
    model_provider VARCHAR(255), 
    model_id VARCHAR(255), 
    override_model_configs TEXT, 
    conversation_id CHAR(36) NOT NULL, 
    inputs JSON, 
    "query" TEXT NOT NULL, 
    message JSON NOT NULL, 
    message_tokens INTEGER DEFAULT 0 NOT NULL, 
    message_unit_price NUMERIC(10, 4) NOT NULL, 
    message_price_unit NUMERIC(10, 7) DEFAULT (0.001) NOT NULL, 
    answer TEXT, 
    answer_tokens INTEGER DEFAULT 0 NOT NULL, 
    answer_unit_price NUMERIC(10, 4) NOT NULL, 
    answer_price_unit NUMERIC(10, 7) DEFAULT (0.001) NOT NULL, 
    parent_message_id CHAR(36), 
    provider_response_latency FLOAT DEFAULT 0 NOT NULL, 
    total_price NUMERIC(10, 7), 
    currency VARCHAR(255) NOT NULL, 
    status VARCHAR(255) DEFAULT 'normal' NOT NULL, 
    error TEXT, 
    message_metadata TEXT, 
    invoke_from VARCHAR(255), 
    from_source VARCHAR(255) NOT NULL, 
    from_end_user_id CHAR(36), 
    from_account_id CHAR(36), 
    created_at DATETIME DEFAULT CURRENT_TIMESTAMP NOT NULL, 
    updated_at DATETIME DEFAULT CURRENT_TIMESTAMP NOT NULL, 
    agent_based BOOLEAN DEFAULT false NOT NULL, 
    workflow_run_id CHAR(36), 
    CONSTRAINT message_pkey PRIMARY KEY (id)
);

INSERT INTO _alembic_tmp_messages (id, app_id, model_provider, model_id, override_model_configs, conversation_id, inputs, "query", message, message_tokens, message_unit_price, message_price_unit, answer, answer_tokens, answer_unit_price, answer_price_unit, parent_message_id, provider_response_latency, total_price, currency, status, error, message_metadata, invoke_from, from_source, from_end_user_id, from_account_id, created_at, updated_at, agent_based, workflow_run_id) SELECT messages.id, messages.app_id, messages.model_provider, messages.model_id, messages.override_model_configs, messages.conversation_id, messages.inputs, messages."query", messages.message, messages.message_tokens, messages.message_unit_price, messages.message_price_unit, messages.answer, messages.answer_tokens, messages.answer_unit_price, messages.answer_price_unit, messages.parent_message_id, messages.provider_response_latency, messages.total_price, messages.currency, messages.status, messages.error, messages.message_metadata, messages.invoke_from, messages.from_source, messages.from_end_user_id, messages.from_account_id, messages.created_at, messages.updated_at, messages.agent_based, messages.workflow_run_id 
FROM messages;

DROP TABLE messages;

ALTER TABLE _alembic_tmp_messages RENAME TO messages;

CREATE INDEX message_account_idx ON messages (app_id, from_source, from_account_id);

CREATE INDEX message_app_id_idx ON messages (app_id, created_at);

CREATE INDEX message_conversation_id_idx ON messages (conversation_id);

CREATE INDEX message_created_at_idx ON messages (created_at);

CREATE INDEX message_end_user_idx ON messages (app_id, from_source, from_end_user_id);

CREATE INDEX message_workflow_run_id_idx ON messages (conversation_id, workflow_run_id);

CREATE TABLE _alembic_tmp_workflow_runs (
    id CHAR(36) DEFAULT (uuid_generate_v4()) NOT NULL, 
    tenant_id CHAR(36) NOT NULL, 
    app_id CHAR(36) NOT NULL, 
    sequence_number INTEGER NOT NULL, 
    workflow_id CHAR(36) NOT NULL, 
    type VARCHAR(255) NOT NULL, 
    triggered_from VARCHAR(255) NOT NULL, 
    version VARCHAR(255) NOT NULL, 
    graph TEXT, 
    inputs TEXT, 
    status VARCHAR(255) NOT NULL, 
    outputs TEXT, 
    error TEXT, 
    elapsed_time FLOAT DEFAULT 0 NOT NULL, 
    total_tokens BIGINT DEFAULT 0 NOT NULL, 
    total_steps INTEGER DEFAULT 0, 
    created_by_role VARCHAR(255) NOT NULL, 
    created_by CHAR(36) NOT NULL, 
    created_at DATETIME DEFAULT CURRENT_TIMESTAMP NOT NULL, 
    finished_at DATETIME, 
    CONSTRAINT workflow_run_pkey PRIMARY KEY (id)
);

INSERT INTO _alembic_tmp_workflow_runs (id, tenant_id, app_id, sequence_number, workflow_id, type, triggered_from, version, graph, inputs, status, outputs, error, elapsed_time, total_tokens, total_steps, created_by_role, created_by, created_at, finished_at) SELECT workflow_runs.id, workflow_runs.tenant_id, workflow_runs.app_id, workflow_runs.sequence_number, workflow_runs.workflow_id, workflow_runs.type, workflow_runs.triggered_from, workflow_runs.version, workflow_runs.graph, workflow_runs.inputs, workflow_runs.status, workflow_runs.outputs, workflow_runs.error, workflow_runs.elapsed_time, workflow_runs.total_tokens, workflow_runs.total_steps, workflow_runs.created_by_role, workflow_runs.created_by, workflow_runs.created_at, workflow_runs.finished_at 
FROM workflow_runs;

DROP TABLE workflow_runs;

ALTER TABLE _alembic_tmp_workflow_runs RENAME TO workflow_runs;

CREATE INDEX workflow_run_tenant_app_sequence_idx ON workflow_runs (tenant_id, app_id, sequence_number);

CREATE INDEX workflow_run_triggerd_from_idx ON workflow_runs (tenant_id, app_id, triggered_from);

