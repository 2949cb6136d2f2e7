use async_trait::async_trait;
use rusqlite::{Connection, Row, params};

use super::{SqliteStore, map_err, parse_ts, parse_uuid, ts};
use crate::domain::{AuditEntry, AuditFilter};
use crate::domain::{AuditId, Page, PageRequest, UserId};
use crate::storage::{AuditStore, NewAudit, StoreResult};

/// Writes an audit row inside the caller's transaction.
pub(crate) fn insert_audit(conn: &Connection, audit: &NewAudit) -> StoreResult<()> {
    conn.execute(
        "INSERT INTO audit_log (id, at, actor_id, action, target_type, target_id, details) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            audit.id.to_string(),
            ts(audit.at),
            audit.actor_id.map(|a| a.to_string()),
            audit.action,
            audit.target_type,
            audit.target_id,
            audit.details.to_string()
        ],
    )
    .map_err(map_err)?;
    Ok(())
}

fn audit_from_row(row: &Row<'_>) -> rusqlite::Result<AuditEntry> {
    let actor: Option<String> = row.get(2)?;
    let details: String = row.get(6)?;
    Ok(AuditEntry {
        id: AuditId(parse_uuid(&row.get::<_, String>(0)?)?),
        at: parse_ts(&row.get::<_, String>(1)?)?,
        actor_id: actor.as_deref().map(parse_uuid).transpose()?.map(UserId),
        action: row.get(3)?,
        target_type: row.get(4)?,
        target_id: row.get(5)?,
        details: serde_json::from_str(&details).unwrap_or(serde_json::Value::Null),
    })
}

#[async_trait]
impl AuditStore for SqliteStore {
    #[tracing::instrument(skip_all)]
    async fn list_audit(&self, filter: &AuditFilter, page: PageRequest) -> StoreResult<Page<AuditEntry>> {
        let actor = filter.actor_id.map(|a| a.to_string());
        let action = filter.action.clone();
        let from = filter.from.map(ts);
        let to = filter.to.map(ts);
        self.pool
            .read(move |conn| {
                let condition = "(?1 IS NULL OR actor_id = ?1) AND (?2 IS NULL OR action = ?2)
                     AND (?3 IS NULL OR at >= ?3) AND (?4 IS NULL OR at <= ?4)";
                let total: i64 = conn
                    .query_row(
                        &format!("SELECT count(*) FROM audit_log WHERE {condition}"),
                        params![actor, action, from, to],
                        |r| r.get(0),
                    )
                    .map_err(map_err)?;
                let mut stmt = conn
                    .prepare_cached(&format!(
                        "SELECT id, at, actor_id, action, target_type, target_id, details FROM audit_log
                         WHERE {condition} ORDER BY at DESC, id DESC LIMIT ?5 OFFSET ?6"
                    ))
                    .map_err(map_err)?;
                let items = stmt
                    .query_map(params![actor, action, from, to, page.limit(), page.offset()], audit_from_row)
                    .and_then(Iterator::collect::<rusqlite::Result<Vec<_>>>)
                    .map_err(map_err)?;
                Ok(Page::new(items, page, total))
            })
            .await
    }
}
