-- modeldiff: upgrade v0.14.2 (1416f0a6e8) -> v0.15.3 (c135292ebb), postgresql

BEGIN;

CREATE TABLE child_chunks (
    id UUID DEFAULT uuid_generate_v4() NOT NULL, 
    tenant_id UUID NOT NULL, 
    dataset_id UUID NOT NULL, 
    document_id UUID NOT NULL, 
    segment_id UUID NOT NULL, 
    position INTEGER NOT NULL, 
    content TEXT NOT NULL, 
    word_count INTEGER NOT NULL, 
    index_node_id VARCHAR(255), 
    index_node_hash VARCHAR(255), 
    type VARCHAR(255) DEFAULT 'automatic'::character varying NOT NULL, 
    created_by UUID NOT NULL, 
    created_at TIMESTAMP WITHOUT TIME ZONE DEFAULT CURRENT_TIMESTAMP(0) NOT NULL, 
    updated_by UUID, 
    updated_at TIMESTAMP WITHOUT TIME ZONE DEFAULT CURRENT_TIMESTAMP(0) NOT NULL, 
    indexing_at TIMESTAMP WITHOUT TIME ZONE, 
    completed_at TIMESTAMP WITHOUT TIME ZONE, 
    error TEXT, 
    CONSTRAINT child_chunk_pkey PRIMARY KEY (id)
);

CREATE INDEX child_chunk_dataset_id_idx ON child_chunks (tenant_id, dataset_id, document_id, segment_id, index_node_id);

CREATE TABLE dataset_auto_disable_logs (
    id UUID DEFAULT uuid_generate_v4() NOT NULL, 
    tenant_id UUID NOT NULL, 
    dataset_id UUID NOT NULL, 
    document_id UUID NOT NULL, 
    notified BOOLEAN DEFAULT false NOT NULL, 
    created_at TIMESTAMP WITHOUT TIME ZONE DEFAULT CURRENT_TIMESTAMP(0) NOT NULL, 
    CONSTRAINT dataset_auto_disable_log_pkey PRIMARY KEY (id)
);

CREATE INDEX dataset_auto_disable_log_created_atx ON dataset_auto_disable_logs (created_at);

CREATE INDEX dataset_auto_disable_log_dataset_idx ON dataset_auto_disable_logs (dataset_id);

CREATE INDEX dataset_auto_disable_log_tenant_idx ON dataset_auto_disable_logs (tenant_id);

ALTER TABLE end_users ALTER COLUMN session_id TYPE VARCHAR;

ALTER TABLE workflow_runs ALTER COLUMN total_tokens TYPE BIGINT;

COMMIT;

