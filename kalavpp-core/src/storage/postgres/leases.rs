use async_trait::async_trait;

use super::{PostgresStore, map_err};
use crate::domain::Timestamp;
use crate::storage::{JobLeaseStore, StoreResult};

#[async_trait]
impl JobLeaseStore for PostgresStore {
    #[tracing::instrument(skip_all, fields(name))]
    async fn acquire_lease(&self, name: &str, holder: &str, now: Timestamp, until: Timestamp) -> StoreResult<bool> {
        let client = self.client().await?;
        let changed = client
            .execute(
                "INSERT INTO job_leases (name, holder, until, updated_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until, updated_at = excluded.updated_at
                 WHERE job_leases.until <= $4",
                &[&name, &holder, &until, &now],
            )
            .await
            .map_err(map_err)?;
        Ok(changed == 1)
    }

    #[tracing::instrument(skip_all, fields(name))]
    async fn release_lease(&self, name: &str, holder: &str, until: Timestamp) -> StoreResult<()> {
        let client = self.client().await?;
        client
            .execute(
                "UPDATE job_leases SET until = $3, updated_at = $3 WHERE name = $1 AND holder = $2",
                &[&name, &holder, &until],
            )
            .await
            .map_err(map_err)?;
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(name))]
    async fn lease(&self, name: &str) -> StoreResult<Option<(String, Timestamp)>> {
        let client = self.client().await?;
        let row = client
            .query_opt("SELECT holder, until FROM job_leases WHERE name = $1", &[&name])
            .await
            .map_err(map_err)?;
        row.map(|row| Ok((row.try_get(0).map_err(map_err)?, row.try_get(1).map_err(map_err)?)))
            .transpose()
    }
}
