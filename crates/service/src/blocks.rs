//! Blocks an administrator reads and lifts: brute-force blocks of users
//! (`/user-blocks`, by user id or by identifier: email or username) and
//! blocked IP addresses (`/anomaly/blocks/ips/{ip}`: suspicious-IP
//! throttling and explicit IP blocks). Administrator blocks (`blocked: true`
//! on the user) are a different thing and are not touched here.

use castellan_domain::log_event::LogEvent;
use castellan_store::{Bucket, StoredUser};
use serde::Serialize;
use serde_json::json;

use crate::{App, Principal, ServiceError, Tenant};

/// One entry of `blocked_for`.
#[derive(Debug, Serialize)]
pub struct BlockedFor {
    pub identifier: String,
    /// Left out when failures from every IP count together (Account Lockout).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connection: Option<String>,
}

/// `{"blocked_for": [...]}`
#[derive(Debug, Serialize)]
pub struct UserBlocks {
    pub blocked_for: Vec<BlockedFor>,
}

/// How a user is named in its blocks: the identifier asked for, else its
/// email, else its username.
fn identifier(u: &StoredUser, asked: Option<&str>) -> String {
    asked.map(str::to_string).or_else(|| u.user.email.clone()).or_else(|| u.user.username.clone()).unwrap_or_default()
}

impl App {
    /// Users whose email or username is `identifier` (case-insensitively).
    async fn users_by_identifier(&self, tenant: &Tenant, identifier: &str) -> Result<Vec<StoredUser>, ServiceError> {
        let needle = identifier.trim().to_lowercase();
        let mut found = self.store.users_by_email(tenant.id, &needle).await?;
        let filter = castellan_query::Filter::Field {
            path: "username".into(),
            kind: castellan_query::FieldKind::Text { case_insensitive: true },
            cond: castellan_query::Cond::Eq(castellan_query::Scalar::Text(needle)),
        };
        let page = self.store.search_users(tenant.id, &filter, None, 0, 100, false).await?;
        for u in page.users {
            if !found.iter().any(|f| f.user.user_id == u.user.user_id) {
                found.push(u);
            }
        }
        Ok(found)
    }

    async fn blocks_of(
        &self,
        tenant: &Tenant,
        users: &[StoredUser],
        asked: Option<&str>,
        consider_enablement: bool,
    ) -> Result<UserBlocks, ServiceError> {
        let settings = tenant.settings.brute_force();
        if consider_enablement && !settings.enabled {
            return Ok(UserBlocks { blocked_for: Vec::new() });
        }
        let ids: Vec<String> = users.iter().map(|u| u.user.user_id.clone()).collect();
        let rows = self.store.login_blocks(tenant.id, &ids).await?;
        let blocked_for = rows
            .into_iter()
            .filter(|b| b.failures >= settings.max_attempts)
            .filter_map(|b| {
                let u = users.iter().find(|u| u.user.user_id == b.user_id)?;
                Some(BlockedFor {
                    identifier: identifier(u, asked),
                    ip: Some(b.ip).filter(|ip| !ip.is_empty()),
                    connection: u.user.connection().map(str::to_string),
                })
            })
            .collect();
        Ok(UserBlocks { blocked_for })
    }

    /// A user's brute-force blocks.
    pub async fn user_blocks(
        &self,
        tenant: &Tenant,
        user_id: &str,
        consider: bool,
    ) -> Result<UserBlocks, ServiceError> {
        let u = self.store.get_user(tenant.id, user_id).await?.ok_or_else(ServiceError::user_not_found)?;
        self.blocks_of(tenant, &[u], None, consider).await
    }

    /// The brute-force blocks of the users an identifier names.
    pub async fn user_blocks_by_identifier(
        &self,
        tenant: &Tenant,
        identifier: &str,
        consider: bool,
    ) -> Result<UserBlocks, ServiceError> {
        let users = self.users_by_identifier(tenant, identifier).await?;
        self.blocks_of(tenant, &users, Some(identifier), consider).await
    }

    /// Lifts the users' brute-force blocks (and forgets their failed-login
    /// counts), recording `ublkdu` for each user that was blocked.
    async fn unblock(&self, tenant: &Tenant, caller: &Principal, users: &[StoredUser]) -> Result<(), ServiceError> {
        let ids: Vec<String> = users.iter().map(|u| u.user.user_id.clone()).collect();
        let blocked = self.store.login_blocks(tenant.id, &ids).await?;
        let mut events = vec![self.sapi(tenant, caller, 204, None, None)];
        for u in users.iter().filter(|u| blocked.iter().any(|b| b.user_id == u.user.user_id)) {
            let mut e = self.event("ublkdu", tenant, caller);
            e.description = Some("User block released".into());
            e.user_id = Some(u.user.user_id.clone());
            e.user_name = u.user.email.clone().or_else(|| u.user.username.clone());
            e.connection = u.user.connection().map(str::to_string);
            events.push(e);
        }
        self.store.clear_login_blocks(tenant.id, &ids, &events).await?;
        Ok(())
    }

    pub async fn unblock_user(&self, tenant: &Tenant, caller: &Principal, user_id: &str) -> Result<(), ServiceError> {
        let u = self.store.get_user(tenant.id, user_id).await?.ok_or_else(ServiceError::user_not_found)?;
        self.unblock(tenant, caller, &[u]).await
    }

    pub async fn unblock_identifier(
        &self,
        tenant: &Tenant,
        caller: &Principal,
        identifier: &str,
    ) -> Result<(), ServiceError> {
        let users = self.users_by_identifier(tenant, identifier).await?;
        self.unblock(tenant, caller, &users).await
    }

    /// Whether logins from `ip` (a canonical address) are refused: an
    /// explicit block, or suspicious-IP throttling.
    pub async fn ip_is_blocked(&self, tenant: &Tenant, ip: &str) -> Result<bool, ServiceError> {
        if self.store.ip_blocked(tenant.id, ip).await? {
            return Ok(true);
        }
        let t = tenant.settings.suspicious_ip();
        let bucket = Bucket { max: t.stage.pre_login.max_attempts, rate_ms: t.stage.pre_login.rate };
        Ok(t.throttles(ip) && self.store.ip_throttled(tenant.id, ip, self.now_ms(), bucket).await?)
    }

    /// Lifts every block of `ip` and forgets its failed logins.
    pub async fn unblock_ip(&self, tenant: &Tenant, caller: &Principal, ip: &str) -> Result<(), ServiceError> {
        let mut events: Vec<LogEvent> = vec![self.sapi(tenant, caller, 204, None, None)];
        if self.ip_is_blocked(tenant, ip).await? {
            let mut e = self.event("ublkdu", tenant, caller);
            e.description = Some("IP address block released".into());
            e.details = Some(json!({"ip": ip}));
            events.push(e);
        }
        self.store.release_ip(tenant.id, ip, &events).await?;
        Ok(())
    }
}
