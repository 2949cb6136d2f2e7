use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::audit::insert_audit;
use super::{SqliteStore, bad_value, like_pattern, map_err, parse_ts, parse_uuid, ts};
use crate::domain::{Email, Page, PageRequest, Role, User, UserId, UserName, UserStatus};
use crate::domain::{Timestamp, UserFilter};
use crate::storage::{AdminUserChange, NewUser, PasswordChange, StoreError, StoreResult, UserCredentials, UserStore};

const USER_COLUMNS: &str = "id, email, name, role, status, created_at, updated_at";

pub(super) fn user_from_row(row: &Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: UserId(parse_uuid(&row.get::<_, String>(0)?)?),
        email: row.get(1)?,
        name: row.get(2)?,
        role: Role::parse(&row.get::<_, String>(3)?).map_err(bad_value)?,
        status: UserStatus::parse(&row.get::<_, String>(4)?).map_err(bad_value)?,
        created_at: parse_ts(&row.get::<_, String>(5)?)?,
        updated_at: parse_ts(&row.get::<_, String>(6)?)?,
    })
}

pub(super) fn load_user(conn: &Connection, id: UserId) -> StoreResult<Option<User>> {
    conn.prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1"))
        .and_then(|mut stmt| stmt.query_row([id.to_string()], user_from_row).optional())
        .map_err(map_err)
}

fn load_credentials(conn: &Connection, column: &str, value: String) -> StoreResult<Option<UserCredentials>> {
    conn.prepare_cached(&format!("SELECT {USER_COLUMNS}, password_hash FROM users WHERE {column} = ?1"))
        .and_then(|mut stmt| {
            stmt.query_row([value], |row| {
                Ok(UserCredentials {
                    user: user_from_row(row)?,
                    password_hash: row.get(7)?,
                })
            })
            .optional()
        })
        .map_err(map_err)
}

/// Revokes every live session of `user` except `keep`.
pub(super) fn revoke_sessions(conn: &Connection, user: UserId, keep: Option<String>, at: Timestamp) -> StoreResult<()> {
    conn.execute(
        "UPDATE sessions SET revoked_at = ?1 WHERE user_id = ?2 AND revoked_at IS NULL AND (?3 IS NULL OR id <> ?3)",
        params![ts(at), user.to_string(), keep],
    )
    .map_err(map_err)?;
    Ok(())
}

#[async_trait]
impl UserStore for SqliteStore {
    #[tracing::instrument(skip_all)]
    async fn insert_user(&self, user: NewUser) -> StoreResult<User> {
        self.pool
            .write(move |conn| {
                let tx = conn.savepoint().map_err(map_err)?;
                tx.execute(
                    "INSERT INTO users (id, email, name, password_hash, role, status, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, 'active', ?6, ?6)",
                    params![
                        user.id.to_string(),
                        user.email.as_str(),
                        user.name.as_str(),
                        user.password_hash,
                        user.role.as_str(),
                        ts(user.created_at)
                    ],
                )
                .map_err(map_err)?;
                if let Some(email) = &user.welcome_email {
                    super::outbox::insert_email(&tx, email)?;
                }
                let inserted = load_user(&tx, user.id)?.ok_or(StoreError::NotFound)?;
                tx.commit().map_err(map_err)?;
                Ok(inserted)
            })
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn user_by_id(&self, id: UserId) -> StoreResult<Option<User>> {
        self.pool.read(move |conn| load_user(conn, id)).await
    }

    #[tracing::instrument(skip_all)]
    async fn credentials_by_email(&self, email: &Email) -> StoreResult<Option<UserCredentials>> {
        let email = email.as_str().to_owned();
        self.pool.read(move |conn| load_credentials(conn, "email", email)).await
    }

    #[tracing::instrument(skip_all)]
    async fn credentials_by_id(&self, id: UserId) -> StoreResult<Option<UserCredentials>> {
        self.pool.read(move |conn| load_credentials(conn, "id", id.to_string())).await
    }

    #[tracing::instrument(skip_all)]
    async fn update_user_name(&self, id: UserId, name: &UserName, at: Timestamp) -> StoreResult<User> {
        let name = name.as_str().to_owned();
        self.pool
            .write(move |conn| {
                let changed = conn
                    .execute(
                        "UPDATE users SET name = ?1, updated_at = ?2 WHERE id = ?3",
                        params![name, ts(at), id.to_string()],
                    )
                    .map_err(map_err)?;
                if changed == 0 {
                    return Err(StoreError::NotFound);
                }
                load_user(conn, id)?.ok_or(StoreError::NotFound)
            })
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn change_password(&self, change: PasswordChange) -> StoreResult<()> {
        self.pool
            .write(move |conn| {
                let tx = conn.savepoint().map_err(map_err)?;
                let changed = tx
                    .execute(
                        "UPDATE users SET password_hash = ?1, updated_at = ?2 WHERE id = ?3",
                        params![change.password_hash, ts(change.at), change.user_id.to_string()],
                    )
                    .map_err(map_err)?;
                if changed == 0 {
                    return Err(StoreError::NotFound);
                }
                revoke_sessions(&tx, change.user_id, change.keep_session.map(|s| s.to_string()), change.at)?;
                tx.commit().map_err(map_err)
            })
            .await
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
        self.pool
            .read(move |conn| {
                let condition = "(?1 IS NULL OR unicode_lower(email) LIKE ?1 ESCAPE '\\' OR unicode_lower(name) LIKE ?1 ESCAPE '\\')
                     AND (?2 IS NULL OR role = ?2) AND (?3 IS NULL OR status = ?3)";
                let total: i64 = conn
                    .query_row(
                        &format!("SELECT count(*) FROM users WHERE {condition}"),
                        params![q, role, status],
                        |r| r.get(0),
                    )
                    .map_err(map_err)?;
                let mut stmt = conn
                    .prepare_cached(&format!(
                        "SELECT {USER_COLUMNS} FROM users WHERE {condition} ORDER BY created_at DESC, id DESC LIMIT ?4 OFFSET ?5"
                    ))
                    .map_err(map_err)?;
                let items = stmt
                    .query_map(params![q, role, status, page.limit(), page.offset()], user_from_row)
                    .and_then(Iterator::collect::<rusqlite::Result<Vec<_>>>)
                    .map_err(map_err)?;
                Ok(Page::new(items, page, total))
            })
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn admin_update_user(&self, change: AdminUserChange) -> StoreResult<User> {
        self.pool
            .write(move |conn| {
                let tx = conn.savepoint().map_err(map_err)?;
                let at = change.audit.at;
                let changed = tx
                    .execute(
                        "UPDATE users SET status = coalesce(?1, status), role = coalesce(?2, role), updated_at = ?3 WHERE id = ?4",
                        params![
                            change.status.map(UserStatus::as_str),
                            change.role.map(Role::as_str),
                            ts(at),
                            change.user_id.to_string()
                        ],
                    )
                    .map_err(map_err)?;
                if changed == 0 {
                    return Err(StoreError::NotFound);
                }
                if change.status == Some(UserStatus::Suspended) {
                    revoke_sessions(&tx, change.user_id, None, at)?;
                }
                insert_audit(&tx, &change.audit)?;
                let user = load_user(&tx, change.user_id)?.ok_or(StoreError::NotFound)?;
                tx.commit().map_err(map_err)?;
                Ok(user)
            })
            .await
    }
}
