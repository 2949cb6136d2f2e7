use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::{PostgresStore, map_err};
use crate::domain::{AuditEntry, AuditFilter};
use crate::domain::{AuditId, Page, PageRequest, UserId};
use crate::storage::{AuditStore, NewAudit, StoreResult};

/// Writes an audit row inside the caller's transaction.
pub(crate) async fn insert_audit(client: &impl GenericClient, audit: &NewAudit) -> StoreResult<()> {
    client
        .execute(
            "INSERT INTO audit_log (id, at, actor_id, action, target_type, target_id, details) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                &audit.id.0,
                &audit.at,
                &audit.actor_id.map(|a| a.0),
                &audit.action,
                &audit.target_type,
                &audit.target_id,
                &audit.details,
            ],
        )
        .await
        .map_err(map_err)?;
    Ok(())
}

fn audit_from_row(row: &Row) -> StoreResult<AuditEntry> {
    Ok(AuditEntry {
        id: AuditId(row.try_get(0).map_err(map_err)?),
        at: row.try_get(1).map_err(map_err)?,
        actor_id: row.try_get::<_, Option<uuid::Uuid>>(2).map_err(map_err)?.map(UserId),
        action: row.try_get(3).map_err(map_err)?,
        target_type: row.try_get(4).map_err(map_err)?,
        target_id: row.try_get(5).map_err(map_err)?,
        details: row.try_get(6).map_err(map_err)?,
    })
}

#[async_trait]
impl AuditStore for PostgresStore {
    #[tracing::instrument(skip_all)]
    async fn list_audit(&self, filter: &AuditFilter, page: PageRequest) -> StoreResult<Page<AuditEntry>> {
        let actor = filter.actor_id.map(|a| a.0);
        let condition = "($1::uuid IS NULL OR actor_id = $1) AND ($2::text IS NULL OR action = $2)
             AND ($3::timestamptz IS NULL OR at >= $3) AND ($4::timestamptz IS NULL OR at <= $4)";
        let client = self.client().await?;
        let total: i64 = client
            .query_one(
                &format!("SELECT count(*) FROM audit_log WHERE {condition}"),
                &[&actor, &filter.action, &filter.from, &filter.to],
            )
            .await
            .map_err(map_err)?
            .get(0);
        let rows = client
            .query(
                &format!(
                    "SELECT id, at, actor_id, action, target_type, target_id, details FROM audit_log
                     WHERE {condition} ORDER BY at DESC, id DESC LIMIT $5 OFFSET $6"
                ),
                &[&actor, &filter.action, &filter.from, &filter.to, &page.limit(), &page.offset()],
            )
            .await
            .map_err(map_err)?;
        let items = rows.iter().map(audit_from_row).collect::<StoreResult<Vec<_>>>()?;
        Ok(Page::new(items, page, total))
    }
}
