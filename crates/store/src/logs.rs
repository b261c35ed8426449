//! Log events: written inside the transaction of the change they record
//! (`insert_logs_tx`), each also queued in the durable outbox of every active
//! log stream whose filters take it. Search compiles a parsed query over the
//! indexed columns; checkpoint paging reads events after a log_id.

use std::borrow::{Borrow, Cow};
use std::ops::Bound;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use castellan_domain::clock::{format_ms, parse_iso_ms};
use castellan_domain::log_event::{category, log_id_after, log_id_ms, log_id_prefix, LogEvent};
use castellan_query::{Cond, Filter, Scalar};
use serde_json::Value;
use sqlx::{Any, AnyConnection, Row, Transaction};

use crate::docs::parse;
use crate::log_doc::{document, LOG_COLUMNS};
use crate::log_scopes::{scope_ref, store_scopes};
use crate::sql::{Arg, Script, Sql};
use crate::{get_i64, get_opt_str, get_str, Dialect, Result, Store, StoreError};

/// Columns of the logs table that search can use, by query field.
fn column(field: &str) -> Option<&'static str> {
    Some(match field {
        "log_id" | "_id" => "log_id",
        "date" => "date",
        "type" => "type",
        "user_id" => "user_id",
        "user_name" => "user_name",
        "client_id" => "client_id",
        "client_name" => "client_name",
        "connection" => "connection",
        "ip" => "ip",
        "audience" => "audience",
        "hostname" => "hostname",
        _ => return None,
    })
}

fn opt(v: &Option<String>) -> Arg {
    v.clone().map(Arg::Text).unwrap_or(Arg::NullText)
}

/// Whether a stream's `filters` take an event type (no filters: all).
fn stream_takes(doc: &Value, kind: &str) -> bool {
    let Some(filters) = doc.get("filters").and_then(Value::as_array).filter(|f| !f.is_empty()) else {
        return true;
    };
    let cat = category(kind);
    filters.iter().any(|f| {
        let name = f.get("name").and_then(Value::as_str).unwrap_or("");
        name == cat || (name == "other" && cat == "other")
    })
}

/// How far (ms) an event's date may lie before the newest event written
/// for it to take its place after it (see `in_commit_order`).
const REORDER_WITHIN_MS: i64 = 60_000;

/// Whether log events are written at all. Always true in service; the
/// benchmark turns it off (`CASTELLAN_BENCH_NO_LOG_EVENTS=1`) to measure what
/// events cost. Not a feature: with it off there is no audit trail.
static RECORD_EVENTS: AtomicBool = AtomicBool::new(true);

/// Turns log-event recording on or off for the whole process (benchmarks only).
pub fn set_record_events(on: bool) {
    RECORD_EVENTS.store(on, Ordering::Relaxed);
}

impl Store {
    /// Writes `events` inside `tx`, each also queued in the outbox of every
    /// stream of the tenant whose filters take it.
    pub(crate) async fn insert_logs_tx<E: Borrow<LogEvent>>(
        &self,
        tx: &mut Transaction<'_, Any>,
        tenant: i64,
        events: &[E],
    ) -> Result<()> {
        let mut script = Script::new(self.dialect);
        self.log_statements(tx, &mut script, tenant, events).await?;
        if !script.is_empty() {
            script.run(tx).await?;
        }
        Ok(())
    }

    /// Adds to `script` the statements that write `events` (see
    /// `insert_logs_tx`), for a caller that runs them with its own.
    pub(crate) async fn log_statements<E: Borrow<LogEvent>>(
        &self,
        tx: &mut AnyConnection,
        script: &mut Script,
        tenant: i64,
        events: &[E],
    ) -> Result<()> {
        if events.is_empty() || !RECORD_EVENTS.load(Ordering::Relaxed) {
            return Ok(());
        }
        let events = self.in_commit_order(tx, tenant, events).await?;
        let events = events.as_slice();
        let streams = self.tenant_streams(tx, tenant).await?;
        let refs: Vec<Option<String>> = events.iter().map(|e| scope_ref(e.borrow())).collect();
        store_scopes(script, tenant, events, &refs);
        if streams.is_empty() {
            // No outbox entries to key on `seq`: one statement for many events.
            return log_rows(script, tenant, events, &refs, 16);
        }
        // The seq the event just inserted got: on SQLite the write
        // transaction holds the database's only write lock, so it is the
        // largest; on PostgreSQL, this session's last value of the sequence.
        let seq = match self.dialect {
            Dialect::Sqlite => "(SELECT max(seq) FROM logs)",
            Dialect::Postgres => "currval(pg_get_serial_sequence('logs', 'seq'))",
        };
        for (e, r) in events.iter().zip(&refs) {
            let e = e.borrow();
            log_values(insert_log(script), tenant, e, r.as_deref())?;
            for (id, sdoc) in streams.iter() {
                if stream_takes(sdoc, &e.kind) {
                    let o = script.statement("INSERT INTO log_outbox (tenant_id, stream_id, log_seq) VALUES (");
                    o.int(tenant).push(", ").text(id.as_str()).push(", ").push(seq).push(")");
                }
            }
        }
        Ok(())
    }

    /// `events` with log_ids that sort after every log_id written before
    /// (SQLite, where this runs under the write lock, so log_id order is
    /// commit order). An event is built, and its id made, before its
    /// transaction: one built before another but committed after it would
    /// sort before it, and a reader paging `from` the later one would never
    /// see it. Such an event takes the next id after the newest written, and
    /// that id's time as its date (milliseconds later). An event dated more
    /// than `REORDER_WITHIN_MS` before the newest is written as it is: an
    /// event written for a past time, not one that lost a race.
    async fn in_commit_order<'a, E: Borrow<LogEvent>>(
        &self,
        tx: &mut AnyConnection,
        tenant: i64,
        events: &'a [E],
    ) -> Result<Vec<Cow<'a, LogEvent>>> {
        let mut out: Vec<Cow<'a, LogEvent>> = events.iter().map(|e| Cow::Borrowed(e.borrow())).collect();
        if self.dialect != Dialect::Sqlite {
            return Ok(out);
        }
        let known = self.last_log_ids.lock().unwrap_or_else(|p| p.into_inner()).get(&tenant).cloned();
        let mut last = match known {
            Some(id) => id,
            None => {
                let mut q = Sql::new("SELECT MAX(log_id) AS m FROM logs WHERE tenant_id = ");
                q.int(tenant);
                let row = q.build().fetch_one(&mut *tx).await?;
                get_opt_str(&row, "m")?.unwrap_or_default()
            }
        };
        // The newest so far among `out` (None: `last`), kept by index so the
        // usual case, ids already in order, copies none of them.
        let mut newest: Option<usize> = None;
        for i in 0..out.len() {
            let before = newest.map_or(last.as_str(), |n| out[n].log_id.as_str());
            if out[i].log_id.as_str() > before {
                newest = Some(i);
                continue;
            }
            let (Some(at), Some(date)) = (log_id_ms(before), parse_iso_ms(&out[i].date)) else { continue };
            if at - date > REORDER_WITHIN_MS {
                continue;
            }
            let Some(id) = log_id_after(before) else { continue };
            let e = out[i].to_mut();
            e.log_id = id;
            e.date = format_ms(at.max(date));
            newest = Some(i);
        }
        if let Some(n) = newest {
            last = out[n].log_id.clone();
        }
        self.last_log_ids.lock().unwrap_or_else(|p| p.into_inner()).insert(tenant, last);
        Ok(out)
    }

    /// The tenant's streams (every status: a paused or suspended stream
    /// queues too, and resumes where it stopped). On SQLite, where this
    /// process makes every write and holds the write lock here, the list is
    /// kept until the next configuration change (every write to log_streams
    /// counts as one, committed or not); on PostgreSQL other instances may
    /// add streams, so it is read each time.
    async fn tenant_streams(&self, tx: &mut AnyConnection, tenant: i64) -> Result<Arc<Vec<(String, Value)>>> {
        let generation = self.config_generation();
        if self.dialect == Dialect::Sqlite {
            let cache = self.streams.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((g, list)) = cache.get(&tenant) {
                if *g == generation {
                    return Ok(list.clone());
                }
            }
        }
        let mut s = Sql::new("SELECT id, doc FROM log_streams WHERE tenant_id = ");
        s.int(tenant);
        let mut list = Vec::new();
        for row in s.build().fetch_all(&mut *tx).await? {
            list.push((get_str(&row, "id")?, parse(&get_str(&row, "doc")?)?));
        }
        let list = Arc::new(list);
        if self.dialect == Dialect::Sqlite {
            self.streams.lock().unwrap_or_else(|p| p.into_inner()).insert(tenant, (generation, list.clone()));
        }
        Ok(list)
    }
}

/// The INSERTs of `events` (`refs` as `scope_ref` gave them), `per` rows
/// to a statement.
pub(crate) fn log_rows<E: Borrow<LogEvent>>(
    script: &mut Script,
    tenant: i64,
    events: &[E],
    refs: &[Option<String>],
    per: usize,
) -> Result<()> {
    for (chunk, refs) in events.chunks(per).zip(refs.chunks(per)) {
        let q = insert_log(script);
        for (i, (e, r)) in chunk.iter().zip(refs).enumerate() {
            if i > 0 {
                q.push(", ");
            }
            log_values(q, tenant, e.borrow(), r.as_deref())?;
        }
    }
    Ok(())
}

/// Starts `INSERT INTO logs (…) VALUES ` in `script`. On SQLite `INSERT OR
/// FAIL`: a statement of several rows that may stop at a constraint keeps a
/// statement journal otherwise (a copy of each page it changes, to undo
/// that statement alone: a fifth of the SQLite time of a batch of token
/// events), and a write that fails here rolls back its whole transaction
/// anyway (`Write`), so nothing needs undoing by statement. PostgreSQL has
/// no such clause or journal.
fn insert_log(script: &mut Script) -> &mut Sql {
    let verb = match script.dialect() {
        Dialect::Sqlite => "INSERT OR FAIL",
        Dialect::Postgres => "INSERT",
    };
    script.statement(verb).push(
        " INTO logs (tenant_id, log_id, date, type, user_id, user_name, client_id, client_name, connection, ip, \
         audience, hostname, scope_ref, doc) VALUES ",
    )
}

/// `(tenant_id, log_id, …, doc)` of one event, for `INSERT INTO logs`;
/// `scope_ref` names its scope when that is stored apart (`log_scopes`).
fn log_values(q: &mut Sql, tenant: i64, e: &LogEvent, scope_ref: Option<&str>) -> Result<()> {
    let date_ms = parse_iso_ms(&e.date);
    let doc = document(e, date_ms, scope_ref.is_some())?;
    q.push("(").int(tenant).push(", ").text(&e.log_id).push(", ").int(date_ms.unwrap_or(0));
    q.push(", ").text(&e.kind);
    for v in [&e.user_id, &e.user_name, &e.client_id, &e.client_name, &e.connection, &e.ip, &e.audience, &e.hostname] {
        q.push(", ").arg(opt(v));
    }
    q.push(", ").arg(opt(&scope_ref.map(str::to_string))).push(", ").text(doc).push(")");
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogSort {
    /// `date` (the only sortable field besides log_id, which orders the same).
    pub descending: bool,
}

impl Store {
    /// Writes events that record no other change (token exchanges, failures).
    pub async fn insert_logs(&self, tenant: i64, events: &[LogEvent]) -> Result<()> {
        let _w = self.write_guard().await;
        let mut tx = self.write_tx().await?;
        self.insert_logs_tx(&mut tx, tenant, events).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Writes the events of several tenants in one transaction (the group
    /// commit of events that record no other change).
    pub async fn insert_logs_grouped(&self, events: &[(i64, &LogEvent)]) -> Result<()> {
        let _w = self.write_guard().await;
        let mut w = self.write().await?;
        let mut script = Script::new(self.dialect);
        let mut i = 0;
        while i < events.len() {
            let tenant = events[i].0;
            let run: Vec<&LogEvent> = events[i..].iter().take_while(|(t, _)| *t == tenant).map(|(_, e)| *e).collect();
            i += run.len();
            self.log_statements(w.reader()?, &mut script, tenant, &run).await?;
        }
        // BEGIN, the events and COMMIT: one call on SQLite.
        w.commit_with(script).await?;
        Ok(())
    }

    pub async fn get_log(&self, tenant: i64, log_id: &str) -> Result<Option<LogEvent>> {
        let mut q = Sql::new(&format!("SELECT {LOG_COLUMNS} FROM logs l WHERE l.tenant_id = "));
        q.int(tenant).push(" AND l.log_id = ").text(log_id);
        let rows = q.build().fetch_all(&self.pool).await?;
        Ok(self.decode_logs(tenant, &rows).await?.pop())
    }

    /// SQLite's plan for the first page of `search_logs` (newest first), for
    /// tests that pin which index serves a query.
    pub async fn explain_log_search(&self, tenant: i64, filter: &Filter) -> Result<String> {
        let q = self.log_page_sql("EXPLAIN QUERY PLAN ", tenant, filter, LogSort { descending: true }, 0, 50)?;
        let rows = q.build().fetch_all(&self.pool).await?;
        Ok(rows.iter().filter_map(|r| r.try_get::<String, _>("detail").ok()).collect::<Vec<_>>().join("\n"))
    }

    /// A page of events matching `filter`, newest first unless ascending.
    pub async fn search_logs(
        &self,
        tenant: i64,
        filter: &Filter,
        sort: LogSort,
        offset: u64,
        limit: u64,
        with_total: bool,
    ) -> Result<(Vec<LogEvent>, Option<u64>)> {
        let q = self.log_page_sql("", tenant, filter, sort, offset, limit)?;
        let rows = q.build().fetch_all(&self.pool).await?;
        let events = self.decode_logs(tenant, &rows).await?;
        let total = if with_total {
            let mut c = Sql::new("SELECT COUNT(*) AS n FROM logs l WHERE l.tenant_id = ");
            c.int(tenant).push(" AND ");
            self.log_condition(&mut c, filter)?;
            Some(get_i64(&c.build().fetch_one(&self.pool).await?, "n")?.max(0) as u64)
        } else {
            None
        };
        Ok((events, total))
    }

    /// Up to `take` events after `from` (a log_id), oldest first.
    pub async fn logs_after(&self, tenant: i64, from: &str, take: u64) -> Result<Vec<LogEvent>> {
        let mut q = Sql::new(&format!("SELECT {LOG_COLUMNS} FROM logs l WHERE l.tenant_id = "));
        q.int(tenant).push(" AND l.log_id > ").text(from).push(" ORDER BY l.log_id ASC LIMIT ").int(take as i64);
        let rows = q.build().fetch_all(&self.pool).await?;
        self.decode_logs(tenant, &rows).await
    }

    /// Deletes up to `batch` events older than `cutoff_ms` (of any tenant
    /// when `tenant` is None) and their undelivered outbox entries. Returns
    /// how many went; callers repeat until 0 so writers are never blocked long.
    pub async fn delete_logs_before(&self, tenant: i64, cutoff_ms: i64, batch: u64) -> Result<u64> {
        // Every event before the cutoff has a log_id below its prefix.
        let Some(below) = log_id_prefix(cutoff_ms) else { return Ok(0) };
        let oldest = |q: &mut Sql| {
            q.int(tenant).push(" AND log_id < ").text(below.as_str()).push(" AND date < ").int(cutoff_ms);
            q.push(" ORDER BY log_id LIMIT ").int(batch as i64).push(")");
        };
        let _w = self.write_guard().await;
        let mut tx = self.write_tx().await?;
        let mut o = Sql::new("DELETE FROM log_outbox WHERE log_seq IN (SELECT seq FROM logs WHERE tenant_id = ");
        oldest(&mut o);
        o.build().execute(&mut *tx).await?;
        let mut q = Sql::new("DELETE FROM logs WHERE seq IN (SELECT seq FROM logs WHERE tenant_id = ");
        oldest(&mut q);
        let n = q.build().execute(&mut *tx).await?.rows_affected();
        tx.commit().await?;
        Ok(n)
    }

    /// `prefix` (e.g. EXPLAIN) and the SELECT of a page of `search_logs`.
    fn log_page_sql(
        &self,
        prefix: &str,
        tenant: i64,
        filter: &Filter,
        sort: LogSort,
        offset: u64,
        limit: u64,
    ) -> Result<Sql> {
        let mut q = Sql::new(prefix);
        q.push("SELECT ").push(LOG_COLUMNS).push(" FROM logs l WHERE l.tenant_id = ").int(tenant).push(" AND ");
        self.log_condition(&mut q, filter)?;
        q.push(if sort.descending { " ORDER BY l.log_id DESC" } else { " ORDER BY l.log_id ASC" });
        q.push(" LIMIT ").int(limit as i64).push(" OFFSET ").int(offset.min(i64::MAX as u64) as i64);
        Ok(q)
    }

    fn log_condition(&self, q: &mut Sql, f: &Filter) -> Result<()> {
        match f {
            Filter::All => {
                q.push("1 = 1");
            }
            Filter::And(items) | Filter::Or(items) => {
                let and = matches!(f, Filter::And(_));
                if items.is_empty() {
                    q.push(if and { "1 = 1" } else { "1 = 0" });
                    return Ok(());
                }
                q.push("(");
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        q.push(if and { " AND " } else { " OR " });
                    }
                    self.log_condition(q, item)?;
                }
                q.push(")");
            }
            Filter::Not(inner) => {
                q.push("NOT (");
                self.log_condition(q, inner)?;
                q.push(")");
            }
            Filter::Field { path, cond, .. } => {
                let col = column(path).ok_or_else(|| StoreError::Corrupt(format!("unsearchable log field {path}")))?;
                let c = format!("l.{col}");
                match cond {
                    Cond::Exists | Cond::ExistsAsObject => {
                        q.push(&c).push(" IS NOT NULL");
                    }
                    Cond::Eq(v) => {
                        q.push(&c).push(" = ").arg(scalar(v));
                    }
                    Cond::Prefix(p) => {
                        q.push("(").push(&c).push(" >= ").text(p.as_str());
                        q.push(" AND ").push(&c).push(" < ").text(format!("{p}\u{10FFFF}")).push(")");
                    }
                    Cond::Suffix(s) => crate::sql::wildcard(q, self.dialect, &c, &[String::new(), s.clone()]),
                    Cond::Contains(s) => {
                        crate::sql::wildcard(q, self.dialect, &c, &[String::new(), s.clone(), String::new()])
                    }
                    Cond::Glob(pieces) => crate::sql::wildcard(q, self.dialect, &c, pieces),
                    Cond::Range { lower, upper } => {
                        q.push("(1 = 1");
                        for (b, incl, excl) in [(lower, ">=", ">"), (upper, "<=", "<")] {
                            let (op, v) = match b {
                                Bound::Unbounded => continue,
                                Bound::Included(v) => (incl, v),
                                Bound::Excluded(v) => (excl, v),
                            };
                            q.push(" AND ").push(&c).push(" ").push(op).push(" ").arg(scalar(v));
                        }
                        if col == "date" {
                            log_id_bounds(q, lower, upper);
                        }
                        q.push(")");
                    }
                }
            }
        }
        Ok(())
    }
}

/// A date range also bounds `log_id` (an event's log_id starts with its
/// date, see `log_id_prefix`), a little wider than the dates: the range test
/// on `date` stays exact, and the page is an index range in log_id order
/// instead of every event of the range read and sorted.
fn log_id_bounds(q: &mut Sql, lower: &Bound<Scalar>, upper: &Bound<Scalar>) {
    let ms = |b: &Bound<Scalar>| match b {
        Bound::Included(Scalar::Date(n)) | Bound::Excluded(Scalar::Date(n)) => Some(*n),
        _ => None,
    };
    if let Some(p) = ms(lower).and_then(log_id_prefix) {
        q.push(" AND l.log_id >= ").text(p);
    }
    if let Some(p) = ms(upper).and_then(|n| n.checked_add(1)).and_then(log_id_prefix) {
        q.push(" AND l.log_id < ").text(p);
    }
}

fn scalar(v: &Scalar) -> Arg {
    match v {
        Scalar::Text(s) => Arg::Text(s.clone()),
        Scalar::Int(n) | Scalar::Date(n) => Arg::I64(*n),
        Scalar::Bool(b) => Arg::Text(b.to_string()),
    }
}
