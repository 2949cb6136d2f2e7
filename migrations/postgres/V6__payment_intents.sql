-- Outbound payment actions (open or expire a checkout session, refund, automatic refund of a payment the
-- order could not take), written in the same transaction as the change that needs them and
-- completed by the payment reconciler with their idempotency key.
CREATE TABLE payment_intents (
    id                UUID PRIMARY KEY,
    order_id          UUID NOT NULL REFERENCES orders (id),
    kind              TEXT NOT NULL CHECK (kind IN ('create_session', 'expire_session', 'refund', 'auto_refund')),
    status            TEXT NOT NULL CHECK (status IN ('pending', 'done', 'failed')),
    idempotency_key   TEXT NOT NULL,
    session_id        TEXT,
    payment_intent_id TEXT,
    amount_cents      BIGINT NOT NULL DEFAULT 0 CHECK (amount_cents >= 0),
    actor_id          UUID,
    result_id         TEXT,
    attempts          INTEGER NOT NULL DEFAULT 0,
    next_attempt_at   TIMESTAMPTZ NOT NULL,
    last_error        TEXT,
    created_at        TIMESTAMPTZ NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX payment_intents_key ON payment_intents (idempotency_key);
CREATE INDEX payment_intents_due_idx ON payment_intents (status, next_attempt_at);
CREATE INDEX payment_intents_order_idx ON payment_intents (order_id, created_at);

-- When a link last counted a download: `Range` requests continuing it within the hour do not count again.
ALTER TABLE download_links ADD COLUMN last_counted_at TIMESTAMPTZ;
