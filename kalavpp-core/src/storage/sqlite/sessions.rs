use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};

use super::users::revoke_sessions;
use super::{SqliteStore, map_err, parse_ts, parse_uuid, ts};
use crate::domain::Timestamp;
use crate::domain::{SessionFamilyId, UserId};
use crate::storage::{
    NewEmail, NewPasswordReset, NewRefreshToken, PasswordResetStore, RefreshOutcome, RotatedToken, SessionOwner, SessionStore, StoreResult,
};

#[async_trait]
impl SessionStore for SqliteStore {
    #[tracing::instrument(skip_all)]
    async fn insert_refresh_token(&self, token: NewRefreshToken) -> StoreResult<()> {
        self.pool
            .write(move |conn| {
                let tx = conn.savepoint().map_err(map_err)?;
                tx.execute(
                    "INSERT INTO sessions (id, user_id, created_at, expires_at, idle_expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![
                        token.family.to_string(),
                        token.user_id.to_string(),
                        ts(token.issued_at),
                        ts(token.expires_at),
                        token.idle_expires_at.map(ts)
                    ],
                )
                .map_err(map_err)?;
                tx.execute(
                    "INSERT INTO refresh_tokens (id, session_id, token_hash, issued_at) VALUES (?1, ?2, ?3, ?4)",
                    params![
                        token.id.to_string(),
                        token.family.to_string(),
                        token.token_hash,
                        ts(token.issued_at)
                    ],
                )
                .map_err(map_err)?;
                tx.commit().map_err(map_err)
            })
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn rotate_refresh_token(&self, presented_hash: &str, next: RotatedToken) -> StoreResult<RefreshOutcome> {
        let presented = presented_hash.to_owned();
        self.pool
            .write(move |conn| {
                let tx = conn.savepoint().map_err(map_err)?;
                let found = tx
                    .query_row(
                        "SELECT t.id, t.used_at IS NOT NULL, s.id, s.user_id, s.expires_at, s.revoked_at IS NOT NULL,
                                coalesce(s.idle_expires_at > ?2, 1)
                         FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id WHERE t.token_hash = ?1",
                        params![&presented, ts(next.at)],
                        |row| {
                            Ok((
                                row.get::<_, String>(0)?,
                                row.get::<_, bool>(1)?,
                                row.get::<_, String>(2)?,
                                UserId(parse_uuid(&row.get::<_, String>(3)?)?),
                                parse_ts(&row.get::<_, String>(4)?)?,
                                row.get::<_, bool>(5)?,
                                row.get::<_, bool>(6)?,
                            ))
                        },
                    )
                    .optional()
                    .map_err(map_err)?;
                let Some((token_id, used, session_id, user_id, expires_at, revoked, active)) = found else {
                    return Ok(RefreshOutcome::Invalid);
                };
                if revoked || expires_at <= next.at || !active {
                    return Ok(RefreshOutcome::Invalid);
                }
                if used {
                    tx.execute(
                        "UPDATE sessions SET revoked_at = ?1 WHERE id = ?2",
                        params![ts(next.at), session_id],
                    )
                    .map_err(map_err)?;
                    tx.commit().map_err(map_err)?;
                    return Ok(RefreshOutcome::Reused);
                }
                tx.execute(
                    "UPDATE refresh_tokens SET used_at = ?1 WHERE id = ?2",
                    params![ts(next.at), token_id],
                )
                .map_err(map_err)?;
                tx.execute(
                    "INSERT INTO refresh_tokens (id, session_id, token_hash, issued_at) VALUES (?1, ?2, ?3, ?4)",
                    params![next.id.to_string(), session_id, next.token_hash, ts(next.at)],
                )
                .map_err(map_err)?;
                tx.commit().map_err(map_err)?;
                let family = SessionFamilyId(parse_uuid(&session_id).map_err(map_err)?);
                Ok(RefreshOutcome::Rotated { user_id, family })
            })
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn revoke_session(&self, presented_hash: &str, at: Timestamp) -> StoreResult<bool> {
        let presented = presented_hash.to_owned();
        self.pool
            .write(move |conn| {
                let changed = conn
                    .execute(
                        "UPDATE sessions SET revoked_at = coalesce(revoked_at, ?1)
                         WHERE id = (SELECT session_id FROM refresh_tokens WHERE token_hash = ?2)",
                        params![ts(at), presented],
                    )
                    .map_err(map_err)?;
                Ok(changed > 0)
            })
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn current_session(&self, presented_hash: &str, at: Timestamp) -> StoreResult<Option<SessionOwner>> {
        let presented = presented_hash.to_owned();
        self.pool
            .read(move |conn| {
                let found = conn
                    .query_row(
                        "SELECT s.id, s.user_id, s.idle_expires_at FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id
                         WHERE t.token_hash = ?1 AND t.used_at IS NULL AND s.revoked_at IS NULL AND s.expires_at > ?2
                           AND (s.idle_expires_at IS NULL OR s.idle_expires_at > ?2)",
                        params![presented, ts(at)],
                        |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?, row.get::<_, Option<String>>(2)?)),
                    )
                    .optional()
                    .map_err(map_err)?;
                let Some((session, user, idle)) = found else {
                    return Ok(None);
                };
                Ok(Some(SessionOwner {
                    user_id: UserId(parse_uuid(&user).map_err(map_err)?),
                    family: SessionFamilyId(parse_uuid(&session).map_err(map_err)?),
                    idle_expires_at: idle.as_deref().map(parse_ts).transpose().map_err(map_err)?,
                }))
            })
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn session_is_live(&self, family: SessionFamilyId, user: UserId, at: Timestamp) -> StoreResult<bool> {
        self.pool
            .read(move |conn| {
                conn.query_row(
                    "SELECT EXISTS (SELECT 1 FROM sessions WHERE id = ?1 AND user_id = ?2 AND revoked_at IS NULL AND expires_at > ?3
                                    AND (idle_expires_at IS NULL OR idle_expires_at > ?3))",
                    params![family.0.to_string(), user.0.to_string(), ts(at)],
                    |row| row.get::<_, bool>(0),
                )
                .map_err(map_err)
            })
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn touch_session(&self, family: SessionFamilyId, idle_expires_at: Timestamp, at: Timestamp) -> StoreResult<bool> {
        self.pool
            .write(move |conn| {
                let changed = conn
                    .execute(
                        "UPDATE sessions SET idle_expires_at = max(idle_expires_at, ?2)
                         WHERE id = ?1 AND revoked_at IS NULL AND expires_at > ?3
                           AND idle_expires_at IS NOT NULL AND idle_expires_at > ?3",
                        params![family.0.to_string(), ts(idle_expires_at), ts(at)],
                    )
                    .map_err(map_err)?;
                Ok(changed > 0)
            })
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn end_idle_session(&self, presented_hash: &str, at: Timestamp) -> StoreResult<bool> {
        let presented = presented_hash.to_owned();
        self.pool
            .write(move |conn| {
                let changed = conn
                    .execute(
                        "UPDATE sessions SET revoked_at = ?1
                         WHERE id = (SELECT session_id FROM refresh_tokens WHERE token_hash = ?2)
                           AND revoked_at IS NULL AND idle_expires_at IS NOT NULL AND idle_expires_at <= ?1",
                        params![ts(at), presented],
                    )
                    .map_err(map_err)?;
                Ok(changed > 0)
            })
            .await
    }
}

#[async_trait]
impl PasswordResetStore for SqliteStore {
    #[tracing::instrument(skip_all)]
    async fn create_password_reset(&self, reset: NewPasswordReset, email: NewEmail) -> StoreResult<()> {
        self.pool
            .write(move |conn| {
                let tx = conn.savepoint().map_err(map_err)?;
                tx.execute(
                    "INSERT INTO password_resets (token_hash, user_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
                    params![
                        reset.token_hash,
                        reset.user_id.to_string(),
                        ts(reset.created_at),
                        ts(reset.expires_at)
                    ],
                )
                .map_err(map_err)?;
                super::outbox::insert_email(&tx, &email)?;
                tx.commit().map_err(map_err)
            })
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn consume_password_reset(&self, token_hash: &str, new_password_hash: &str, at: Timestamp) -> StoreResult<Option<UserId>> {
        let token_hash = token_hash.to_owned();
        let new_hash = new_password_hash.to_owned();
        self.pool
            .write(move |conn| {
                let tx = conn.savepoint().map_err(map_err)?;
                let user: Option<String> = tx
                    .query_row(
                        "UPDATE password_resets SET used_at = ?1
                         WHERE token_hash = ?2 AND used_at IS NULL AND expires_at > ?1 RETURNING user_id",
                        params![ts(at), token_hash],
                        |row| row.get(0),
                    )
                    .optional()
                    .map_err(map_err)?;
                let Some(user) = user else {
                    return Ok(None);
                };
                let user_id = UserId(parse_uuid(&user).map_err(map_err)?);
                tx.execute(
                    "UPDATE users SET password_hash = ?1, updated_at = ?2 WHERE id = ?3",
                    params![new_hash, ts(at), user],
                )
                .map_err(map_err)?;
                // Other outstanding reset links die with this one.
                tx.execute(
                    "UPDATE password_resets SET used_at = ?1 WHERE user_id = ?2 AND used_at IS NULL",
                    params![ts(at), user],
                )
                .map_err(map_err)?;
                revoke_sessions(&tx, user_id, None, at)?;
                tx.commit().map_err(map_err)?;
                Ok(Some(user_id))
            })
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn password_reset_is_valid(&self, token_hash: &str, at: Timestamp) -> StoreResult<bool> {
        let token_hash = token_hash.to_owned();
        self.pool
            .read(move |conn| {
                conn.query_row(
                    "SELECT EXISTS (SELECT 1 FROM password_resets WHERE token_hash = ?1 AND used_at IS NULL AND expires_at > ?2)",
                    params![token_hash, ts(at)],
                    |row| row.get::<_, bool>(0),
                )
                .map_err(map_err)
            })
            .await
    }
}
