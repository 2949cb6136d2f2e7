-- Vendor payout requests. The money moves in ledger_entries (payout_hold / payout_debit rows
-- carrying payout_id); this table holds the request and where it stands.
CREATE TABLE payouts (
    id               UUID PRIMARY KEY,
    vendor_id        UUID NOT NULL REFERENCES vendors (id),
    amount_cents     BIGINT NOT NULL CHECK (amount_cents > 0),
    currency         TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('requested', 'approved', 'paid', 'rejected')),
    rejection_reason TEXT,
    reference        TEXT,
    requested_at     TIMESTAMPTZ NOT NULL,
    approved_at      TIMESTAMPTZ,
    paid_at          TIMESTAMPTZ,
    rejected_at      TIMESTAMPTZ,
    updated_at       TIMESTAMPTZ NOT NULL
);
CREATE INDEX payouts_vendor_idx ON payouts (vendor_id, requested_at);
CREATE INDEX payouts_status_idx ON payouts (status, requested_at);
CREATE INDEX payouts_requested_idx ON payouts (requested_at);

CREATE INDEX ledger_entries_payout_idx ON ledger_entries (payout_id);
CREATE INDEX ledger_entries_vendor_bucket_idx ON ledger_entries (vendor_id, bucket);

-- Dashboards and analytics group paid orders by the day they were paid.
CREATE INDEX orders_paid_at_idx ON orders (paid_at);
