-- The producers' Idempotency-Key answers, shared by every producer on this database.
-- `answer` is NULL while the first request is still being processed.
CREATE TABLE idempotency_keys (
    key TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    since TIMESTAMPTZ NOT NULL DEFAULT now(),
    status SMALLINT,
    location TEXT,
    answer TEXT
);
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (since);
