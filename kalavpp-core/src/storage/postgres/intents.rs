//! Payment intents on PostgreSQL: claims take row locks with `SKIP LOCKED`, so several
//! instances never claim the same intent at once.

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;
use uuid::Uuid;

use super::{PostgresStore, map_err};
use crate::domain::{IntentKind, IntentStatus, PaymentIntent, Timestamp};
use crate::domain::{OrderId, OrderStatus, UserId};
use crate::storage::{Conflict, HasStatus};
use crate::storage::{NewPaymentIntent, PaymentIntentStore, StoreError, StoreResult};

const INTENT_COLUMNS: &str = "id, order_id, kind, status, idempotency_key, session_id, payment_intent_id, amount_cents, actor_id,
     result_id, attempts, next_attempt_at, last_error, created_at, updated_at";

fn intent_from_row(row: &Row) -> StoreResult<PaymentIntent> {
    let text = |i: usize| row.try_get::<_, String>(i).map_err(map_err);
    Ok(PaymentIntent {
        id: row.try_get(0).map_err(map_err)?,
        order_id: OrderId(row.try_get(1).map_err(map_err)?),
        kind: IntentKind::parse(&text(2)?).map_err(StoreError::backend)?,
        status: IntentStatus::parse(&text(3)?).map_err(StoreError::backend)?,
        idempotency_key: text(4)?,
        session_id: row.try_get(5).map_err(map_err)?,
        payment_intent_id: row.try_get(6).map_err(map_err)?,
        amount_cents: row.try_get(7).map_err(map_err)?,
        actor_id: row.try_get::<_, Option<Uuid>>(8).map_err(map_err)?.map(UserId),
        result_id: row.try_get(9).map_err(map_err)?,
        attempts: row.try_get(10).map_err(map_err)?,
        next_attempt_at: row.try_get(11).map_err(map_err)?,
        last_error: row.try_get(12).map_err(map_err)?,
        created_at: row.try_get(13).map_err(map_err)?,
        updated_at: row.try_get(14).map_err(map_err)?,
    })
}

/// Inserts an intent unless one with its idempotency key exists; `true` when inserted.
pub(super) async fn insert_intent(client: &impl GenericClient, intent: &NewPaymentIntent) -> StoreResult<bool> {
    let inserted = client
        .execute(
            "INSERT INTO payment_intents (id, order_id, kind, status, idempotency_key, session_id, payment_intent_id, amount_cents,
                 actor_id, next_attempt_at, created_at, updated_at)
             VALUES ($1, $2, $3, 'pending', $4, $5, $6, $7, $8, $9, $10, $10)
             ON CONFLICT (idempotency_key) DO NOTHING",
            &[
                &intent.id,
                &intent.order_id.0,
                &intent.kind.as_str(),
                &intent.idempotency_key,
                &intent.session_id,
                &intent.payment_intent_id,
                &intent.amount_cents,
                &intent.actor_id.map(|a| a.0),
                &intent.next_attempt_at,
                &intent.at,
            ],
        )
        .await
        .map_err(map_err)?;
    Ok(inserted > 0)
}

/// Records an expiry of the checkout session of each listed order that has one.
pub(super) async fn expire_sessions_of(client: &impl GenericClient, order_ids: &[Uuid], at: &Timestamp) -> StoreResult<()> {
    if order_ids.is_empty() {
        return Ok(());
    }
    client
        .execute(
            "INSERT INTO payment_intents (id, order_id, kind, status, idempotency_key, session_id, amount_cents, next_attempt_at,
                 created_at, updated_at)
             SELECT gen_random_uuid(), id, 'expire_session', 'pending', 'expire-' || payment_session_id, payment_session_id, 0, $1, $1, $1
             FROM orders WHERE id = ANY($2) AND payment_session_id IS NOT NULL
             ON CONFLICT (idempotency_key) DO NOTHING",
            &[at, &order_ids],
        )
        .await
        .map_err(map_err)?;
    Ok(())
}

/// Marks an intent done (inside a caller's transaction).
pub(super) async fn finish_intent(client: &impl GenericClient, id: Uuid, result_id: Option<&str>, at: &Timestamp) -> StoreResult<bool> {
    let changed = client
        .execute(
            "UPDATE payment_intents SET status = 'done', result_id = coalesce($1, result_id), last_error = NULL, updated_at = $2
             WHERE id = $3 AND status = 'pending'",
            &[&result_id, at, &id],
        )
        .await
        .map_err(map_err)?;
    Ok(changed > 0)
}

#[async_trait]
impl PaymentIntentStore for PostgresStore {
    #[tracing::instrument(skip_all)]
    async fn request_refund(&self, intent: NewPaymentIntent) -> StoreResult<PaymentIntent> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(map_err)?;
        let status = tx
            .query_opt("SELECT status FROM orders WHERE id = $1 FOR UPDATE", &[&intent.order_id.0])
            .await
            .map_err(map_err)?
            .ok_or(StoreError::NotFound)?;
        let status = OrderStatus::parse(status.get(0)).map_err(StoreError::backend)?;
        if !status.is_refundable() {
            return Err(StoreError::Conflict(Conflict::StaleStatus(HasStatus::Order)));
        }
        let existing = tx
            .query_opt(
                "SELECT id, status FROM payment_intents WHERE order_id = $1 AND kind = $2 ORDER BY created_at DESC LIMIT 1",
                &[&intent.order_id.0, &intent.kind.as_str()],
            )
            .await
            .map_err(map_err)?;
        let id: Uuid = match existing {
            None => {
                insert_intent(&tx, &intent).await?;
                intent.id
            }
            Some(row) if row.get::<_, &str>(1) == "failed" => {
                let id: Uuid = row.get(0);
                // A new key: the provider replays a refused request's answer for its key.
                tx.execute(
                    "UPDATE payment_intents SET status = 'pending', actor_id = $1, next_attempt_at = $2, updated_at = $3,
                         idempotency_key = $5, last_error = NULL WHERE id = $4",
                    &[
                        &intent.actor_id.map(|a| a.0),
                        &intent.next_attempt_at,
                        &intent.at,
                        &id,
                        &format!("{}-{}", intent.idempotency_key, intent.id.simple()),
                    ],
                )
                .await
                .map_err(map_err)?;
                id
            }
            Some(_) => return Err(StoreError::Conflict(Conflict::RefundPending)),
        };
        let row = tx
            .query_one(&format!("SELECT {INTENT_COLUMNS} FROM payment_intents WHERE id = $1"), &[&id])
            .await
            .map_err(map_err)?;
        let stored = intent_from_row(&row)?;
        tx.commit().await.map_err(map_err)?;
        Ok(stored)
    }

    #[tracing::instrument(skip_all)]
    async fn claim_payment_intents(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: i64,
        order: Option<OrderId>,
    ) -> StoreResult<Vec<PaymentIntent>> {
        let rows = self
            .client()
            .await?
            .query(
                &format!(
                    "UPDATE payment_intents SET attempts = attempts + 1, next_attempt_at = $2, updated_at = $1
                     WHERE id IN (SELECT id FROM payment_intents WHERE status = 'pending' AND next_attempt_at <= $1
                                    AND ($4::uuid IS NULL OR order_id = $4)
                                  ORDER BY next_attempt_at, id LIMIT $3 FOR UPDATE SKIP LOCKED)
                     RETURNING {INTENT_COLUMNS}"
                ),
                &[&now, &lease_until, &limit, &order.map(|o| o.0)],
            )
            .await
            .map_err(map_err)?;
        let mut claimed = rows.iter().map(intent_from_row).collect::<StoreResult<Vec<_>>>()?;
        claimed.sort_by_key(|i| (i.created_at, i.id));
        Ok(claimed)
    }

    #[tracing::instrument(skip_all)]
    async fn finish_payment_intent(&self, id: Uuid, result_id: Option<&str>, at: Timestamp) -> StoreResult<bool> {
        finish_intent(&self.client().await?, id, result_id, &at).await
    }

    #[tracing::instrument(skip_all)]
    async fn fail_payment_intent(&self, id: Uuid, error: &str, retry_at: Option<Timestamp>, at: Timestamp) -> StoreResult<()> {
        let error: String = error.chars().take(500).collect();
        self.client()
            .await?
            .execute(
                "UPDATE payment_intents SET status = CASE WHEN $1::timestamptz IS NULL THEN 'failed' ELSE 'pending' END,
                     next_attempt_at = coalesce($1, next_attempt_at), last_error = $2, updated_at = $3
                 WHERE id = $4 AND status = 'pending'",
                &[&retry_at, &error, &at, &id],
            )
            .await
            .map_err(map_err)?;
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    async fn payment_intents_for_order(&self, order_id: OrderId) -> StoreResult<Vec<PaymentIntent>> {
        let rows = self
            .client()
            .await?
            .query(
                &format!("SELECT {INTENT_COLUMNS} FROM payment_intents WHERE order_id = $1 ORDER BY created_at, id"),
                &[&order_id.0],
            )
            .await
            .map_err(map_err)?;
        rows.iter().map(intent_from_row).collect()
    }

    #[tracing::instrument(skip_all)]
    async fn payment_intents_in(&self, status: IntentStatus, limit: i64) -> StoreResult<Vec<PaymentIntent>> {
        let rows = self
            .client()
            .await?
            .query(
                &format!("SELECT {INTENT_COLUMNS} FROM payment_intents WHERE status = $1 ORDER BY created_at, id LIMIT $2"),
                &[&status.as_str(), &limit],
            )
            .await
            .map_err(map_err)?;
        rows.iter().map(intent_from_row).collect()
    }
}
