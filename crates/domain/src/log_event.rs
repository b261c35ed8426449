//! Log events as Auth0 shapes them (`GET /api/v2/logs`), and their ids.
//!
//! A `log_id` is 56 digits: `900`, the event time `yyyyMMddHHmmssSSS`, a
//! 12-digit per-process sequence and 24 random digits, so ids sort by time and
//! Lucene ranges on `log_id` (what `auth0 logs tail` sends) select "after".

use std::sync::atomic::{AtomicU64, Ordering};

use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::clock::format_ms;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LogEvent {
    // (A stored row's document may leave out what its columns hold: the
    // store fills these in, see castellan_store's `log_doc`.)
    #[serde(default)]
    pub log_id: String,
    #[serde(default)]
    pub date: String,
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<Value>,
}

impl LogEvent {
    /// A new event of `kind` at `now_ms` with a fresh id.
    pub fn new(kind: &str, now_ms: i64) -> Self {
        LogEvent { log_id: new_log_id(now_ms), date: format_ms(now_ms), kind: kind.to_string(), ..Default::default() }
    }

    /// The API shape: the event plus `_id` (equal to `log_id`).
    pub fn to_json(&self) -> Value {
        let mut v = serde_json::to_value(self).unwrap_or(Value::Null);
        if let Value::Object(m) = &mut v {
            m.insert("_id".into(), Value::String(self.log_id.clone()));
        }
        v
    }
}

static SEQ: AtomicU64 = AtomicU64::new(0);

/// `900` and the `yyyyMMddHHmmssSSS` of `ms`: every log_id of an event dated
/// `ms` starts with it, so it bounds the log_ids of a date range.
pub fn log_id_prefix(ms: i64) -> Option<String> {
    crate::clock::compact_ms(ms).map(|t| format!("900{t}"))
}

pub fn new_log_id(now_ms: i64) -> String {
    let prefix = log_id_prefix(now_ms).unwrap_or_else(|| "90019700101000000000".into());
    let seq = SEQ.fetch_add(1, Ordering::Relaxed) % 1_000_000_000_000;
    with_random(&prefix, seq)
}

fn with_random(prefix: &str, seq: u64) -> String {
    let mut rng = rand::thread_rng();
    let r1: u64 = rng.gen_range(0..1_000_000_000_000);
    let r2: u64 = rng.gen_range(0..1_000_000_000_000);
    format!("{prefix}{seq:012}{r1:012}{r2:012}")
}

/// The time (unix milliseconds) in a log_id: its `yyyyMMddHHmmssSSS`
/// after `900`. None for an id of another shape.
pub fn log_id_ms(id: &str) -> Option<i64> {
    crate::clock::parse_compact_ms(id.strip_prefix("900")?.get(..17)?)
}

/// A log_id that sorts right after `last`: the same time, the next
/// sequence number. None for an id of another shape.
pub fn log_id_after(last: &str) -> Option<String> {
    log_id_ms(last)?;
    let seq: u64 = last.get(20..32)?.parse().ok()?;
    (seq < 999_999_999_999).then(|| with_random(&last[..20], seq + 1))
}

/// Keys whose values never enter an event.
const SECRET_KEYS: &[&str] =
    &["password", "client_secret", "signing_secret", "httpAuthorization", "access_token", "refresh_token", "id_token"];

/// A copy of a request or response body fit for a log event: secrets masked
/// as Auth0 does (`*****`), bounded in size.
pub fn redact(v: &Value) -> Value {
    fn walk(v: &Value, depth: usize) -> Value {
        if depth > 8 {
            return Value::String("[…]".into());
        }
        match v {
            Value::Object(m) => {
                let mut out = Map::new();
                for (k, val) in m.iter().take(64) {
                    if SECRET_KEYS.contains(&k.as_str()) {
                        out.insert(k.clone(), Value::String("*****".into()));
                    } else {
                        out.insert(k.clone(), walk(val, depth + 1));
                    }
                }
                Value::Object(out)
            }
            Value::Array(a) => Value::Array(a.iter().take(64).map(|x| walk(x, depth + 1)).collect()),
            Value::String(s) if s.len() > 1024 => Value::String(format!("{}…", &s[..s.floor_char_boundary(1024)])),
            other => other.clone(),
        }
    }
    walk(v, 0)
}

/// The log-stream filter category of an event type (Auth0's event filters;
/// the management.*, user.* and system.* rows follow the codes' meanings).
pub fn category(kind: &str) -> &'static str {
    match kind {
        "f" | "fc" | "fco" | "fcoa" | "fens" | "fp" | "fu" => "auth.login.fail",
        "w" => "auth.login.notification",
        "s" | "scoa" | "sens" => "auth.login.success",
        "flo" | "oidc_backchannel_logout_failed" => "auth.logout.fail",
        "slo" | "oidc_backchannel_logout_succeeded" => "auth.logout.success",
        "fs" => "auth.signup.fail",
        "ss" => "auth.signup.success",
        "fsa" => "auth.silent_auth.fail",
        "ssa" => "auth.silent_auth.success",
        "feacft" | "feccft" | "fepft" | "fertft" | "ferrt" | "fede" | "feoobft" | "feotpft" | "fercft" | "fepotpft"
        | "fecte" => "auth.token_exchange.fail",
        "seacft" | "seccft" | "sepft" | "sertft" | "sede" | "seoobft" | "seotpft" | "sercft" | "srrt" => {
            "auth.token_exchange.success"
        }
        "fapi" => "management.fail",
        "sapi" | "mgmt_api_read" => "management.success",
        "fcp" | "fcpr" | "fce" | "fcu" | "fcpn" | "fdu" | "fv" | "fvr" | "fn" => "user.fail",
        "limit_wc" | "limit_sul" | "limit_mu" | "pwd_leak" | "signup_pwd_leak" | "reset_pwd_leak" | "ublkdu" => {
            "user.notification"
        }
        "scp" | "scpr" | "sce" | "scu" | "scpn" | "sdu" | "du" | "sv" | "svr" => "user.success",
        "actions_execution_failed" => "actions",
        "depnote" | "sys_update_start" | "sys_update_end" | "sys_os_update_start" | "sys_os_update_end" => {
            "system.notification"
        }
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_log_ids_time_reads_back_and_the_next_id_sorts_after_it() {
        for ms in [0, 1_674_673_226_187, 1_709_164_800_000, 4_102_444_799_999] {
            let id = new_log_id(ms);
            assert_eq!(log_id_ms(&id), Some(ms), "{id}");
            let next = log_id_after(&id).unwrap();
            assert!(next > id, "{next} after {id}");
            assert_eq!(log_id_ms(&next), Some(ms));
            assert_eq!(next.len(), id.len());
        }
        assert_eq!(log_id_ms("90020230229000000000"), None, "no 29 February in 2023");
        assert_eq!(log_id_ms("junk"), None);
        assert_eq!(log_id_after("900202301010000000009999999999990"), None);
    }

    #[test]
    fn log_ids_sort_by_time_and_are_56_digits() {
        let a = new_log_id(1_700_000_000_000);
        let b = new_log_id(1_700_000_000_001);
        assert_eq!(a.len(), 56);
        assert!(a.starts_with("90020231114221320000"), "{a}");
        assert!(a.chars().all(|c| c.is_ascii_digit()));
        assert!(a < b);
        let c = new_log_id(1_700_000_000_001);
        assert!(b < c, "same millisecond: the sequence orders them");
    }

    #[test]
    fn redaction_masks_secrets_at_any_depth() {
        let v = redact(
            &json!({"email": "a@b.co", "password": "p", "nested": {"client_secret": "s"}, "list": [{"refresh_token": "r"}]}),
        );
        assert_eq!(
            v,
            json!({"email": "a@b.co", "password": "*****", "nested": {"client_secret": "*****"}, "list": [{"refresh_token": "*****"}]})
        );
        let long = redact(&json!({"x": "é".repeat(2000)}));
        assert!(long["x"].as_str().unwrap().len() < 1100);
    }

    #[test]
    fn json_shape_has_underscore_id_and_type() {
        let mut e = LogEvent::new("seccft", 0);
        e.client_id = Some("c".into());
        let v = e.to_json();
        assert_eq!(v["_id"], v["log_id"]);
        assert_eq!(v["type"], "seccft");
        assert_eq!(v["date"], "1970-01-01T00:00:00.000Z");
        assert!(v.get("user_id").is_none());
    }
}
