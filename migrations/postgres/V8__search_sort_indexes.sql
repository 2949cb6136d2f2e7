-- Sort indexes that hold every tie-break of the public sort orders (ORDER BY ... , id), so a
-- search for a common word can walk products in the page's order, test each one against the
-- full-text match set, and stop after one page instead of sorting every match. They replace the
-- shorter (status, key) indexes, whose every use they also serve.
CREATE INDEX products_status_newest_idx ON products (status, created_at, id);
CREATE INDEX products_status_price_id_idx ON products (status, price_cents, id);
CREATE INDEX products_status_rating_full_idx ON products (status, rating_avg, rating_count, created_at, id);
CREATE INDEX products_status_popular_idx ON products (status, sales_count, created_at, id);
DROP INDEX products_status_created_idx;
DROP INDEX products_status_price_idx;
DROP INDEX products_status_rating_idx;
DROP INDEX products_status_sales_idx;
