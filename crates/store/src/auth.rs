//! End-user authentication state: refresh tokens (with rotation families),
//! single-use authorization codes, login sessions, brute-force counters and
//! IP blocks. Secrets (tokens, codes, cookies) are stored only as hashes.

use castellan_domain::log_event::LogEvent;
use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::docs::parse;
use crate::sql::{Arg, Sql};
use crate::{get_i64, get_str, Result, Store};

#[derive(Debug, Clone, PartialEq)]
pub struct RefreshTokenRow {
    pub id: String,
    pub family: String,
    pub token_hash: String,
    pub user_id: String,
    pub client_id: String,
    pub audience: Option<String>,
    pub scope: String,
    pub session_id: Option<String>,
    pub rotating: bool,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub idle_expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub rotated_at: Option<i64>,
    pub revoked_at: Option<i64>,
    /// `{initial_ip, initial_user_agent, last_ip, last_user_agent}`
    pub device: Value,
    /// When the user authenticated for the login this family comes from.
    pub auth_time: Option<i64>,
}

pub(crate) const RT_COLS: &str =
    "id, family, token_hash, user_id, client_id, audience, scope, session_id, rotating, created_at, \
                       expires_at, idle_expires_at, last_used_at, rotated_at, revoked_at, device, auth_time";

pub(crate) fn opt_i64(r: &AnyRow, c: &str) -> Result<Option<i64>> {
    Ok(r.try_get::<Option<i64>, _>(c)?)
}

fn opt_str(r: &AnyRow, c: &str) -> Result<Option<String>> {
    Ok(r.try_get::<Option<String>, _>(c)?)
}

pub(crate) fn rt(r: &AnyRow) -> Result<RefreshTokenRow> {
    Ok(RefreshTokenRow {
        id: get_str(r, "id")?,
        family: get_str(r, "family")?,
        token_hash: get_str(r, "token_hash")?,
        user_id: get_str(r, "user_id")?,
        client_id: get_str(r, "client_id")?,
        audience: opt_str(r, "audience")?,
        scope: get_str(r, "scope")?,
        session_id: opt_str(r, "session_id")?,
        rotating: get_i64(r, "rotating")? != 0,
        created_at: get_i64(r, "created_at")?,
        expires_at: opt_i64(r, "expires_at")?,
        idle_expires_at: opt_i64(r, "idle_expires_at")?,
        last_used_at: opt_i64(r, "last_used_at")?,
        rotated_at: opt_i64(r, "rotated_at")?,
        revoked_at: opt_i64(r, "revoked_at")?,
        device: parse(&get_str(r, "device")?)?,
        auth_time: opt_i64(r, "auth_time")?,
    })
}

fn oi(v: Option<i64>) -> Arg {
    v.map(Arg::I64).unwrap_or(Arg::NullI64)
}

fn os(v: &Option<String>) -> Arg {
    v.clone().map(Arg::Text).unwrap_or(Arg::NullText)
}

fn insert_rt_sql(tenant: i64, t: &RefreshTokenRow) -> Sql {
    let mut q = Sql::new(&format!("INSERT INTO refresh_tokens (tenant_id, {RT_COLS}) VALUES ("));
    q.int(tenant);
    let args = [
        Arg::Text(t.id.clone()),
        Arg::Text(t.family.clone()),
        Arg::Text(t.token_hash.clone()),
        Arg::Text(t.user_id.clone()),
        Arg::Text(t.client_id.clone()),
        os(&t.audience),
        Arg::Text(t.scope.clone()),
        os(&t.session_id),
        Arg::I64(i64::from(t.rotating)),
        Arg::I64(t.created_at),
        oi(t.expires_at),
        oi(t.idle_expires_at),
        oi(t.last_used_at),
        oi(t.rotated_at),
        oi(t.revoked_at),
        Arg::Text(t.device.to_string()),
        oi(t.auth_time),
    ];
    for a in args {
        q.push(", ").arg(a);
    }
    q.push(")");
    q
}

impl Store {
    pub async fn insert_refresh_token(&self, tenant: i64, t: &RefreshTokenRow, events: &[LogEvent]) -> Result<()> {
        self.exec_logged(tenant, &insert_rt_sql(tenant, t), events, "refresh token exists").await?;
        Ok(())
    }

    pub async fn refresh_token_by_hash(&self, tenant: i64, hash: &str) -> Result<Option<RefreshTokenRow>> {
        let mut q = Sql::new(&format!("SELECT {RT_COLS} FROM refresh_tokens WHERE tenant_id = "));
        q.int(tenant).push(" AND token_hash = ").text(hash);
        q.build().fetch_optional(&self.pool).await?.as_ref().map(rt).transpose()
    }

    pub async fn refresh_token(&self, tenant: i64, id: &str) -> Result<Option<RefreshTokenRow>> {
        let mut q = Sql::new(&format!("SELECT {RT_COLS} FROM refresh_tokens WHERE tenant_id = "));
        q.int(tenant).push(" AND id = ").text(id);
        q.build().fetch_optional(&self.pool).await?.as_ref().map(rt).transpose()
    }

    /// A user's live (not revoked, not rotated) refresh tokens, newest first.
    pub async fn user_refresh_tokens(
        &self,
        tenant: i64,
        user_id: Option<&str>,
        client_id: Option<&str>,
        offset: u64,
        limit: u64,
    ) -> Result<(Vec<RefreshTokenRow>, u64)> {
        let mut cond = Sql::new(" WHERE tenant_id = ");
        cond.int(tenant).push(" AND revoked_at IS NULL AND rotated_at IS NULL");
        if let Some(u) = user_id {
            cond.push(" AND user_id = ").text(u);
        }
        if let Some(c) = client_id {
            cond.push(" AND client_id = ").text(c);
        }
        let mut q = Sql::new(&format!("SELECT {RT_COLS} FROM refresh_tokens"));
        q.push(&cond.text);
        q.args = cond.args.clone();
        q.push(" ORDER BY created_at DESC, id LIMIT ").int(limit as i64).push(" OFFSET ").int(offset as i64);
        let rows = q.build().fetch_all(&self.pool).await?;
        let mut c = Sql::new("SELECT COUNT(*) AS n FROM refresh_tokens");
        c.push(&cond.text);
        c.args = cond.args;
        let total = get_i64(&c.build().fetch_one(&self.pool).await?, "n")?.max(0) as u64;
        Ok((rows.iter().map(rt).collect::<Result<Vec<_>>>()?, total))
    }

    /// Exchanges a rotating token: marks `old` rotated and stores `new`, in
    /// one transaction (so a token is rotated exactly once).
    pub async fn rotate_refresh_token(
        &self,
        tenant: i64,
        old_id: &str,
        new: &RefreshTokenRow,
        now: i64,
        events: &[LogEvent],
    ) -> Result<bool> {
        let _w = self.write_guard().await;
        let mut tx = self.write_tx().await?;
        let mut q = Sql::new("UPDATE refresh_tokens SET rotated_at = ");
        q.int(now)
            .push(", last_used_at = ")
            .int(now)
            .push(" WHERE tenant_id = ")
            .int(tenant)
            .push(" AND id = ")
            .text(old_id);
        q.push(" AND rotated_at IS NULL AND revoked_at IS NULL");
        if q.build().execute(&mut *tx).await?.rows_affected() != 1 {
            return Ok(false);
        }
        insert_rt_sql(tenant, new).build().execute(&mut *tx).await?;
        self.insert_logs_tx(&mut tx, tenant, events).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Records a use of a non-rotating token.
    pub async fn touch_refresh_token(
        &self,
        tenant: i64,
        id: &str,
        now: i64,
        device: &Value,
        idle_expires_at: Option<i64>,
        events: &[LogEvent],
    ) -> Result<()> {
        let mut q = Sql::new("UPDATE refresh_tokens SET last_used_at = ");
        q.int(now).push(", device = ").text(device.to_string()).push(", idle_expires_at = ").arg(oi(idle_expires_at));
        q.push(" WHERE tenant_id = ").int(tenant);
        q.push(" AND id = ").text(id);
        self.exec_logged(tenant, &q, events, "conflict").await?;
        Ok(())
    }

    /// Revokes refresh tokens: one by id, a whole family, or all of a user's
    /// (optionally for one client). Returns how many were live.
    pub async fn revoke_refresh_tokens(
        &self,
        tenant: i64,
        by: RevokeBy<'_>,
        now: i64,
        events: &[LogEvent],
    ) -> Result<u64> {
        let mut q = Sql::new("UPDATE refresh_tokens SET revoked_at = ");
        q.int(now).push(" WHERE tenant_id = ").int(tenant).push(" AND revoked_at IS NULL");
        match by {
            RevokeBy::Id(id) => {
                q.push(" AND id = ").text(id);
            }
            RevokeBy::Family(f) => {
                q.push(" AND family = ").text(f);
            }
            RevokeBy::User { user_id, client_id } => {
                q.push(" AND user_id = ").text(user_id);
                if let Some(c) = client_id {
                    q.push(" AND client_id = ").text(c);
                }
            }
            RevokeBy::Session(s) => {
                q.push(" AND session_id = ").text(s);
            }
        }
        self.exec_logged(tenant, &q, events, "conflict").await
    }

    /// Stores a single-use authorization code (by hash).
    pub async fn insert_auth_code(&self, tenant: i64, hash: &str, doc: &Value, expires_at: i64) -> Result<()> {
        let mut q = Sql::new("INSERT INTO auth_codes (code_hash, tenant_id, doc, expires_at) VALUES (");
        q.text(hash).push(", ").int(tenant).push(", ").text(doc.to_string()).push(", ").int(expires_at).push(")");
        self.exec_logged(tenant, &q, &[], "code exists").await?;
        Ok(())
    }

    /// Reads a code (or login transaction) without using it up.
    pub async fn peek_auth_code(&self, tenant: i64, hash: &str) -> Result<Option<(Value, i64)>> {
        let mut q = Sql::new("SELECT doc, expires_at FROM auth_codes WHERE tenant_id = ");
        q.int(tenant).push(" AND code_hash = ").text(hash);
        q.build()
            .fetch_optional(&self.pool)
            .await?
            .map(|r| Ok((parse(&get_str(&r, "doc")?)?, get_i64(&r, "expires_at")?)))
            .transpose()
    }

    /// Takes a code: returns it (and its expiry) once, deleting it.
    pub async fn take_auth_code(&self, tenant: i64, hash: &str) -> Result<Option<(Value, i64)>> {
        let _w = self.write_guard().await;
        let mut tx = self.write_tx().await?;
        let mut q = Sql::new("SELECT doc, expires_at FROM auth_codes WHERE tenant_id = ");
        q.int(tenant).push(" AND code_hash = ").text(hash);
        let Some(row) = q.build().fetch_optional(&mut *tx).await? else {
            return Ok(None);
        };
        let mut d = Sql::new("DELETE FROM auth_codes WHERE code_hash = ");
        d.text(hash);
        d.build().execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(Some((parse(&get_str(&row, "doc")?)?, get_i64(&row, "expires_at")?)))
    }

    pub async fn insert_session(&self, tenant: i64, new: &NewSession) -> Result<()> {
        let mut q = Sql::new(
            "INSERT INTO sessions (tenant_id, id, cookie_hash, user_id, created_at, updated_at, expires_at, doc) VALUES (",
        );
        q.int(tenant).push(", ").text(&new.id).push(", ").text(&new.cookie_hash).push(", ").text(&new.user_id);
        q.push(", ").int(new.created_at).push(", ").int(new.created_at).push(", ").int(new.expires_at);
        q.push(", ").text(new.doc.to_string()).push(")");
        self.exec_logged(tenant, &q, &[], "session exists").await?;
        Ok(())
    }

    /// A live session by its cookie: (id, user_id, doc).
    pub async fn session_by_cookie(
        &self,
        tenant: i64,
        cookie_hash: &str,
        now: i64,
    ) -> Result<Option<(String, String, Value)>> {
        let mut q = Sql::new("SELECT id, user_id, doc FROM sessions WHERE tenant_id = ");
        q.int(tenant)
            .push(" AND cookie_hash = ")
            .text(cookie_hash)
            .push(" AND revoked_at IS NULL AND expires_at > ")
            .int(now);
        q.build()
            .fetch_optional(&self.pool)
            .await?
            .map(|r| Ok((get_str(&r, "id")?, get_str(&r, "user_id")?, parse(&get_str(&r, "doc")?)?)))
            .transpose()
    }

    /// A user's live sessions, newest first: (id, created_at, updated_at, expires_at, doc).
    pub async fn user_sessions(
        &self,
        tenant: i64,
        user_id: &str,
        now: i64,
    ) -> Result<Vec<(String, i64, i64, i64, Value)>> {
        let mut q = Sql::new("SELECT id, created_at, updated_at, expires_at, doc FROM sessions WHERE tenant_id = ");
        q.int(tenant).push(" AND user_id = ").text(user_id).push(" AND revoked_at IS NULL AND expires_at > ").int(now);
        q.push(" ORDER BY created_at DESC");
        let rows = q.build().fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                Ok((
                    get_str(r, "id")?,
                    get_i64(r, "created_at")?,
                    get_i64(r, "updated_at")?,
                    get_i64(r, "expires_at")?,
                    parse(&get_str(r, "doc")?)?,
                ))
            })
            .collect()
    }

    /// Ends sessions: one by id, or all of a user's. Returns how many.
    pub async fn revoke_sessions(
        &self,
        tenant: i64,
        user_id: Option<&str>,
        id: Option<&str>,
        now: i64,
        events: &[LogEvent],
    ) -> Result<u64> {
        let mut q = Sql::new("UPDATE sessions SET revoked_at = ");
        q.int(now).push(" WHERE tenant_id = ").int(tenant).push(" AND revoked_at IS NULL");
        if let Some(u) = user_id {
            q.push(" AND user_id = ").text(u);
        }
        if let Some(i) = id {
            q.push(" AND id = ").text(i);
        }
        self.exec_logged(tenant, &q, events, "conflict").await
    }

    /// Counts a failed login for (user, ip) — `ip` is `""` when failures
    /// from every IP count together — and blocks the pair at `threshold`.
    /// Returns (failures, newly blocked): a block is new when the count
    /// reaches the threshold, or passes it after the threshold was raised
    /// above an earlier block.
    pub async fn record_login_failure(
        &self,
        tenant: i64,
        user_id: &str,
        ip: &str,
        now: i64,
        threshold: i64,
    ) -> Result<(i64, bool)> {
        let _w = self.write_guard().await;
        let mut tx = self.write_tx().await?;
        let mut i = Sql::new("INSERT INTO login_failures (tenant_id, user_id, ip, failures, updated_at) VALUES (");
        i.int(tenant).push(", ").text(user_id).push(", ").text(ip).push(", 0, ").int(now);
        i.push(") ON CONFLICT (tenant_id, user_id, ip) DO NOTHING");
        i.build().execute(&mut *tx).await?;
        let mut q = Sql::new("SELECT failures, blocked_at FROM login_failures WHERE tenant_id = ");
        q.int(tenant).push(" AND user_id = ").text(user_id).push(" AND ip = ").text(ip);
        if self.dialect == crate::Dialect::Postgres {
            q.push(" FOR UPDATE");
        }
        let row = q.build().fetch_one(&mut *tx).await?;
        let before = get_i64(&row, "failures")?;
        let failures = before + 1;
        let was_blocked = opt_i64(&row, "blocked_at")?.is_some() && before >= threshold;
        let block = failures >= threshold && !was_blocked;
        let mut w = Sql::new("UPDATE login_failures SET failures = ");
        w.int(failures).push(", updated_at = ").int(now);
        if block {
            w.push(", blocked_at = ").int(now);
        }
        w.push(" WHERE tenant_id = ").int(tenant).push(" AND user_id = ").text(user_id).push(" AND ip = ").text(ip);
        w.build().execute(&mut *tx).await?;
        tx.commit().await?;
        Ok((failures, block))
    }

    /// Whether brute-force protection blocks the user from `ip`: a block of
    /// the pair, or of the user from everywhere (`ip` `""`), that still
    /// holds at `threshold` (raising the threshold lifts blocks below it).
    pub async fn login_blocked(&self, tenant: i64, user_id: &str, ip: &str, threshold: i64) -> Result<bool> {
        let mut q = Sql::new("SELECT 1 AS x FROM login_failures WHERE tenant_id = ");
        q.int(tenant).push(" AND user_id = ").text(user_id).push(" AND ip IN (").text(ip).push(", '')");
        q.push(" AND blocked_at IS NOT NULL AND failures >= ").int(threshold);
        Ok(q.build().fetch_optional(&self.pool).await?.is_some())
    }

    /// Forgets failures for the user after a successful login: those from
    /// `ip` and the count of all IPs together (`None`: every count).
    pub async fn clear_login_failures(
        &self,
        tenant: i64,
        user_id: &str,
        ip: Option<&str>,
        events: &[LogEvent],
    ) -> Result<u64> {
        let mut q = Sql::new("DELETE FROM login_failures WHERE tenant_id = ");
        q.int(tenant).push(" AND user_id = ").text(user_id);
        if let Some(ip) = ip {
            q.push(" AND ip IN (").text(ip).push(", '')");
        }
        self.exec_logged(tenant, &q, events, "conflict").await
    }

    /// The IPs a user is blocked from.
    pub async fn user_block_ips(&self, tenant: i64, user_id: &str) -> Result<Vec<String>> {
        let mut q = Sql::new("SELECT ip FROM login_failures WHERE tenant_id = ");
        q.int(tenant).push(" AND user_id = ").text(user_id).push(" AND blocked_at IS NOT NULL ORDER BY ip");
        let rows = q.build().fetch_all(&self.pool).await?;
        rows.iter().map(|r| get_str(r, "ip")).collect()
    }

    pub async fn ip_blocked(&self, tenant: i64, ip: &str) -> Result<bool> {
        let mut q = Sql::new("SELECT 1 AS x FROM ip_blocks WHERE tenant_id = ");
        q.int(tenant).push(" AND ip = ").text(ip);
        Ok(q.build().fetch_optional(&self.pool).await?.is_some())
    }

    pub async fn block_ip(&self, tenant: i64, ip: &str, now: i64, events: &[LogEvent]) -> Result<()> {
        let mut q = Sql::new("INSERT INTO ip_blocks (tenant_id, ip, blocked_at) VALUES (");
        q.int(tenant).push(", ").text(ip).push(", ").int(now).push(") ON CONFLICT (tenant_id, ip) DO NOTHING");
        self.exec_logged(tenant, &q, events, "conflict").await?;
        Ok(())
    }

    pub async fn unblock_ip(&self, tenant: i64, ip: &str, events: &[LogEvent]) -> Result<u64> {
        let mut q = Sql::new("DELETE FROM ip_blocks WHERE tenant_id = ");
        q.int(tenant).push(" AND ip = ").text(ip);
        self.exec_logged(tenant, &q, events, "conflict").await
    }
}

/// A login session to store (its cookie only as a hash).
#[derive(Debug, Clone)]
pub struct NewSession {
    pub id: String,
    pub cookie_hash: String,
    pub user_id: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub doc: Value,
}

/// Which refresh tokens to revoke.
#[derive(Debug, Clone, Copy)]
pub enum RevokeBy<'a> {
    Id(&'a str),
    Family(&'a str),
    User { user_id: &'a str, client_id: Option<&'a str> },
    Session(&'a str),
}
