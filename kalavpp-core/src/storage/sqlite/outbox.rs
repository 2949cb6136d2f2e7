use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::audit::insert_audit;
use super::{SqliteStore, map_err, parse_ts, parse_uuid, ts};
use crate::domain::{EmailFilter, OutboxEmail, Timestamp};
use crate::domain::{EmailId, Page, PageRequest};
use crate::storage::{ClaimedEmail, NewAudit, NewEmail, OutboxStore, StoreError, StoreResult};

/// Queues an email inside the caller's transaction.
pub(crate) fn insert_email(conn: &Connection, email: &NewEmail) -> StoreResult<()> {
    conn.execute(
        "INSERT INTO outbox (id, recipient, template, subject, body_text, body_html, next_attempt_at, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
        params![
            email.id.to_string(),
            email.recipient,
            email.template,
            email.subject,
            email.body_text,
            email.body_html,
            ts(email.created_at)
        ],
    )
    .map_err(map_err)?;
    Ok(())
}

fn email_from_row(row: &Row<'_>) -> rusqlite::Result<OutboxEmail> {
    let sent_at: Option<String> = row.get(9)?;
    Ok(OutboxEmail {
        id: EmailId(parse_uuid(&row.get::<_, String>(0)?)?),
        recipient: row.get(1)?,
        template: row.get(2)?,
        subject: row.get(3)?,
        body_text: row.get(4)?,
        status: row.get(5)?,
        attempts: row.get(6)?,
        last_error: row.get(7)?,
        created_at: parse_ts(&row.get::<_, String>(8)?)?,
        sent_at: sent_at.as_deref().map(parse_ts).transpose()?,
    })
}

fn claimed_from_row(row: &Row<'_>) -> rusqlite::Result<ClaimedEmail> {
    Ok(ClaimedEmail {
        id: EmailId(parse_uuid(&row.get::<_, String>(0)?)?),
        recipient: row.get(1)?,
        template: row.get(2)?,
        subject: row.get(3)?,
        body_text: row.get(4)?,
        body_html: row.get(5)?,
        attempts: row.get(6)?,
        created_at: parse_ts(&row.get::<_, String>(7)?)?,
    })
}

/// Changes a `sending` message with `sql` over `?1` = id, `?2` = time and `?3` = error (when
/// given); one statement, so one transaction. `NotFound` when no `sending` message matched.
/// Runs an outcome update: `?1` id, `?2` time, `?3` the claim's attempt, `?4` the error (if any).
async fn finish(
    store: &SqliteStore,
    sql: &'static str,
    id: EmailId,
    attempt: i32,
    error: Option<String>,
    at: Timestamp,
) -> StoreResult<()> {
    store
        .pool
        .write(move |conn| {
            let changed = conn
                .prepare_cached(sql)
                .and_then(|mut stmt| match error {
                    Some(error) => stmt.execute(params![id.to_string(), ts(at), attempt, error]),
                    None => stmt.execute(params![id.to_string(), ts(at), attempt]),
                })
                .map_err(map_err)?;
            if changed == 0 { Err(StoreError::NotFound) } else { Ok(()) }
        })
        .await
}

#[async_trait]
impl OutboxStore for SqliteStore {
    #[tracing::instrument(skip_all)]
    async fn enqueue_email(&self, email: NewEmail) -> StoreResult<()> {
        self.pool.write(move |conn| insert_email(conn, &email)).await
    }

    #[tracing::instrument(skip_all)]
    async fn list_emails(&self, filter: &EmailFilter, page: PageRequest) -> StoreResult<Page<OutboxEmail>> {
        let filter = filter.clone();
        self.pool
            .read(move |conn| {
                let condition = "(?1 IS NULL OR recipient = ?1) AND (?2 IS NULL OR template = ?2) AND (?3 IS NULL OR status = ?3)";
                let args = params![filter.recipient, filter.template, filter.status];
                let total: i64 = conn
                    .query_row(&format!("SELECT count(*) FROM outbox WHERE {condition}"), args, |r| r.get(0))
                    .map_err(map_err)?;
                let mut stmt = conn
                    .prepare_cached(&format!(
                        "SELECT id, recipient, template, subject, body_text, status, attempts, last_error, created_at, sent_at
                         FROM outbox WHERE {condition} ORDER BY created_at DESC, id DESC LIMIT ?4 OFFSET ?5"
                    ))
                    .map_err(map_err)?;
                let items = stmt
                    .query_map(
                        params![filter.recipient, filter.template, filter.status, page.limit(), page.offset()],
                        email_from_row,
                    )
                    .and_then(Iterator::collect::<rusqlite::Result<Vec<_>>>)
                    .map_err(map_err)?;
                Ok(Page::new(items, page, total))
            })
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn retry_email(&self, id: EmailId, audit: NewAudit, at: Timestamp) -> StoreResult<bool> {
        self.pool
            .write(move |conn| {
                let tx = conn.savepoint().map_err(map_err)?;
                let status: Option<String> = tx
                    .query_row("SELECT status FROM outbox WHERE id = ?1", [id.to_string()], |r| r.get(0))
                    .optional()
                    .map_err(map_err)?;
                match status.as_deref() {
                    None => return Err(StoreError::NotFound),
                    Some("failed") => {}
                    Some(_) => return Ok(false),
                }
                tx.execute(
                    "UPDATE outbox SET status = 'queued', attempts = 0, next_attempt_at = ?2 WHERE id = ?1 AND status = 'failed'",
                    params![id.to_string(), ts(at)],
                )
                .map_err(map_err)?;
                insert_audit(&tx, &audit)?;
                tx.commit().map_err(map_err)?;
                Ok(true)
            })
            .await
    }

    #[tracing::instrument(skip_all, fields(limit = limit))]
    async fn claim_emails(&self, now: Timestamp, lease_until: Timestamp, limit: i64) -> StoreResult<Vec<ClaimedEmail>> {
        // The single writer connection serialises claims: no two claimers see the same row due.
        self.pool
            .write(move |conn| {
                let mut stmt = conn
                    .prepare_cached(
                        "UPDATE outbox SET status = 'sending', attempts = attempts + 1, next_attempt_at = ?2
                         WHERE id IN (
                             SELECT id FROM outbox
                             WHERE status IN ('queued', 'sending') AND next_attempt_at <= ?1
                             ORDER BY created_at, id LIMIT ?3)
                         RETURNING id, recipient, template, subject, body_text, body_html, attempts, created_at",
                    )
                    .map_err(map_err)?;
                let mut claimed = stmt
                    .query_map(params![ts(now), ts(lease_until), limit.max(0)], claimed_from_row)
                    .and_then(Iterator::collect::<rusqlite::Result<Vec<_>>>)
                    .map_err(map_err)?;
                // RETURNING comes in no particular order.
                claimed.sort_by_key(|c| (c.created_at, c.id));
                Ok(claimed)
            })
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn mark_email_sent(&self, id: EmailId, attempt: i32, at: Timestamp) -> StoreResult<()> {
        finish(
            self,
            "UPDATE outbox SET status = 'sent', sent_at = ?2 WHERE id = ?1 AND status = 'sending' AND attempts = ?3",
            id,
            attempt,
            None,
            at,
        )
        .await
    }

    #[tracing::instrument(skip_all)]
    async fn reschedule_email(&self, id: EmailId, attempt: i32, error: &str, next_attempt_at: Timestamp) -> StoreResult<()> {
        finish(
            self,
            "UPDATE outbox SET status = 'queued', next_attempt_at = ?2, last_error = ?4 WHERE id = ?1 AND status = 'sending' AND attempts = ?3",
            id,
            attempt,
            Some(error.to_owned()),
            next_attempt_at,
        )
        .await
    }

    #[tracing::instrument(skip_all)]
    async fn mark_email_failed(&self, id: EmailId, attempt: i32, error: &str, at: Timestamp) -> StoreResult<()> {
        finish(
            self,
            "UPDATE outbox SET status = 'failed', next_attempt_at = ?2, last_error = ?4 WHERE id = ?1 AND status = 'sending' AND attempts = ?3",
            id,
            attempt,
            Some(error.to_owned()),
            at,
        )
        .await
    }
}
