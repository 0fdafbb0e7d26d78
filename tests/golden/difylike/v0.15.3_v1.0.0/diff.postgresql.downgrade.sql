-- modeldiff: downgrade v1.0.0 (daddba4f5b) -> v0.15.3 (c135292ebb), postgresql

BEGIN;

COMMENT ON COLUMN workflow_runs.graph IS NULL;

ALTER TABLE messages ALTER COLUMN answer SET NOT NULL;

DROP INDEX end_user_session_idx;

CREATE INDEX end_user_session_id_idx ON end_users (session_id, type);

ALTER TABLE conversations ADD COLUMN read_account_id UUID;

ALTER TABLE apps ALTER COLUMN enable_site SET DEFAULT true;

ALTER TABLE apps DROP COLUMN status;

ALTER TABLE accounts DROP COLUMN last_active_at;

CREATE TABLE tidb_auth_bindings (
    id UUID DEFAULT uuid_generate_v4() NOT NULL, 
    tenant_id UUID, 
    cluster_id VARCHAR(255) NOT NULL, 
    cluster_name VARCHAR(255) NOT NULL, 
    active BOOLEAN DEFAULT false NOT NULL, 
    status VARCHAR(255) NOT NULL, 
    account VARCHAR(255) NOT NULL, 
    password VARCHAR(255) NOT NULL, 
    created_at TIMESTAMP WITHOUT TIME ZONE DEFAULT CURRENT_TIMESTAMP NOT NULL, 
    CONSTRAINT tidb_auth_bindings_pkey PRIMARY KEY (id)
);

CREATE INDEX tidb_auth_bindings_tenant_idx ON tidb_auth_bindings (tenant_id);

CREATE INDEX tidb_auth_bindings_status_idx ON tidb_auth_bindings (status);

CREATE INDEX tidb_auth_bindings_created_at_idx ON tidb_auth_bindings (created_at);

CREATE INDEX tidb_auth_bindings_active_idx ON tidb_auth_bindings (active);

DROP INDEX app_tags_tenant_id_idx;

DROP TABLE app_tags;

DROP TYPE app_status;

COMMIT;

