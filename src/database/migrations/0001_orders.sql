-- Orders: one row per order id ever stored. A deleted order keeps its row with no body (a
-- tombstone), so a redelivered message does not bring it back. `status` and `user_id` are
-- copies of the body's fields, for the list's filters.
CREATE TABLE orders (
    seq BIGSERIAL PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    body TEXT,
    status TEXT,
    user_id TEXT
);
CREATE INDEX orders_by_status ON orders (status, seq) WHERE body IS NOT NULL;
CREATE INDEX orders_by_user ON orders (user_id, seq) WHERE body IS NOT NULL;

-- The statistics, changed in the same transaction as the orders they count. Each status has
-- a few slots (chosen by order id), so that concurrent changes rarely wait for one row lock;
-- a reader adds the slots up. NUMERIC, as sums of many large orders can pass 64 bits; the
-- reader caps what it reads at 64 bits.
CREATE TABLE order_totals (
    status TEXT NOT NULL,
    slot SMALLINT NOT NULL,
    orders BIGINT NOT NULL,
    cents NUMERIC NOT NULL,
    items NUMERIC NOT NULL,
    PRIMARY KEY (status, slot)
);

-- Orders per user, in slots too (one user's orders arriving at once would otherwise all wait
-- for one row); a user counts while the slots add up to more than none.
CREATE TABLE user_orders (
    user_id TEXT NOT NULL,
    slot SMALLINT NOT NULL,
    orders BIGINT NOT NULL,
    PRIMARY KEY (user_id, slot)
);
