//! Dashboard administrators: sign-in with a password (bcrypt on the shared
//! hasher pool, lockout after repeated failures), server-side sessions with
//! an idle and an absolute expiry, the per-session CSRF token, and the
//! `Principal` under which an administrator's actions run (so they go
//! through the same use cases, and leave the same events, as the API).

use castellan_domain::ids;
use castellan_store::{DashboardAdmin, DashboardSession, RevokeBy};

use crate::{App, Principal, RequestInfo, ServiceError, Tenant};

/// A session ends after this long without a request...
pub const IDLE_MS: i64 = 30 * 60 * 1000;
/// ...and in any case after this long.
pub const ABSOLUTE_MS: i64 = 12 * 3600 * 1000;
/// Failed sign-ins before the account is locked, and for how long.
pub const MAX_FAILURES: i64 = 5;
pub const LOCK_MS: i64 = 15 * 60 * 1000;
/// `last_seen_at` is written at most this often.
const TOUCH_EVERY_MS: i64 = 60 * 1000;

/// The name under which dashboard actions appear in log events.
pub const DASHBOARD_CLIENT_NAME: &str = "castellan dashboard";

#[derive(Debug, Clone, PartialEq)]
pub enum SignInError {
    /// Unknown email or wrong password (not told apart).
    Wrong,
    /// Too many failures: try again later.
    Locked,
    Internal,
}

/// A signed-in administrator.
#[derive(Debug, Clone)]
pub struct AdminSession {
    pub admin: DashboardAdmin,
    pub session: DashboardSession,
}

fn normalize(email: &str) -> String {
    email.trim().to_ascii_lowercase()
}

impl App {
    /// Creates a dashboard administrator (at tenant bootstrap, or added by
    /// another one).
    pub async fn create_dashboard_admin(
        &self,
        tenant_id: i64,
        email: &str,
        password: &str,
    ) -> Result<(), ServiceError> {
        if password.len() < 8 {
            return Err(ServiceError::bad_request("The administrator password must have at least 8 characters.", None));
        }
        let hash = self.hasher.hash(password.to_string()).await?;
        let admin = DashboardAdmin {
            id: ids::prefixed("adm"),
            email: normalize(email),
            password_hash: hash,
            created_at: self.now_ms(),
            last_login_at: None,
            failures: 0,
            locked_until: None,
        };
        self.store.insert_dashboard_admin(tenant_id, &admin).await?;
        Ok(())
    }

    pub async fn list_dashboard_admins(&self, tenant: &Tenant) -> Result<Vec<DashboardAdmin>, ServiceError> {
        Ok(self.store.list_dashboard_admins(tenant.id).await?)
    }

    /// Another administrator, added by a signed-in one.
    pub async fn add_dashboard_admin(
        &self,
        tenant: &Tenant,
        by: &DashboardAdmin,
        email: &str,
        password: &str,
    ) -> Result<(), ServiceError> {
        let email = normalize(email);
        let valid = email.split_once('@').is_some_and(|(l, d)| !l.is_empty() && d.contains('.'))
            && !email.chars().any(char::is_whitespace);
        if !valid {
            return Err(ServiceError::bad_request("Enter the new administrator's email address.", None));
        }
        match self.create_dashboard_admin(tenant.id, &email, password).await {
            Err(ServiceError::Conflict { .. }) => Err(ServiceError::Conflict {
                message: format!("{email} is already an administrator."),
                code: "admin_exists",
            }),
            Err(e) => Err(e),
            Ok(()) => {
                tracing::info!(tenant = %tenant.domain, by = %by.id, email = %email, "dashboard administrator added");
                Ok(())
            }
        }
    }

    /// Removes an administrator and ends their sessions. Never oneself
    /// (another administrator must do it), never the tenant's last one.
    pub async fn remove_dashboard_admin(
        &self,
        tenant: &Tenant,
        by: &DashboardAdmin,
        id: &str,
    ) -> Result<(), ServiceError> {
        if id == by.id {
            return Err(ServiceError::bad_request(
                "You cannot remove yourself: another administrator has to do it.",
                None,
            ));
        }
        if self.store.dashboard_admin(tenant.id, id).await?.is_none() {
            return Err(ServiceError::NotFound {
                message: "The administrator does not exist.".into(),
                code: "inexistent_admin",
            });
        }
        if !self.store.delete_dashboard_admin(tenant.id, id).await? {
            return Err(ServiceError::bad_request("The last administrator cannot be removed.", None));
        }
        tracing::info!(tenant = %tenant.domain, by = %by.id, admin = %id, "dashboard administrator removed");
        Ok(())
    }

    /// Checks the credentials; on success opens a session and returns its
    /// cookie value (stored only as a hash).
    pub async fn dashboard_sign_in(
        &self,
        tenant: &Tenant,
        email: &str,
        password: &str,
        info: &RequestInfo,
    ) -> Result<String, SignInError> {
        let internal = |_| SignInError::Internal;
        let now = self.now_ms();
        let found = self.store.dashboard_admin_by_email(tenant.id, &normalize(email)).await.map_err(internal)?;
        let Some(admin) = found else {
            // Spend the same time as a real check, so emails cannot be probed.
            let _ = self.hasher.hash(password.to_string()).await;
            tracing::info!(tenant = %tenant.domain, ip = ?info.ip, "dashboard sign-in failed (unknown email)");
            return Err(SignInError::Wrong);
        };
        if admin.locked_until.is_some_and(|t| t > now) {
            return Err(SignInError::Locked);
        }
        let ok = self
            .hasher
            .verify(password.to_string(), admin.password_hash.clone())
            .await
            .map_err(|_| SignInError::Internal)?;
        if !ok {
            // A lock that has run out starts a fresh count.
            let before = if admin.locked_until.is_some() { 0 } else { admin.failures };
            let failures = before + 1;
            let lock = (failures >= MAX_FAILURES).then_some(now + LOCK_MS);
            self.store
                .record_dashboard_sign_in(tenant.id, &admin.id, now, false, failures, lock)
                .await
                .map_err(internal)?;
            tracing::info!(tenant = %tenant.domain, admin = %admin.id, ip = ?info.ip, failures, "dashboard sign-in failed");
            return Err(if lock.is_some() { SignInError::Locked } else { SignInError::Wrong });
        }
        self.store.record_dashboard_sign_in(tenant.id, &admin.id, now, true, 0, None).await.map_err(internal)?;
        let cookie = ids::client_secret();
        self.store
            .insert_dashboard_session(
                tenant.id,
                &ids::random_token(24),
                &self.dashboard_cookie_hash(tenant, &cookie),
                &admin.id,
                now,
                now + ABSOLUTE_MS,
            )
            .await
            .map_err(internal)?;
        tracing::info!(tenant = %tenant.domain, admin = %admin.id, ip = ?info.ip, "dashboard sign-in");
        Ok(cookie)
    }

    fn dashboard_cookie_hash(&self, tenant: &Tenant, cookie: &str) -> String {
        tenant.secrets.hash(&format!("dashboard-session:{cookie}"))
    }

    /// The live session behind a cookie (and records the activity).
    pub async fn dashboard_session(&self, tenant: &Tenant, cookie: &str) -> Result<Option<AdminSession>, ServiceError> {
        let now = self.now_ms();
        let hash = self.dashboard_cookie_hash(tenant, cookie);
        let Some(session) = self.store.dashboard_session(tenant.id, &hash, now, now - IDLE_MS).await? else {
            return Ok(None);
        };
        let Some(admin) = self.store.dashboard_admin(tenant.id, &session.admin_id).await? else {
            return Ok(None);
        };
        if now - session.last_seen_at >= TOUCH_EVERY_MS {
            self.store.touch_dashboard_session(tenant.id, &session.id, now).await?;
        }
        Ok(Some(AdminSession { admin, session }))
    }

    pub async fn dashboard_sign_out(&self, tenant: &Tenant, session_id: &str) -> Result<(), ServiceError> {
        self.store.revoke_dashboard_session(tenant.id, session_id, self.now_ms()).await?;
        Ok(())
    }

    /// The CSRF token of the session behind `cookie` (a keyed hash of it:
    /// a page from another site can neither read nor compute it).
    pub fn dashboard_csrf(&self, tenant: &Tenant, cookie: &str) -> String {
        tenant.secrets.hash(&format!("dashboard-csrf:{cookie}"))
    }

    /// The caller for an administrator's action: the scopes it needs, and
    /// the request described as the equivalent Management API call.
    pub fn dashboard_principal(&self, admin: &DashboardAdmin, scopes: &[&str], request: RequestInfo) -> Principal {
        Principal {
            subject: format!("dashboard|{}", admin.id),
            client_id: None,
            client_name: Some(DASHBOARD_CLIENT_NAME.into()),
            scopes: std::sync::Arc::new(scopes.iter().map(|s| s.to_string()).collect()),
            request,
        }
    }

    /// Revokes one of a user's refresh tokens (the dashboard's "Unlink"),
    /// recorded as a Management API write.
    pub async fn revoke_user_refresh_token(
        &self,
        tenant: &Tenant,
        caller: &Principal,
        user_id: &str,
        token_id: &str,
    ) -> Result<(), ServiceError> {
        let row = self.store.refresh_token(tenant.id, token_id).await?;
        if row.as_ref().map(|r| r.user_id.as_str()) != Some(user_id) {
            return Err(ServiceError::NotFound {
                message: "The refresh token does not exist.".into(),
                code: "refresh_token_not_found",
            });
        }
        let event = self.sapi(tenant, caller, 204, None, None);
        self.store.revoke_refresh_tokens(tenant.id, RevokeBy::Id(token_id), self.now_ms(), &[event]).await?;
        Ok(())
    }
}
