//! Payout requests: holds, decisions and their ledger entries.

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::audit::insert_audit;
use super::outbox::insert_email;
use super::{SqliteStore, bad_value, map_err, parse_ts, parse_uuid, ts};
use crate::domain::ledger::{self, PayoutPosting};
use crate::domain::{LedgerEntryId, Money, Page, PageRequest, PayoutId, PayoutStatus, VendorId};
use crate::domain::{Payout, PayoutAction, PayoutFilter};
use crate::storage::{Conflict, HasStatus, payout_guard};
use crate::storage::{NewPayout, PayoutDecision, PayoutStore, StoreError, StoreResult};

const PAYOUT_COLUMNS: &str = "id, vendor_id, amount_cents, currency, status, rejection_reason, reference,
     requested_at, approved_at, paid_at, rejected_at, updated_at";

fn optional_ts(row: &Row<'_>, index: usize) -> rusqlite::Result<Option<crate::domain::Timestamp>> {
    row.get::<_, Option<String>>(index)?.as_deref().map(parse_ts).transpose()
}

fn payout_from_row(row: &Row<'_>) -> rusqlite::Result<Payout> {
    Ok(Payout {
        id: PayoutId(parse_uuid(&row.get::<_, String>(0)?)?),
        vendor_id: VendorId(parse_uuid(&row.get::<_, String>(1)?)?),
        amount: Money(row.get(2)?),
        currency: row.get(3)?,
        status: PayoutStatus::parse(&row.get::<_, String>(4)?).map_err(bad_value)?,
        rejection_reason: row.get(5)?,
        reference: row.get(6)?,
        requested_at: parse_ts(&row.get::<_, String>(7)?)?,
        approved_at: optional_ts(row, 8)?,
        paid_at: optional_ts(row, 9)?,
        rejected_at: optional_ts(row, 10)?,
        updated_at: parse_ts(&row.get::<_, String>(11)?)?,
    })
}

fn load_payout(conn: &Connection, id: &str) -> StoreResult<Option<Payout>> {
    conn.prepare_cached(&format!("SELECT {PAYOUT_COLUMNS} FROM payouts WHERE id = ?1"))
        .and_then(|mut stmt| stmt.query_row([id], payout_from_row).optional())
        .map_err(map_err)
}

/// One ledger row of a payout (no order, no line), as [`crate::domain::ledger`] computed it.
fn insert_payout_entry(conn: &Connection, payout: &Payout, posting: &PayoutPosting, at: &str) -> StoreResult<()> {
    conn.execute(
        "INSERT INTO ledger_entries (id, vendor_id, payout_id, kind, bucket, amount_cents, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            LedgerEntryId::new().to_string(),
            payout.vendor_id.to_string(),
            payout.id.to_string(),
            posting.kind.as_str(),
            posting.bucket.as_str(),
            posting.amount.0,
            at
        ],
    )
    .map_err(map_err)?;
    Ok(())
}

#[async_trait]
impl PayoutStore for SqliteStore {
    #[tracing::instrument(skip_all)]
    async fn request_payout(&self, payout: NewPayout) -> StoreResult<Payout> {
        self.pool
            .write(move |conn| {
                // The single writer and an immediate transaction serialise every request.
                let tx = conn.savepoint().map_err(map_err)?;
                let vendor = payout.vendor_id.to_string();
                let available: i64 = tx
                    .query_row(
                        "SELECT coalesce(sum(amount_cents), 0) FROM ledger_entries WHERE vendor_id = ?1 AND bucket = 'available'",
                        [&vendor],
                        |r| r.get(0),
                    )
                    .map_err(map_err)?;
                let Some(hold) = ledger::payout_hold_postings(Money(available), payout.amount) else {
                    return Err(StoreError::Conflict(Conflict::InsufficientBalance));
                };
                let at = ts(payout.at);
                let id = payout.id.to_string();
                tx.execute(
                    "INSERT INTO payouts (id, vendor_id, amount_cents, currency, status, requested_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, 'requested', ?5, ?5)",
                    params![id, vendor, payout.amount.cents(), payout.currency, at],
                )
                .map_err(map_err)?;
                let stored = load_payout(&tx, &id)?.ok_or(StoreError::NotFound)?;
                for posting in &hold {
                    insert_payout_entry(&tx, &stored, posting, &at)?;
                }
                if let Some(email) = &payout.email {
                    insert_email(&tx, email)?;
                }
                tx.commit().map_err(map_err)?;
                Ok(stored)
            })
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn payout_by_id(&self, id: PayoutId) -> StoreResult<Option<Payout>> {
        self.pool.read(move |conn| load_payout(conn, &id.to_string())).await
    }

    #[tracing::instrument(skip_all)]
    async fn list_payouts(&self, filter: &PayoutFilter, page: PageRequest) -> StoreResult<Page<Payout>> {
        let vendor = filter.vendor_id.map(|v| v.to_string());
        let status = filter.status.map(PayoutStatus::as_str);
        self.pool
            .read(move |conn| {
                let total: i64 = conn
                    .query_row(
                        "SELECT count(*) FROM payouts WHERE (?1 IS NULL OR vendor_id = ?1) AND (?2 IS NULL OR status = ?2)",
                        params![vendor, status],
                        |r| r.get(0),
                    )
                    .map_err(map_err)?;
                let items = conn
                    .prepare_cached(&format!(
                        "SELECT {PAYOUT_COLUMNS} FROM payouts WHERE (?1 IS NULL OR vendor_id = ?1) AND (?2 IS NULL OR status = ?2)
                         ORDER BY requested_at DESC, id DESC LIMIT ?3 OFFSET ?4"
                    ))
                    .and_then(|mut stmt| {
                        stmt.query_map(params![vendor, status, page.limit(), page.offset()], payout_from_row)?
                            .collect::<rusqlite::Result<Vec<_>>>()
                    })
                    .map_err(map_err)?;
                Ok(Page::new(items, page, total))
            })
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn decide_payout(&self, decision: PayoutDecision) -> StoreResult<Payout> {
        self.pool
            .write(move |conn| {
                let tx = conn.savepoint().map_err(map_err)?;
                let id = decision.payout_id.to_string();
                let current = load_payout(&tx, &id)?.ok_or(StoreError::NotFound)?;
                if !decision.action.allowed_from().contains(&current.status) {
                    return Err(StoreError::Conflict(Conflict::StaleStatus(HasStatus::Payout)));
                }
                let at = ts(decision.at);
                let action = &decision.action;
                let (target, guard) = (action.target().as_str(), payout_guard(action));
                let changed = match action {
                    PayoutAction::Approve => tx.execute(
                        &format!("UPDATE payouts SET status = '{target}', approved_at = ?1, updated_at = ?1 WHERE id = ?2 AND status IN ({guard})"),
                        params![at, id],
                    ),
                    PayoutAction::Reject { reason } => tx.execute(
                        &format!(
                            "UPDATE payouts SET status = '{target}', rejection_reason = ?1, rejected_at = ?2, updated_at = ?2
                             WHERE id = ?3 AND status IN ({guard})"
                        ),
                        params![reason, at, id],
                    ),
                    PayoutAction::MarkPaid { reference } => tx.execute(
                        &format!(
                            "UPDATE payouts SET status = '{target}', reference = ?1, paid_at = ?2, updated_at = ?2 WHERE id = ?3 AND status IN ({guard})"
                        ),
                        params![reference, at, id],
                    ),
                }
                .map_err(map_err)?;
                if changed != 1 {
                    return Err(StoreError::Conflict(Conflict::StaleStatus(HasStatus::Payout)));
                }
                for posting in &ledger::payout_decision_postings(action, current.amount) {
                    insert_payout_entry(&tx, &current, posting, &at)?;
                }
                insert_audit(&tx, &decision.audit)?;
                if let Some(email) = &decision.email {
                    insert_email(&tx, email)?;
                }
                let stored = load_payout(&tx, &id)?.ok_or(StoreError::NotFound)?;
                tx.commit().map_err(map_err)?;
                Ok(stored)
            })
            .await
    }
}
