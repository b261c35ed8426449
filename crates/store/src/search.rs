//! Compiles a parsed search (castellan_query::Filter) to SQL over the
//! `user_terms` side table and runs it with paging, sorting and counting.
//!
//! Every condition is a sub-select on one field's terms that an index on
//! (tenant, field, value|rvalue|num) answers as a range: exact match, prefix
//! (`value >= p AND value < p || U+10FFFF`), suffix (the same on the reversed
//! value), ranges (on `num` for numbers and dates), `_exists_` (the field
//! alone). Infix and glob patterns scan the field's terms only.

use std::ops::Bound;

use castellan_query::{Cond, FieldKind, Filter, Scalar};

use crate::sql::{Arg, Sql};
use crate::terms::metadata_path;
use crate::users::{decode, StoredUser, USER_COLUMNS};
use crate::{get_i64, get_opt_str, Dialect, Result, Store, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortField {
    UserId,
    Email,
    Name,
    Nickname,
    GivenName,
    FamilyName,
    Username,
    CreatedAt,
    UpdatedAt,
    LastLogin,
    LoginsCount,
}

impl SortField {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "user_id" => Self::UserId,
            "email" => Self::Email,
            "name" => Self::Name,
            "nickname" => Self::Nickname,
            "given_name" => Self::GivenName,
            "family_name" => Self::FamilyName,
            "username" => Self::Username,
            "created_at" => Self::CreatedAt,
            "updated_at" => Self::UpdatedAt,
            "last_login" => Self::LastLogin,
            "logins_count" => Self::LoginsCount,
            _ => return None,
        })
    }
    /// The index that walks the tenant's users in this order.
    fn index(self) -> Option<&'static str> {
        match self {
            Self::CreatedAt => Some("users_created"),
            Self::Name => Some("users_name"),
            Self::Email => Some("users_email"),
            _ => None,
        }
    }

    /// Columns every user has (NOT NULL in the schema).
    fn never_null(self) -> bool {
        matches!(self, Self::UserId | Self::CreatedAt | Self::UpdatedAt)
    }

    fn column(self) -> &'static str {
        match self {
            Self::UserId => "user_id",
            Self::Email => "email",
            Self::Name => "name",
            Self::Nickname => "nickname",
            Self::GivenName => "given_name",
            Self::FamilyName => "family_name",
            Self::Username => "username",
            Self::CreatedAt => "created_at",
            Self::UpdatedAt => "updated_at",
            Self::LastLogin => "last_login",
            Self::LoginsCount => "logins_count",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sort {
    pub field: SortField,
    pub descending: bool,
}

/// Writes the SQL test of one field condition (path, kind, condition).
type FieldSql<'a> = dyn Fn(&Store, &mut Sql, &str, FieldKind, &Cond) + 'a;

/// How a page query finds its rows (see `Store::drive`).
#[derive(Debug, Clone, Copy)]
enum Drive {
    Terms,
    Index(&'static str),
    Planner,
}

#[derive(Debug, Clone)]
pub struct SearchPage {
    pub users: Vec<StoredUser>,
    pub total: Option<u64>,
}

const MAX_CHAR: char = '\u{10FFFF}';

/// The most matches a part of an AND may have to drive it (see
/// `and_driver`).
const DRIVER_MAX: i64 = 5000;

/// How long a part's bounded count is kept (see `Store::part_count`).
const PART_COUNT_TTL: std::time::Duration = std::time::Duration::from_secs(2);

/// Parts whose counts are kept at most.
const PART_COUNTS_MAX: usize = 4096;

impl Store {
    /// A page of the users matching `filter`, and the count when asked.
    ///
    /// The page is found in two steps: the primary keys first (an index walk
    /// that never loads a document it skips, so deep offsets and sorts stay
    /// small), then the page's documents by key.
    pub async fn search_users(
        &self,
        tenant: i64,
        filter: &Filter,
        sort: Option<Sort>,
        offset: u64,
        limit: u64,
        with_total: bool,
    ) -> Result<SearchPage> {
        let refined = self.refine_exists(tenant, filter).await?;
        let filter = &refined;
        let excluded = match (filter, sort) {
            (Filter::All, None) => Some(Vec::new()),
            (Filter::Not(inner), None) if anchored(inner) => self.few_keys(tenant, inner).await?,
            _ => None,
        };
        if let Some(excluded) = excluded {
            let users = self.complement_page(tenant, &excluded, offset, limit).await?;
            // The tenant's users less the excluded ones (what `count_with`
            // would count again).
            let total = if with_total {
                Some(self.tenant_user_count(tenant).await?.saturating_sub(excluded.len() as u64))
            } else {
                None
            };
            return Ok(SearchPage { users, total });
        }
        let mut counted = None;
        if let (Filter::Field { path, kind, cond }, None) = (filter, sort) {
            if self.dialect == Dialect::Sqlite && !in_key_order(cond) {
                // The total is needed anyway, or bounds the choice.
                let total = self.count_with(tenant, filter, None).await?;
                counted = Some(total);
                let users = self.tenant_user_count(tenant).await?;
                let reach = offset.saturating_add(limit) as u128;
                if reach * (users as u128) < (total as u128) * (total as u128) {
                    let users = self.walk_page(tenant, path.as_str(), *kind, cond, offset, limit).await?;
                    return Ok(SearchPage { users, total: with_total.then_some(total) });
                }
            }
        }
        let driver = self.and_driver(tenant, filter).await?;
        let drive = self.drive(tenant, filter, sort, driver).await?;
        if let Some(d) = driver {
            // At most DRIVER_MAX candidates when they were counted: every
            // match's key, in order, in one query gives both the page and
            // the total. Without an order the users are not visited: the
            // candidates' keys come from the terms.
            let all = match (filter, sort) {
                (Filter::And(items), None) => {
                    let mut q = Sql::new("SELECT DISTINCT d.pk AS pk FROM (");
                    self.key_set(&mut q, tenant, &items[d]);
                    q.push(") d WHERE 1 = 1");
                    self.probes(&mut q, tenant, items, d);
                    q.push(" ORDER BY d.pk LIMIT ").int(DRIVER_MAX + 1);
                    self.key_list(q).await?
                }
                _ => {
                    let page = (0, DRIVER_MAX as u64 + 1);
                    self.pks(&self.page_sql("", tenant, filter, sort, (driver, drive), page)).await?
                }
            };
            if all.len() as i64 > DRIVER_MAX {
                // The driving part grew past its kept count: the plain way.
                let drive = self.drive(tenant, filter, sort, None).await?;
                return self
                    .undriven_page(tenant, filter, sort, drive, (offset, limit), with_total.then_some(None))
                    .await;
            }
            let start = (offset.min(all.len() as u64)) as usize;
            let end = start.saturating_add(limit.min(usize::MAX as u64) as usize).min(all.len());
            let users = self.users_by_pk(&all[start..end]).await?;
            return Ok(SearchPage { users, total: with_total.then_some(all.len() as u64) });
        }
        self.undriven_page(tenant, filter, sort, drive, (offset, limit), with_total.then_some(counted)).await
    }

    /// A page without a driving part, and the total when `total` is Some
    /// (given, or to count when Some(None)).
    async fn undriven_page(
        &self,
        tenant: i64,
        filter: &Filter,
        sort: Option<Sort>,
        drive: Drive,
        (offset, limit): (u64, u64),
        total: Option<Option<u64>>,
    ) -> Result<SearchPage> {
        let keys = self.pks(&self.page_sql("", tenant, filter, sort, (None, drive), (offset, limit))).await?;
        let users = self.users_by_pk(&keys).await?;
        let total = match total {
            None => None,
            Some(Some(n)) => Some(n),
            Some(None) => Some(self.count_with(tenant, filter, None).await?),
        };
        Ok(SearchPage { users, total })
    }

    /// A page of one condition's matches in key order, found by walking the
    /// tenant's users in key order and testing each against its own terms,
    /// for a condition whose terms do not come in key order (a range,
    /// prefix, suffix or pattern) and that many users match: the page then
    /// comes after (offset + limit) / share users are tested, where reading
    /// it from the terms would sort every match first (214,000 for
    /// `logins_count:[70 TO *]` at a million users). SQLite only (the
    /// `INDEXED BY`s; PostgreSQL's planner chooses for itself).
    async fn walk_page(
        &self,
        tenant: i64,
        path: &str,
        kind: FieldKind,
        cond: &Cond,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<StoredUser>> {
        let mut q = Sql::new("SELECT u.pk FROM users u INDEXED BY users_tenant WHERE u.tenant_id = ");
        q.int(tenant);
        match user_column(path).filter(|_| column_fits(path, kind, cond)) {
            // A field the users row holds: tested on the row, which the walk
            // reads anyway, in key order; a user's terms are spread over the
            // terms table (a bulk load writes them sorted by field and
            // value), so each probe of them reads pages at random.
            Some((column, _)) => self.column_condition(&mut q, column, kind, cond),
            None => {
                q.push(" AND EXISTS (SELECT 1 FROM user_terms p INDEXED BY user_terms_user");
                q.push(" WHERE p.user_pk = u.pk AND p.field = ").text(path);
                self.term_condition_on(&mut q, "p", kind, cond);
                q.push(")");
            }
        }
        q.push(" ORDER BY u.pk LIMIT ").int(limit.min(i64::MAX as u64) as i64);
        q.push(" OFFSET ").int(offset.min(i64::MAX as u64) as i64);
        let keys = self.pks(&q).await?;
        self.users_by_pk(&keys).await
    }

    /// The `pk` column of what `q` selects, in its order.
    pub(crate) async fn pks(&self, q: &Sql) -> Result<Vec<i64>> {
        let mut keys = Vec::new();
        for row in q.build().fetch_all(&self.pool).await? {
            keys.push(get_i64(&row, "pk")?);
        }
        Ok(keys)
    }

    /// The keys `q` selects (as `pk`), in ascending order, read as one row
    /// (a list of keys): sqlx hands every row of a result from its
    /// connection thread to the request's task, a few microseconds each,
    /// more than the query spends finding a key.
    async fn key_list(&self, q: Sql) -> Result<Vec<i64>> {
        let list = match self.dialect {
            Dialect::Sqlite => "SELECT group_concat(k.pk) AS keys FROM (",
            Dialect::Postgres => "SELECT string_agg(k.pk::text, ',') AS keys FROM (",
        };
        // Arguments are numbered as they appear; the text before has none.
        let all = Sql { text: format!("{list}{}) k", q.text), args: q.args };
        let row = all.build().fetch_one(&self.pool).await?;
        let mut keys = Vec::new();
        if let Some(list) = get_opt_str(&row, "keys")? {
            for key in list.split(',') {
                keys.push(key.parse::<i64>().map_err(|e| StoreError::Corrupt(format!("key {key:?}: {e}")))?);
            }
        }
        keys.sort_unstable();
        Ok(keys)
    }

    /// The sorted keys of `f`'s matches when they are few (the rows of its
    /// key set at most `DRIVER_MAX`, as `few_matches` counts them), read
    /// once; None when there are more.
    async fn few_keys(&self, tenant: i64, f: &Filter) -> Result<Option<Vec<i64>>> {
        let mut q = Sql::new("SELECT e.pk AS pk FROM (");
        self.key_set(&mut q, tenant, f);
        q.push(") e LIMIT ").int(DRIVER_MAX + 1);
        let mut keys = self.key_list(q).await?;
        if keys.len() as i64 > DRIVER_MAX {
            return Ok(None);
        }
        keys.dedup();
        Ok(Some(keys))
    }

    /// A page, in key order, of the tenant's users less a few (`out`, sorted
    /// keys: none for a listing without a query, at most `DRIVER_MAX` for
    /// `NOT …`). Testing every user against the excluded set on the way to
    /// a deep offset costs four times the walk itself (63 against 15 ms to
    /// offset 750,000 of a million); instead the user at `offset` is found
    /// in key order (`key_at_rank`), and the excluded keys before it say how
    /// far past it the page starts.
    async fn complement_page(&self, tenant: i64, out: &[i64], offset: u64, limit: u64) -> Result<Vec<StoredUser>> {
        let Some(start) = self.key_at_rank(tenant, offset).await? else {
            return Ok(Vec::new());
        };
        let index = self.tenant_index();
        // Users before `start`: `offset` of them, `skip` of which are
        // excluded; the page is then the excluded-free run from `start` on,
        // less its first `skip`.
        let skip = out.partition_point(|&e| e < start);
        let want = (skip as u64).saturating_add(limit).saturating_add(out.len() as u64);
        let mut run = Sql::new(&format!("SELECT pk FROM users{index} WHERE tenant_id = "));
        run.int(tenant).push(" AND pk >= ").int(start);
        run.push(" ORDER BY pk LIMIT ").int(want.min(i64::MAX as u64) as i64);
        let keys: Vec<i64> = self
            .pks(&run)
            .await?
            .into_iter()
            .filter(|pk| out.binary_search(pk).is_err())
            .skip(skip)
            .take(limit.min(usize::MAX as u64) as usize)
            .collect();
        self.users_by_pk(&keys).await
    }

    /// The keys of a page (see `search_users`).
    fn page_sql(
        &self,
        explain: &str,
        tenant: i64,
        filter: &Filter,
        sort: Option<Sort>,
        (driver, drive): (Option<usize>, Drive),
        (offset, limit): (u64, u64),
    ) -> Sql {
        let mut q = Sql::new(&format!("{explain}SELECT u.pk FROM users u"));
        if let (Filter::Field { path, kind, cond }, None) = (filter, sort) {
            // One condition in key order: the keys come straight from the
            // terms index (already in key order for an exact value, so the
            // scan stops at the page's end), and the users are not visited.
            let distinct = if self.one_row_per_user(path.as_str(), *kind, cond) { "" } else { " DISTINCT" };
            q = Sql::new(&format!("{explain}SELECT{distinct}"));
            q.push(" t.user_pk AS pk FROM user_terms t WHERE t.tenant_id = ");
            q.int(tenant).push(" AND t.field = ").text(path.as_str());
            self.term_condition(&mut q, *kind, cond);
            q.push(" ORDER BY t.user_pk ASC");
        } else {
            self.users_of_tenant(&mut q, tenant, drive);
            self.page_condition(&mut q, tenant, filter, driver);
        }
        match sort {
            Some(s) => {
                let dir = if s.descending { "DESC" } else { "ASC" };
                let col = s.field.column();
                // Users without the value come last either way. Where the
                // database already puts NULLs last (SQLite descending,
                // PostgreSQL ascending), or the column is never NULL, no
                // extra term: the (tenant_id, column, pk) index then gives
                // the order and the page stops early.
                let nulls_last_anyway = match self.dialect {
                    Dialect::Sqlite => s.descending,
                    Dialect::Postgres => !s.descending,
                };
                q.push(" ORDER BY ");
                if !(s.field.never_null() || nulls_last_anyway) {
                    q.push(&format!("(u.{col} IS NULL) ASC, "));
                }
                q.push(&format!("u.{col} {dir}, u.pk {dir}"));
            }
            None if matches!(filter, Filter::Field { .. }) => {}
            None => {
                q.push(" ORDER BY u.pk ASC");
            }
        }
        q.push(" LIMIT ")
            .int(limit.min(i64::MAX as u64) as i64)
            .push(" OFFSET ")
            .int(offset.min(i64::MAX as u64) as i64);
        q
    }

    /// The documents of `keys`, in that order (keys deleted meanwhile are
    /// left out).
    async fn users_by_pk(&self, keys: &[i64]) -> Result<Vec<StoredUser>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = Sql::new("SELECT ");
        q.push(USER_COLUMNS).push(" FROM users WHERE pk IN (");
        for (i, k) in keys.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.int(*k);
        }
        q.push(")");
        let mut found = std::collections::HashMap::with_capacity(keys.len());
        for row in q.build().fetch_all(&self.pool).await? {
            let u = decode(&row)?;
            found.insert(u.pk, u);
        }
        Ok(keys.iter().filter_map(|k| found.remove(k)).collect())
    }

    /// `FROM users u` continued with the tenant test, written so that the
    /// cheapest index drives: when every match must have a search term, the
    /// terms index does (SQLite's `+` keeps the users indexes out of it);
    /// otherwise the tenant's users are walked in key order.
    fn users_of_tenant(&self, q: &mut Sql, tenant: i64, drive: Drive) {
        match drive {
            Drive::Terms => q.push(" WHERE +u.tenant_id = "),
            Drive::Index(index) => q.push(" INDEXED BY ").push(index).push(" WHERE u.tenant_id = "),
            Drive::Planner => q.push(" WHERE u.tenant_id = "),
        };
        q.int(tenant).push(" AND ");
    }

    /// How a page query finds its rows (SQLite; PostgreSQL's planner has
    /// statistics and chooses for itself): from the search terms when every
    /// match has one and either no order is asked or the matches are few
    /// (they are then sorted); otherwise by walking the index of the asked
    /// order (the tenant's keys when none), testing each user, which stops
    /// once the page is full.
    async fn drive(&self, tenant: i64, filter: &Filter, sort: Option<Sort>, driver: Option<usize>) -> Result<Drive> {
        if self.dialect != Dialect::Sqlite {
            return Ok(Drive::Planner);
        }
        let index = match sort {
            None => Some("users_tenant"),
            // The index gives the order only without the NULLs-last term
            // (SQLite puts NULLs first when ascending).
            Some(s) if s.field.never_null() || s.descending => s.field.index(),
            Some(_) => None,
        };
        if !anchored(filter) {
            return Ok(index.map_or(Drive::Planner, Drive::Index));
        }
        if let (Some(_), Some(index)) = (sort, index) {
            if driver.is_none() && !self.few_matches(tenant, filter).await? {
                return Ok(Drive::Index(index));
            }
        }
        Ok(Drive::Terms)
    }

    /// Whether `filter` matches at most `DRIVER_MAX` users.
    async fn few_matches(&self, tenant: i64, filter: &Filter) -> Result<bool> {
        Ok(self.bounded_count(tenant, filter).await? <= DRIVER_MAX)
    }

    /// How long the counts that choose an AND's driving part are kept
    /// (default 2 s); tests lengthen it to search with stale ones.
    pub fn keep_part_counts_for(&self, ttl: std::time::Duration) {
        let ms = (ttl.as_millis() as u64).max(1);
        self.user_counts.part_count_ms.store(ms, std::sync::atomic::Ordering::Relaxed);
    }

    /// The rows of `filter`'s key set, counted up to `DRIVER_MAX + 1` only.
    async fn bounded_count(&self, tenant: i64, filter: &Filter) -> Result<i64> {
        get_i64(&self.bounded_count_sql(tenant, filter).build().fetch_one(&self.pool).await?, "n")
    }

    fn bounded_count_sql(&self, tenant: i64, filter: &Filter) -> Sql {
        let mut q = Sql::new("SELECT COUNT(*) AS n FROM (");
        self.key_set(&mut q, tenant, filter);
        q.push(" LIMIT ").int(DRIVER_MAX + 1).push(") e");
        q
    }

    /// `bounded_count` of a part of an AND, to choose the driving part: a
    /// statistic, kept for `PART_COUNT_TTL` (a stale one costs speed, not
    /// correctness: the driven page checks that its part stayed within
    /// `DRIVER_MAX`). A broad part's count reads `DRIVER_MAX` index entries
    /// each time otherwise (a quarter of the boolean class's time at a
    /// million users).
    async fn part_count(&self, tenant: i64, part: &Filter) -> Result<i64> {
        let ttl = match self.user_counts.part_count_ms.load(std::sync::atomic::Ordering::Relaxed) {
            0 => PART_COUNT_TTL,
            ms => std::time::Duration::from_millis(ms),
        };
        let q = self.bounded_count_sql(tenant, part);
        let key = format!("{}\0{:?}", q.text, q.args);
        let kept = |key: &String| {
            let counts = self.user_counts.part_counts.lock().unwrap_or_else(|p| p.into_inner());
            counts.get(key).filter(|(at, _)| at.elapsed() < ttl).map(|(_, n)| *n)
        };
        if let Some(n) = kept(&key) {
            return Ok(n);
        }
        let n = get_i64(&q.build().fetch_one(&self.pool).await?, "n")?;
        let mut counts = self.user_counts.part_counts.lock().unwrap_or_else(|p| p.into_inner());
        if counts.len() >= PART_COUNTS_MAX {
            counts.retain(|_, (at, _)| at.elapsed() < ttl);
            if counts.len() >= PART_COUNTS_MAX {
                counts.clear();
            }
        }
        counts.insert(key, (std::time::Instant::now(), n));
        Ok(n)
    }

    /// The query plans of a user search (its count, then its first page),
    /// one line per plan row; used by tests to prove every query class is
    /// answered from an index.
    pub async fn explain_user_search(&self, tenant: i64, filter: &Filter) -> Result<String> {
        let prefix = match self.dialect {
            Dialect::Sqlite => "EXPLAIN QUERY PLAN ",
            Dialect::Postgres => "EXPLAIN ",
        };
        let refined = self.refine_exists(tenant, filter).await?;
        let filter = &refined;
        let driver = self.and_driver(tenant, filter).await?;
        let mut count = Sql::new(prefix);
        self.count_sql(&mut count, tenant, filter, driver);
        let drive = self.drive(tenant, filter, None, driver).await?;
        let page = self.page_sql(prefix, tenant, filter, None, (driver, drive), (0, 50));
        let mut conn = self.pool.acquire().await?;
        if self.dialect == Dialect::Postgres {
            // Tiny test tables make sequential scans cheapest; forbid them to
            // see which indexes the planner can use.
            sqlx::query("SET enable_seqscan = off").execute(&mut *conn).await?;
        }
        let mut rows = Vec::new();
        let mut failed = None;
        for q in [&count, &page] {
            match q.build().fetch_all(&mut *conn).await {
                Ok(r) => rows.extend(r),
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        if self.dialect == Dialect::Postgres {
            sqlx::query("SET enable_seqscan = on").execute(&mut *conn).await?;
        }
        if let Some(e) = failed {
            return Err(e.into());
        }
        let col = match self.dialect {
            Dialect::Sqlite => "detail",
            Dialect::Postgres => "QUERY PLAN",
        };
        let mut out = Vec::new();
        for r in rows {
            out.push(crate::get_str(&r, col)?);
        }
        Ok(out.join("\n"))
    }

    /// How many users match: counted from the search terms (a set
    /// expression over index ranges), never by visiting the users.
    pub async fn count_users(&self, tenant: i64, filter: &Filter) -> Result<u64> {
        let refined = self.refine_exists(tenant, filter).await?;
        let filter = &refined;
        let driver = self.and_driver(tenant, filter).await?;
        self.count_with(tenant, filter, driver).await
    }

    /// `filter` with each `_exists_` on a metadata path that holds only
    /// objects (no term of the path has a value: one index probe each)
    /// turned into `ExistsAsObject`. An object's marker terms have no value,
    /// and every term index puts them in an order SQLite cannot see through
    /// (their NULL `num` or `value` leads), so a plain `_exists_` sorts all
    /// of them (a quarter of the tenant: tens of milliseconds); `value IS
    /// NULL` reads the value index in key order instead. A path that holds
    /// values for some users keeps the plain condition.
    async fn refine_exists(&self, tenant: i64, filter: &Filter) -> Result<Filter> {
        Ok(match filter {
            Filter::Field { path, kind, cond: Cond::Exists } if metadata_path(path) => {
                let mut q = Sql::new("SELECT 1 AS one FROM user_terms WHERE tenant_id = ");
                q.int(tenant).push(" AND field = ").text(path.as_str()).push(" AND value IS NOT NULL LIMIT 1");
                let valued = q.build().fetch_optional(&self.pool).await?.is_some();
                let cond = if valued { Cond::Exists } else { Cond::ExistsAsObject };
                Filter::Field { path: path.clone(), kind: *kind, cond }
            }
            Filter::And(items) | Filter::Or(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    out.push(Box::pin(self.refine_exists(tenant, item)).await?);
                }
                if matches!(filter, Filter::And(_)) {
                    Filter::And(out)
                } else {
                    Filter::Or(out)
                }
            }
            Filter::Not(inner) => Filter::Not(Box::new(Box::pin(self.refine_exists(tenant, inner)).await?)),
            other => other.clone(),
        })
    }

    async fn count_with(&self, tenant: i64, filter: &Filter, driver: Option<usize>) -> Result<u64> {
        match filter {
            Filter::All => return self.tenant_user_count(tenant).await,
            // The tenant's users less the matches of what is negated (two
            // counts, not one snapshot: under concurrent creation the total
            // may be off by those users, as any count taken while they come).
            Filter::Not(inner) if anchored(inner) => {
                let all = self.tenant_user_count(tenant).await?;
                let negated = Box::pin(self.count_with(tenant, inner, None)).await?;
                return Ok(all.saturating_sub(negated));
            }
            _ => {}
        }
        let mut q = Sql::new("");
        self.count_sql(&mut q, tenant, filter, driver);
        let row = q.build().fetch_one(&self.pool).await?;
        Ok(get_i64(&row, "n")?.max(0) as u64)
    }

    /// For a top-level AND one of whose parts matches few users (at most
    /// `DRIVER_MAX`, measured by a bounded count), that part's index: its
    /// keys are then the candidates, and each of the other parts is checked
    /// per candidate against that user's own terms. Intersecting the sets
    /// instead would collect every match of a broad part (a quarter of the
    /// tenant) to keep a few hundred.
    async fn and_driver(&self, tenant: i64, filter: &Filter) -> Result<Option<usize>> {
        let Filter::And(items) = filter else {
            return Ok(None);
        };
        if items.len() < 2 {
            return Ok(None);
        }
        let mut best: Option<(usize, i64)> = None;
        for (i, item) in items.iter().enumerate().filter(|(_, f)| anchored(f)) {
            let n = self.part_count(tenant, item).await?;
            if n <= DRIVER_MAX && best.is_none_or(|(_, m)| n < m) {
                best = Some((i, n));
            }
        }
        Ok(best.map(|(i, _)| i))
    }

    /// The page query's condition on `u`.
    fn page_condition(&self, q: &mut Sql, tenant: i64, filter: &Filter, driver: Option<usize>) {
        match (filter, driver) {
            (Filter::And(items), Some(d)) => {
                q.push("u.pk IN (SELECT d.pk FROM (");
                self.key_set(q, tenant, &items[d]);
                q.push(") d WHERE 1 = 1");
                self.probes(q, tenant, items, d);
                q.push(")");
            }
            _ => self.condition(q, tenant, filter),
        }
    }

    /// ` AND <probe>` for every part of an AND but the driving one; `d.pk`
    /// is the candidate.
    fn probes(&self, q: &mut Sql, tenant: i64, items: &[Filter], driver: usize) {
        for (j, item) in items.iter().enumerate() {
            if j != driver && !matches!(item, Filter::All) {
                q.push(" AND ");
                self.probe(q, tenant, item);
            }
        }
    }

    /// Whether candidate `d.pk` matches `f`, from that user's own terms.
    fn probe(&self, q: &mut Sql, tenant: i64, f: &Filter) {
        self.boolean(q, f, &|store, q, path, kind, cond| {
            q.push("EXISTS (SELECT 1 FROM user_terms p WHERE p.user_pk = d.pk");
            if matches!(cond, Cond::Eq(_)) {
                // All four columns of the value (or num) index are then
                // fixed: one index lookup.
                q.push(" AND p.tenant_id = ").int(tenant);
            }
            q.push(" AND p.field = ").text(path);
            store.term_condition_on(q, "p", kind, cond);
            q.push(")");
        });
    }

    /// Whether no user has two rows of `path` that meet `cond`, so that its
    /// rows count its users: a field with one value a user, or one value
    /// (or the object marker) of any field once terms are unique (see
    /// `dedupe_terms`). A range or pattern may meet two values of an array.
    fn one_row_per_user(&self, path: &str, kind: FieldKind, cond: &Cond) -> bool {
        single_valued(path)
            || (self.terms_unique()
                && match cond {
                    Cond::Eq(v) => column_arg(kind, v).0 == "value",
                    Cond::ExistsAsObject => true,
                    _ => false,
                })
    }

    fn count_sql(&self, q: &mut Sql, tenant: i64, filter: &Filter, driver: Option<usize>) {
        if let (Filter::And(items), Some(d)) = (filter, driver) {
            q.push("SELECT COUNT(*) AS n FROM (SELECT DISTINCT pk FROM (");
            self.key_set(q, tenant, &items[d]);
            q.push(") d0) d WHERE 1 = 1");
            self.probes(q, tenant, items, d);
            return;
        }
        match filter {
            Filter::Not(inner) if anchored(inner) => {
                // The tenant's users (an index count) less the matches of
                // what is negated: no set of every key is built.
                q.push("SELECT (SELECT COUNT(*) FROM users WHERE tenant_id = ").int(tenant).push(") - (");
                self.count_sql(q, tenant, inner, None);
                q.push(") AS n");
            }
            Filter::Field { path, kind, cond } => {
                // Arrays and identities may repeat a user, but not with one
                // value once terms are unique.
                q.push(if self.one_row_per_user(path.as_str(), *kind, cond) {
                    "SELECT COUNT(*)"
                } else {
                    "SELECT COUNT(DISTINCT t.user_pk)"
                });
                q.push(" AS n FROM user_terms t WHERE t.tenant_id = ");
                q.int(tenant).push(" AND t.field = ").text(path.as_str());
                self.term_condition(q, *kind, cond);
            }
            _ => {
                q.push("SELECT COUNT(*) AS n FROM (");
                self.key_set(q, tenant, filter);
                q.push(") c");
            }
        }
    }

    /// A compound SELECT of the keys (`pk`) of the users matching `f`:
    /// INTERSECT for AND, UNION for OR, EXCEPT from the tenant's users for
    /// NOT.
    fn key_set(&self, q: &mut Sql, tenant: i64, f: &Filter) {
        match f {
            Filter::All => all_keys(q, tenant),
            Filter::Field { path, kind, cond } => {
                q.push("SELECT t.user_pk AS pk FROM user_terms t WHERE t.tenant_id = ");
                q.int(tenant).push(" AND t.field = ").text(path.as_str());
                self.term_condition(q, *kind, cond);
            }
            Filter::Not(inner) => {
                all_keys(q, tenant);
                q.push(" EXCEPT ");
                self.key_operand(q, tenant, inner);
            }
            Filter::Or(items) => {
                if items.is_empty() {
                    // Matches nothing.
                    all_keys(q, tenant);
                    q.push(" AND 1 = 0");
                    return;
                }
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        q.push(" UNION ");
                    }
                    self.key_operand(q, tenant, item);
                }
            }
            Filter::And(items) => {
                // Positive parts intersected first, then the negated ones
                // taken away: the same result whatever the operators'
                // precedence (PostgreSQL binds INTERSECT tighter, SQLite
                // reads left to right).
                let (neg, pos): (Vec<&Filter>, Vec<&Filter>) =
                    items.iter().filter(|i| !matches!(i, Filter::All)).partition(|i| matches!(i, Filter::Not(_)));
                if pos.is_empty() {
                    all_keys(q, tenant);
                }
                for (i, item) in pos.iter().enumerate() {
                    if i > 0 {
                        q.push(" INTERSECT ");
                    }
                    self.key_operand(q, tenant, item);
                }
                for item in neg {
                    if let Filter::Not(inner) = item {
                        q.push(" EXCEPT ");
                        self.key_operand(q, tenant, inner);
                    }
                }
            }
        }
    }

    /// `f`'s key set as one operand of a compound SELECT (compounds are
    /// wrapped in a sub-select: SQLite takes no parentheses there).
    fn key_operand(&self, q: &mut Sql, tenant: i64, f: &Filter) {
        if matches!(f, Filter::Field { .. }) {
            self.key_set(q, tenant, f);
        } else {
            q.push("SELECT pk FROM (");
            self.key_set(q, tenant, f);
            q.push(") s");
        }
    }

    /// `f` as a condition on the users row `u`.
    fn condition(&self, q: &mut Sql, tenant: i64, f: &Filter) {
        self.boolean(q, f, &|store, q, path, kind, cond| {
            q.push("u.pk IN (SELECT t.user_pk FROM user_terms t WHERE t.tenant_id = ");
            q.int(tenant).push(" AND t.field = ").text(path);
            store.term_condition(q, kind, cond);
            q.push(")");
        });
    }

    /// `f`'s AND / OR / NOT in SQL around `field`, which writes the test of
    /// one field condition (`condition` and `probe` differ only there).
    fn boolean(&self, q: &mut Sql, f: &Filter, field: &FieldSql<'_>) {
        match f {
            Filter::All => {
                q.push("1 = 1");
            }
            Filter::Field { path, kind, cond } => field(self, q, path.as_str(), *kind, cond),
            Filter::And(items) | Filter::Or(items) => {
                let and = matches!(f, Filter::And(_));
                if items.is_empty() {
                    q.push(if and { "1 = 1" } else { "1 = 0" });
                    return;
                }
                q.push("(");
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        q.push(if and { " AND " } else { " OR " });
                    }
                    self.boolean(q, item, field);
                }
                q.push(")");
            }
            Filter::Not(inner) => {
                q.push("NOT (");
                self.boolean(q, inner, field);
                q.push(")");
            }
        }
    }

    fn term_condition(&self, q: &mut Sql, kind: FieldKind, cond: &Cond) {
        self.term_condition_on(q, "t", kind, cond)
    }

    /// The condition on one term row, the row being `alias`.
    fn term_condition_on(&self, q: &mut Sql, alias: &str, kind: FieldKind, cond: &Cond) {
        let col = |name: &str| format!("{alias}.{name}");
        match cond {
            Cond::Exists => {}
            Cond::ExistsAsObject => {
                q.push(" AND ").push(alias).push(".value IS NULL");
            }
            Cond::Suffix(s) => prefix(q, &col("rvalue"), &s.chars().rev().collect::<String>()),
            _ => self.value_condition(q, &col, kind, cond),
        }
    }

    /// The condition on a users column (see `user_column`, `column_fits`)
    /// that a term condition would be on the field's term.
    fn column_condition(&self, q: &mut Sql, column: &str, kind: FieldKind, cond: &Cond) {
        let col = |_: &str| format!("u.{column}");
        match cond {
            Cond::Exists | Cond::ExistsAsObject => {
                q.push(" AND u.").push(column).push(" IS NOT NULL");
            }
            Cond::Suffix(s) => {
                // The last characters (SQLite's substr counts characters).
                q.push(" AND substr(u.").push(column).push(", ").int(-(s.chars().count() as i64));
                q.push(") = ").text(s.as_str());
            }
            _ => self.value_condition(q, &col, kind, cond),
        }
    }

    /// Equality, prefix, contains, pattern and range on the value (`col`
    /// names the column expression for `value` or `num`).
    fn value_condition(&self, q: &mut Sql, col: &dyn Fn(&str) -> String, kind: FieldKind, cond: &Cond) {
        match cond {
            Cond::Exists | Cond::ExistsAsObject | Cond::Suffix(_) => {}
            Cond::Eq(v) => {
                let (name, arg) = column_arg(kind, v);
                q.push(" AND ").push(&col(name)).push(" = ").arg(arg);
            }
            Cond::Prefix(p) => prefix(q, &col("value"), p),
            Cond::Contains(s) => {
                let f = match self.dialect {
                    Dialect::Sqlite => "instr",
                    Dialect::Postgres => "strpos",
                };
                q.push(" AND ").push(f).push("(").push(&col("value")).push(", ").text(s.as_str()).push(") > 0");
            }
            Cond::Glob(pieces) => {
                if let Some(first) = pieces.first().filter(|p| !p.is_empty()) {
                    prefix(q, &col("value"), first);
                }
                q.push(" AND");
                crate::sql::wildcard(q, self.dialect, &col("value"), pieces);
            }
            Cond::Range { lower, upper } => {
                bound(q, col, kind, lower, ">=", ">");
                bound(q, col, kind, upper, "<=", "<");
            }
        }
    }
}

fn column_arg(kind: FieldKind, v: &Scalar) -> (&'static str, Arg) {
    match v {
        Scalar::Int(n) if kind == FieldKind::Integer => ("num", Arg::F64(*n as f64)),
        Scalar::Date(ms) => ("num", Arg::F64(*ms as f64)),
        Scalar::Int(n) => ("value", Arg::Text(n.to_string())),
        Scalar::Bool(b) => ("value", Arg::Text(b.to_string())),
        Scalar::Text(s) => ("value", Arg::Text(s.clone())),
    }
}

/// ` AND <col> starts with p`; `col` is a column expression (`t.value`).
fn prefix(q: &mut Sql, col: &str, p: &str) {
    q.push(" AND ").push(col).push(" >= ").text(p);
    q.push(" AND ").push(col).push(" < ").text(format!("{p}{MAX_CHAR}"));
}

/// ` AND <column> <op> <v>`, the column named by `col` from the one
/// `column_arg` chooses (`value` or `num`).
fn bound(q: &mut Sql, col: &dyn Fn(&str) -> String, kind: FieldKind, b: &Bound<Scalar>, incl: &str, excl: &str) {
    let (op, v) = match b {
        Bound::Unbounded => return,
        Bound::Included(v) => (incl, v),
        Bound::Excluded(v) => (excl, v),
    };
    let (name, arg) = column_arg(kind, v);
    q.push(" AND ").push(&col(name)).push(" ").push(op).push(" ").arg(arg);
}

/// The users column that holds a field's one value as its term does (text
/// lowercased the same way; numbers and dates as the term's `num`), and
/// whether it holds the number.
fn user_column(path: &str) -> Option<(&'static str, bool)> {
    Some(match path {
        "email" => ("email", false),
        "name" => ("name", false),
        "nickname" => ("nickname", false),
        "given_name" => ("given_name", false),
        "family_name" => ("family_name", false),
        "username" => ("username", false),
        "logins_count" => ("logins_count", true),
        "created_at" => ("created_at", true),
        "updated_at" => ("updated_at", true),
        "last_login" => ("last_login", true),
        _ => return None,
    })
}

/// Whether `cond` on `path` can be tested on the users column (see
/// `user_column`): every value it compares is of the column's kind, as the
/// term's `value` or `num` would be compared.
fn column_fits(path: &str, kind: FieldKind, cond: &Cond) -> bool {
    let Some((_, numeric)) = user_column(path) else { return false };
    let want = if numeric { "num" } else { "value" };
    let fits = |v: &Scalar| column_arg(kind, v).0 == want;
    let fits_bound = |b: &Bound<Scalar>| match b {
        Bound::Unbounded => true,
        Bound::Included(v) | Bound::Excluded(v) => fits(v),
    };
    match cond {
        Cond::Exists => true,
        Cond::ExistsAsObject => false,
        Cond::Eq(v) => fits(v),
        Cond::Range { lower, upper } => fits_bound(lower) && fits_bound(upper),
        Cond::Prefix(_) | Cond::Suffix(_) | Cond::Contains(_) | Cond::Glob(_) => !numeric,
    }
}

/// Whether every user that `f` matches has a search term that `f` names, so
/// that the terms index can drive the page query.
fn anchored(f: &Filter) -> bool {
    match f {
        Filter::All | Filter::Not(_) => false,
        Filter::Field { .. } => true,
        Filter::And(items) => items.iter().any(anchored),
        Filter::Or(items) => !items.is_empty() && items.iter().all(anchored),
    }
}

/// Whether a condition's terms come from their index in key order: one
/// value (or none, for an object's markers) fixes every column before
/// `user_pk`.
fn in_key_order(cond: &Cond) -> bool {
    matches!(cond, Cond::Eq(_) | Cond::ExistsAsObject)
}

/// Fields with at most one term per user (see `terms::user_terms`).
fn single_valued(path: &str) -> bool {
    !(path.starts_with("identities.") || metadata_path(path))
}

fn all_keys(q: &mut Sql, tenant: i64) {
    q.push("SELECT pk FROM users WHERE tenant_id = ").int(tenant);
}
