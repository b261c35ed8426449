//! Tenants: resolved from the request's host, with their signing keys parsed
//! once and cached. Settings are re-read every few seconds so a change made
//! by another instance or the CLI takes effect without a restart.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use castellan_crypto::{KeyRing, SecretBox, SecretHasher, SigningKey};
use serde::{Deserialize, Serialize};
use tokio::sync::RwLock;

use crate::attack_protection::{BreachedPasswordDetection, BruteForceProtection, SuspiciousIpThrottling};
use crate::{App, ServiceError};

const SETTINGS_TTL: Duration = Duration::from_secs(5);

/// castellan's own tenant settings (beyond Auth0's).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TenantSettings {
    /// Lifts Auth0's 1000-result offset-paging cap on user search and on a
    /// role's users.
    #[serde(default)]
    pub lift_search_cap: bool,
    /// Days log events are kept (default 30).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_retention_days: Option<i64>,
    /// Auth0's branding settings (`/api/v2/branding`): logo_url, colors…
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branding: Option<serde_json::Value>,
    /// `/api/v2/attack-protection/*`; absent: Auth0's defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brute_force_protection: Option<BruteForceProtection>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspicious_ip_throttling: Option<SuspiciousIpThrottling>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub breached_password_detection: Option<BreachedPasswordDetection>,
}

impl TenantSettings {
    pub fn brute_force(&self) -> BruteForceProtection {
        self.brute_force_protection.clone().unwrap_or_default()
    }

    pub fn suspicious_ip(&self) -> SuspiciousIpThrottling {
        self.suspicious_ip_throttling.clone().unwrap_or_default()
    }

    pub fn breached_password(&self) -> BreachedPasswordDetection {
        self.breached_password_detection.clone().unwrap_or_default()
    }

    pub fn log_retention_days(&self) -> i64 {
        self.log_retention_days.unwrap_or(30).clamp(1, 3650)
    }
}

#[derive(Debug)]
pub struct Tenant {
    pub id: i64,
    pub domain: String,
    pub issuer: String,
    pub management_audience: String,
    pub keys: KeyRing,
    pub secrets: SecretHasher,
    /// Seals secrets castellan must show again (client secrets).
    pub sealer: SecretBox,
    pub settings: TenantSettings,
    /// Management API tokens verified while this copy of the tenant is in
    /// use (see `token::VerifiedTokens`).
    pub verified: crate::token::VerifiedTokens,
}

#[derive(Default)]
pub(crate) struct TenantCache {
    by_domain: RwLock<HashMap<String, (Instant, Arc<Tenant>)>>,
}

impl App {
    /// The tenant for a Host header value (`host[:port]`, case-insensitive).
    pub async fn tenant_for_host(&self, host: &str) -> Result<Option<Arc<Tenant>>, ServiceError> {
        let domain = host.trim().to_ascii_lowercase();
        if let Some((at, t)) = self.tenants.by_domain.read().await.get(&domain) {
            if at.elapsed() < SETTINGS_TTL {
                return Ok(Some(t.clone()));
            }
        }
        let Some(row) = self.store.tenant_by_domain(&domain).await? else {
            return Ok(None);
        };
        let keys = self.store.signing_keys(row.id).await?;
        let mut ring = Vec::with_capacity(keys.len());
        for k in keys {
            let der = base64::engine::general_purpose::STANDARD
                .decode(&k.der_b64)
                .map_err(|e| ServiceError::Internal(format!("stored key {}: {e}", k.kid)))?;
            ring.push(Arc::new(SigningKey::from_pkcs8(&der)?));
        }
        let hash_key = hex::decode(&row.hash_key).map_err(|e| ServiceError::Internal(e.to_string()))?;
        let tenant = Arc::new(Tenant {
            id: row.id,
            issuer: format!("https://{}/", row.domain),
            management_audience: format!("https://{}/api/v2/", row.domain),
            domain: row.domain,
            keys: KeyRing { keys: ring },
            secrets: SecretHasher::new(&hash_key),
            sealer: SecretBox::derive(&hash_key)?,
            settings: serde_json::from_value(row.settings).unwrap_or_default(),
            verified: Default::default(),
        });
        self.tenants.by_domain.write().await.insert(domain, (Instant::now(), tenant.clone()));
        Ok(Some(tenant))
    }

    /// Forgets cached tenants (after a change made in this process).
    pub async fn invalidate_tenants(&self) {
        self.tenants.by_domain.write().await.clear();
    }
}

impl App {
    /// PATCH /api/v2/branding: top-level properties replace, null removes.
    pub async fn update_branding(
        &self,
        tenant: &Tenant,
        caller: &crate::Principal,
        body: &serde_json::Value,
    ) -> Result<serde_json::Value, ServiceError> {
        let mut settings = tenant.settings.clone();
        let mut branding = settings.branding.clone().unwrap_or_else(|| serde_json::json!({}));
        if let Some(b) = branding.as_object_mut() {
            crate::patching::merge_top_level(b, body, &[]);
        }
        settings.branding = Some(branding.clone());
        let json = serde_json::to_value(&settings).map_err(|e| ServiceError::Internal(e.to_string()))?;
        let event = self.sapi(tenant, caller, 200, Some(body), Some(&branding));
        self.store.update_tenant_settings(tenant.id, &json, &[event]).await?;
        self.invalidate_tenants().await;
        Ok(branding)
    }
}
