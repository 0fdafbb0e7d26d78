-- modeldiff: upgrade v1 (be41a747da) -> v2 (827bca207a), postgresql

BEGIN;

COMMIT;

ALTER TYPE order_status ADD VALUE 'refunded';

BEGIN;

CREATE TABLE order_lines (
    id SERIAL NOT NULL, 
    order_id INTEGER NOT NULL, 
    product_id INTEGER NOT NULL, 
    quantity INTEGER NOT NULL, 
    unit_price NUMERIC(12, 2) NOT NULL, 
    CONSTRAINT pk_order_lines PRIMARY KEY (id), 
    CONSTRAINT fk_order_lines_order_id_orders FOREIGN KEY(order_id) REFERENCES orders (id) ON DELETE CASCADE, 
    CONSTRAINT fk_order_lines_product_id_products FOREIGN KEY(product_id) REFERENCES products (id), 
    CONSTRAINT ck_order_lines_quantity_positive CHECK (quantity > 0)
);

CREATE INDEX ix_order_lines_order_id ON order_lines (order_id);

ALTER TABLE orders ADD COLUMN paid_at TIMESTAMP WITH TIME ZONE;

ALTER TABLE orders DROP CONSTRAINT fk_orders_product_id_products;

ALTER TABLE orders DROP COLUMN product_id;

ALTER TABLE products ADD COLUMN weight_grams INTEGER;

ALTER TABLE products ALTER COLUMN description TYPE TEXT;

COMMIT;

