-- Vendors (applications and shops), categories, products, images and digital assets.
CREATE TABLE vendors (
    id               UUID PRIMARY KEY,
    user_id          UUID NOT NULL REFERENCES users (id),
    slug             TEXT NOT NULL,
    shop_name        TEXT NOT NULL,
    bio              TEXT,
    payout_details   JSONB,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'suspended')),
    rejection_reason TEXT,
    commission_bps   INTEGER CHECK (commission_bps BETWEEN 0 AND 10000),
    rating_avg       DOUBLE PRECISION NOT NULL DEFAULT 0,
    rating_count     BIGINT NOT NULL DEFAULT 0,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
    approved_at      TIMESTAMPTZ
);
CREATE UNIQUE INDEX vendors_user_id_key ON vendors (user_id);
CREATE UNIQUE INDEX vendors_slug_key ON vendors (slug);
CREATE INDEX vendors_status_idx ON vendors (status, created_at);

CREATE TABLE categories (
    id         UUID PRIMARY KEY,
    slug       TEXT NOT NULL,
    name       TEXT NOT NULL,
    parent_id  UUID REFERENCES categories (id),
    created_at TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX categories_slug_key ON categories (slug);
CREATE INDEX categories_parent_idx ON categories (parent_id);

CREATE TABLE products (
    id            UUID PRIMARY KEY,
    vendor_id     UUID NOT NULL REFERENCES vendors (id),
    category_id   UUID NOT NULL REFERENCES categories (id),
    slug          TEXT NOT NULL,
    title         TEXT NOT NULL,
    description   TEXT NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('physical', 'digital')),
    price_cents   BIGINT NOT NULL CHECK (price_cents > 0),
    stock         BIGINT CHECK (stock >= 0),
    status        TEXT NOT NULL CHECK (status IN ('draft', 'published', 'archived')),
    tags          TEXT NOT NULL DEFAULT '[]',
    rating_avg    DOUBLE PRECISION NOT NULL DEFAULT 0,
    rating_count  BIGINT NOT NULL DEFAULT 0,
    sales_count   BIGINT NOT NULL DEFAULT 0,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL,
    search_vector TSVECTOR GENERATED ALWAYS AS (
        setweight(to_tsvector('english', title), 'A')
        || setweight(to_tsvector('english', description), 'B')
        || setweight(to_tsvector('english', tags), 'C')
    ) STORED,
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
CREATE INDEX products_search_idx ON products USING GIN (search_vector);

CREATE TABLE product_images (
    id         UUID PRIMARY KEY,
    product_id UUID NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    position   INTEGER NOT NULL,
    key        TEXT NOT NULL,
    thumb_key  TEXT NOT NULL,
    width      INTEGER NOT NULL,
    height     INTEGER NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX product_images_product_idx ON product_images (product_id, position);

CREATE TABLE product_assets (
    product_id UUID PRIMARY KEY REFERENCES products (id) ON DELETE CASCADE,
    filename   TEXT NOT NULL,
    key        TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    sha256     TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

-- The default categories of an art marketplace (fixed ids, so both backends agree).
INSERT INTO categories (id, slug, name, parent_id, created_at) VALUES
    ('01900000-0000-7000-8000-000000000001', 'paintings', 'Paintings', NULL, '2026-01-01T00:00:00Z'),
    ('01900000-0000-7000-8000-000000000002', 'oil-paintings', 'Oil paintings', '01900000-0000-7000-8000-000000000001', '2026-01-01T00:00:00Z'),
    ('01900000-0000-7000-8000-000000000003', 'acrylic-paintings', 'Acrylic paintings', '01900000-0000-7000-8000-000000000001', '2026-01-01T00:00:00Z'),
    ('01900000-0000-7000-8000-000000000004', 'watercolour-paintings', 'Watercolour paintings', '01900000-0000-7000-8000-000000000001', '2026-01-01T00:00:00Z'),
    ('01900000-0000-7000-8000-000000000005', 'prints', 'Prints', NULL, '2026-01-01T00:00:00Z'),
    ('01900000-0000-7000-8000-000000000006', 'photography', 'Photography', NULL, '2026-01-01T00:00:00Z'),
    ('01900000-0000-7000-8000-000000000007', 'drawings', 'Drawings', NULL, '2026-01-01T00:00:00Z'),
    ('01900000-0000-7000-8000-000000000008', 'illustration', 'Illustration', NULL, '2026-01-01T00:00:00Z'),
    ('01900000-0000-7000-8000-000000000009', 'digital-art', 'Digital art', NULL, '2026-01-01T00:00:00Z'),
    ('01900000-0000-7000-8000-00000000000a', 'sculpture', 'Sculpture', NULL, '2026-01-01T00:00:00Z'),
    ('01900000-0000-7000-8000-00000000000b', 'ceramics', 'Ceramics', NULL, '2026-01-01T00:00:00Z'),
    ('01900000-0000-7000-8000-00000000000c', 'textiles', 'Textiles', NULL, '2026-01-01T00:00:00Z'),
    ('01900000-0000-7000-8000-00000000000d', 'jewellery', 'Jewellery', NULL, '2026-01-01T00:00:00Z'),
    ('01900000-0000-7000-8000-00000000000e', 'mixed-media', 'Mixed media', NULL, '2026-01-01T00:00:00Z');
