//! The tenant's configuration objects as Auth0 shapes them: resource servers
//! (APIs), clients (applications), client grants and connections. Fields the
//! server does not interpret yet are kept in `extra` and returned as given.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::password_policy::PolicyLevel;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scope {
    pub value: String,
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceServer {
    pub id: String,
    pub name: String,
    pub identifier: String,
    #[serde(default)]
    pub scopes: Vec<Scope>,
    pub signing_alg: String,
    pub token_lifetime: i64,
    #[serde(default)]
    pub allow_offline_access: bool,
    #[serde(default)]
    pub skip_consent_for_verifiable_first_party_clients: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub is_system: bool,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ResourceServer {
    /// `access_token_authz` and `rfc9068_profile_authz` add a `permissions` claim.
    pub fn adds_permissions_claim(&self) -> bool {
        matches!(
            self.extra.get("token_dialect").and_then(Value::as_str),
            Some("access_token_authz") | Some("rfc9068_profile_authz")
        )
    }
    /// The RFC 9068 profiles: `typ: at+jwt`, `client_id` and `jti` claims.
    pub fn rfc9068(&self) -> bool {
        matches!(
            self.extra.get("token_dialect").and_then(Value::as_str),
            Some("rfc9068_profile") | Some("rfc9068_profile_authz")
        )
    }
    pub fn enforce_policies(&self) -> bool {
        self.extra.get("enforce_policies").and_then(Value::as_bool).unwrap_or(false)
    }
    /// The HS256 signing secret, when the API signs with HS256.
    pub fn hs256_secret(&self) -> Option<&str> {
        (self.signing_alg == "HS256").then(|| self.extra.get("signing_secret").and_then(Value::as_str)).flatten()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Client {
    pub client_id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_type: Option<String>,
    #[serde(default)]
    pub grant_types: Vec<String>,
    #[serde(default)]
    pub is_first_party: bool,
    #[serde(default)]
    pub global: bool,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientGrant {
    pub id: String,
    pub client_id: String,
    pub audience: String,
    pub scope: Vec<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ConnectionOptions {
    #[serde(rename = "passwordPolicy", default, skip_serializing_if = "Option::is_none")]
    pub password_policy: Option<PolicyLevel>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_complexity_options: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requires_username: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_signup: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brute_force_protection: Option<bool>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ConnectionOptions {
    pub fn policy(&self) -> PolicyLevel {
        self.password_policy.unwrap_or(PolicyLevel::Good)
    }
    pub fn min_length(&self) -> Option<usize> {
        self.password_complexity_options
            .as_ref()
            .and_then(|o| o.get("min_length"))
            .and_then(Value::as_u64)
            .map(|n| n as usize)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Connection {
    pub id: String,
    pub name: String,
    pub strategy: String,
    #[serde(default)]
    pub options: ConnectionOptions,
    #[serde(default)]
    pub enabled_clients: Vec<String>,
    #[serde(default)]
    pub realms: Vec<String>,
    #[serde(default)]
    pub is_domain_connection: bool,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Connection {
    pub fn is_database(&self) -> bool {
        self.strategy == "auth0"
    }
}
