-- Product reviews by buyers. One review per (product, user); hidden reviews (admin moderation)
-- are kept but left out of lists and of the rating averages of the product and its vendor.
CREATE TABLE reviews (
    id         TEXT PRIMARY KEY,
    product_id TEXT NOT NULL REFERENCES products (id),
    vendor_id  TEXT NOT NULL REFERENCES vendors (id),
    user_id    TEXT NOT NULL REFERENCES users (id),
    rating     INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 5),
    title      TEXT,
    body       TEXT NOT NULL,
    hidden     INTEGER NOT NULL DEFAULT 0 CHECK (hidden IN (0, 1)),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE UNIQUE INDEX reviews_product_user_key ON reviews (product_id, user_id);
-- Visible reviews of a product, newest first (and the product's rating aggregate).
CREATE INDEX reviews_product_visible_idx ON reviews (product_id, created_at, id) WHERE hidden = 0;
CREATE INDEX reviews_vendor_idx ON reviews (vendor_id);
CREATE INDEX reviews_user_idx ON reviews (user_id);
