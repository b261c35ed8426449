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
use crate::users::{decode, StoredUser, USER_COLUMNS};
use crate::{get_i64, Dialect, Result, Store};

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

#[derive(Debug, Clone)]
pub struct SearchPage {
    pub users: Vec<StoredUser>,
    pub total: Option<u64>,
}

const MAX_CHAR: char = '\u{10FFFF}';

impl Store {
    pub async fn search_users(
        &self,
        tenant: i64,
        filter: &Filter,
        sort: Option<Sort>,
        offset: u64,
        limit: u64,
        with_total: bool,
    ) -> Result<SearchPage> {
        let mut q = Sql::new("SELECT ");
        q.push(USER_COLUMNS).push(" FROM users u WHERE u.tenant_id = ").int(tenant).push(" AND ");
        self.condition(&mut q, tenant, filter);
        match sort {
            Some(s) => {
                let dir = if s.descending { "DESC" } else { "ASC" };
                let col = s.field.column();
                q.push(&format!(" ORDER BY (u.{col} IS NULL) ASC, u.{col} {dir}, u.pk {dir}"));
            }
            None => {
                q.push(" ORDER BY u.pk ASC");
            }
        }
        q.push(" LIMIT ")
            .int(limit.min(i64::MAX as u64) as i64)
            .push(" OFFSET ")
            .int(offset.min(i64::MAX as u64) as i64);
        let rows = q.build().fetch_all(&self.pool).await?;
        let users = rows.iter().map(decode).collect::<Result<Vec<_>>>()?;
        let total = if with_total { Some(self.count_users(tenant, filter).await?) } else { None };
        Ok(SearchPage { users, total })
    }

    /// The query plan of a user search's count, one line per plan row; used
    /// by tests to prove every query class is answered from an index.
    pub async fn explain_user_search(&self, tenant: i64, filter: &Filter) -> Result<String> {
        let mut q = Sql::new(match self.dialect {
            Dialect::Sqlite => "EXPLAIN QUERY PLAN SELECT COUNT(*) FROM users u WHERE u.tenant_id = ",
            Dialect::Postgres => "EXPLAIN SELECT COUNT(*) FROM users u WHERE u.tenant_id = ",
        });
        q.int(tenant).push(" AND ");
        self.condition(&mut q, tenant, filter);
        let mut conn = self.pool.acquire().await?;
        if self.dialect == Dialect::Postgres {
            // Tiny test tables make sequential scans cheapest; forbid them to
            // see which indexes the planner can use.
            sqlx::query("SET enable_seqscan = off").execute(&mut *conn).await?;
        }
        let rows = q.build().fetch_all(&mut *conn).await;
        if self.dialect == Dialect::Postgres {
            sqlx::query("SET enable_seqscan = on").execute(&mut *conn).await?;
        }
        let col = match self.dialect {
            Dialect::Sqlite => "detail",
            Dialect::Postgres => "QUERY PLAN",
        };
        let mut out = Vec::new();
        for r in rows? {
            out.push(crate::get_str(&r, col)?);
        }
        Ok(out.join("\n"))
    }

    pub async fn count_users(&self, tenant: i64, filter: &Filter) -> Result<u64> {
        let mut q = Sql::new("SELECT COUNT(*) AS n FROM users u WHERE u.tenant_id = ");
        q.int(tenant).push(" AND ");
        self.condition(&mut q, tenant, filter);
        let row = q.build().fetch_one(&self.pool).await?;
        Ok(get_i64(&row, "n")?.max(0) as u64)
    }

    fn condition(&self, q: &mut Sql, tenant: i64, f: &Filter) {
        match f {
            Filter::All => {
                q.push("1 = 1");
            }
            Filter::And(items) | Filter::Or(items) => {
                let op = if matches!(f, Filter::And(_)) { " AND " } else { " OR " };
                if items.is_empty() {
                    q.push(if matches!(f, Filter::And(_)) { "1 = 1" } else { "1 = 0" });
                    return;
                }
                q.push("(");
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        q.push(op);
                    }
                    self.condition(q, tenant, item);
                }
                q.push(")");
            }
            Filter::Not(inner) => {
                q.push("NOT (");
                self.condition(q, tenant, inner);
                q.push(")");
            }
            Filter::Field { path, kind, cond } => {
                q.push("u.pk IN (SELECT t.user_pk FROM user_terms t WHERE t.tenant_id = ");
                q.int(tenant).push(" AND t.field = ").text(path.as_str());
                self.term_condition(q, *kind, cond);
                q.push(")");
            }
        }
    }

    fn term_condition(&self, q: &mut Sql, kind: FieldKind, cond: &Cond) {
        match cond {
            Cond::Exists => {}
            Cond::Eq(v) => {
                let (col, arg) = column_arg(kind, v);
                q.push(" AND t.").push(col).push(" = ").arg(arg);
            }
            Cond::Prefix(p) => prefix(q, "value", p),
            Cond::Suffix(s) => prefix(q, "rvalue", &s.chars().rev().collect::<String>()),
            Cond::Contains(s) => {
                let f = match self.dialect {
                    Dialect::Sqlite => "instr",
                    Dialect::Postgres => "strpos",
                };
                q.push(" AND ").push(f).push("(t.value, ").text(s.as_str()).push(") > 0");
            }
            Cond::Glob(pieces) => {
                if let Some(first) = pieces.first().filter(|p| !p.is_empty()) {
                    prefix(q, "value", first);
                }
                q.push(" AND");
                crate::sql::wildcard(q, self.dialect, "t.value", pieces);
            }
            Cond::Range { lower, upper } => {
                bound(q, kind, lower, ">=", ">");
                bound(q, kind, upper, "<=", "<");
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

fn prefix(q: &mut Sql, col: &str, p: &str) {
    q.push(" AND t.").push(col).push(" >= ").text(p);
    q.push(" AND t.").push(col).push(" < ").text(format!("{p}{MAX_CHAR}"));
}

fn bound(q: &mut Sql, kind: FieldKind, b: &Bound<Scalar>, incl: &str, excl: &str) {
    let (op, v) = match b {
        Bound::Unbounded => return,
        Bound::Included(v) => (incl, v),
        Bound::Excluded(v) => (excl, v),
    };
    let (col, arg) = column_arg(kind, v);
    q.push(" AND t.").push(col).push(" ").push(op).push(" ").arg(arg);
}
