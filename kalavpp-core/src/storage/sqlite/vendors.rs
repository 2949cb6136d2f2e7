use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::audit::insert_audit;
use super::outbox::insert_email;
use super::{SqliteStore, bad_value, map_err, parse_ts, parse_uuid, ts};
use crate::domain::{Page, PageRequest, UserId, VendorId, VendorStatus};
use crate::domain::{Timestamp, Vendor, VendorFilter};
use crate::storage::{Conflict, HasStatus};
use crate::storage::{NewVendor, StoreError, StoreResult, VendorDecision, VendorProfileChange, VendorStore};

const VENDOR_COLUMNS: &str = "v.id, v.user_id, v.slug, v.shop_name, v.bio, v.payout_details, v.status, v.rejection_reason,
     v.commission_bps, v.rating_avg, v.rating_count, v.created_at, v.updated_at, v.approved_at,
     (SELECT count(*) FROM products p WHERE p.vendor_id = v.id AND p.status = 'published')";

fn vendor_from_row(row: &Row<'_>) -> rusqlite::Result<Vendor> {
    let payout: Option<String> = row.get(5)?;
    let approved_at: Option<String> = row.get(13)?;
    Ok(Vendor {
        id: VendorId(parse_uuid(&row.get::<_, String>(0)?)?),
        user_id: UserId(parse_uuid(&row.get::<_, String>(1)?)?),
        slug: row.get(2)?,
        shop_name: row.get(3)?,
        bio: row.get(4)?,
        payout_details: payout.map(|p| serde_json::from_str(&p).unwrap_or(serde_json::Value::String(p))),
        status: VendorStatus::parse(&row.get::<_, String>(6)?).map_err(bad_value)?,
        rejection_reason: row.get(7)?,
        commission_bps: row.get(8)?,
        rating_avg: row.get(9)?,
        rating_count: row.get(10)?,
        created_at: parse_ts(&row.get::<_, String>(11)?)?,
        updated_at: parse_ts(&row.get::<_, String>(12)?)?,
        approved_at: approved_at.as_deref().map(parse_ts).transpose()?,
        product_count: row.get(14)?,
    })
}

fn load_vendor(conn: &Connection, column: &str, value: String) -> StoreResult<Option<Vendor>> {
    conn.prepare_cached(&format!("SELECT {VENDOR_COLUMNS} FROM vendors v WHERE v.{column} = ?1"))
        .and_then(|mut stmt| stmt.query_row([value], vendor_from_row).optional())
        .map_err(map_err)
}

fn json_text(value: Option<&serde_json::Value>) -> Option<String> {
    value.map(serde_json::Value::to_string)
}

#[async_trait]
impl VendorStore for SqliteStore {
    #[tracing::instrument(skip_all)]
    async fn insert_vendor(&self, vendor: NewVendor) -> StoreResult<Vendor> {
        self.pool
            .write(move |conn| {
                conn.execute(
                    "INSERT INTO vendors (id, user_id, slug, shop_name, bio, payout_details, status, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', ?7, ?7)",
                    params![
                        vendor.id.to_string(),
                        vendor.user_id.to_string(),
                        vendor.slug,
                        vendor.shop_name,
                        vendor.bio,
                        json_text(vendor.payout_details.as_ref()),
                        ts(vendor.at)
                    ],
                )
                .map_err(map_err)?;
                load_vendor(conn, "id", vendor.id.to_string())?.ok_or(StoreError::NotFound)
            })
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn reapply_vendor(&self, vendor: NewVendor) -> StoreResult<Option<Vendor>> {
        self.pool
            .write(move |conn| {
                let id: Option<String> = conn
                    .query_row(
                        "UPDATE vendors SET status = 'pending', shop_name = ?1, bio = ?2, payout_details = ?3,
                             rejection_reason = NULL, updated_at = ?4
                         WHERE user_id = ?5 AND status = 'rejected' RETURNING id",
                        params![
                            vendor.shop_name,
                            vendor.bio,
                            json_text(vendor.payout_details.as_ref()),
                            ts(vendor.at),
                            vendor.user_id.to_string()
                        ],
                        |row| row.get(0),
                    )
                    .optional()
                    .map_err(map_err)?;
                match id {
                    Some(id) => load_vendor(conn, "id", id),
                    None => Ok(None),
                }
            })
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn vendor_by_id(&self, id: VendorId) -> StoreResult<Option<Vendor>> {
        self.pool.read(move |conn| load_vendor(conn, "id", id.to_string())).await
    }

    #[tracing::instrument(skip_all)]
    async fn vendor_by_slug(&self, slug: &str) -> StoreResult<Option<Vendor>> {
        let slug = slug.to_owned();
        self.pool.read(move |conn| load_vendor(conn, "slug", slug)).await
    }

    #[tracing::instrument(skip_all)]
    async fn vendor_by_user(&self, user_id: UserId) -> StoreResult<Option<Vendor>> {
        self.pool.read(move |conn| load_vendor(conn, "user_id", user_id.to_string())).await
    }

    #[tracing::instrument(skip_all)]
    async fn list_vendors(&self, filter: &VendorFilter, page: PageRequest) -> StoreResult<Page<Vendor>> {
        let status = filter.status.map(VendorStatus::as_str);
        self.pool
            .read(move |conn| {
                let total: i64 = conn
                    .query_row("SELECT count(*) FROM vendors WHERE ?1 IS NULL OR status = ?1", [status], |r| {
                        r.get(0)
                    })
                    .map_err(map_err)?;
                let mut stmt = conn
                    .prepare_cached(&format!(
                        "SELECT {VENDOR_COLUMNS} FROM vendors v WHERE ?1 IS NULL OR v.status = ?1
                         ORDER BY v.created_at DESC, v.id DESC LIMIT ?2 OFFSET ?3"
                    ))
                    .map_err(map_err)?;
                let items = stmt
                    .query_map(params![status, page.limit(), page.offset()], vendor_from_row)
                    .and_then(Iterator::collect::<rusqlite::Result<Vec<_>>>)
                    .map_err(map_err)?;
                Ok(Page::new(items, page, total))
            })
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn update_vendor_profile(&self, id: VendorId, change: VendorProfileChange, at: Timestamp) -> StoreResult<Vendor> {
        self.pool
            .write(move |conn| {
                let changed = conn
                    .execute(
                        "UPDATE vendors SET
                             shop_name = coalesce(?1, shop_name),
                             bio = CASE WHEN ?2 THEN ?3 ELSE bio END,
                             payout_details = CASE WHEN ?4 THEN ?5 ELSE payout_details END,
                             updated_at = ?6
                         WHERE id = ?7",
                        params![
                            change.shop_name,
                            change.bio.is_some(),
                            change.bio.clone().flatten(),
                            change.payout_details.is_some(),
                            json_text(change.payout_details.clone().flatten().as_ref()),
                            ts(at),
                            id.to_string()
                        ],
                    )
                    .map_err(map_err)?;
                if changed == 0 {
                    return Err(StoreError::NotFound);
                }
                load_vendor(conn, "id", id.to_string())?.ok_or(StoreError::NotFound)
            })
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn decide_vendor(&self, decision: VendorDecision) -> StoreResult<Vendor> {
        self.pool
            .write(move |conn| {
                let tx = conn.savepoint().map_err(map_err)?;
                let id = decision.vendor_id.to_string();
                let current: Option<(String, String)> = tx
                    .query_row("SELECT status, user_id FROM vendors WHERE id = ?1", [&id], |r| {
                        Ok((r.get(0)?, r.get(1)?))
                    })
                    .optional()
                    .map_err(map_err)?;
                let Some((status, user_id)) = current else {
                    return Err(StoreError::NotFound);
                };
                let status = VendorStatus::parse(&status).map_err(StoreError::backend)?;
                if !decision.from.contains(&status) {
                    return Err(StoreError::Conflict(Conflict::StaleStatus(HasStatus::Vendor)));
                }
                let at = ts(decision.audit.at);
                let approving = decision.to == Some(VendorStatus::Approved);
                tx.execute(
                    "UPDATE vendors SET
                         status = coalesce(?1, status),
                         rejection_reason = CASE WHEN ?1 = 'rejected' THEN ?2 WHEN ?1 IS NULL THEN rejection_reason ELSE NULL END,
                         commission_bps = CASE WHEN ?3 THEN ?4 ELSE commission_bps END,
                         approved_at = CASE WHEN ?5 AND approved_at IS NULL THEN ?6 ELSE approved_at END,
                         updated_at = ?6
                     WHERE id = ?7",
                    params![
                        decision.to.map(VendorStatus::as_str),
                        decision.rejection_reason,
                        decision.commission_bps.is_some(),
                        decision.commission_bps.flatten(),
                        approving,
                        at,
                        id
                    ],
                )
                .map_err(map_err)?;
                if decision.grant_vendor_role {
                    tx.execute(
                        "UPDATE users SET role = 'vendor', updated_at = ?1 WHERE id = ?2 AND role <> 'admin'",
                        params![at, user_id],
                    )
                    .map_err(map_err)?;
                }
                insert_audit(&tx, &decision.audit)?;
                if let Some(email) = &decision.email {
                    insert_email(&tx, email)?;
                }
                let vendor = load_vendor(&tx, "id", id)?.ok_or(StoreError::NotFound)?;
                tx.commit().map_err(map_err)?;
                Ok(vendor)
            })
            .await
    }
}
