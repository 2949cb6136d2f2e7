//! `LISTEN/NOTIFY` change feed: one channel per schema, so marketplaces in other schemas of the
//! same database (tests, several shops) do not disturb each other.

use async_trait::async_trait;
use deadpool_postgres::Pool;
use futures_util::StreamExt;
use tokio_postgres::AsyncMessage;
use uuid::Uuid;

use super::map_err;
use crate::storage::{ChangeFeed, StoreError, StoreResult};

/// The PostgreSQL [`ChangeFeed`].
pub(crate) struct PgChangeFeed {
    config: tokio_postgres::Config,
    tls: super::tls::RustlsConnector,
    pool: Pool,
    channel: String,
}

impl PgChangeFeed {
    /// The feed of the schema the pool's connections use.
    pub(crate) async fn new(config: tokio_postgres::Config, tls: super::tls::RustlsConnector, pool: Pool) -> StoreResult<Self> {
        let client = pool.get().await.map_err(|e| StoreError::Unavailable(crate::error::report(&e)))?;
        let schema: String = client
            .query_one("SELECT coalesce(current_schema(), 'public')", &[])
            .await
            .map_err(map_err)?
            .get(0);
        Ok(Self {
            config,
            tls,
            pool,
            channel: channel_for(&schema),
        })
    }
}

/// `kalavpp_cache_<schema>`, kept to PostgreSQL's 63-byte identifier limit.
fn channel_for(schema: &str) -> String {
    let mut channel = format!("kalavpp_cache_{schema}");
    while channel.len() > 63 {
        channel.pop();
    }
    channel
}

#[async_trait]
impl ChangeFeed for PgChangeFeed {
    #[tracing::instrument(skip_all)]
    async fn announce(&self, origin: Uuid) -> StoreResult<()> {
        let client = self
            .pool
            .get()
            .await
            .map_err(|e| StoreError::Unavailable(crate::error::report(&e)))?;
        client
            .execute("SELECT pg_notify($1, $2)", &[&self.channel, &origin.to_string()])
            .await
            .map_err(map_err)?;
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(channel = %self.channel))]
    async fn listen(&self, origin: Uuid, on_change: &(dyn Fn() + Send + Sync)) -> StoreResult<()> {
        // A dedicated connection (not from the pool): it stays in LISTEN for as long as it lives.
        let (client, mut connection) = self.config.connect(self.tls.clone()).await.map_err(map_err)?;
        let (sender, mut notifications) = tokio::sync::mpsc::unbounded_channel();
        let driver = tokio::spawn(async move {
            let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
            while let Some(message) = messages.next().await {
                match message {
                    Ok(AsyncMessage::Notification(note)) => {
                        if sender.send(note.payload().to_owned()).is_err() {
                            break;
                        }
                    }
                    Ok(_) => {}
                    Err(err) => {
                        tracing::warn!(error = %err, "change feed connection failed");
                        break;
                    }
                }
            }
        });
        let quoted = format!("\"{}\"", self.channel.replace('"', "\"\""));
        if let Err(err) = client.batch_execute(&format!("LISTEN {quoted}")).await {
            driver.abort();
            return Err(map_err(err));
        }
        on_change();
        let own = origin.to_string();
        while let Some(payload) = notifications.recv().await {
            if payload != own {
                on_change();
            }
        }
        driver.abort();
        Err(StoreError::Unavailable("the change feed connection closed".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::channel_for;

    #[test]
    fn channels_fit_identifiers() {
        assert_eq!(channel_for("public"), "kalavpp_cache_public");
        assert_eq!(channel_for(&"s".repeat(100)).len(), 63);
    }
}
