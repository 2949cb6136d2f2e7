-- Vendors (applications and shops), categories, products, images and digital assets.
CREATE TABLE vendors (
    id               TEXT PRIMARY KEY,
    user_id          TEXT NOT NULL REFERENCES users (id),
    slug             TEXT NOT NULL,
    shop_name        TEXT NOT NULL,
    bio              TEXT,
    payout_details   TEXT,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'suspended')),
    rejection_reason TEXT,
    commission_bps   INTEGER CHECK (commission_bps BETWEEN 0 AND 10000),
    rating_avg       REAL NOT NULL DEFAULT 0,
    rating_count     INTEGER NOT NULL DEFAULT 0,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    approved_at      TEXT
);
CREATE UNIQUE INDEX vendors_user_id_key ON vendors (user_id);
CREATE UNIQUE INDEX vendors_slug_key ON vendors (slug);
CREATE INDEX vendors_status_idx ON vendors (status, created_at);

CREATE TABLE categories (
    id         TEXT PRIMARY KEY,
    slug       TEXT NOT NULL,
    name       TEXT NOT NULL,
    parent_id  TEXT REFERENCES categories (id),
    created_at TEXT NOT NULL
);
CREATE UNIQUE INDEX categories_slug_key ON categories (slug);
CREATE INDEX categories_parent_idx ON categories (parent_id);

-- `seq` is the stable integer row id the full-text index points at (a plain rowid may change on VACUUM).
CREATE TABLE products (
    seq          INTEGER PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    vendor_id    TEXT NOT NULL REFERENCES vendors (id),
    category_id  TEXT NOT NULL REFERENCES categories (id),
    slug         TEXT NOT NULL,
    title        TEXT NOT NULL,
    description  TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('physical', 'digital')),
    price_cents  INTEGER NOT NULL CHECK (price_cents > 0),
    stock        INTEGER CHECK (stock >= 0),
    status       TEXT NOT NULL CHECK (status IN ('draft', 'published', 'archived')),
    tags         TEXT NOT NULL DEFAULT '[]',
    rating_avg   REAL NOT NULL DEFAULT 0,
    rating_count INTEGER NOT NULL DEFAULT 0,
    sales_count  INTEGER NOT NULL DEFAULT 0,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    CHECK ((kind = 'physical' AND stock IS NOT NULL) OR (kind = 'digital' AND stock IS NULL))
);
CREATE UNIQUE INDEX products_slug_key ON products (slug);
CREATE INDEX products_vendor_idx ON products (vendor_id, created_at);
CREATE INDEX products_vendor_status_idx ON products (vendor_id, status);
CREATE INDEX products_category_idx ON products (category_id, status);
CREATE INDEX products_status_created_idx ON products (status, created_at);
CREATE INDEX products_status_price_idx ON products (status, price_cents);
CREATE INDEX products_status_rating_idx ON products (status, rating_avg);
CREATE INDEX products_status_sales_idx ON products (status, sales_count);

-- Full-text index over title, description and tags (tags are stored as a JSON array; the
-- tokenizer treats its punctuation as separators). Contentless: it only maps words to `seq`.
CREATE VIRTUAL TABLE products_fts USING fts5(
    title, description, tags,
    content = '', contentless_delete = 1,
    tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE TRIGGER products_fts_insert AFTER INSERT ON products BEGIN
    INSERT INTO products_fts (rowid, title, description, tags) VALUES (new.seq, new.title, new.description, new.tags);
END;
CREATE TRIGGER products_fts_update AFTER UPDATE OF title, description, tags ON products BEGIN
    DELETE FROM products_fts WHERE rowid = old.seq;
    INSERT INTO products_fts (rowid, title, description, tags) VALUES (new.seq, new.title, new.description, new.tags);
END;
CREATE TRIGGER products_fts_delete AFTER DELETE ON products BEGIN
    DELETE FROM products_fts WHERE rowid = old.seq;
END;

CREATE TABLE product_images (
    id         TEXT PRIMARY KEY,
    product_id TEXT NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    position   INTEGER NOT NULL,
    key        TEXT NOT NULL,
    thumb_key  TEXT NOT NULL,
    width      INTEGER NOT NULL,
    height     INTEGER NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX product_images_product_idx ON product_images (product_id, position);

CREATE TABLE product_assets (
    product_id TEXT PRIMARY KEY REFERENCES products (id) ON DELETE CASCADE,
    filename   TEXT NOT NULL,
    key        TEXT NOT NULL,
    size_bytes INTEGER NOT NULL,
    sha256     TEXT NOT NULL,
    created_at TEXT NOT NULL
);

-- The default categories of an art marketplace (fixed ids, so both backends agree).
INSERT INTO categories (id, slug, name, parent_id, created_at) VALUES
    ('01900000-0000-7000-8000-000000000001', 'paintings', 'Paintings', NULL, '2026-01-01T00:00:00.000000Z'),
    ('01900000-0000-7000-8000-000000000002', 'oil-paintings', 'Oil paintings', '01900000-0000-7000-8000-000000000001', '2026-01-01T00:00:00.000000Z'),
    ('01900000-0000-7000-8000-000000000003', 'acrylic-paintings', 'Acrylic paintings', '01900000-0000-7000-8000-000000000001', '2026-01-01T00:00:00.000000Z'),
    ('01900000-0000-7000-8000-000000000004', 'watercolour-paintings', 'Watercolour paintings', '01900000-0000-7000-8000-000000000001', '2026-01-01T00:00:00.000000Z'),
    ('01900000-0000-7000-8000-000000000005', 'prints', 'Prints', NULL, '2026-01-01T00:00:00.000000Z'),
    ('01900000-0000-7000-8000-000000000006', 'photography', 'Photography', NULL, '2026-01-01T00:00:00.000000Z'),
    ('01900000-0000-7000-8000-000000000007', 'drawings', 'Drawings', NULL, '2026-01-01T00:00:00.000000Z'),
    ('01900000-0000-7000-8000-000000000008', 'illustration', 'Illustration', NULL, '2026-01-01T00:00:00.000000Z'),
    ('01900000-0000-7000-8000-000000000009', 'digital-art', 'Digital art', NULL, '2026-01-01T00:00:00.000000Z'),
    ('01900000-0000-7000-8000-00000000000a', 'sculpture', 'Sculpture', NULL, '2026-01-01T00:00:00.000000Z'),
    ('01900000-0000-7000-8000-00000000000b', 'ceramics', 'Ceramics', NULL, '2026-01-01T00:00:00.000000Z'),
    ('01900000-0000-7000-8000-00000000000c', 'textiles', 'Textiles', NULL, '2026-01-01T00:00:00.000000Z'),
    ('01900000-0000-7000-8000-00000000000d', 'jewellery', 'Jewellery', NULL, '2026-01-01T00:00:00.000000Z'),
    ('01900000-0000-7000-8000-00000000000e', 'mixed-media', 'Mixed media', NULL, '2026-01-01T00:00:00.000000Z');
