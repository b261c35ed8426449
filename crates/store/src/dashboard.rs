//! Dashboard administrators (a sign-in identity per tenant, separate from
//! the tenant's end users) and their server-side sessions. Passwords are
//! stored only as bcrypt hashes, session cookies only as keyed hashes.

use sqlx::any::AnyRow;
use sqlx::Row;

use crate::sql::{Arg, Sql};
use crate::{get_i64, get_str, Result, Store};

#[derive(Debug, Clone, PartialEq)]
pub struct DashboardAdmin {
    pub id: String,
    pub email: String,
    pub password_hash: String,
    pub created_at: i64,
    pub last_login_at: Option<i64>,
    /// Failed sign-ins since the last success.
    pub failures: i64,
    pub locked_until: Option<i64>,
}

/// A live dashboard session.
#[derive(Debug, Clone, PartialEq)]
pub struct DashboardSession {
    pub id: String,
    pub admin_id: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
}

const ADMIN_COLS: &str = "id, email, password_hash, created_at, last_login_at, failures, locked_until";

fn admin(r: &AnyRow) -> Result<DashboardAdmin> {
    Ok(DashboardAdmin {
        id: get_str(r, "id")?,
        email: get_str(r, "email")?,
        password_hash: get_str(r, "password_hash")?,
        created_at: get_i64(r, "created_at")?,
        last_login_at: r.try_get::<Option<i64>, _>("last_login_at")?,
        failures: get_i64(r, "failures")?,
        locked_until: r.try_get::<Option<i64>, _>("locked_until")?,
    })
}

impl Store {
    pub async fn insert_dashboard_admin(&self, tenant: i64, a: &DashboardAdmin) -> Result<()> {
        let mut q = Sql::new(&format!("INSERT INTO dashboard_admins (tenant_id, {ADMIN_COLS}) VALUES ("));
        q.int(tenant).push(", ").text(&a.id).push(", ").text(&a.email).push(", ").text(&a.password_hash);
        q.push(", ").int(a.created_at).push(", ").arg(a.last_login_at.map(Arg::I64).unwrap_or(Arg::NullI64));
        q.push(", ").int(a.failures).push(", ").arg(a.locked_until.map(Arg::I64).unwrap_or(Arg::NullI64)).push(")");
        self.exec_logged(tenant, &q, &[], "dashboard administrator exists").await?;
        Ok(())
    }

    /// An administrator by (lower-cased) email.
    pub async fn dashboard_admin_by_email(&self, tenant: i64, email: &str) -> Result<Option<DashboardAdmin>> {
        let mut q = Sql::new(&format!("SELECT {ADMIN_COLS} FROM dashboard_admins WHERE tenant_id = "));
        q.int(tenant).push(" AND email = ").text(email);
        q.build().fetch_optional(&self.pool).await?.as_ref().map(admin).transpose()
    }

    pub async fn dashboard_admin(&self, tenant: i64, id: &str) -> Result<Option<DashboardAdmin>> {
        let mut q = Sql::new(&format!("SELECT {ADMIN_COLS} FROM dashboard_admins WHERE tenant_id = "));
        q.int(tenant).push(" AND id = ").text(id);
        q.build().fetch_optional(&self.pool).await?.as_ref().map(admin).transpose()
    }

    /// Every administrator of the tenant, by email.
    pub async fn list_dashboard_admins(&self, tenant: i64) -> Result<Vec<DashboardAdmin>> {
        let mut q = Sql::new(&format!("SELECT {ADMIN_COLS} FROM dashboard_admins WHERE tenant_id = "));
        q.int(tenant).push(" ORDER BY email");
        q.build().fetch_all(&self.pool).await?.iter().map(admin).collect()
    }

    /// Deletes an administrator and their sessions, unless they are the
    /// tenant's last one. False when nothing was deleted (unknown, or last).
    pub async fn delete_dashboard_admin(&self, tenant: i64, id: &str) -> Result<bool> {
        let _w = self.write_guard().await;
        let mut tx = self.write_tx().await?;
        let mut q = Sql::new("DELETE FROM dashboard_admins WHERE tenant_id = ");
        q.int(tenant).push(" AND id = ").text(id);
        q.push(" AND (SELECT COUNT(*) FROM dashboard_admins WHERE tenant_id = ").int(tenant).push(") > 1");
        if q.build().execute(&mut *tx).await?.rows_affected() != 1 {
            return Ok(false);
        }
        let mut q = Sql::new("DELETE FROM dashboard_sessions WHERE tenant_id = ");
        q.int(tenant).push(" AND admin_id = ").text(id);
        q.build().execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Records a sign-in outcome: on success the failure count is reset and
    /// `last_login_at` set; on failure `failures` and `locked_until` are stored.
    pub async fn record_dashboard_sign_in(
        &self,
        tenant: i64,
        id: &str,
        now: i64,
        success: bool,
        failures: i64,
        locked_until: Option<i64>,
    ) -> Result<()> {
        let mut q = Sql::new("UPDATE dashboard_admins SET failures = ");
        q.int(if success { 0 } else { failures });
        q.push(", locked_until = ").arg(locked_until.map(Arg::I64).unwrap_or(Arg::NullI64));
        if success {
            q.push(", last_login_at = ").int(now);
        }
        q.push(" WHERE tenant_id = ").int(tenant).push(" AND id = ").text(id);
        self.exec_logged(tenant, &q, &[], "conflict").await?;
        Ok(())
    }

    pub async fn insert_dashboard_session(
        &self,
        tenant: i64,
        id: &str,
        cookie_hash: &str,
        admin_id: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<()> {
        let mut q = Sql::new(
            "INSERT INTO dashboard_sessions (tenant_id, id, cookie_hash, admin_id, created_at, last_seen_at, expires_at) VALUES (",
        );
        q.int(tenant).push(", ").text(id).push(", ").text(cookie_hash).push(", ").text(admin_id);
        q.push(", ").int(now).push(", ").int(now).push(", ").int(expires_at).push(")");
        self.exec_logged(tenant, &q, &[], "session exists").await?;
        Ok(())
    }

    /// A session by cookie hash that is not revoked, not past its absolute
    /// expiry, and was seen after `idle_since`.
    pub async fn dashboard_session(
        &self,
        tenant: i64,
        cookie_hash: &str,
        now: i64,
        idle_since: i64,
    ) -> Result<Option<DashboardSession>> {
        let mut q = Sql::new(
            "SELECT id, admin_id, created_at, last_seen_at, expires_at FROM dashboard_sessions WHERE tenant_id = ",
        );
        q.int(tenant).push(" AND cookie_hash = ").text(cookie_hash);
        q.push(" AND revoked_at IS NULL AND expires_at > ").int(now).push(" AND last_seen_at > ").int(idle_since);
        q.build()
            .fetch_optional(&self.pool)
            .await?
            .map(|r| {
                Ok(DashboardSession {
                    id: get_str(&r, "id")?,
                    admin_id: get_str(&r, "admin_id")?,
                    created_at: get_i64(&r, "created_at")?,
                    last_seen_at: get_i64(&r, "last_seen_at")?,
                    expires_at: get_i64(&r, "expires_at")?,
                })
            })
            .transpose()
    }

    pub async fn touch_dashboard_session(&self, tenant: i64, id: &str, now: i64) -> Result<()> {
        let mut q = Sql::new("UPDATE dashboard_sessions SET last_seen_at = ");
        q.int(now).push(" WHERE tenant_id = ").int(tenant).push(" AND id = ").text(id);
        self.exec_logged(tenant, &q, &[], "conflict").await?;
        Ok(())
    }

    pub async fn revoke_dashboard_session(&self, tenant: i64, id: &str, now: i64) -> Result<()> {
        let mut q = Sql::new("UPDATE dashboard_sessions SET revoked_at = ");
        q.int(now).push(" WHERE tenant_id = ").int(tenant).push(" AND id = ").text(id);
        self.exec_logged(tenant, &q, &[], "conflict").await?;
        Ok(())
    }
}
