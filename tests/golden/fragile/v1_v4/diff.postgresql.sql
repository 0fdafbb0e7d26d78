-- modeldiff: upgrade v1 (b21bba853f) -> v4 (ce02db54d0), postgresql

BEGIN;

ALTER TABLE customers ADD COLUMN email VARCHAR(255);

ALTER TABLE notes ADD COLUMN attachment VARCHAR(500);

ALTER TABLE orders ADD COLUMN currency VARCHAR(3) NOT NULL;

ALTER TABLE orders ALTER COLUMN total TYPE NUMERIC(12, 2);

COMMIT;

