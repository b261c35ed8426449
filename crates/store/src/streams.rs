//! Log streams' delivery state. Events are queued per stream in `log_outbox`
//! inside the transaction that records them, so a crash or restart loses
//! nothing. One instance at a time delivers a stream: it must hold the
//! stream's lease (an owner and an expiry in the row, renewed while it
//! works), which keeps several instances from sending the same events.

use castellan_domain::log_event::LogEvent;
use serde_json::Value;

use crate::docs::parse;
use crate::log_doc::LOG_COLUMNS;
use crate::sql::Sql;
use crate::{get_i64, get_str, Result, Store};

/// A stream to deliver: its tenant, id and document.
#[derive(Debug, Clone)]
pub struct StreamRow {
    pub tenant_id: i64,
    pub id: String,
    pub doc: Value,
    pub failing_since: Option<i64>,
}

/// One queued event of a stream.
#[derive(Debug, Clone)]
pub struct Queued {
    pub seq: i64,
    pub attempts: i64,
    pub event: LogEvent,
}

impl Store {
    pub async fn insert_log_stream(
        &self,
        tenant: i64,
        id: &str,
        doc: &Value,
        now_ms: i64,
        events: &[LogEvent],
    ) -> Result<()> {
        let mut q = Sql::new("INSERT INTO log_streams (tenant_id, id, doc, created_at) VALUES (");
        q.int(tenant).push(", ").text(id).push(", ").text(doc.to_string()).push(", ").int(now_ms).push(")");
        self.exec_logged(tenant, &q, events, "log stream exists").await?;
        Ok(())
    }

    /// Deletes a stream and its queue. False when it did not exist.
    pub async fn delete_log_stream(&self, tenant: i64, id: &str, events: &[LogEvent]) -> Result<bool> {
        let mut q = Sql::new("DELETE FROM log_streams WHERE tenant_id = ");
        q.int(tenant).push(" AND id = ").text(id);
        let mut o = Sql::new("DELETE FROM log_outbox WHERE tenant_id = ");
        o.int(tenant).push(" AND stream_id = ").text(id);
        Ok(self.exec_all_logged(tenant, &[&q, &o], events, "conflict").await? > 0)
    }

    /// Every stream of every tenant (the worker filters by status).
    pub async fn all_log_streams(&self) -> Result<Vec<StreamRow>> {
        let rows =
            sqlx::query("SELECT tenant_id, id, doc, failing_since FROM log_streams ORDER BY tenant_id, created_at")
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|r| {
                Ok(StreamRow {
                    tenant_id: get_i64(r, "tenant_id")?,
                    id: get_str(r, "id")?,
                    doc: parse(&get_str(r, "doc")?)?,
                    failing_since: sqlx::Row::try_get::<Option<i64>, _>(r, "failing_since")?,
                })
            })
            .collect()
    }

    /// Takes (or renews) the stream's delivery lease for `owner` until
    /// `until_ms`. False when another live owner holds it.
    pub async fn lease_log_stream(
        &self,
        tenant: i64,
        id: &str,
        owner: &str,
        now_ms: i64,
        until_ms: i64,
    ) -> Result<bool> {
        let _w = self.write_guard().await;
        let mut q = Sql::new("UPDATE log_streams SET lease_owner = ");
        q.text(owner).push(", lease_until = ").int(until_ms).push(" WHERE tenant_id = ").int(tenant);
        q.push(" AND id = ").text(id).push(" AND (lease_owner IS NULL OR lease_owner = ").text(owner);
        q.push(" OR lease_until < ").int(now_ms).push(")");
        Ok(q.build().execute(&self.pool).await?.rows_affected() == 1)
    }

    /// Gives up every lease `owner` holds (on a clean shutdown), so another
    /// instance, or this one restarted, can deliver at once.
    pub async fn release_log_stream_leases(&self, owner: &str) -> Result<u64> {
        let _w = self.write_guard().await;
        let mut q = Sql::new("UPDATE log_streams SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = ");
        q.text(owner);
        Ok(q.build().execute(&self.pool).await?.rows_affected())
    }

    /// Up to `limit` due events of a stream, oldest first. Delivery stops at
    /// the first event not yet due, so a stream's events go out in order.
    pub async fn log_outbox_batch(&self, tenant: i64, stream: &str, now_ms: i64, limit: u64) -> Result<Vec<Queued>> {
        let mut q = Sql::new(&format!(
            "SELECT o.seq AS seq, o.attempts AS attempts, o.next_attempt AS next_attempt, {LOG_COLUMNS} \
             FROM log_outbox o JOIN logs l ON l.seq = o.log_seq WHERE o.tenant_id = "
        ));
        q.int(tenant).push(" AND o.stream_id = ").text(stream).push(" ORDER BY o.seq LIMIT ").int(limit as i64);
        let mut rows = q.build().fetch_all(&self.pool).await?;
        let mut due = 0;
        for r in &rows {
            if get_i64(r, "next_attempt")? > now_ms {
                break;
            }
            due += 1;
        }
        rows.truncate(due);
        let events = self.decode_logs(tenant, &rows).await?;
        let mut out = Vec::with_capacity(rows.len());
        for (r, event) in rows.iter().zip(events) {
            out.push(Queued { seq: get_i64(r, "seq")?, attempts: get_i64(r, "attempts")?, event });
        }
        Ok(out)
    }

    /// Delivered: drops the entries and clears the stream's failure clock.
    pub async fn log_outbox_delivered(&self, tenant: i64, stream: &str, seqs: &[i64]) -> Result<()> {
        let _w = self.write_guard().await;
        let mut tx = self.write_tx().await?;
        for chunk in seqs.chunks(500) {
            let mut q = Sql::new("DELETE FROM log_outbox WHERE seq IN (");
            for (i, s) in chunk.iter().enumerate() {
                if i > 0 {
                    q.push(", ");
                }
                q.int(*s);
            }
            q.push(")");
            q.build().execute(&mut *tx).await?;
        }
        let mut h = Sql::new("UPDATE log_streams SET failing_since = NULL WHERE tenant_id = ");
        h.int(tenant).push(" AND id = ").text(stream);
        h.build().execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Not delivered: counts an attempt, defers the entries to `retry_at`
    /// and starts the stream's failure clock if it is not running.
    pub async fn log_outbox_failed(
        &self,
        tenant: i64,
        stream: &str,
        seqs: &[i64],
        retry_at: i64,
        now_ms: i64,
    ) -> Result<()> {
        let _w = self.write_guard().await;
        let mut tx = self.write_tx().await?;
        for chunk in seqs.chunks(500) {
            let mut q = Sql::new("UPDATE log_outbox SET attempts = attempts + 1, next_attempt = ");
            q.int(retry_at).push(" WHERE seq IN (");
            for (i, s) in chunk.iter().enumerate() {
                if i > 0 {
                    q.push(", ");
                }
                q.int(*s);
            }
            q.push(")");
            q.build().execute(&mut *tx).await?;
        }
        let mut h = Sql::new("UPDATE log_streams SET failing_since = ");
        h.int(now_ms).push(" WHERE tenant_id = ").int(tenant).push(" AND id = ").text(stream);
        h.push(" AND failing_since IS NULL");
        h.build().execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// How many events wait in a stream's queue.
    pub async fn log_outbox_len(&self, tenant: i64, stream: &str) -> Result<u64> {
        let mut q = Sql::new("SELECT COUNT(*) AS n FROM log_outbox WHERE tenant_id = ");
        q.int(tenant).push(" AND stream_id = ").text(stream);
        Ok(get_i64(&q.build().fetch_one(&self.pool).await?, "n")?.max(0) as u64)
    }
}
