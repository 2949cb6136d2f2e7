use async_trait::async_trait;
use rusqlite::{OptionalExtension as _, params};

use super::{SqliteStore, map_err, parse_ts, ts};
use crate::domain::Timestamp;
use crate::storage::{JobLeaseStore, StoreResult};

#[async_trait]
impl JobLeaseStore for SqliteStore {
    #[tracing::instrument(skip_all, fields(name))]
    async fn acquire_lease(&self, name: &str, holder: &str, now: Timestamp, until: Timestamp) -> StoreResult<bool> {
        let (name, holder) = (name.to_owned(), holder.to_owned());
        self.pool
            .write(move |conn| {
                let changed = conn
                    .execute(
                        "INSERT INTO job_leases (name, holder, until, updated_at) VALUES (?1, ?2, ?3, ?4)
                         ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until, updated_at = excluded.updated_at
                         WHERE job_leases.until <= ?4",
                        params![name, holder, ts(until), ts(now)],
                    )
                    .map_err(map_err)?;
                Ok(changed == 1)
            })
            .await
    }

    #[tracing::instrument(skip_all, fields(name))]
    async fn release_lease(&self, name: &str, holder: &str, until: Timestamp) -> StoreResult<()> {
        let (name, holder) = (name.to_owned(), holder.to_owned());
        self.pool
            .write(move |conn| {
                conn.execute(
                    "UPDATE job_leases SET until = ?3, updated_at = ?3 WHERE name = ?1 AND holder = ?2",
                    params![name, holder, ts(until)],
                )
                .map_err(map_err)?;
                Ok(())
            })
            .await
    }

    #[tracing::instrument(skip_all, fields(name))]
    async fn lease(&self, name: &str) -> StoreResult<Option<(String, Timestamp)>> {
        let name = name.to_owned();
        self.pool
            .read(move |conn| {
                conn.query_row("SELECT holder, until FROM job_leases WHERE name = ?1", [name], |row| {
                    Ok((row.get::<_, String>(0)?, parse_ts(&row.get::<_, String>(1)?)?))
                })
                .optional()
                .map_err(map_err)
            })
            .await
    }
}
