-- Idle deadline of admin panel sessions: a request after it is refused and ends the session, and
-- activity pushes it. NULL for storefront and API sessions, which have only their absolute end
-- (`expires_at`).
ALTER TABLE sessions ADD COLUMN idle_expires_at TEXT;
