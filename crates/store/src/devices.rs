//! What the Management API shows of end users' credentials: live refresh
//! tokens, one per family (a family is one grant to one device and
//! application; rotation replaces its live member but not the family), their
//! metadata, and login sessions. Lists are ordered by creation time and paged
//! by keyset (`after` the last item shown) or by offset.

use castellan_domain::log_event::LogEvent;
use serde_json::Value;
use sqlx::any::AnyRow;

use crate::auth::{rt, RefreshTokenRow, RT_COLS};
use crate::docs::parse;
use crate::sql::Sql;
use crate::{get_i64, get_opt_str, get_str, Result, Store};

/// A refresh token family as the Management API shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveRefreshToken {
    /// The family's live member (neither rotated nor revoked nor expired).
    pub row: RefreshTokenRow,
    /// When the family's first token was issued.
    pub born: i64,
    /// `refresh_token_metadata`, when set.
    pub metadata: Option<Value>,
}

/// Which live refresh tokens to list.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokenFilter<'a> {
    pub user_id: Option<&'a str>,
    pub client_id: Option<&'a str>,
    pub rotating: Option<bool>,
}

/// A position in a list ordered by (time, id): the last item already shown.
pub type Cursor = (i64, String);

/// Which refresh tokens to revoke in bulk.
#[derive(Debug, Clone, Copy)]
pub enum TokensOf<'a> {
    /// These families (refresh token ids).
    Families(&'a [String]),
    User {
        user_id: &'a str,
        client_id: Option<&'a str>,
        audience: Option<&'a str>,
    },
}

/// A login session as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionRow {
    pub id: String,
    pub user_id: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub expires_at: i64,
    pub doc: Value,
}

/// Which sessions to end.
#[derive(Debug, Clone, Copy)]
pub enum SessionsOf<'a> {
    User(&'a str),
    Id(&'a str),
}

fn live_token_conditions(q: &mut Sql, tenant: i64, f: &TokenFilter<'_>, now: i64) {
    q.push(" WHERE r.tenant_id = ").int(tenant);
    q.push(" AND r.revoked_at IS NULL AND r.rotated_at IS NULL AND (r.expires_at IS NULL OR r.expires_at > ");
    q.int(now).push(")");
    if let Some(u) = f.user_id {
        q.push(" AND r.user_id = ").text(u);
    }
    if let Some(c) = f.client_id {
        q.push(" AND r.client_id = ").text(c);
    }
    if let Some(rotating) = f.rotating {
        q.push(" AND r.rotating = ").int(i64::from(rotating));
    }
}

/// The live members with their family's birth and metadata.
fn live_token_select() -> String {
    let cols: Vec<String> =
        RT_COLS.split(',').map(str::trim).filter(|c| !c.is_empty()).map(|c| format!("r.{c} AS {c}")).collect();
    format!(
        "SELECT {}, m.doc AS metadata, (SELECT MIN(b.created_at) FROM refresh_tokens b \
         WHERE b.tenant_id = r.tenant_id AND b.family = r.family) AS born \
         FROM refresh_tokens r LEFT JOIN refresh_token_metadata m ON m.tenant_id = r.tenant_id AND m.family = r.family",
        cols.join(", ")
    )
}

fn live_token(r: &AnyRow) -> Result<LiveRefreshToken> {
    Ok(LiveRefreshToken {
        row: rt(r)?,
        born: get_i64(r, "born")?,
        metadata: get_opt_str(r, "metadata")?.map(|m| parse(&m)).transpose()?,
    })
}

const SESSION_COLS: &str = "id, user_id, created_at, updated_at, expires_at, doc";

fn session(r: &AnyRow) -> Result<SessionRow> {
    Ok(SessionRow {
        id: get_str(r, "id")?,
        user_id: get_str(r, "user_id")?,
        created_at: get_i64(r, "created_at")?,
        updated_at: get_i64(r, "updated_at")?,
        expires_at: get_i64(r, "expires_at")?,
        doc: parse(&get_str(r, "doc")?)?,
    })
}

fn sessions_of(q: &mut Sql, tenant: i64, of: SessionsOf<'_>) {
    q.push(" WHERE tenant_id = ").int(tenant);
    match of {
        SessionsOf::User(u) => q.push(" AND user_id = ").text(u),
        SessionsOf::Id(id) => q.push(" AND id = ").text(id),
    };
}

impl Store {
    /// Live refresh tokens, one per family, oldest family first; `after`
    /// starts past a cursor, `offset` skips more. Returns the page and how
    /// many match in all.
    pub async fn live_refresh_tokens(
        &self,
        tenant: i64,
        filter: &TokenFilter<'_>,
        now: i64,
        after: Option<&Cursor>,
        offset: u64,
        limit: u64,
    ) -> Result<(Vec<LiveRefreshToken>, u64)> {
        let mut q = Sql::new("SELECT * FROM (");
        q.push(&live_token_select());
        live_token_conditions(&mut q, tenant, filter, now);
        q.push(") t");
        if let Some((born, family)) = after {
            q.push(" WHERE (t.born > ").int(*born).push(" OR (t.born = ").int(*born);
            q.push(" AND t.family > ").text(family.clone()).push("))");
        }
        q.push(" ORDER BY t.born, t.family LIMIT ").int(limit.min(i64::MAX as u64) as i64);
        q.push(" OFFSET ").int(offset.min(i64::MAX as u64) as i64);
        let rows = q.build().fetch_all(&self.pool).await?;
        let mut c = Sql::new("SELECT COUNT(*) AS n FROM refresh_tokens r");
        live_token_conditions(&mut c, tenant, filter, now);
        let total = get_i64(&c.build().fetch_one(&self.pool).await?, "n")?.max(0) as u64;
        Ok((rows.iter().map(live_token).collect::<Result<Vec<_>>>()?, total))
    }

    /// One family's live token.
    pub async fn live_refresh_token(&self, tenant: i64, family: &str, now: i64) -> Result<Option<LiveRefreshToken>> {
        let mut q = Sql::new(&live_token_select());
        live_token_conditions(&mut q, tenant, &TokenFilter::default(), now);
        q.push(" AND r.family = ").text(family);
        q.build().fetch_optional(&self.pool).await?.as_ref().map(live_token).transpose()
    }

    /// Sets (or with `None` removes) a family's `refresh_token_metadata`.
    pub async fn set_refresh_token_metadata(
        &self,
        tenant: i64,
        family: &str,
        doc: Option<&Value>,
        events: &[LogEvent],
    ) -> Result<()> {
        let _w = self.write_guard().await;
        let mut tx = self.write_tx().await?;
        let mut d = Sql::new("DELETE FROM refresh_token_metadata WHERE tenant_id = ");
        d.int(tenant).push(" AND family = ").text(family);
        d.build().execute(&mut *tx).await?;
        if let Some(doc) = doc {
            let mut i = Sql::new("INSERT INTO refresh_token_metadata (tenant_id, family, doc) VALUES (");
            i.int(tenant).push(", ").text(family).push(", ").text(doc.to_string()).push(")");
            i.build().execute(&mut *tx).await?;
        }
        self.insert_logs_tx(&mut tx, tenant, events).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Revokes refresh token families by id, or a user's tokens (optionally
    /// only those of one client, and of one audience). Returns how many
    /// tokens were live.
    pub async fn revoke_refresh_tokens_where(
        &self,
        tenant: i64,
        which: TokensOf<'_>,
        now: i64,
        events: &[LogEvent],
    ) -> Result<u64> {
        let mut q = Sql::new("UPDATE refresh_tokens SET revoked_at = ");
        q.int(now).push(" WHERE tenant_id = ").int(tenant).push(" AND revoked_at IS NULL");
        match which {
            TokensOf::Families(ids) => {
                if ids.is_empty() {
                    self.insert_logs(tenant, events).await?;
                    return Ok(0);
                }
                q.push(" AND family IN (");
                for (i, id) in ids.iter().enumerate() {
                    if i > 0 {
                        q.push(", ");
                    }
                    q.text(id.clone());
                }
                q.push(")");
            }
            TokensOf::User { user_id, client_id, audience } => {
                q.push(" AND user_id = ").text(user_id);
                if let Some(c) = client_id {
                    q.push(" AND client_id = ").text(c);
                }
                if let Some(a) = audience {
                    q.push(" AND audience = ").text(a);
                }
            }
        }
        self.exec_logged(tenant, &q, events, "conflict").await
    }

    /// Sets (or with `None` removes) a live session's `session_metadata`.
    /// False when there is no such session.
    pub async fn set_session_metadata(
        &self,
        tenant: i64,
        id: &str,
        metadata: Option<&Value>,
        now: i64,
        events: &[LogEvent],
    ) -> Result<bool> {
        let _w = self.write_guard().await;
        let mut tx = self.write_tx().await?;
        let mut q = Sql::new("SELECT doc FROM sessions");
        sessions_of(&mut q, tenant, SessionsOf::Id(id));
        q.push(" AND revoked_at IS NULL AND expires_at > ").int(now);
        let Some(row) = q.build().fetch_optional(&mut *tx).await? else {
            return Ok(false);
        };
        let mut doc = parse(&get_str(&row, "doc")?)?;
        if let Value::Object(m) = &mut doc {
            match metadata {
                Some(v) => m.insert("session_metadata".into(), v.clone()),
                None => m.remove("session_metadata"),
            };
        }
        let mut u = Sql::new("UPDATE sessions SET doc = ");
        u.text(doc.to_string());
        sessions_of(&mut u, tenant, SessionsOf::Id(id));
        u.build().execute(&mut *tx).await?;
        self.insert_logs_tx(&mut tx, tenant, events).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// A user's live sessions, oldest first, after `after`; and how many
    /// there are in all.
    pub async fn live_sessions(
        &self,
        tenant: i64,
        user_id: &str,
        now: i64,
        after: Option<&Cursor>,
        limit: u64,
    ) -> Result<(Vec<SessionRow>, u64)> {
        let live = |q: &mut Sql| {
            q.push(" WHERE tenant_id = ").int(tenant).push(" AND user_id = ").text(user_id);
            q.push(" AND revoked_at IS NULL AND expires_at > ").int(now);
        };
        let mut q = Sql::new(&format!("SELECT {SESSION_COLS} FROM sessions"));
        live(&mut q);
        if let Some((created, id)) = after {
            q.push(" AND (created_at > ").int(*created).push(" OR (created_at = ").int(*created);
            q.push(" AND id > ").text(id.clone()).push("))");
        }
        q.push(" ORDER BY created_at, id LIMIT ").int(limit.min(i64::MAX as u64) as i64);
        let rows = q.build().fetch_all(&self.pool).await?;
        let mut c = Sql::new("SELECT COUNT(*) AS n FROM sessions");
        live(&mut c);
        let total = get_i64(&c.build().fetch_one(&self.pool).await?, "n")?.max(0) as u64;
        Ok((rows.iter().map(session).collect::<Result<Vec<_>>>()?, total))
    }

    /// A live session by id.
    pub async fn live_session(&self, tenant: i64, id: &str, now: i64) -> Result<Option<SessionRow>> {
        let mut q = Sql::new(&format!("SELECT {SESSION_COLS} FROM sessions"));
        sessions_of(&mut q, tenant, SessionsOf::Id(id));
        q.push(" AND revoked_at IS NULL AND expires_at > ").int(now);
        q.build().fetch_optional(&self.pool).await?.as_ref().map(session).transpose()
    }

    /// Ends sessions, and with `with_tokens` revokes the refresh tokens
    /// issued in them, in one transaction. Returns how many sessions were
    /// live.
    pub async fn end_sessions(
        &self,
        tenant: i64,
        of: SessionsOf<'_>,
        with_tokens: bool,
        now: i64,
        events: &[LogEvent],
    ) -> Result<u64> {
        let _w = self.write_guard().await;
        let mut tx = self.write_tx().await?;
        if with_tokens {
            let mut t = Sql::new("UPDATE refresh_tokens SET revoked_at = ");
            t.int(now).push(" WHERE tenant_id = ").int(tenant).push(" AND revoked_at IS NULL");
            t.push(" AND session_id IN (SELECT id FROM sessions");
            sessions_of(&mut t, tenant, of);
            t.push(")");
            t.build().execute(&mut *tx).await?;
        }
        let mut q = Sql::new("UPDATE sessions SET revoked_at = ");
        q.int(now);
        sessions_of(&mut q, tenant, of);
        q.push(" AND revoked_at IS NULL");
        let n = q.build().execute(&mut *tx).await?.rows_affected();
        self.insert_logs_tx(&mut tx, tenant, events).await?;
        tx.commit().await?;
        Ok(n)
    }
}
