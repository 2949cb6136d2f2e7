//! Payout requests: holds, decisions and their ledger entries.

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;
use uuid::Uuid;

use super::audit::insert_audit;
use super::outbox::insert_email;
use super::{PostgresStore, map_err};
use crate::domain::ledger::{self, PayoutPosting};
use crate::domain::{LedgerEntryId, Money, Page, PageRequest, PayoutId, PayoutStatus, VendorId};
use crate::domain::{Payout, PayoutAction, PayoutFilter, Timestamp};
use crate::storage::{Conflict, HasStatus, payout_guard};
use crate::storage::{NewPayout, PayoutDecision, PayoutStore, StoreError, StoreResult};

const PAYOUT_COLUMNS: &str = "id, vendor_id, amount_cents, currency, status, rejection_reason, reference,
     requested_at, approved_at, paid_at, rejected_at, updated_at";

fn payout_from_row(row: &Row) -> StoreResult<Payout> {
    Ok(Payout {
        id: PayoutId(row.get(0)),
        vendor_id: VendorId(row.get(1)),
        amount: Money(row.get(2)),
        currency: row.get(3),
        status: PayoutStatus::parse(row.get(4)).map_err(StoreError::backend)?,
        rejection_reason: row.get(5),
        reference: row.get(6),
        requested_at: row.get(7),
        approved_at: row.get(8),
        paid_at: row.get(9),
        rejected_at: row.get(10),
        updated_at: row.get(11),
    })
}

async fn load_payout(client: &impl GenericClient, id: Uuid, lock: bool) -> StoreResult<Option<Payout>> {
    let lock = if lock { " FOR UPDATE" } else { "" };
    client
        .query_opt(&format!("SELECT {PAYOUT_COLUMNS} FROM payouts WHERE id = $1{lock}"), &[&id])
        .await
        .map_err(map_err)?
        .as_ref()
        .map(payout_from_row)
        .transpose()
}

/// One ledger row of a payout (no order, no line), as [`crate::domain::ledger`] computed it.
async fn insert_payout_entry(client: &impl GenericClient, payout: &Payout, posting: &PayoutPosting, at: &Timestamp) -> StoreResult<()> {
    client
        .execute(
            "INSERT INTO ledger_entries (id, vendor_id, payout_id, kind, bucket, amount_cents, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                &LedgerEntryId::new().0,
                &payout.vendor_id.0,
                &payout.id.0,
                &posting.kind.as_str(),
                &posting.bucket.as_str(),
                &posting.amount.0,
                at,
            ],
        )
        .await
        .map_err(map_err)?;
    Ok(())
}

#[async_trait]
impl PayoutStore for PostgresStore {
    #[tracing::instrument(skip_all)]
    async fn request_payout(&self, payout: NewPayout) -> StoreResult<Payout> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(map_err)?;
        // Lock the vendor row: concurrent requests of one vendor queue here, and each then sums a
        // ledger that already holds the previous request's hold.
        let vendor = payout.vendor_id.0;
        if tx
            .query_opt("SELECT 1 FROM vendors WHERE id = $1 FOR NO KEY UPDATE", &[&vendor])
            .await
            .map_err(map_err)?
            .is_none()
        {
            return Err(StoreError::NotFound);
        }
        let available: i64 = tx
            .query_one(
                "SELECT coalesce(sum(amount_cents), 0)::bigint FROM ledger_entries WHERE vendor_id = $1 AND bucket = 'available'",
                &[&vendor],
            )
            .await
            .map_err(map_err)?
            .get(0);
        let Some(hold) = ledger::payout_hold_postings(Money(available), payout.amount) else {
            return Err(StoreError::Conflict(Conflict::InsufficientBalance));
        };
        tx.execute(
            "INSERT INTO payouts (id, vendor_id, amount_cents, currency, status, requested_at, updated_at)
             VALUES ($1, $2, $3, $4, 'requested', $5, $5)",
            &[&payout.id.0, &vendor, &payout.amount.cents(), &payout.currency, &payout.at],
        )
        .await
        .map_err(map_err)?;
        let stored = load_payout(&tx, payout.id.0, false).await?.ok_or(StoreError::NotFound)?;
        for posting in &hold {
            insert_payout_entry(&tx, &stored, posting, &payout.at).await?;
        }
        if let Some(email) = &payout.email {
            insert_email(&tx, email).await?;
        }
        tx.commit().await.map_err(map_err)?;
        Ok(stored)
    }

    #[tracing::instrument(skip_all)]
    async fn payout_by_id(&self, id: PayoutId) -> StoreResult<Option<Payout>> {
        load_payout(&self.client().await?, id.0, false).await
    }

    #[tracing::instrument(skip_all)]
    async fn list_payouts(&self, filter: &PayoutFilter, page: PageRequest) -> StoreResult<Page<Payout>> {
        let vendor = filter.vendor_id.map(|v| v.0);
        let status = filter.status.map(PayoutStatus::as_str);
        let condition = "($1::uuid IS NULL OR vendor_id = $1) AND ($2::text IS NULL OR status = $2)";
        let client = self.client().await?;
        let total: i64 = client
            .query_one(&format!("SELECT count(*) FROM payouts WHERE {condition}"), &[&vendor, &status])
            .await
            .map_err(map_err)?
            .get(0);
        let rows = client
            .query(
                &format!("SELECT {PAYOUT_COLUMNS} FROM payouts WHERE {condition} ORDER BY requested_at DESC, id DESC LIMIT $3 OFFSET $4"),
                &[&vendor, &status, &page.limit(), &page.offset()],
            )
            .await
            .map_err(map_err)?;
        let items = rows.iter().map(payout_from_row).collect::<StoreResult<Vec<_>>>()?;
        Ok(Page::new(items, page, total))
    }

    #[tracing::instrument(skip_all)]
    async fn decide_payout(&self, decision: PayoutDecision) -> StoreResult<Payout> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(map_err)?;
        let id = decision.payout_id.0;
        let current = load_payout(&tx, id, true).await?.ok_or(StoreError::NotFound)?;
        if !decision.action.allowed_from().contains(&current.status) {
            return Err(StoreError::Conflict(Conflict::StaleStatus(HasStatus::Payout)));
        }
        let at = &decision.at;
        let action = &decision.action;
        let (target, guard) = (action.target().as_str(), payout_guard(action));
        let changed = match action {
            PayoutAction::Approve => {
                tx.execute(
                    &format!("UPDATE payouts SET status = '{target}', approved_at = $1, updated_at = $1 WHERE id = $2 AND status IN ({guard})"),
                    &[at, &id],
                )
                .await
            }
            PayoutAction::Reject { reason } => {
                tx.execute(
                    &format!(
                        "UPDATE payouts SET status = '{target}', rejection_reason = $1, rejected_at = $2, updated_at = $2
                         WHERE id = $3 AND status IN ({guard})"
                    ),
                    &[reason, at, &id],
                )
                .await
            }
            PayoutAction::MarkPaid { reference } => {
                tx.execute(
                    &format!(
                        "UPDATE payouts SET status = '{target}', reference = $1, paid_at = $2, updated_at = $2 WHERE id = $3 AND status IN ({guard})"
                    ),
                    &[reference, at, &id],
                )
                .await
            }
        }
        .map_err(map_err)?;
        if changed != 1 {
            return Err(StoreError::Conflict(Conflict::StaleStatus(HasStatus::Payout)));
        }
        for posting in &ledger::payout_decision_postings(action, current.amount) {
            insert_payout_entry(&tx, &current, posting, at).await?;
        }
        insert_audit(&tx, &decision.audit).await?;
        if let Some(email) = &decision.email {
            insert_email(&tx, email).await?;
        }
        let stored = load_payout(&tx, id, false).await?.ok_or(StoreError::NotFound)?;
        tx.commit().await.map_err(map_err)?;
        Ok(stored)
    }
}
