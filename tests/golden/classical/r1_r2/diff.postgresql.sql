-- modeldiff: upgrade r1 (58d07ab126) -> r2 (bb6d5eb888), postgresql

BEGIN;

CREATE TABLE payments (
    id SERIAL NOT NULL, 
    invoice_id INTEGER NOT NULL, 
    amount NUMERIC(12, 2) NOT NULL, 
    paid_at TIMESTAMP WITHOUT TIME ZONE DEFAULT now() NOT NULL, 
    CONSTRAINT pk_payments PRIMARY KEY (id), 
    CONSTRAINT fk_payments_invoice_id FOREIGN KEY(invoice_id) REFERENCES invoices (id)
);

ALTER TABLE accounts ADD COLUMN email VARCHAR(255);

ALTER TABLE invoices ADD COLUMN currency VARCHAR(3) DEFAULT 'EUR'::character varying NOT NULL;

ALTER TABLE preferences ALTER COLUMN key TYPE VARCHAR(200);

ALTER TABLE sessions ADD COLUMN user_agent VARCHAR(300);

CREATE INDEX ix_sessions_expires_at ON sessions (expires_at);

ALTER TABLE invoice_lines DROP CONSTRAINT fk_invoice_lines_invoice_id;

ALTER TABLE invoice_lines ADD CONSTRAINT fk_invoice_lines_invoice_id FOREIGN KEY (invoice_id) REFERENCES invoices(id) ON DELETE CASCADE;

COMMIT;

