use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::audit::insert_audit;
use super::outbox::insert_email;
use super::{PostgresStore, map_err};
use crate::domain::{Page, PageRequest, UserId, VendorId, VendorStatus};
use crate::domain::{Timestamp, Vendor, VendorFilter};
use crate::storage::{Conflict, HasStatus};
use crate::storage::{NewVendor, StoreError, StoreResult, VendorDecision, VendorProfileChange, VendorStore};

/// Columns of a vendor read from `vendors v`, with its count of published products.
const VENDOR_COLUMNS: &str = "v.id, v.user_id, v.slug, v.shop_name, v.bio, v.payout_details, v.status, v.rejection_reason,
     v.commission_bps, v.rating_avg, v.rating_count,
     (SELECT count(*) FROM products p WHERE p.vendor_id = v.id AND p.status = 'published'),
     v.created_at, v.updated_at, v.approved_at";

fn vendor_from_row(row: &Row) -> StoreResult<Vendor> {
    Ok(Vendor {
        id: VendorId(row.try_get(0).map_err(map_err)?),
        user_id: UserId(row.try_get(1).map_err(map_err)?),
        slug: row.try_get(2).map_err(map_err)?,
        shop_name: row.try_get(3).map_err(map_err)?,
        bio: row.try_get(4).map_err(map_err)?,
        payout_details: row.try_get(5).map_err(map_err)?,
        status: VendorStatus::parse(row.try_get(6).map_err(map_err)?).map_err(StoreError::backend)?,
        rejection_reason: row.try_get(7).map_err(map_err)?,
        commission_bps: row.try_get(8).map_err(map_err)?,
        rating_avg: row.try_get(9).map_err(map_err)?,
        rating_count: row.try_get(10).map_err(map_err)?,
        product_count: row.try_get(11).map_err(map_err)?,
        created_at: row.try_get(12).map_err(map_err)?,
        updated_at: row.try_get(13).map_err(map_err)?,
        approved_at: row.try_get(14).map_err(map_err)?,
    })
}

/// A vendor by id, read through `client` (inside the caller's transaction, if any).
pub(super) async fn load_vendor(client: &impl GenericClient, id: VendorId) -> StoreResult<Option<Vendor>> {
    let row = client
        .query_opt(&format!("SELECT {VENDOR_COLUMNS} FROM vendors v WHERE v.id = $1"), &[&id.0])
        .await
        .map_err(map_err)?;
    row.as_ref().map(vendor_from_row).transpose()
}

#[async_trait]
impl VendorStore for PostgresStore {
    #[tracing::instrument(skip_all)]
    async fn insert_vendor(&self, vendor: NewVendor) -> StoreResult<Vendor> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(map_err)?;
        tx.execute(
            "INSERT INTO vendors (id, user_id, slug, shop_name, bio, payout_details, status, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $7)",
            &[
                &vendor.id.0,
                &vendor.user_id.0,
                &vendor.slug,
                &vendor.shop_name,
                &vendor.bio,
                &vendor.payout_details,
                &vendor.at,
            ],
        )
        .await
        .map_err(map_err)?;
        let stored = load_vendor(&tx, vendor.id).await?.ok_or(StoreError::NotFound)?;
        tx.commit().await.map_err(map_err)?;
        Ok(stored)
    }

    #[tracing::instrument(skip_all)]
    async fn reapply_vendor(&self, vendor: NewVendor) -> StoreResult<Option<Vendor>> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(map_err)?;
        let row = tx
            .query_opt(
                // The slug (and so the shop's URL) stays the one made at the first application.
                "UPDATE vendors SET shop_name = $2, bio = $3, payout_details = $4, status = 'pending',
                     rejection_reason = NULL, updated_at = $5
                 WHERE user_id = $1 AND status = 'rejected' RETURNING id",
                &[
                    &vendor.user_id.0,
                    &vendor.shop_name,
                    &vendor.bio,
                    &vendor.payout_details,
                    &vendor.at,
                ],
            )
            .await
            .map_err(map_err)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let stored = load_vendor(&tx, VendorId(row.get(0))).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(stored)
    }

    #[tracing::instrument(skip_all)]
    async fn vendor_by_id(&self, id: VendorId) -> StoreResult<Option<Vendor>> {
        load_vendor(&self.client().await?, id).await
    }

    #[tracing::instrument(skip_all)]
    async fn vendor_by_slug(&self, slug: &str) -> StoreResult<Option<Vendor>> {
        let row = self
            .client()
            .await?
            .query_opt(&format!("SELECT {VENDOR_COLUMNS} FROM vendors v WHERE v.slug = $1"), &[&slug])
            .await
            .map_err(map_err)?;
        row.as_ref().map(vendor_from_row).transpose()
    }

    #[tracing::instrument(skip_all)]
    async fn vendor_by_user(&self, user_id: UserId) -> StoreResult<Option<Vendor>> {
        let row = self
            .client()
            .await?
            .query_opt(
                &format!("SELECT {VENDOR_COLUMNS} FROM vendors v WHERE v.user_id = $1"),
                &[&user_id.0],
            )
            .await
            .map_err(map_err)?;
        row.as_ref().map(vendor_from_row).transpose()
    }

    #[tracing::instrument(skip_all)]
    async fn list_vendors(&self, filter: &VendorFilter, page: PageRequest) -> StoreResult<Page<Vendor>> {
        let status = filter.status.map(VendorStatus::as_str);
        let condition = "($1::text IS NULL OR v.status = $1)";
        let client = self.client().await?;
        let total: i64 = client
            .query_one(&format!("SELECT count(*) FROM vendors v WHERE {condition}"), &[&status])
            .await
            .map_err(map_err)?
            .get(0);
        let rows = client
            .query(
                &format!(
                    "SELECT {VENDOR_COLUMNS} FROM vendors v WHERE {condition}
                     ORDER BY v.created_at DESC, v.id DESC LIMIT $2 OFFSET $3"
                ),
                &[&status, &page.limit(), &page.offset()],
            )
            .await
            .map_err(map_err)?;
        let items = rows.iter().map(vendor_from_row).collect::<StoreResult<Vec<_>>>()?;
        Ok(Page::new(items, page, total))
    }

    #[tracing::instrument(skip_all)]
    async fn update_vendor_profile(&self, id: VendorId, change: VendorProfileChange, at: Timestamp) -> StoreResult<Vendor> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(map_err)?;
        let changed = tx
            .execute(
                "UPDATE vendors SET shop_name = coalesce($2::text, shop_name),
                     bio = CASE WHEN $3::boolean THEN $4::text ELSE bio END,
                     payout_details = CASE WHEN $5::boolean THEN $6::jsonb ELSE payout_details END,
                     updated_at = $7
                 WHERE id = $1",
                &[
                    &id.0,
                    &change.shop_name,
                    &change.bio.is_some(),
                    &change.bio.clone().flatten(),
                    &change.payout_details.is_some(),
                    &change.payout_details.clone().flatten(),
                    &at,
                ],
            )
            .await
            .map_err(map_err)?;
        if changed == 0 {
            return Err(StoreError::NotFound);
        }
        let stored = load_vendor(&tx, id).await?.ok_or(StoreError::NotFound)?;
        tx.commit().await.map_err(map_err)?;
        Ok(stored)
    }

    #[tracing::instrument(skip_all)]
    async fn decide_vendor(&self, decision: VendorDecision) -> StoreResult<Vendor> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(map_err)?;
        let at = decision.audit.at;
        let from: Vec<&str> = decision.from.iter().map(|s| s.as_str()).collect();
        let to = decision.to.map(VendorStatus::as_str);
        // The status check and the change are one conditional statement, so two admins deciding
        // at once cannot both succeed.
        let row = tx
            .query_opt(
                "UPDATE vendors SET
                     status = coalesce($3::text, status),
                     rejection_reason = CASE WHEN $3::text = 'rejected' THEN $4::text WHEN $3::text IS NULL THEN rejection_reason ELSE NULL END,
                     commission_bps = CASE WHEN $5::boolean THEN $6::integer ELSE commission_bps END,
                     approved_at = CASE WHEN $3::text = 'approved' THEN coalesce(approved_at, $7) ELSE approved_at END,
                     updated_at = $7
                 WHERE id = $1 AND status = ANY($2::text[]) RETURNING user_id",
                &[
                    &decision.vendor_id.0,
                    &from,
                    &to,
                    &decision.rejection_reason,
                    &decision.commission_bps.is_some(),
                    &decision.commission_bps.flatten(),
                    &at,
                ],
            )
            .await
            .map_err(map_err)?;
        let Some(row) = row else {
            let exists = tx
                .query_opt("SELECT 1 FROM vendors WHERE id = $1", &[&decision.vendor_id.0])
                .await
                .map_err(map_err)?
                .is_some();
            return Err(if exists {
                StoreError::Conflict(Conflict::StaleStatus(HasStatus::Vendor))
            } else {
                StoreError::NotFound
            });
        };
        let user_id: uuid::Uuid = row.get(0);
        if decision.grant_vendor_role {
            tx.execute(
                "UPDATE users SET role = 'vendor', updated_at = $2 WHERE id = $1 AND role <> 'admin'",
                &[&user_id, &at],
            )
            .await
            .map_err(map_err)?;
        }
        insert_audit(&tx, &decision.audit).await?;
        if let Some(email) = &decision.email {
            insert_email(&tx, email).await?;
        }
        let stored = load_vendor(&tx, decision.vendor_id).await?.ok_or(StoreError::NotFound)?;
        tx.commit().await.map_err(map_err)?;
        Ok(stored)
    }
}
