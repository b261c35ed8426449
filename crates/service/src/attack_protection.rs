//! Attack protection settings (`/api/v2/attack-protection/*`) in Auth0's
//! shapes and with its defaults, kept in the tenant's settings: brute-force
//! protection and suspicious-IP throttling (both enforced at password
//! login), and breached-password detection (stored only: castellan has no
//! breached-password corpus). A PATCH merges into the current object
//! (objects key by key, arrays replaced) and answers the whole object.

use castellan_domain::ip;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::login::BRUTE_FORCE_THRESHOLD;
use crate::{App, Principal, ServiceError, Tenant};

/// How failed logins are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BruteForceMode {
    /// Per user and IP (Auth0's default).
    #[default]
    CountPerIdentifierAndIp,
    /// Per user, all IPs together (Account Lockout).
    CountPerIdentifier,
}

fn yes() -> bool {
    true
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BruteForceProtection {
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default = "BruteForceProtection::default_shields")]
    pub shields: Vec<String>,
    #[serde(default)]
    pub mode: BruteForceMode,
    #[serde(default)]
    pub allowlist: Vec<String>,
    #[serde(default = "BruteForceProtection::default_max_attempts")]
    pub max_attempts: i64,
}

impl BruteForceProtection {
    fn default_shields() -> Vec<String> {
        strings(&["block", "user_notification"])
    }
    fn default_max_attempts() -> i64 {
        BRUTE_FORCE_THRESHOLD
    }
    /// Whether failed logins from `ip` can block a user.
    pub fn blocks(&self, ip: &str) -> bool {
        self.enabled && self.shields.iter().any(|s| s == "block") && !ip::allowlisted(&self.allowlist, ip)
    }
}

impl Default for BruteForceProtection {
    fn default() -> Self {
        BruteForceProtection {
            enabled: true,
            shields: Self::default_shields(),
            mode: BruteForceMode::default(),
            allowlist: Vec::new(),
            max_attempts: Self::default_max_attempts(),
        }
    }
}

/// `max_attempts` in a bucket that gains one attempt every `rate` ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageRate {
    pub max_attempts: i64,
    pub rate: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThrottlingStages {
    #[serde(rename = "pre-login", default = "ThrottlingStages::pre_login")]
    pub pre_login: StageRate,
    #[serde(rename = "pre-user-registration", default = "ThrottlingStages::pre_user_registration")]
    pub pre_user_registration: StageRate,
    #[serde(rename = "pre-custom-token-exchange", default = "ThrottlingStages::pre_custom_token_exchange")]
    pub pre_custom_token_exchange: StageRate,
}

impl ThrottlingStages {
    fn pre_login() -> StageRate {
        StageRate { max_attempts: 100, rate: 864_000 }
    }
    fn pre_user_registration() -> StageRate {
        StageRate { max_attempts: 50, rate: 1_728_000 }
    }
    fn pre_custom_token_exchange() -> StageRate {
        StageRate { max_attempts: 10, rate: 600_000 }
    }
}

impl Default for ThrottlingStages {
    fn default() -> Self {
        ThrottlingStages {
            pre_login: Self::pre_login(),
            pre_user_registration: Self::pre_user_registration(),
            pre_custom_token_exchange: Self::pre_custom_token_exchange(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SuspiciousIpThrottling {
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default = "SuspiciousIpThrottling::default_shields")]
    pub shields: Vec<String>,
    #[serde(default)]
    pub allowlist: Vec<String>,
    #[serde(default)]
    pub stage: ThrottlingStages,
}

impl SuspiciousIpThrottling {
    fn default_shields() -> Vec<String> {
        strings(&["block", "admin_notification"])
    }
    /// Whether failed logins from `ip` can throttle it.
    pub fn throttles(&self, ip: &str) -> bool {
        self.enabled && self.shields.iter().any(|s| s == "block") && !ip::allowlisted(&self.allowlist, ip)
    }
}

impl Default for SuspiciousIpThrottling {
    fn default() -> Self {
        SuspiciousIpThrottling {
            enabled: true,
            shields: Self::default_shields(),
            allowlist: Vec::new(),
            stage: ThrottlingStages::default(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StageShields {
    #[serde(default)]
    pub shields: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BreachedPasswordStages {
    #[serde(rename = "pre-user-registration", default)]
    pub pre_user_registration: StageShields,
    #[serde(rename = "pre-change-password", default)]
    pub pre_change_password: StageShields,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BreachedPasswordDetection {
    #[serde(default)]
    pub enabled: bool,
    #[serde(default)]
    pub shields: Vec<String>,
    #[serde(default)]
    pub admin_notification_frequency: Vec<String>,
    #[serde(default = "BreachedPasswordDetection::default_method")]
    pub method: String,
    #[serde(default)]
    pub stage: BreachedPasswordStages,
}

impl BreachedPasswordDetection {
    fn default_method() -> String {
        "standard".into()
    }
}

impl Default for BreachedPasswordDetection {
    fn default() -> Self {
        BreachedPasswordDetection {
            enabled: false,
            shields: Vec::new(),
            admin_notification_frequency: Vec::new(),
            method: Self::default_method(),
            stage: BreachedPasswordStages::default(),
        }
    }
}

/// One of the attack protection objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protection {
    BruteForce,
    SuspiciousIp,
    BreachedPassword,
}

impl Protection {
    /// Its key in the tenant's settings.
    pub fn key(self) -> &'static str {
        match self {
            Protection::BruteForce => "brute_force_protection",
            Protection::SuspiciousIp => "suspicious_ip_throttling",
            Protection::BreachedPassword => "breached_password_detection",
        }
    }
}

/// At most this many allowlist entries (what Auth0's dashboard accepts).
const MAX_ALLOWLIST: usize = 100;

/// `patch` merged into `base`: objects key by key, anything else replaced.
fn merge(base: &mut Value, patch: &Value) {
    match (base, patch) {
        (Value::Object(b), Value::Object(p)) => {
            for (k, v) in p {
                match b.get_mut(k) {
                    Some(existing) if existing.is_object() && v.is_object() => merge(existing, v),
                    _ => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (b, p) => *b = p.clone(),
    }
}

fn invalid(message: String) -> ServiceError {
    ServiceError::bad_request(message, Some("invalid_body"))
}

/// Allowlist entries must be IP addresses or CIDR ranges.
fn check_allowlist(patch: &Value) -> Result<(), ServiceError> {
    let Some(list) = patch.get("allowlist").and_then(Value::as_array) else {
        return Ok(());
    };
    if list.len() > MAX_ALLOWLIST {
        return Err(invalid(format!(
            "Payload validation error: 'Array is too long ({}), maximum {MAX_ALLOWLIST}' on property allowlist.",
            list.len()
        )));
    }
    for (i, entry) in list.iter().enumerate() {
        if entry.as_str().and_then(ip::range).is_none() {
            return Err(invalid(format!(
                "Payload validation error: 'Object didn't pass validation for format ipv4, cidr, ipv6 or ipv6_cidr: {entry}' on property allowlist[{i}]."
            )));
        }
    }
    Ok(())
}

/// The stored object (or the defaults) with `patch` merged in, checked by
/// its type; `None` when the result is not a valid object.
fn merged<T: Serialize + DeserializeOwned + Default>(stored: Option<&Value>, patch: &Value) -> Option<Value> {
    let current: T = stored.and_then(|v| serde_json::from_value(v.clone()).ok()).unwrap_or_default();
    let mut doc = serde_json::to_value(current).ok()?;
    merge(&mut doc, patch);
    let checked: T = serde_json::from_value(doc).ok()?;
    serde_json::to_value(checked).ok()
}

impl App {
    /// The tenant's current object.
    pub fn attack_protection(&self, tenant: &Tenant, which: Protection) -> Value {
        let s = &tenant.settings;
        match which {
            Protection::BruteForce => json!(s.brute_force()),
            Protection::SuspiciousIp => json!(s.suspicious_ip()),
            Protection::BreachedPassword => json!(s.breached_password()),
        }
    }

    /// Merges `patch` (already checked against Auth0's schema) into the
    /// tenant's object and answers the whole object.
    pub async fn update_attack_protection(
        &self,
        tenant: &Tenant,
        caller: &Principal,
        which: Protection,
        patch: &Value,
    ) -> Result<Value, ServiceError> {
        check_allowlist(patch)?;
        let merge_into: fn(Option<&Value>, &Value) -> Option<Value> = match which {
            Protection::BruteForce => merged::<BruteForceProtection>,
            Protection::SuspiciousIp => merged::<SuspiciousIpThrottling>,
            Protection::BreachedPassword => merged::<BreachedPasswordDetection>,
        };
        // The fields are independent: a patch that fits the defaults fits any stored object.
        if merge_into(None, patch).is_none() {
            return Err(invalid("Payload validation error: 'Invalid settings'.".into()));
        }
        let value = self
            .store
            .update_tenant_setting(tenant.id, which.key(), |current| {
                let value = merge_into(current, patch).unwrap_or_else(|| current.cloned().unwrap_or(Value::Null));
                let event = self.sapi(tenant, caller, 200, Some(patch), Some(&value));
                (value, vec![event])
            })
            .await?;
        self.invalidate_tenants().await;
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_auth0s() {
        assert_eq!(
            json!(BruteForceProtection::default()),
            json!({"enabled": true, "shields": ["block", "user_notification"], "mode": "count_per_identifier_and_ip",
                   "allowlist": [], "max_attempts": 10})
        );
        assert_eq!(
            json!(SuspiciousIpThrottling::default()),
            json!({"enabled": true, "shields": ["block", "admin_notification"], "allowlist": [],
                   "stage": {"pre-login": {"max_attempts": 100, "rate": 864000},
                             "pre-user-registration": {"max_attempts": 50, "rate": 1728000},
                             "pre-custom-token-exchange": {"max_attempts": 10, "rate": 600000}}})
        );
        assert_eq!(
            json!(BreachedPasswordDetection::default()),
            json!({"enabled": false, "shields": [], "admin_notification_frequency": [], "method": "standard",
                   "stage": {"pre-user-registration": {"shields": []}, "pre-change-password": {"shields": []}}})
        );
    }

    #[test]
    fn patches_merge_objects_and_replace_arrays() {
        let stored = json!({"enabled": true, "shields": ["block"], "allowlist": ["1.1.1.1"],
                            "stage": {"pre-login": {"max_attempts": 5, "rate": 40000}}});
        let out = merged::<SuspiciousIpThrottling>(
            Some(&stored),
            &json!({"allowlist": [], "stage": {"pre-login": {"rate": 50000}}}),
        )
        .unwrap();
        assert_eq!(out["allowlist"], json!([]));
        assert_eq!(out["shields"], json!(["block"]));
        assert_eq!(out["stage"]["pre-login"], json!({"max_attempts": 5, "rate": 50000}));
        assert_eq!(out["stage"]["pre-custom-token-exchange"], json!({"max_attempts": 10, "rate": 600000}));
        assert!(merged::<BruteForceProtection>(None, &json!({"mode": "sometimes"})).is_none());
    }

    #[test]
    fn allowlists_hold_addresses_and_ranges() {
        assert!(check_allowlist(&json!({"allowlist": ["10.0.0.0/8", "::1"]})).is_ok());
        assert!(check_allowlist(&json!({"allowlist": ["10.0.0.0/8", "nope"]})).is_err());
        assert!(check_allowlist(&json!({})).is_ok());
    }
}
