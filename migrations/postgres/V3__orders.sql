-- Carts, orders with snapshotted lines, payment events, the vendor ledger and download links.
CREATE TABLE cart_items (
    user_id    UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    product_id UUID NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    quantity   BIGINT NOT NULL CHECK (quantity > 0),
    added_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (user_id, product_id)
);

CREATE TABLE orders (
    id                 UUID PRIMARY KEY,
    number             TEXT NOT NULL,
    user_id            UUID NOT NULL REFERENCES users (id),
    status             TEXT NOT NULL CHECK (status IN ('pending_payment', 'paid', 'completed', 'payment_failed', 'cancelled', 'expired', 'refunded')),
    currency           TEXT NOT NULL,
    subtotal_cents     BIGINT NOT NULL CHECK (subtotal_cents >= 0),
    total_cents        BIGINT NOT NULL CHECK (total_cents >= 0),
    commission_cents   BIGINT NOT NULL CHECK (commission_cents >= 0),
    shipping_address   JSONB,
    payment_provider   TEXT NOT NULL,
    payment_session_id TEXT,
    payment_intent_id  TEXT,
    refund_id          TEXT,
    created_at         TIMESTAMPTZ NOT NULL,
    updated_at         TIMESTAMPTZ NOT NULL,
    paid_at            TIMESTAMPTZ,
    closed_at          TIMESTAMPTZ
);
CREATE UNIQUE INDEX orders_number_key ON orders (number);
CREATE UNIQUE INDEX orders_payment_session_key ON orders (payment_session_id);
CREATE INDEX orders_payment_intent_idx ON orders (payment_intent_id);
CREATE INDEX orders_user_idx ON orders (user_id, created_at);
CREATE INDEX orders_status_idx ON orders (status, created_at);
CREATE INDEX orders_created_idx ON orders (created_at);

CREATE TABLE order_items (
    id                 UUID PRIMARY KEY,
    order_id           UUID NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    product_id         UUID NOT NULL REFERENCES products (id),
    vendor_id          UUID NOT NULL REFERENCES vendors (id),
    title              TEXT NOT NULL,
    kind               TEXT NOT NULL CHECK (kind IN ('physical', 'digital')),
    quantity           BIGINT NOT NULL CHECK (quantity > 0),
    unit_price_cents   BIGINT NOT NULL CHECK (unit_price_cents > 0),
    line_total_cents   BIGINT NOT NULL,
    commission_bps     INTEGER NOT NULL CHECK (commission_bps BETWEEN 0 AND 10000),
    commission_cents   BIGINT NOT NULL,
    vendor_net_cents   BIGINT NOT NULL,
    fulfilment_status  TEXT NOT NULL CHECK (fulfilment_status IN ('unfulfilled', 'shipped', 'delivered')),
    tracking_number    TEXT,
    carrier            TEXT,
    shipped_at         TIMESTAMPTZ,
    position           INTEGER NOT NULL,
    CHECK (line_total_cents = unit_price_cents * quantity),
    CHECK (commission_cents + vendor_net_cents = line_total_cents)
);
CREATE INDEX order_items_order_idx ON order_items (order_id, position);
CREATE INDEX order_items_vendor_idx ON order_items (vendor_id, order_id);
CREATE INDEX order_items_product_idx ON order_items (product_id);

-- Every provider event id, recorded in the same transaction as its effect.
CREATE TABLE payment_events (
    event_id    TEXT PRIMARY KEY,
    order_id    UUID,
    kind        TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    received_at TIMESTAMPTZ NOT NULL
);

-- Append-only: balances are sums of these rows, never stored elsewhere.
CREATE TABLE ledger_entries (
    id            UUID PRIMARY KEY,
    vendor_id     UUID NOT NULL REFERENCES vendors (id),
    order_id      UUID REFERENCES orders (id),
    order_item_id UUID REFERENCES order_items (id),
    payout_id     UUID,
    kind          TEXT NOT NULL,
    bucket        TEXT NOT NULL CHECK (bucket IN ('pending', 'available', 'held', 'paid_out', 'platform')),
    amount_cents  BIGINT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX ledger_entries_vendor_idx ON ledger_entries (vendor_id, created_at);
CREATE INDEX ledger_entries_item_idx ON ledger_entries (order_item_id);

CREATE TABLE download_links (
    id             UUID PRIMARY KEY,
    order_item_id  UUID NOT NULL REFERENCES order_items (id) ON DELETE CASCADE,
    user_id        UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at     TIMESTAMPTZ NOT NULL,
    downloads_left INTEGER NOT NULL CHECK (downloads_left >= 0),
    created_at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX download_links_item_idx ON download_links (order_item_id);
