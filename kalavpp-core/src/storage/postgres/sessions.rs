use async_trait::async_trait;
use uuid::Uuid;

use super::users::revoke_sessions;
use super::{PostgresStore, map_err};
use crate::domain::Timestamp;
use crate::domain::{SessionFamilyId, UserId};
use crate::storage::{
    NewEmail, NewPasswordReset, NewRefreshToken, PasswordResetStore, RefreshOutcome, RotatedToken, SessionOwner, SessionStore, StoreResult,
};

#[async_trait]
impl SessionStore for PostgresStore {
    #[tracing::instrument(skip_all)]
    async fn insert_refresh_token(&self, token: NewRefreshToken) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(map_err)?;
        tx.execute(
            "INSERT INTO sessions (id, user_id, created_at, expires_at, idle_expires_at) VALUES ($1, $2, $3, $4, $5)",
            &[
                &token.family.0,
                &token.user_id.0,
                &token.issued_at,
                &token.expires_at,
                &token.idle_expires_at,
            ],
        )
        .await
        .map_err(map_err)?;
        tx.execute(
            "INSERT INTO refresh_tokens (id, session_id, token_hash, issued_at) VALUES ($1, $2, $3, $4)",
            &[&token.id, &token.family.0, &token.token_hash, &token.issued_at],
        )
        .await
        .map_err(map_err)?;
        tx.commit().await.map_err(map_err)
    }

    #[tracing::instrument(skip_all)]
    async fn rotate_refresh_token(&self, presented_hash: &str, next: RotatedToken) -> StoreResult<RefreshOutcome> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(map_err)?;
        // Row locks make concurrent presentations of one token queue; the second sees `used_at`.
        let row = tx
            .query_opt(
                "SELECT t.id, t.used_at IS NOT NULL, s.id, s.user_id, s.expires_at, s.revoked_at IS NOT NULL, s.idle_expires_at
                 FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id
                 WHERE t.token_hash = $1 FOR UPDATE OF t, s",
                &[&presented_hash],
            )
            .await
            .map_err(map_err)?;
        let Some(row) = row else {
            return Ok(RefreshOutcome::Invalid);
        };
        let token_id: Uuid = row.get(0);
        let used: bool = row.get(1);
        let session_id: Uuid = row.get(2);
        let user_id = UserId(row.get(3));
        let expires_at: Timestamp = row.get(4);
        let revoked: bool = row.get(5);
        let idle_expires_at: Option<Timestamp> = row.get(6);
        if revoked || expires_at <= next.at || idle_expires_at.is_some_and(|idle| idle <= next.at) {
            return Ok(RefreshOutcome::Invalid);
        }
        if used {
            tx.execute("UPDATE sessions SET revoked_at = $1 WHERE id = $2", &[&next.at, &session_id])
                .await
                .map_err(map_err)?;
            tx.commit().await.map_err(map_err)?;
            return Ok(RefreshOutcome::Reused);
        }
        tx.execute("UPDATE refresh_tokens SET used_at = $1 WHERE id = $2", &[&next.at, &token_id])
            .await
            .map_err(map_err)?;
        tx.execute(
            "INSERT INTO refresh_tokens (id, session_id, token_hash, issued_at) VALUES ($1, $2, $3, $4)",
            &[&next.id, &session_id, &next.token_hash, &next.at],
        )
        .await
        .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(RefreshOutcome::Rotated {
            user_id,
            family: SessionFamilyId(session_id),
        })
    }

    #[tracing::instrument(skip_all)]
    async fn revoke_session(&self, presented_hash: &str, at: Timestamp) -> StoreResult<bool> {
        let changed = self
            .client()
            .await?
            .execute(
                "UPDATE sessions SET revoked_at = coalesce(revoked_at, $1)
                 WHERE id = (SELECT session_id FROM refresh_tokens WHERE token_hash = $2)",
                &[&at, &presented_hash],
            )
            .await
            .map_err(map_err)?;
        Ok(changed > 0)
    }

    #[tracing::instrument(skip_all)]
    async fn current_session(&self, presented_hash: &str, at: Timestamp) -> StoreResult<Option<SessionOwner>> {
        let row = self
            .client()
            .await?
            .query_opt(
                "SELECT s.id, s.user_id, s.idle_expires_at FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id
                 WHERE t.token_hash = $1 AND t.used_at IS NULL AND s.revoked_at IS NULL AND s.expires_at > $2
                   AND (s.idle_expires_at IS NULL OR s.idle_expires_at > $2)",
                &[&presented_hash, &at],
            )
            .await
            .map_err(map_err)?;
        Ok(row.map(|row| SessionOwner {
            user_id: UserId(row.get(1)),
            family: SessionFamilyId(row.get(0)),
            idle_expires_at: row.get(2),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn session_is_live(&self, family: SessionFamilyId, user: UserId, at: Timestamp) -> StoreResult<bool> {
        let row = self
            .client()
            .await?
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM sessions WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL AND expires_at > $3
                                AND (idle_expires_at IS NULL OR idle_expires_at > $3))",
                &[&family.0, &user.0, &at],
            )
            .await
            .map_err(map_err)?;
        Ok(row.get(0))
    }

    #[tracing::instrument(skip_all)]
    async fn touch_session(&self, family: SessionFamilyId, idle_expires_at: Timestamp, at: Timestamp) -> StoreResult<bool> {
        let changed = self
            .client()
            .await?
            .execute(
                "UPDATE sessions SET idle_expires_at = greatest(idle_expires_at, $2)
                 WHERE id = $1 AND revoked_at IS NULL AND expires_at > $3
                   AND idle_expires_at IS NOT NULL AND idle_expires_at > $3",
                &[&family.0, &idle_expires_at, &at],
            )
            .await
            .map_err(map_err)?;
        Ok(changed > 0)
    }

    #[tracing::instrument(skip_all)]
    async fn end_idle_session(&self, presented_hash: &str, at: Timestamp) -> StoreResult<bool> {
        let changed = self
            .client()
            .await?
            .execute(
                "UPDATE sessions SET revoked_at = $1
                 WHERE id = (SELECT session_id FROM refresh_tokens WHERE token_hash = $2)
                   AND revoked_at IS NULL AND idle_expires_at IS NOT NULL AND idle_expires_at <= $1",
                &[&at, &presented_hash],
            )
            .await
            .map_err(map_err)?;
        Ok(changed > 0)
    }
}

#[async_trait]
impl PasswordResetStore for PostgresStore {
    #[tracing::instrument(skip_all)]
    async fn create_password_reset(&self, reset: NewPasswordReset, email: NewEmail) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(map_err)?;
        tx.execute(
            "INSERT INTO password_resets (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
            &[&reset.token_hash, &reset.user_id.0, &reset.created_at, &reset.expires_at],
        )
        .await
        .map_err(map_err)?;
        super::outbox::insert_email(&tx, &email).await?;
        tx.commit().await.map_err(map_err)
    }

    #[tracing::instrument(skip_all)]
    async fn consume_password_reset(&self, token_hash: &str, new_password_hash: &str, at: Timestamp) -> StoreResult<Option<UserId>> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(map_err)?;
        let row = tx
            .query_opt(
                "UPDATE password_resets SET used_at = $1
                 WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1 RETURNING user_id",
                &[&at, &token_hash],
            )
            .await
            .map_err(map_err)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let user_id = UserId(row.get(0));
        tx.execute(
            "UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3",
            &[&new_password_hash, &at, &user_id.0],
        )
        .await
        .map_err(map_err)?;
        tx.execute(
            "UPDATE password_resets SET used_at = $1 WHERE user_id = $2 AND used_at IS NULL",
            &[&at, &user_id.0],
        )
        .await
        .map_err(map_err)?;
        revoke_sessions(&tx, user_id, None, at).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(Some(user_id))
    }

    #[tracing::instrument(skip_all)]
    async fn password_reset_is_valid(&self, token_hash: &str, at: Timestamp) -> StoreResult<bool> {
        let row = self
            .client()
            .await?
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM password_resets WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2)",
                &[&token_hash, &at],
            )
            .await
            .map_err(map_err)?;
        Ok(row.get(0))
    }
}
