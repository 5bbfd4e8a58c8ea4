-- The operational database's online-orders table, as the web shop writes it.
-- Used by the demo seeder and by the compose init step; idempotent.
CREATE SCHEMA IF NOT EXISTS source;

CREATE TABLE IF NOT EXISTS source.sales (
    order_id    text PRIMARY KEY,
    order_ts    timestamptz NOT NULL,
    store_id    text NOT NULL DEFAULT 'online',
    region      text,
    product_id  text,
    quantity    int,
    unit_price  numeric(12, 2),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- sales_data reads one UTC day at a time.
CREATE INDEX IF NOT EXISTS sales_order_ts_idx ON source.sales (order_ts);
