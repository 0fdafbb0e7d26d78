-- modeldiff: upgrade v1.0 (74b953c558) -> v1.1 (2f9a9ee91c), postgresql

BEGIN;

COMMIT;

ALTER TYPE user_role ADD VALUE 'owner';

BEGIN;

CREATE TABLE audit_export (
    id BIGSERIAL NOT NULL, 
    requested_by INTEGER NOT NULL, 
    path VARCHAR(500), 
    CONSTRAINT audit_export_pkey PRIMARY KEY (id)
);

ALTER TABLE blog_post ADD COLUMN published BOOLEAN DEFAULT false NOT NULL;

ALTER TABLE post_tags ADD COLUMN tagged_at TIMESTAMP WITHOUT TIME ZONE DEFAULT now();

ALTER TABLE "user" ADD COLUMN last_login_at TIMESTAMP WITHOUT TIME ZONE;

COMMIT;

