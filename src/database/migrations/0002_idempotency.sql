-- The producers' Idempotency-Key answers, shared by every producer on this database.
-- `answer` is NULL while the first request is still being processed. `order_id` is the id its
-- order is published with, kept when a later request takes over an abandoned key, so the
-- order, if it was published after all, is stored once. `token` names the request that holds
-- the key: only it may answer or release it.
CREATE TABLE idempotency_keys (
    key TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    order_id TEXT NOT NULL,
    token TEXT NOT NULL,
    since TIMESTAMPTZ NOT NULL DEFAULT now(),
    status SMALLINT,
    location TEXT,
    answer TEXT
);
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (since);
