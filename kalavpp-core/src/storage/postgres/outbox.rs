use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::audit::insert_audit;
use super::{PostgresStore, map_err};
use crate::domain::{EmailFilter, OutboxEmail, Timestamp};
use crate::domain::{EmailId, Page, PageRequest};
use crate::storage::{ClaimedEmail, NewAudit, NewEmail, OutboxStore, StoreError, StoreResult};

/// Queues an email inside the caller's transaction.
pub(crate) async fn insert_email(client: &impl GenericClient, email: &NewEmail) -> StoreResult<()> {
    client
        .execute(
            "INSERT INTO outbox (id, recipient, template, subject, body_text, body_html, next_attempt_at, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
            &[
                &email.id.0,
                &email.recipient,
                &email.template,
                &email.subject,
                &email.body_text,
                &email.body_html,
                &email.created_at,
            ],
        )
        .await
        .map_err(map_err)?;
    Ok(())
}

fn email_from_row(row: &Row) -> StoreResult<OutboxEmail> {
    Ok(OutboxEmail {
        id: EmailId(row.try_get(0).map_err(map_err)?),
        recipient: row.try_get(1).map_err(map_err)?,
        template: row.try_get(2).map_err(map_err)?,
        subject: row.try_get(3).map_err(map_err)?,
        body_text: row.try_get(4).map_err(map_err)?,
        status: row.try_get(5).map_err(map_err)?,
        attempts: row.try_get(6).map_err(map_err)?,
        last_error: row.try_get(7).map_err(map_err)?,
        created_at: row.try_get(8).map_err(map_err)?,
        sent_at: row.try_get(9).map_err(map_err)?,
    })
}

fn claimed_from_row(row: &Row) -> StoreResult<ClaimedEmail> {
    Ok(ClaimedEmail {
        id: EmailId(row.try_get(0).map_err(map_err)?),
        recipient: row.try_get(1).map_err(map_err)?,
        template: row.try_get(2).map_err(map_err)?,
        subject: row.try_get(3).map_err(map_err)?,
        body_text: row.try_get(4).map_err(map_err)?,
        body_html: row.try_get(5).map_err(map_err)?,
        attempts: row.try_get(6).map_err(map_err)?,
        created_at: row.try_get(7).map_err(map_err)?,
    })
}

/// `NotFound` when an update of a `sending` message changed nothing.
fn changed_one(changed: u64) -> StoreResult<()> {
    if changed == 0 { Err(StoreError::NotFound) } else { Ok(()) }
}

#[async_trait]
impl OutboxStore for PostgresStore {
    #[tracing::instrument(skip_all)]
    async fn enqueue_email(&self, email: NewEmail) -> StoreResult<()> {
        insert_email(&self.client().await?, &email).await
    }

    #[tracing::instrument(skip_all)]
    async fn list_emails(&self, filter: &EmailFilter, page: PageRequest) -> StoreResult<Page<OutboxEmail>> {
        let condition =
            "($1::text IS NULL OR recipient = $1) AND ($2::text IS NULL OR template = $2) AND ($3::text IS NULL OR status = $3)";
        let client = self.client().await?;
        let total: i64 = client
            .query_one(
                &format!("SELECT count(*) FROM outbox WHERE {condition}"),
                &[&filter.recipient, &filter.template, &filter.status],
            )
            .await
            .map_err(map_err)?
            .get(0);
        let rows = client
            .query(
                &format!(
                    "SELECT id, recipient, template, subject, body_text, status, attempts, last_error, created_at, sent_at
                     FROM outbox WHERE {condition} ORDER BY created_at DESC, id DESC LIMIT $4 OFFSET $5"
                ),
                &[&filter.recipient, &filter.template, &filter.status, &page.limit(), &page.offset()],
            )
            .await
            .map_err(map_err)?;
        let items = rows.iter().map(email_from_row).collect::<StoreResult<Vec<_>>>()?;
        Ok(Page::new(items, page, total))
    }

    #[tracing::instrument(skip_all)]
    async fn retry_email(&self, id: EmailId, audit: NewAudit, at: Timestamp) -> StoreResult<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(map_err)?;
        // The row lock orders this against a worker's claim or outcome of the same message.
        let status: Option<String> = tx
            .query_opt("SELECT status FROM outbox WHERE id = $1 FOR UPDATE", &[&id.0])
            .await
            .map_err(map_err)?
            .map(|row| row.get(0));
        match status.as_deref() {
            None => return Err(StoreError::NotFound),
            Some("failed") => {}
            Some(_) => return Ok(false),
        }
        tx.execute(
            "UPDATE outbox SET status = 'queued', attempts = 0, next_attempt_at = $2 WHERE id = $1",
            &[&id.0, &at],
        )
        .await
        .map_err(map_err)?;
        insert_audit(&tx, &audit).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(true)
    }

    #[tracing::instrument(skip_all, fields(limit = limit))]
    async fn claim_emails(&self, now: Timestamp, lease_until: Timestamp, limit: i64) -> StoreResult<Vec<ClaimedEmail>> {
        // One statement, one transaction. `SKIP LOCKED` lets concurrent claimers (other tasks or
        // other servers) pass over rows another claim is taking; a row whose claim committed
        // meanwhile is re-checked under its lock and no longer matches (its lease lies ahead).
        let rows = self
            .client()
            .await?
            .query(
                "WITH claimed AS (
                     UPDATE outbox SET status = 'sending', attempts = attempts + 1, next_attempt_at = $2
                     WHERE id IN (
                         SELECT id FROM outbox
                         WHERE status IN ('queued', 'sending') AND next_attempt_at <= $1
                         ORDER BY created_at, id
                         LIMIT $3
                         FOR UPDATE SKIP LOCKED)
                     RETURNING id, recipient, template, subject, body_text, body_html, attempts, created_at)
                 SELECT * FROM claimed ORDER BY created_at, id",
                &[&now, &lease_until, &limit.max(0)],
            )
            .await
            .map_err(map_err)?;
        rows.iter().map(claimed_from_row).collect()
    }

    #[tracing::instrument(skip_all)]
    async fn mark_email_sent(&self, id: EmailId, attempt: i32, at: Timestamp) -> StoreResult<()> {
        let changed = self
            .client()
            .await?
            .execute(
                "UPDATE outbox SET status = 'sent', sent_at = $2 WHERE id = $1 AND status = 'sending' AND attempts = $3",
                &[&id.0, &at, &attempt],
            )
            .await
            .map_err(map_err)?;
        changed_one(changed)
    }

    #[tracing::instrument(skip_all)]
    async fn reschedule_email(&self, id: EmailId, attempt: i32, error: &str, next_attempt_at: Timestamp) -> StoreResult<()> {
        let changed = self
            .client()
            .await?
            .execute(
                "UPDATE outbox SET status = 'queued', next_attempt_at = $2, last_error = $3
                 WHERE id = $1 AND status = 'sending' AND attempts = $4",
                &[&id.0, &next_attempt_at, &error, &attempt],
            )
            .await
            .map_err(map_err)?;
        changed_one(changed)
    }

    #[tracing::instrument(skip_all)]
    async fn mark_email_failed(&self, id: EmailId, attempt: i32, error: &str, at: Timestamp) -> StoreResult<()> {
        let changed = self
            .client()
            .await?
            .execute(
                "UPDATE outbox SET status = 'failed', next_attempt_at = $2, last_error = $3
                 WHERE id = $1 AND status = 'sending' AND attempts = $4",
                &[&id.0, &at, &error, &attempt],
            )
            .await
            .map_err(map_err)?;
        changed_one(changed)
    }
}
