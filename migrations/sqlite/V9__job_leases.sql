-- Leases of scheduled jobs (e.g. the scheduled backup): the instance that holds a job's lease runs
-- it; the lease lasts the job's period, so on a shared database one instance runs each period,
-- and when the holder dies another takes the job over once the lease has run out.
CREATE TABLE job_leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    until      TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
