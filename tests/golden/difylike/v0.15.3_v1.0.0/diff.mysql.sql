-- modeldiff: upgrade v0.15.3 (c135292ebb) -> v1.0.0 (daddba4f5b), mysql

CREATE TABLE app_tags (
    id CHAR(36) NOT NULL DEFAULT uuid_generate_v4(), 
    tenant_id CHAR(36) NOT NULL, 
    app_id CHAR(36) NOT NULL, 
    name VARCHAR(255) NOT NULL, 
    created_by CHAR(36) NOT NULL, 
    created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP, 
    CONSTRAINT app_tag_pkey PRIMARY KEY (id), 
    CONSTRAINT app_tags_app_id_fkey FOREIGN KEY(app_id) REFERENCES apps (id) ON DELETE CASCADE, 
    CONSTRAINT app_tags_app_id_key UNIQUE (app_id, name)
);

CREATE INDEX app_tags_tenant_id_idx ON app_tags (tenant_id);

DROP INDEX tidb_auth_bindings_active_idx ON tidb_auth_bindings;

DROP INDEX tidb_auth_bindings_created_at_idx ON tidb_auth_bindings;

DROP INDEX tidb_auth_bindings_status_idx ON tidb_auth_bindings;

DROP INDEX tidb_auth_bindings_tenant_idx ON tidb_auth_bindings;

DROP TABLE tidb_auth_bindings;

ALTER TABLE accounts ADD COLUMN last_active_at DATETIME;

ALTER TABLE apps ADD COLUMN status ENUM('normal','archived') DEFAULT 'normal';

ALTER TABLE apps ALTER COLUMN enable_site SET DEFAULT false;

ALTER TABLE conversations DROP COLUMN read_account_id;

DROP INDEX end_user_session_id_idx ON end_users;

CREATE INDEX end_user_session_idx ON end_users (session_id, type);

ALTER TABLE messages MODIFY answer TEXT NULL;

ALTER TABLE workflow_runs MODIFY graph TEXT NULL COMMENT 'serialized workflow graph';

