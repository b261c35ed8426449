//! Users: the row (sort/lookup columns + the JSON document + password hash)
//! and its search terms, always written together in one transaction.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use castellan_domain::clock::parse_iso_ms;
use castellan_domain::log_event::LogEvent;
use castellan_domain::user::User;
use sqlx::any::AnyRow;
use sqlx::{Any, Transaction};

use crate::sql::{Arg, Script, Sql};
use crate::terms::{user_terms, Term};
use crate::{conflict_or, get_i64, get_opt_f64, get_opt_str, get_str, Dialect, Result, Store, StoreError};

#[derive(Debug, Clone)]
pub struct StoredUser {
    pub pk: i64,
    pub user: User,
    pub password_hash: Option<String>,
}

/// Tenants' user counts with the generation they were taken at (see
/// `Store::tenant_user_count`).
#[derive(Default)]
pub(crate) struct UserCounts {
    generation: AtomicU64,
    counts: std::sync::Mutex<HashMap<i64, (u64, u64)>>,
    ranks: std::sync::Mutex<HashMap<i64, Ranks>>,
    /// Bounded counts of AND parts (see `Store::bounded_count`) by their
    /// SQL, with when they were taken.
    pub(crate) part_counts: std::sync::Mutex<HashMap<String, (std::time::Instant, i64)>>,
    /// How long they are kept, in milliseconds (0: the default).
    pub(crate) part_count_ms: AtomicU64,
}

/// Every `RANK_STEP`-th key of a tenant's users in key order (the keys at
/// positions 0, RANK_STEP, 2 × RANK_STEP, …), the generation they were
/// read at and when.
struct Ranks {
    generation: u64,
    read_at: std::time::Instant,
    keys: Arc<Vec<i64>>,
}

const RANK_STEP: u64 = 4096;

pub(crate) const USER_COLUMNS: &str = "pk, doc, password_hash";

pub(crate) fn decode(row: &AnyRow) -> Result<StoredUser> {
    let doc = get_str(row, "doc")?;
    Ok(StoredUser {
        pk: get_i64(row, "pk")?,
        user: serde_json::from_str(&doc).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        password_hash: get_opt_str(row, "password_hash")?,
    })
}

fn opt(v: Option<&str>, lower: bool) -> Arg {
    match v {
        Some(s) if lower => Arg::Text(s.to_lowercase()),
        Some(s) => Arg::Text(s.to_string()),
        None => Arg::NullText,
    }
}

fn opt_i64(v: Option<i64>) -> Arg {
    v.map(Arg::I64).unwrap_or(Arg::NullI64)
}

fn doc(u: &User) -> Result<String> {
    serde_json::to_string(u).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn ms(s: &str) -> i64 {
    parse_iso_ms(s).unwrap_or(0)
}

/// The column values shared by INSERT and UPDATE, in `COLS` order.
const COLS: &[&str] = &[
    "connection",
    "email",
    "username",
    "name",
    "nickname",
    "given_name",
    "family_name",
    "created_at",
    "updated_at",
    "last_login",
    "logins_count",
    "doc",
];

fn values(u: &User) -> Result<Vec<Arg>> {
    Ok(vec![
        Arg::Text(u.connection().unwrap_or("").to_string()),
        opt(u.email.as_deref(), true),
        opt(u.username.as_deref(), true),
        opt(u.name.as_deref(), true),
        opt(u.nickname.as_deref(), true),
        opt(u.given_name.as_deref(), true),
        opt(u.family_name.as_deref(), true),
        Arg::I64(ms(&u.created_at)),
        Arg::I64(ms(&u.updated_at)),
        opt_i64(u.last_login.as_deref().map(ms)),
        opt_i64(u.logins_count),
        Arg::Text(doc(u)?),
    ])
}

impl Store {
    /// Inserts a user and its terms. A duplicate user_id, or email/username
    /// within the connection, is a `Conflict`.
    pub async fn insert_user(
        &self,
        tenant: i64,
        u: &User,
        password_hash: Option<&str>,
        events: &[LogEvent],
    ) -> Result<i64> {
        let _w = self.write_guard().await;
        let mut tx = self.write_tx().await?;
        let pk = insert_row(&mut tx, tenant, u, password_hash).await?;
        let mut script = Script::new(self.dialect);
        term_statements(&mut script, tenant, pk, &user_terms(u));
        self.log_statements(&mut tx, &mut script, tenant, events).await?;
        script.run(&mut tx).await?;
        tx.commit().await?;
        self.users_changed();
        Ok(pk)
    }

    /// Inserts many users and their terms in one transaction (bulk loads:
    /// imports and benchmark data). Any conflict rolls the whole batch back.
    pub async fn insert_users_bulk(&self, tenant: i64, users: &[(User, Option<String>)]) -> Result<()> {
        let _w = self.write_guard().await;
        let mut tx = self.write_tx().await?;
        // Rows first, then every term of the batch sorted by (field, value):
        // the value index then fills in order instead of at ~30 random
        // places per user.
        let mut terms: Vec<(i64, Term)> = Vec::new();
        for (u, hash) in users {
            let pk = insert_row(&mut tx, tenant, u, hash.as_deref()).await?;
            terms.extend(user_terms(u).into_iter().map(|t| (pk, t)));
        }
        terms.sort_by(|a, b| (&a.1.field, &a.1.value, a.0).cmp(&(&b.1.field, &b.1.value, b.0)));
        for chunk in terms.chunks(500) {
            write_term_rows(&mut tx, tenant, chunk.iter().map(|(pk, t)| (*pk, t))).await?;
        }
        tx.commit().await?;
        self.users_changed();
        Ok(())
    }

    /// How many users the tenant has. Counting them reads the whole tenant
    /// index (25 ms at a million users), and every search total with `NOT`
    /// (the lottery) or without a query needs it; on SQLite, where this
    /// process makes every write, the count is kept until a user is
    /// created or deleted. PostgreSQL counts each time (other instances
    /// write too).
    pub(crate) async fn tenant_user_count(&self, tenant: i64) -> Result<u64> {
        let cached = self.dialect == Dialect::Sqlite;
        let generation = self.user_counts.generation.load(Ordering::SeqCst);
        if cached {
            let counts = self.user_counts.counts.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(&(g, n)) = counts.get(&tenant) {
                if g == generation {
                    return Ok(n);
                }
            }
        }
        let mut q = Sql::new("SELECT COUNT(*) AS n FROM users WHERE tenant_id = ");
        q.int(tenant);
        let n = get_i64(&q.build().fetch_one(&self.pool).await?, "n")?.max(0) as u64;
        // Kept only if no user was created or deleted while it was counted
        // (a change that commits later moves the generation on, which
        // retires it).
        if cached && self.user_counts.generation.load(Ordering::SeqCst) == generation {
            let mut counts = self.user_counts.counts.lock().unwrap_or_else(|p| p.into_inner());
            counts.insert(tenant, (generation, n));
        }
        Ok(n)
    }

    /// The key of the tenant's user at position `rank` in key order (None
    /// past the last). SQLite cannot skip through an index: `OFFSET n`
    /// steps over n entries (15 ms for 750,000), so deep positions start
    /// from the nearest kept key of `rank_keys` and step at most
    /// `RANK_STEP - 1` entries.
    pub(crate) async fn key_at_rank(&self, tenant: i64, rank: u64) -> Result<Option<i64>> {
        let (from, skip) = match self.rank_keys(tenant, rank).await? {
            Some(keys) => match keys.get((rank / RANK_STEP) as usize) {
                Some(&pk) => (Some(pk), rank % RANK_STEP),
                None => return Ok(None),
            },
            None => (None, rank),
        };
        let mut q = Sql::new(&format!("SELECT pk FROM users{} WHERE tenant_id = ", self.tenant_index()));
        q.int(tenant);
        if let Some(pk) = from {
            q.push(" AND pk >= ").int(pk);
        }
        q.push(" ORDER BY pk LIMIT 1 OFFSET ").int(skip.min(i64::MAX as u64) as i64);
        q.build().fetch_optional(&self.pool).await?.map(|r| get_i64(&r, "pk")).transpose()
    }

    /// `INDEXED BY` the tenant's keys on SQLite (whose planner may take the
    /// primary key's order instead).
    pub(crate) fn tenant_index(&self) -> &'static str {
        match self.dialect {
            Dialect::Sqlite => " INDEXED BY users_tenant",
            Dialect::Postgres => "",
        }
    }

    /// The tenant's kept keys (see `Ranks`), when they serve `rank` (deep
    /// enough to need them) and are current. On SQLite only, under the
    /// generation of the user count; read again (one pass over the index, as
    /// long as one deep OFFSET) at most once a second, so that steady
    /// sign-ups do not make every deep page read them.
    async fn rank_keys(&self, tenant: i64, rank: u64) -> Result<Option<Arc<Vec<i64>>>> {
        if self.dialect != Dialect::Sqlite || rank < RANK_STEP {
            return Ok(None);
        }
        let generation = self.user_counts.generation.load(Ordering::SeqCst);
        {
            let ranks = self.user_counts.ranks.lock().unwrap_or_else(|p| p.into_inner());
            match ranks.get(&tenant) {
                Some(r) if r.generation == generation => return Ok(Some(r.keys.clone())),
                Some(r) if r.read_at.elapsed() < std::time::Duration::from_secs(1) => return Ok(None),
                _ => {}
            }
        }
        // Each kept key is the RANK_STEP-th after the one before it.
        let mut q = Sql::new("WITH RECURSIVE s(pk) AS (SELECT min(pk) FROM users WHERE tenant_id = ");
        q.int(tenant).push(" UNION ALL SELECT (SELECT u.pk FROM users u");
        q.push(self.tenant_index()).push(" WHERE u.tenant_id = ").int(tenant);
        q.push(" AND u.pk > s.pk ORDER BY u.pk LIMIT 1 OFFSET ").int(RANK_STEP as i64 - 1);
        q.push(") FROM s WHERE s.pk IS NOT NULL) SELECT pk FROM s WHERE pk IS NOT NULL");
        let keys = Arc::new(self.pks(&q).await?);
        let current = self.user_counts.generation.load(Ordering::SeqCst) == generation;
        let mut ranks = self.user_counts.ranks.lock().unwrap_or_else(|p| p.into_inner());
        // Kept even when a change came meanwhile (never to answer with, as
        // its generation is past): it still spaces the next reading.
        ranks.insert(tenant, Ranks { generation, read_at: std::time::Instant::now(), keys: keys.clone() });
        Ok(current.then_some(keys))
    }

    /// Called after every committed creation or deletion of users.
    pub(crate) fn users_changed(&self) {
        self.user_counts.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// Replaces a user's row and terms. `before` is the user as the caller
    /// read it, `u` as it is to be; `password_hash` None keeps the hash.
    ///
    /// The write lock is held for as few statements as possible (on SQLite
    /// each is a round trip to the connection's thread, and every writer
    /// waits for them): the stored terms are read before it, on a reader
    /// connection, and the UPDATE only applies if the row is still `before`.
    /// When it is not (another write came between, or `before` is stale),
    /// the row and terms are read again inside the transaction and `u`
    /// replaces whatever is there, as before this shortcut.
    pub async fn update_user(
        &self,
        tenant: i64,
        pk: i64,
        before: &User,
        u: &User,
        password_hash: Option<&str>,
        events: &[LogEvent],
    ) -> Result<()> {
        let read_terms = stored_terms(&self.pool, pk).await?;
        let before_values = values(before)?;
        let new_values = values(u)?;
        let change = Change { tenant, pk, new: &new_values, u, password_hash };
        // The row first, only while it is still `before`; then the changed
        // terms, the events and COMMIT. On SQLite that is two calls. What
        // does not depend on the database is built before the lock.
        let mut row = Script::new(self.dialect);
        let at = row_statements(&mut row, &change, &before_values, true);
        let mut rest = Script::new(self.dialect);
        rewrite_terms(&mut rest, tenant, pk, &read_terms, u, self.dialect);
        let _w = self.write_guard().await;
        let mut w = self.write().await?;
        if matches!(w.run(row).await, Ok(affected) if affected[at] > 0) {
            self.log_statements(w.reader()?, &mut rest, tenant, events).await?;
            w.commit_with(rest).await?;
            return Ok(());
        }
        // Overtaken (or `before` was stale), or failed: nothing of this try
        // stays, and the plain path below says what is wrong, if anything.
        w.rollback().await?;
        tracing::debug!(pk, "user changed since it was read: updating from the stored row");
        let mut w = self.write().await?;
        let mut current = Sql::new("SELECT doc FROM users WHERE tenant_id = ");
        current.int(tenant).push(" AND pk = ").int(pk);
        let Some(doc) = current.build().fetch_optional(w.conn().await?).await? else {
            w.rollback().await?;
            return Err(StoreError::NotFound);
        };
        let stored: Option<Vec<Arg>> =
            serde_json::from_str::<User>(&get_str(&doc, "doc")?).ok().map(|old| values(&old)).transpose()?;
        let stored = stored.unwrap_or_default();
        let terms = stored_terms(w.conn().await?, pk).await?;
        let (all, at) = self.replacement(&mut w, &change, &stored, &terms, events).await?;
        let affected = w.run(all).await.map_err(|e| conflict_or(e, "The user already exists."))?;
        if affected[at] == 0 {
            w.rollback().await?;
            return Err(StoreError::NotFound);
        }
        w.commit().await?;
        Ok(())
    }

    /// Reads user `user_id` and replaces it in one write transaction, with
    /// what `change` makes of it: the new user, the events that record the
    /// change, and a value handed back. `change` runs while the write lock
    /// is held, so it must not wait on anything (no hashing, no reads).
    ///
    /// On SQLite this is two calls to the writer connection, both under the
    /// lock: BEGIN with the reads of the row and its terms, then the
    /// changed columns and terms, the events and COMMIT. The writer's page
    /// cache stays valid between its own transactions (a reader's is
    /// emptied by every commit of another connection), and no other write
    /// can come between the read and the write. On PostgreSQL the row is
    /// read `FOR UPDATE`.
    ///
    /// None when there is no such user; `Some(Err)` when `change` refused
    /// (nothing is written).
    pub async fn update_user_with<T, E>(
        &self,
        tenant: i64,
        user_id: &str,
        change: impl FnOnce(StoredUser) -> std::result::Result<(User, Vec<LogEvent>, T), E>,
    ) -> Result<Option<std::result::Result<T, E>>> {
        let mut read = Script::new(self.dialect);
        let q = read.statement("SELECT ");
        q.push(USER_COLUMNS).push(" FROM users WHERE tenant_id = ").int(tenant).push(" AND user_id = ").text(user_id);
        if self.dialect == Dialect::Postgres {
            q.push(" FOR UPDATE");
        }
        let t = read.statement(
            "SELECT field, value, num FROM user_terms WHERE user_pk = (SELECT pk FROM users WHERE tenant_id = ",
        );
        t.int(tenant).push(" AND user_id = ").text(user_id).push(")");
        let _w = self.write_guard().await;
        let mut w = self.write().await?;
        let rows = w.fetch(read).await?;
        let Some(row) = rows.first().and_then(|r| r.first()) else {
            w.rollback().await?;
            return Ok(None);
        };
        let stored = decode(row)?;
        let terms = rows
            .get(1)
            .map(|rows| rows.iter().map(term_of).collect::<Result<Vec<_>>>())
            .transpose()?
            .unwrap_or_default();
        let pk = stored.pk;
        let before_values = values(&stored.user)?;
        let (u, events, out) = match change(stored) {
            Ok(c) => c,
            Err(e) => {
                w.rollback().await?;
                return Ok(Some(Err(e)));
            }
        };
        let new_values = values(&u)?;
        let c = Change { tenant, pk, new: &new_values, u: &u, password_hash: None };
        let (all, _) = self.replacement(&mut w, &c, &before_values, &terms, &events).await?;
        w.commit_with(all).await.map_err(|e| conflict_or(e, "The user already exists."))?;
        Ok(Some(Ok(out)))
    }

    /// The statements that replace a user's row and terms, read inside the
    /// transaction as `old` (its columns) and `terms`, with `c`, and record
    /// `events`; and the index of the row's UPDATE.
    async fn replacement(
        &self,
        w: &mut crate::write::Write,
        c: &Change<'_>,
        old: &[Arg],
        terms: &[Term],
        events: &[LogEvent],
    ) -> Result<(Script, usize)> {
        let mut all = Script::new(self.dialect);
        let at = row_statements(&mut all, c, old, false);
        rewrite_terms(&mut all, c.tenant, c.pk, terms, c.u, self.dialect);
        self.log_statements(w.reader()?, &mut all, c.tenant, events).await?;
        Ok((all, at))
    }

    /// A user's most recently replaced password hashes, newest first.
    pub async fn password_history(&self, tenant: i64, user_id: &str, limit: u64) -> Result<Vec<String>> {
        let mut q = Sql::new("SELECT password_hash FROM password_history WHERE tenant_id = ");
        q.int(tenant).push(" AND user_id = ").text(user_id).push(" ORDER BY replaced_at DESC LIMIT ").int(limit as i64);
        let rows = q.build().fetch_all(&self.pool).await?;
        rows.iter().map(|r| get_str(r, "password_hash")).collect()
    }

    pub async fn get_user(&self, tenant: i64, user_id: &str) -> Result<Option<StoredUser>> {
        let mut q = Sql::new("SELECT ");
        q.push(USER_COLUMNS).push(" FROM users WHERE tenant_id = ").int(tenant).push(" AND user_id = ").text(user_id);
        q.build().fetch_optional(&self.pool).await?.as_ref().map(decode).transpose()
    }

    /// Deletes a user and its terms; false when there was none.
    pub async fn delete_user(&self, tenant: i64, user_id: &str, events: &[LogEvent]) -> Result<bool> {
        let _w = self.write_guard().await;
        let mut tx = self.write_tx().await?;
        let mut q = Sql::new("SELECT pk FROM users WHERE tenant_id = ");
        q.int(tenant).push(" AND user_id = ").text(user_id);
        let Some(row) = q.build().fetch_optional(&mut *tx).await? else {
            return Ok(false);
        };
        let pk = get_i64(&row, "pk")?;
        let mut d = Sql::new("DELETE FROM user_terms WHERE user_pk = ");
        d.int(pk);
        d.build().execute(&mut *tx).await?;
        // Everything kept under the user's id goes with it: a user created
        // again with the same id starts with no tokens, sessions or counts.
        for table in
            ["user_roles", "user_permissions", "password_history", "refresh_tokens", "sessions", "login_failures"]
        {
            let mut d = Sql::new(&format!("DELETE FROM {table} WHERE tenant_id = "));
            d.int(tenant).push(" AND user_id = ").text(user_id);
            d.build().execute(&mut *tx).await?;
        }
        let mut d = Sql::new("DELETE FROM users WHERE pk = ");
        d.int(pk);
        d.build().execute(&mut *tx).await?;
        self.insert_logs_tx(&mut tx, tenant, events).await?;
        tx.commit().await?;
        self.users_changed();
        Ok(true)
    }

    /// Exact (case-sensitive) email match, as Auth0's users-by-email.
    pub async fn users_by_email(&self, tenant: i64, email: &str) -> Result<Vec<StoredUser>> {
        let mut q = Sql::new("SELECT ");
        q.push(USER_COLUMNS).push(" FROM users WHERE tenant_id = ").int(tenant);
        q.push(" AND email = ").text(email.to_lowercase()).push(" ORDER BY pk LIMIT 1000");
        let rows = q.build().fetch_all(&self.pool).await?;
        rows.iter()
            .map(decode)
            .filter(|r| r.as_ref().map_or(true, |s| s.user.email.as_deref() == Some(email)))
            .collect()
    }
}

/// Inserts the user row alone inside `tx`; returns the row's pk.
async fn insert_row(tx: &mut Transaction<'_, Any>, tenant: i64, u: &User, password_hash: Option<&str>) -> Result<i64> {
    let mut q = Sql::new("INSERT INTO users (tenant_id, user_id, password_hash");
    for c in COLS {
        q.push(", ").push(c);
    }
    q.push(") VALUES (").int(tenant).push(", ").text(&u.user_id).push(", ").arg(opt(password_hash, false));
    for v in values(u)? {
        q.push(", ").arg(v);
    }
    q.push(") RETURNING pk");
    let row = q.build().fetch_one(&mut **tx).await.map_err(|e| conflict_or(e, "The user already exists."))?;
    get_i64(&row, "pk")
}

/// A term as a comparable key: (field, value, num's bits).
type TermKey = (String, Option<String>, Option<u64>);

fn term_key(t: &Term) -> TermKey {
    (t.field.clone(), t.value.clone(), t.num.map(f64::to_bits))
}

/// What an update writes.
struct Change<'a> {
    tenant: i64,
    pk: i64,
    new: &'a [Arg],
    u: &'a User,
    password_hash: Option<&'a str>,
}

/// Adds the statements that write an update's row to `script`: the
/// replaced password into the history, and the UPDATE (only while the row
/// is still `old` when `only_if_old`). Returns the UPDATE's index.
fn row_statements(script: &mut Script, c: &Change<'_>, old: &[Arg], only_if_old: bool) -> usize {
    if c.password_hash.is_some() {
        // Keep the password being replaced for the connection's history rule.
        let h = script.statement("INSERT INTO password_history (tenant_id, user_id, password_hash, replaced_at) SELECT tenant_id, user_id, password_hash, ");
        h.int(ms(&c.u.updated_at)).push(" FROM users WHERE tenant_id = ").int(c.tenant).push(" AND pk = ").int(c.pk);
        h.push(" AND password_hash IS NOT NULL");
    }
    let at = script.len();
    update_row_sql(script.statement("UPDATE users SET "), c, old, only_if_old);
    at
}

/// The rest of `UPDATE users SET ` for `c`: only the columns whose value
/// differs from `old` are assigned, and always the doc (an assigned column
/// rewrites the entries of every index it is part of, even with the same
/// value); with `only_if_old`, a condition that the row's doc is still
/// `old`'s.
fn update_row_sql(q: &mut Sql, c: &Change<'_>, old: &[Arg], only_if_old: bool) {
    let mut first = true;
    for (i, (col, v)) in COLS.iter().zip(c.new).enumerate() {
        if old.get(i) == Some(v) && *col != "doc" {
            continue;
        }
        if !first {
            q.push(", ");
        }
        first = false;
        q.push(col).push(" = ").arg(v.clone());
    }
    if let Some(h) = c.password_hash {
        q.push(", password_hash = ").text(h);
    }
    q.push(" WHERE tenant_id = ").int(c.tenant).push(" AND pk = ").int(c.pk);
    if only_if_old {
        let doc_at = COLS.iter().position(|col| *col == "doc").unwrap_or(COLS.len() - 1);
        q.push(" AND doc = ").arg(old[doc_at].clone());
    }
}

/// The stored terms of user `pk`.
async fn stored_terms<'e, E: sqlx::Executor<'e, Database = Any>>(ex: E, pk: i64) -> Result<Vec<Term>> {
    let mut q = Sql::new("SELECT field, value, num FROM user_terms WHERE user_pk = ");
    q.int(pk);
    q.build().fetch_all(ex).await?.iter().map(term_of).collect()
}

/// A `user_terms` row selected as `field, value, num`.
fn term_of(row: &AnyRow) -> Result<Term> {
    Ok(Term { field: get_str(row, "field")?, value: get_opt_str(row, "value")?, num: get_opt_f64(row, "num")? })
}

/// Brings the stored terms of user `pk` (`stored`) in line with `u`,
/// touching only the terms that changed: a PATCH of one metadata key
/// rewrites two or three rows instead of all thirty (each row is four index
/// entries), in one DELETE and one INSERT.
fn rewrite_terms(script: &mut Script, tenant: i64, pk: i64, stored: &[Term], u: &User, dialect: Dialect) {
    let mut old: HashMap<TermKey, i64> = HashMap::new();
    for t in stored {
        *old.entry(term_key(t)).or_default() += 1;
    }
    let mut new: HashMap<TermKey, (i64, Term)> = HashMap::new();
    for t in user_terms(u) {
        new.entry(term_key(&t)).or_insert_with(|| (0, t)).0 += 1;
    }
    let same = |a: &str| match dialect {
        Dialect::Sqlite => format!("{a} IS "),
        Dialect::Postgres => format!("{a} IS NOT DISTINCT FROM "),
    };
    // A key whose count changed is deleted whole and written again, but for
    // a field that had one term and has another one (a changed date, count
    // or metadata value): that row is updated in place, assigning only the
    // columns that differ, so the indexes of the others are not touched.
    let mut changed: Vec<&TermKey> =
        old.iter().filter(|(k, n)| new.get(*k).map(|(m, _)| m) != Some(n)).map(|(k, _)| k).collect();
    let mut added: Vec<&TermKey> = new.iter().filter(|(k, (n, _))| old.get(*k) != Some(n)).map(|(k, _)| k).collect();
    // The fields stored once whose one term changed, each with the one new
    // key that came for it (once).
    let mut in_place = Vec::new();
    for o in changed.iter().filter(|k| stored.iter().filter(|t| t.field == k.0).count() == 1) {
        let mut of_field = added.iter().filter(|k| k.0 == o.0);
        if let (Some(n), None) = (of_field.next(), of_field.next()) {
            if new.get(*n).is_some_and(|(count, _)| *count == 1) {
                in_place.push(((*o).clone(), (*n).clone()));
            }
        }
    }
    changed.retain(|k| !in_place.iter().any(|(o, _)| o.0 == k.0));
    added.retain(|k| !in_place.iter().any(|(o, _)| o.0 == k.0));
    for ((field, old_value, old_num), (_, value, num)) in &in_place {
        let u = script.statement("UPDATE user_terms SET ");
        let mut sep = "";
        if old_value != value {
            u.push("value = ").arg(value.clone().map(Arg::Text).unwrap_or(Arg::NullText));
            let after = crate::terms::reversed(field, value.as_deref());
            if crate::terms::reversed(field, old_value.as_deref()) != after {
                u.push(", rvalue = ").arg(after.map(Arg::Text).unwrap_or(Arg::NullText));
            }
            sep = ", ";
        }
        if old_num != num {
            u.push(sep).push("num = ").arg(num.map(|b| Arg::F64(f64::from_bits(b))).unwrap_or(Arg::NullF64));
        }
        u.push(" WHERE user_pk = ").int(pk).push(" AND field = ").text(field.as_str());
    }
    if !changed.is_empty() {
        let d = script.statement("DELETE FROM user_terms WHERE user_pk = ");
        d.int(pk).push(" AND (");
        for (i, (field, value, num)) in changed.into_iter().enumerate() {
            if i > 0 {
                d.push(" OR ");
            }
            d.push("(field = ").text(field.as_str()).push(" AND ").push(&same("value"));
            d.arg(value.clone().map(Arg::Text).unwrap_or(Arg::NullText)).push(" AND ").push(&same("num"));
            d.arg(num.map(|b| Arg::F64(f64::from_bits(b))).unwrap_or(Arg::NullF64)).push(")");
        }
        d.push(")");
    }
    let mut add = Vec::new();
    for k in added {
        if let Some((n, t)) = new.get(k) {
            add.extend(std::iter::repeat_n(t.clone(), *n as usize));
        }
    }
    term_statements(script, tenant, pk, &add);
}

/// Adds the INSERTs of user `pk`'s `terms` to `script`.
fn term_statements(script: &mut Script, tenant: i64, pk: i64, terms: &[Term]) {
    for chunk in terms.chunks(500) {
        term_rows_sql(script.statement(INSERT_TERMS), tenant, chunk.iter().map(|t| (pk, t)));
    }
}

const INSERT_TERMS: &str = "INSERT INTO user_terms (tenant_id, field, value, rvalue, num, user_pk) VALUES ";

/// One multi-row INSERT of (user pk, term) rows.
async fn write_term_rows<'a>(
    tx: &mut Transaction<'_, Any>,
    tenant: i64,
    rows: impl Iterator<Item = (i64, &'a Term)>,
) -> Result<()> {
    let mut q = Sql::new(INSERT_TERMS);
    if term_rows_sql(&mut q, tenant, rows) {
        q.build().execute(&mut **tx).await?;
    }
    Ok(())
}

/// The rows of `INSERT INTO user_terms … VALUES `; false when there were none.
fn term_rows_sql<'a>(q: &mut Sql, tenant: i64, rows: impl Iterator<Item = (i64, &'a Term)>) -> bool {
    let mut any = false;
    for (pk, t) in rows {
        if any {
            q.push(", ");
        }
        any = true;
        let rvalue = crate::terms::reversed(&t.field, t.value.as_deref());
        q.push("(").int(tenant).push(", ").text(&t.field).push(", ");
        q.arg(opt(t.value.as_deref(), false)).push(", ").arg(opt(rvalue.as_deref(), false)).push(", ");
        q.arg(t.num.map(Arg::F64).unwrap_or(Arg::NullF64)).push(", ").int(pk).push(")");
    }
    any
}
