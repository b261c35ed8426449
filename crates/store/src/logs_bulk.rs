//! Bulk insertion of log events (benchmark data sets, history imports): one
//! transaction per call, multi-row statements. Unlike `insert_logs_tx` it
//! queues nothing in the log streams' outbox: history that is loaded is not
//! news to deliver.

use castellan_domain::clock::parse_iso_ms;
use castellan_domain::log_event::LogEvent;

use crate::sql::{Arg, Sql};
use crate::{Result, Store, StoreError};

/// Rows per INSERT: 13 parameters each, well under SQLite's 32,766 and
/// PostgreSQL's 65,535 bind parameters.
const ROWS_PER_STATEMENT: usize = 400;

fn opt(v: &Option<String>) -> Arg {
    v.clone().map(Arg::Text).unwrap_or(Arg::NullText)
}

impl Store {
    /// Inserts `events` of `tenant` in one transaction (no outbox entries).
    pub async fn insert_logs_bulk(&self, tenant: i64, events: &[LogEvent]) -> Result<()> {
        let _w = self.write_guard().await;
        let mut tx = self.write_tx().await?;
        for chunk in events.chunks(ROWS_PER_STATEMENT) {
            let mut q = Sql::new(
                "INSERT INTO logs (tenant_id, log_id, date, type, user_id, user_name, client_id, client_name, connection, ip, audience, hostname, doc) VALUES ",
            );
            for (i, e) in chunk.iter().enumerate() {
                if i > 0 {
                    q.push(", ");
                }
                let doc = serde_json::to_string(e).map_err(|err| StoreError::Corrupt(err.to_string()))?;
                q.push("(").int(tenant).push(", ").text(&e.log_id).push(", ").int(parse_iso_ms(&e.date).unwrap_or(0));
                q.push(", ").text(&e.kind);
                for v in [
                    &e.user_id,
                    &e.user_name,
                    &e.client_id,
                    &e.client_name,
                    &e.connection,
                    &e.ip,
                    &e.audience,
                    &e.hostname,
                ] {
                    q.push(", ").arg(opt(v));
                }
                q.push(", ").text(doc).push(")");
            }
            q.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
