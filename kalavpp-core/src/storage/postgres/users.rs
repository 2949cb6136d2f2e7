use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;
use uuid::Uuid;

use super::audit::insert_audit;
use super::{PostgresStore, like_pattern, map_err};
use crate::domain::{Email, Page, PageRequest, Role, User, UserId, UserName, UserStatus};
use crate::domain::{Timestamp, UserFilter};
use crate::storage::{AdminUserChange, NewUser, PasswordChange, StoreError, StoreResult, UserCredentials, UserStore};

const USER_COLUMNS: &str = "id, email, name, role, status, created_at, updated_at";

pub(super) fn user_from_row(row: &Row) -> StoreResult<User> {
    Ok(User {
        id: UserId(row.try_get(0).map_err(map_err)?),
        email: row.try_get(1).map_err(map_err)?,
        name: row.try_get(2).map_err(map_err)?,
        role: Role::parse(row.try_get(3).map_err(map_err)?).map_err(StoreError::backend)?,
        status: UserStatus::parse(row.try_get(4).map_err(map_err)?).map_err(StoreError::backend)?,
        created_at: row.try_get(5).map_err(map_err)?,
        updated_at: row.try_get(6).map_err(map_err)?,
    })
}

pub(super) async fn load_user(client: &impl GenericClient, id: UserId) -> StoreResult<Option<User>> {
    let row = client
        .query_opt(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"), &[&id.0])
        .await
        .map_err(map_err)?;
    row.as_ref().map(user_from_row).transpose()
}

fn credentials_from_row(row: &Row) -> StoreResult<UserCredentials> {
    Ok(UserCredentials {
        user: user_from_row(row)?,
        password_hash: row.try_get(7).map_err(map_err)?,
    })
}

/// Revokes every live session of `user` except `keep`.
pub(super) async fn revoke_sessions(client: &impl GenericClient, user: UserId, keep: Option<Uuid>, at: Timestamp) -> StoreResult<()> {
    client
        .execute(
            "UPDATE sessions SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL AND ($3::uuid IS NULL OR id <> $3)",
            &[&at, &user.0, &keep],
        )
        .await
        .map_err(map_err)?;
    Ok(())
}

#[async_trait]
impl UserStore for PostgresStore {
    #[tracing::instrument(skip_all)]
    async fn insert_user(&self, user: NewUser) -> StoreResult<User> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(map_err)?;
        let row = tx
            .query_one(
                &format!(
                    "INSERT INTO users (id, email, name, password_hash, role, status, created_at, updated_at)
                     VALUES ($1, $2, $3, $4, $5, 'active', $6, $6) RETURNING {USER_COLUMNS}"
                ),
                &[
                    &user.id.0,
                    &user.email.as_str(),
                    &user.name.as_str(),
                    &user.password_hash,
                    &user.role.as_str(),
                    &user.created_at,
                ],
            )
            .await
            .map_err(map_err)?;
        let inserted = user_from_row(&row)?;
        if let Some(email) = &user.welcome_email {
            super::outbox::insert_email(&tx, email).await?;
        }
        tx.commit().await.map_err(map_err)?;
        Ok(inserted)
    }

    #[tracing::instrument(skip_all)]
    async fn user_by_id(&self, id: UserId) -> StoreResult<Option<User>> {
        load_user(&self.client().await?, id).await
    }

    #[tracing::instrument(skip_all)]
    async fn credentials_by_email(&self, email: &Email) -> StoreResult<Option<UserCredentials>> {
        let row = self
            .client()
            .await?
            .query_opt(
                &format!("SELECT {USER_COLUMNS}, password_hash FROM users WHERE email = $1"),
                &[&email.as_str()],
            )
            .await
            .map_err(map_err)?;
        row.as_ref().map(credentials_from_row).transpose()
    }

    #[tracing::instrument(skip_all)]
    async fn credentials_by_id(&self, id: UserId) -> StoreResult<Option<UserCredentials>> {
        let row = self
            .client()
            .await?
            .query_opt(&format!("SELECT {USER_COLUMNS}, password_hash FROM users WHERE id = $1"), &[&id.0])
            .await
            .map_err(map_err)?;
        row.as_ref().map(credentials_from_row).transpose()
    }

    #[tracing::instrument(skip_all)]
    async fn update_user_name(&self, id: UserId, name: &UserName, at: Timestamp) -> StoreResult<User> {
        let row = self
            .client()
            .await?
            .query_opt(
                &format!("UPDATE users SET name = $1, updated_at = $2 WHERE id = $3 RETURNING {USER_COLUMNS}"),
                &[&name.as_str(), &at, &id.0],
            )
            .await
            .map_err(map_err)?;
        row.as_ref().map(user_from_row).transpose()?.ok_or(StoreError::NotFound)
    }

    #[tracing::instrument(skip_all)]
    async fn change_password(&self, change: PasswordChange) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(map_err)?;
        let changed = tx
            .execute(
                "UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3",
                &[&change.password_hash, &change.at, &change.user_id.0],
            )
            .await
            .map_err(map_err)?;
        if changed == 0 {
            return Err(StoreError::NotFound);
        }
        revoke_sessions(&tx, change.user_id, change.keep_session.map(|s| s.0), change.at).await?;
        tx.commit().await.map_err(map_err)
    }

    #[tracing::instrument(skip_all)]
    async fn list_users(&self, filter: &UserFilter, page: PageRequest) -> StoreResult<Page<User>> {
        let q = filter
            .q
            .as_deref()
            .map(str::trim)
            .filter(|q| !q.is_empty())
            .map(|q| like_pattern(&q.to_lowercase()));
        let role = filter.role.map(Role::as_str);
        let status = filter.status.map(UserStatus::as_str);
        let condition = "($1::text IS NULL OR lower(email) LIKE $1 OR lower(name) LIKE $1)
             AND ($2::text IS NULL OR role = $2) AND ($3::text IS NULL OR status = $3)";
        let client = self.client().await?;
        let total: i64 = client
            .query_one(&format!("SELECT count(*) FROM users WHERE {condition}"), &[&q, &role, &status])
            .await
            .map_err(map_err)?
            .get(0);
        let rows = client
            .query(
                &format!("SELECT {USER_COLUMNS} FROM users WHERE {condition} ORDER BY created_at DESC, id DESC LIMIT $4 OFFSET $5"),
                &[&q, &role, &status, &page.limit(), &page.offset()],
            )
            .await
            .map_err(map_err)?;
        let items = rows.iter().map(user_from_row).collect::<StoreResult<Vec<_>>>()?;
        Ok(Page::new(items, page, total))
    }

    #[tracing::instrument(skip_all)]
    async fn admin_update_user(&self, change: AdminUserChange) -> StoreResult<User> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(map_err)?;
        let at = change.audit.at;
        let row = tx
            .query_opt(
                &format!(
                    "UPDATE users SET status = coalesce($1, status), role = coalesce($2, role), updated_at = $3
                     WHERE id = $4 RETURNING {USER_COLUMNS}"
                ),
                &[
                    &change.status.map(UserStatus::as_str),
                    &change.role.map(Role::as_str),
                    &at,
                    &change.user_id.0,
                ],
            )
            .await
            .map_err(map_err)?;
        let user = row.as_ref().map(user_from_row).transpose()?.ok_or(StoreError::NotFound)?;
        if change.status == Some(UserStatus::Suspended) {
            revoke_sessions(&tx, change.user_id, None, at).await?;
        }
        insert_audit(&tx, &change.audit).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(user)
    }
}
