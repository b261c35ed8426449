//! The events castellan records about API calls: who called (client, IP,
//! user agent), what (method, path, the operation's description) and the
//! redacted request and response bodies, in Auth0's `details` shape.

use castellan_domain::log_event::{redact, LogEvent};
use serde_json::{json, Value};

use crate::{App, Principal, Tenant};

/// What the HTTP layer knows about a request, for its log events.
#[derive(Debug, Clone, Default)]
pub struct RequestInfo {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// The operation, e.g. "Create a user" (Auth0's OpenAPI summary).
    pub description: String,
    /// The operation's accepted scopes (any one authorizes it).
    pub scopes: Vec<String>,
}

impl App {
    /// A `sapi` event for a successful Management API write.
    pub fn sapi(
        &self,
        tenant: &Tenant,
        caller: &Principal,
        status: u16,
        request: Option<&Value>,
        response: Option<&Value>,
    ) -> LogEvent {
        let mut e = self.event("sapi", tenant, caller);
        e.details = Some(self.api_details(caller, status, request, response));
        e
    }

    /// A `fapi` event for a failed Management API call.
    pub fn fapi(&self, tenant: &Tenant, caller: &Principal, status: u16, response: &Value) -> LogEvent {
        let mut e = self.event("fapi", tenant, caller);
        e.details = Some(self.api_details(caller, status, None, Some(response)));
        e
    }

    /// An event of `kind` attributed to the caller of a Management API call.
    pub fn event(&self, kind: &str, tenant: &Tenant, caller: &Principal) -> LogEvent {
        let mut e = LogEvent::new(kind, self.now_ms());
        e.description = Some(caller.request.description.clone()).filter(|d| !d.is_empty());
        e.client_id = caller.client_id.clone();
        e.client_name = caller.client_name.clone();
        e.ip = caller.request.ip.clone();
        e.user_agent = caller.request.user_agent.clone();
        e.hostname = Some(tenant.domain.clone());
        e
    }

    fn api_details(&self, caller: &Principal, status: u16, request: Option<&Value>, response: Option<&Value>) -> Value {
        let r = &caller.request;
        // The caller's scopes that authorize this operation (not all it holds).
        let used: Vec<&String> = caller.scopes.iter().filter(|s| r.scopes.contains(s)).collect();
        let query: serde_json::Map<String, Value> =
            r.query.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
        json!({
            "request": {
                "method": r.method.to_ascii_lowercase(),
                "path": r.path,
                "query": query,
                "body": request.map(redact).unwrap_or_else(|| json!({})),
                "channel": "api",
                "ip": r.ip,
                "userAgent": r.user_agent,
                "auth": {"strategy": "jwt", "user": {}, "credentials": {"scopes": used}},
            },
            "response": {"statusCode": status, "body": response.map(redact).unwrap_or_else(|| json!({}))},
        })
    }
}
