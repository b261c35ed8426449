//! Bulk insertion of log events (benchmark data sets, history imports): one
//! transaction per call, multi-row statements. Unlike `insert_logs_tx` it
//! queues nothing in the log streams' outbox: history that is loaded is not
//! news to deliver.

use castellan_domain::log_event::LogEvent;

use crate::log_scopes::{scope_ref, store_scopes};
use crate::logs::log_rows;
use crate::sql::Script;
use crate::{Result, Store};

/// Rows per INSERT: 14 parameters each, well under SQLite's 32,766 and
/// PostgreSQL's 65,535 bind parameters.
const ROWS_PER_STATEMENT: usize = 400;

impl Store {
    /// Inserts `events` of `tenant` in one transaction (no outbox entries).
    pub async fn insert_logs_bulk(&self, tenant: i64, events: &[LogEvent]) -> Result<()> {
        let _w = self.write_guard().await;
        let mut tx = self.write_tx().await?;
        let refs: Vec<Option<String>> = events.iter().map(scope_ref).collect();
        let mut script = Script::new(self.dialect);
        store_scopes(&mut script, tenant, events, &refs);
        log_rows(&mut script, tenant, events, &refs, ROWS_PER_STATEMENT)?;
        script.run(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }
}
