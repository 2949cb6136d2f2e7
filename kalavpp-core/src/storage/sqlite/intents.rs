//! Payment intents on SQLite (the single writer serialises claims).

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Row, params};
use uuid::Uuid;

use super::{SqliteStore, bad_value, map_err, parse_ts, parse_uuid, ts};
use crate::domain::{IntentKind, IntentStatus, PaymentIntent, Timestamp};
use crate::domain::{OrderId, UserId};
use crate::storage::{Conflict, HasStatus};
use crate::storage::{NewPaymentIntent, PaymentIntentStore, StoreError, StoreResult};

const INTENT_COLUMNS: &str = "id, order_id, kind, status, idempotency_key, session_id, payment_intent_id, amount_cents, actor_id,
     result_id, attempts, next_attempt_at, last_error, created_at, updated_at";

fn intent_from_row(row: &Row<'_>) -> rusqlite::Result<PaymentIntent> {
    let actor: Option<String> = row.get(8)?;
    Ok(PaymentIntent {
        id: parse_uuid(&row.get::<_, String>(0)?)?,
        order_id: OrderId(parse_uuid(&row.get::<_, String>(1)?)?),
        kind: IntentKind::parse(&row.get::<_, String>(2)?).map_err(bad_value)?,
        status: IntentStatus::parse(&row.get::<_, String>(3)?).map_err(bad_value)?,
        idempotency_key: row.get(4)?,
        session_id: row.get(5)?,
        payment_intent_id: row.get(6)?,
        amount_cents: row.get(7)?,
        actor_id: actor.as_deref().map(parse_uuid).transpose()?.map(UserId),
        result_id: row.get(9)?,
        attempts: row.get(10)?,
        next_attempt_at: parse_ts(&row.get::<_, String>(11)?)?,
        last_error: row.get(12)?,
        created_at: parse_ts(&row.get::<_, String>(13)?)?,
        updated_at: parse_ts(&row.get::<_, String>(14)?)?,
    })
}

/// Inserts an intent unless one with its idempotency key exists; `true` when inserted.
pub(super) fn insert_intent(conn: &Connection, intent: &NewPaymentIntent) -> StoreResult<bool> {
    let inserted = conn
        .execute(
            "INSERT INTO payment_intents (id, order_id, kind, status, idempotency_key, session_id, payment_intent_id, amount_cents,
                 actor_id, next_attempt_at, created_at, updated_at)
             VALUES (?1, ?2, ?3, 'pending', ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)
             ON CONFLICT (idempotency_key) DO NOTHING",
            params![
                intent.id.to_string(),
                intent.order_id.to_string(),
                intent.kind.as_str(),
                intent.idempotency_key,
                intent.session_id,
                intent.payment_intent_id,
                intent.amount_cents,
                intent.actor_id.map(|a| a.to_string()),
                ts(intent.next_attempt_at),
                ts(intent.at),
            ],
        )
        .map_err(map_err)?;
    Ok(inserted > 0)
}

/// Records an expiry of the checkout session of each listed order that has one (cancelled or
/// expired locally, so nobody can pay on the provider's page any more).
pub(super) fn expire_sessions_of(conn: &Connection, order_ids: &[String], at: &str) -> StoreResult<()> {
    let mut stmt = conn
        .prepare_cached(
            "INSERT INTO payment_intents (id, order_id, kind, status, idempotency_key, session_id, amount_cents, next_attempt_at,
                 created_at, updated_at)
             SELECT ?1, id, 'expire_session', 'pending', 'expire-' || payment_session_id, payment_session_id, 0, ?2, ?2, ?2
             FROM orders WHERE id = ?3 AND payment_session_id IS NOT NULL
             ON CONFLICT (idempotency_key) DO NOTHING",
        )
        .map_err(map_err)?;
    for order in order_ids {
        stmt.execute(params![Uuid::new_v4().to_string(), at, order]).map_err(map_err)?;
    }
    Ok(())
}

/// Marks an intent done (inside a caller's transaction).
pub(super) fn finish_intent(conn: &Connection, id: Uuid, result_id: Option<&str>, at: &str) -> StoreResult<bool> {
    let changed = conn
        .execute(
            "UPDATE payment_intents SET status = 'done', result_id = coalesce(?1, result_id), last_error = NULL, updated_at = ?2
             WHERE id = ?3 AND status = 'pending'",
            params![result_id, at, id.to_string()],
        )
        .map_err(map_err)?;
    Ok(changed > 0)
}

fn load_intent(conn: &Connection, id: &str) -> StoreResult<Option<PaymentIntent>> {
    conn.query_row(
        &format!("SELECT {INTENT_COLUMNS} FROM payment_intents WHERE id = ?1"),
        [id],
        intent_from_row,
    )
    .optional()
    .map_err(map_err)
}

#[async_trait]
impl PaymentIntentStore for SqliteStore {
    #[tracing::instrument(skip_all)]
    async fn request_refund(&self, intent: NewPaymentIntent) -> StoreResult<PaymentIntent> {
        self.pool
            .write(move |conn| {
                let tx = conn.savepoint().map_err(map_err)?;
                let order_id = intent.order_id.to_string();
                let status: Option<String> = tx
                    .query_row("SELECT status FROM orders WHERE id = ?1", [&order_id], |r| r.get(0))
                    .optional()
                    .map_err(map_err)?;
                match status.as_deref() {
                    None => return Err(StoreError::NotFound),
                    Some("paid" | "completed") => {}
                    Some(_) => return Err(StoreError::Conflict(Conflict::StaleStatus(HasStatus::Order))),
                }
                let existing: Option<(String, String)> = tx
                    .query_row(
                        "SELECT id, status FROM payment_intents WHERE order_id = ?1 AND kind = ?2 ORDER BY created_at DESC LIMIT 1",
                        params![order_id, intent.kind.as_str()],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .optional()
                    .map_err(map_err)?;
                let id = match existing {
                    None => {
                        insert_intent(&tx, &intent)?;
                        intent.id.to_string()
                    }
                    Some((id, status)) if status == "failed" => {
                        // A new key: the provider replays a refused request's answer for its key.
                        tx.execute(
                            "UPDATE payment_intents SET status = 'pending', actor_id = ?1, next_attempt_at = ?2, updated_at = ?3,
                                 idempotency_key = ?5, last_error = NULL WHERE id = ?4",
                            params![
                                intent.actor_id.map(|a| a.to_string()),
                                ts(intent.next_attempt_at),
                                ts(intent.at),
                                id,
                                format!("{}-{}", intent.idempotency_key, intent.id.simple())
                            ],
                        )
                        .map_err(map_err)?;
                        id
                    }
                    Some(_) => return Err(StoreError::Conflict(Conflict::RefundPending)),
                };
                let stored = load_intent(&tx, &id)?.ok_or(StoreError::NotFound)?;
                tx.commit().map_err(map_err)?;
                Ok(stored)
            })
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn claim_payment_intents(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: i64,
        order: Option<OrderId>,
    ) -> StoreResult<Vec<PaymentIntent>> {
        self.pool
            .write(move |conn| {
                let tx = conn.savepoint().map_err(map_err)?;
                let ids: Vec<String> = tx
                    .prepare_cached(
                        "SELECT id FROM payment_intents WHERE status = 'pending' AND next_attempt_at <= ?1
                           AND (?3 IS NULL OR order_id = ?3)
                         ORDER BY next_attempt_at, id LIMIT ?2",
                    )
                    .and_then(|mut stmt| {
                        stmt.query_map(params![ts(now), limit, order.map(|o| o.to_string())], |r| r.get(0))?
                            .collect()
                    })
                    .map_err(map_err)?;
                let mut claimed = Vec::with_capacity(ids.len());
                for id in ids {
                    tx.execute(
                        "UPDATE payment_intents SET attempts = attempts + 1, next_attempt_at = ?1, updated_at = ?2 WHERE id = ?3",
                        params![ts(lease_until), ts(now), id],
                    )
                    .map_err(map_err)?;
                    claimed.extend(load_intent(&tx, &id)?);
                }
                tx.commit().map_err(map_err)?;
                Ok(claimed)
            })
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn finish_payment_intent(&self, id: Uuid, result_id: Option<&str>, at: Timestamp) -> StoreResult<bool> {
        let result_id = result_id.map(str::to_owned);
        self.pool
            .write(move |conn| finish_intent(conn, id, result_id.as_deref(), &ts(at)))
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn fail_payment_intent(&self, id: Uuid, error: &str, retry_at: Option<Timestamp>, at: Timestamp) -> StoreResult<()> {
        let error: String = error.chars().take(500).collect();
        self.pool
            .write(move |conn| {
                conn.execute(
                    "UPDATE payment_intents SET status = CASE WHEN ?1 IS NULL THEN 'failed' ELSE 'pending' END,
                         next_attempt_at = coalesce(?1, next_attempt_at), last_error = ?2, updated_at = ?3
                     WHERE id = ?4 AND status = 'pending'",
                    params![retry_at.map(ts), error, ts(at), id.to_string()],
                )
                .map_err(map_err)?;
                Ok(())
            })
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn payment_intents_for_order(&self, order_id: OrderId) -> StoreResult<Vec<PaymentIntent>> {
        self.pool
            .read(move |conn| {
                conn.prepare_cached(&format!(
                    "SELECT {INTENT_COLUMNS} FROM payment_intents WHERE order_id = ?1 ORDER BY created_at, id"
                ))
                .and_then(|mut stmt| stmt.query_map([order_id.to_string()], intent_from_row)?.collect())
                .map_err(map_err)
            })
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn payment_intents_in(&self, status: IntentStatus, limit: i64) -> StoreResult<Vec<PaymentIntent>> {
        self.pool
            .read(move |conn| {
                conn.prepare_cached(&format!(
                    "SELECT {INTENT_COLUMNS} FROM payment_intents WHERE status = ?1 ORDER BY created_at, id LIMIT ?2"
                ))
                .and_then(|mut stmt| stmt.query_map(params![status.as_str(), limit], intent_from_row)?.collect())
                .map_err(map_err)
            })
            .await
    }
}
