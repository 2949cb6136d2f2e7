//! A consistent dump of a PostgreSQL database with the row counts of the same snapshot.

use std::collections::BTreeMap;
use std::future::Future;

use super::{map_err, parse_url};
use crate::error::report;
use crate::storage::{StoreError, StoreResult};

/// Opens a repeatable-read transaction on `url`, counts the rows of every table of the current
/// schema in it, and runs `dump(snapshot)` with the transaction's exported snapshot name (for
/// `pg_dump --snapshot`) while the transaction holds it, so the dump and the counts see the same
/// data. Returns the counts (by table, the migration history left out) and `dump`'s result.
pub async fn dump_in_snapshot<F, Fut, T>(url: &str, dump: F) -> StoreResult<(BTreeMap<String, i64>, T)>
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = T>,
{
    let (config, tls) = parse_url(url)?;
    let (client, connection) = config.connect(tls).await.map_err(|e| StoreError::Unavailable(report(&e)))?;
    let connection = tokio::spawn(connection);
    client
        .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .await
        .map_err(map_err)?;
    let snapshot: String = client.query_one("SELECT pg_export_snapshot()", &[]).await.map_err(map_err)?.get(0);
    let tables = client
        .query(
            "SELECT table_name::text FROM information_schema.tables
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' AND table_name <> 'refinery_schema_history'
             ORDER BY table_name",
            &[],
        )
        .await
        .map_err(map_err)?;
    let mut counts = BTreeMap::new();
    for row in tables {
        let table: String = row.get(0);
        let quoted = format!("\"{}\"", table.replace('"', "\"\""));
        let count: i64 = client
            .query_one(&format!("SELECT count(*) FROM {quoted}"), &[])
            .await
            .map_err(map_err)?
            .get(0);
        counts.insert(table, count);
    }
    let dumped = dump(snapshot).await;
    let _ = client.batch_execute("COMMIT").await;
    drop(client);
    let _ = connection.await;
    Ok((counts, dumped))
}
