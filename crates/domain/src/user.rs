//! The user as Auth0 shapes it, stored and rendered in one typed struct.
//!
//! Field order follows what Auth0 sends (alphabetical, then the login and
//! password bookkeeping, metadata last); absent values are left out, as
//! Auth0 leaves them out (metadata keys appear only once set).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Identity {
    pub connection: String,
    pub user_id: String,
    pub provider: String,
    #[serde(rename = "isSocial")]
    pub is_social: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default)]
    pub email_verified: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    pub identities: Vec<Identity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nickname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_verified: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub picture: Option<String>,
    pub updated_at: String,
    pub user_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocked: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_login: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logins_count: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_password_reset: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_metadata: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_metadata: Option<Map<String, Value>>,
}

impl User {
    /// The connection of the primary identity.
    pub fn connection(&self) -> Option<&str> {
        self.identities.first().map(|i| i.connection.as_str())
    }

    /// The domain part of the email, lower-cased (`email.domain` in search).
    pub fn email_domain(&self) -> Option<String> {
        self.email.as_deref().and_then(|e| e.rsplit_once('@')).map(|(_, d)| d.to_lowercase())
    }

    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// Keeps only the listed top-level fields (include=true) or drops them
/// (include=false). An empty list keeps everything.
pub fn project(mut v: Value, fields: &[String], include: bool) -> Value {
    if fields.is_empty() {
        return v;
    }
    if let Value::Object(m) = &mut v {
        m.retain(|k, _| fields.iter().any(|f| f == k) == include);
    }
    v
}

/// Auth0's default picture: a Gravatar URL for the lower-cased email with
/// Auth0's initials avatar as the fallback.
pub fn default_picture(email: Option<&str>, name_or_email: &str) -> String {
    use md5::{Digest, Md5};
    let hash = hex::encode(Md5::digest(email.unwrap_or("").trim().to_lowercase().as_bytes()));
    let initials: String =
        name_or_email.chars().filter(|c| c.is_alphanumeric()).take(2).flat_map(char::to_lowercase).collect();
    let initials = if initials.is_empty() { "na".to_string() } else { initials };
    format!("https://s.gravatar.com/avatar/{hash}?s=480&r=pg&d=https%3A%2F%2Fcdn.auth0.com%2Favatars%2F{initials}.png")
}

/// The part of an email before the last `@`.
pub fn email_local_part(email: &str) -> &str {
    email.rsplit_once('@').map(|(l, _)| l).unwrap_or(email)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picture_matches_auth0_recording() {
        let p = default_picture(Some("chuck@example.com"), "chuck@example.com");
        assert!(p.starts_with("https://s.gravatar.com/avatar/0b79e7"), "{p}");
        assert!(p.ends_with("avatars%2Fch.png"), "{p}");
    }

    #[test]
    fn projection_includes_or_excludes() {
        let v = serde_json::json!({"a":1,"b":2,"c":3});
        assert_eq!(project(v.clone(), &["a".into(), "c".into()], true), serde_json::json!({"a":1,"c":3}));
        assert_eq!(project(v.clone(), &["a".into()], false), serde_json::json!({"b":2,"c":3}));
        assert_eq!(project(v.clone(), &[], false), v);
    }
}
