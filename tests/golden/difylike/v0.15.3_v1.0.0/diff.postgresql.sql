-- modeldiff: upgrade v0.15.3 (c135292ebb) -> v1.0.0 (daddba4f5b), postgresql

BEGIN;

CREATE TYPE app_status AS ENUM ('normal', 'archived');

CREATE TABLE app_tags (
    id UUID DEFAULT uuid_generate_v4() NOT NULL, 
    tenant_id UUID NOT NULL, 
    app_id UUID NOT NULL, 
    name VARCHAR(255) NOT NULL, 
    created_by UUID NOT NULL, 
    created_at TIMESTAMP WITHOUT TIME ZONE DEFAULT CURRENT_TIMESTAMP NOT NULL, 
    CONSTRAINT app_tag_pkey PRIMARY KEY (id), 
    CONSTRAINT app_tags_app_id_fkey FOREIGN KEY(app_id) REFERENCES apps (id) ON DELETE CASCADE, 
    CONSTRAINT app_tags_app_id_key UNIQUE NULLS DISTINCT (app_id, name)
);

CREATE INDEX app_tags_tenant_id_idx ON app_tags (tenant_id);

DROP INDEX tidb_auth_bindings_active_idx;

DROP INDEX tidb_auth_bindings_created_at_idx;

DROP INDEX tidb_auth_bindings_status_idx;

DROP INDEX tidb_auth_bindings_tenant_idx;

DROP TABLE tidb_auth_bindings;

ALTER TABLE accounts ADD COLUMN last_active_at TIMESTAMP WITHOUT TIME ZONE;

ALTER TABLE apps ADD COLUMN status app_status DEFAULT 'normal'::app_status;

ALTER TABLE apps ALTER COLUMN enable_site SET DEFAULT false;

ALTER TABLE conversations DROP COLUMN read_account_id;

DROP INDEX end_user_session_id_idx;

CREATE INDEX end_user_session_idx ON end_users (session_id, type);

ALTER TABLE messages ALTER COLUMN answer DROP NOT NULL;

COMMENT ON COLUMN workflow_runs.graph IS 'serialized workflow graph';

COMMIT;

