use async_trait::async_trait;
use rusqlite::{Connection, Row, params};

use super::{SqliteStore, map_err, parse_ts, parse_uuid, ts};
use crate::domain::{EmailId, Page, PageRequest};
use crate::storage::{EmailFilter, NewEmail, OutboxEmail, OutboxStore, StoreResult};

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
}
