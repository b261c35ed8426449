//! The catalogue of every Auth0 endpoint (Management API v2 and Authentication
//! API): its method, path template, operationId, summary, required scopes and
//! surface. The table itself is generated from Auth0's OpenAPI files by
//! `tools/gen_endpoints.py` into `endpoints_table.rs`.
//!
//! This module also owns the path matcher used for requests no route served,
//! and the Auth0-shaped 501 answered for endpoints castellan does not serve yet.
//!
//! Path-matching rules (see [`find`]):
//! - The path is matched as sent: still percent-encoded, without the query.
//!   `%2F` therefore stays inside its segment (ids such as `samlp|conn|x` arrive
//!   as `samlp%7Cconn%7Cx` or with `%2F`), and literal segments are compared
//!   byte for byte and case-sensitively (`/api/v2/%75sers` is unknown).
//! - A `{param}` matches exactly one non-empty segment.
//! - Trailing slashes are strict: `/api/v2/users/` is not `/api/v2/users`, and
//!   `//` never matches. Auth0 answers errors in hapi/Boom's shape, and hapi's
//!   router keeps trailing slashes significant; axum's router does too, so a path
//!   that `find` resolves is one the router would have resolved had the endpoint
//!   been served.
//! - When several templates match, the method decides first (a template that
//!   has the request's method wins over one that has not), then the template
//!   with more literal segments, then the one whose first literal comes earlier
//!   (`GET /api/v2/organizations/name/members` is `/organizations/name/{name}`,
//!   not `/organizations/{id}/members`).
//! - `HEAD` is answered as `GET` when the template has no `HEAD` of its own.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::LazyLock;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// One Auth0 endpoint: one (method, path template) pair.
#[derive(Debug)]
pub struct Endpoint {
    /// Upper-case HTTP method.
    pub method: &'static str,
    /// Full path template: Management paths start with `/api/v2`; `{param}`
    /// placeholders are spelled as in the OpenAPI file.
    pub path: &'static str,
    /// The OpenAPI operationId.
    pub operation_id: &'static str,
    /// The OpenAPI summary, whitespace collapsed.
    pub summary: &'static str,
    /// A token needs any one of these scopes; empty when Auth0 lists none.
    pub scopes: &'static [&'static str],
    /// Which API the endpoint belongs to.
    pub surface: Surface,
}

/// The Auth0 API an endpoint belongs to; it decides the error body's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    /// Management API v2, under `/api/v2`.
    Management,
    /// Authentication API: `/oauth`, `/.well-known`, `/userinfo`, `/dbconnections`...
    Authentication,
}

include!("endpoints_table.rs");

/// Why [`find`] found no endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Miss {
    /// The path matches a template, but no matching template has this method.
    MethodNotAllowed,
    /// No template matches the path.
    Unknown,
}

/// Deepest template, in segments, the matcher indexes; a test checks the table
/// stays within it. Requests with more segments are unknown without a scan.
const MAX_DEPTH: usize = 16;

/// A path template split once into segments, with its endpoints (one per method).
struct Template {
    /// `Some(literal)` or `None` for a `{param}`.
    segments: Vec<Option<&'static str>>,
    literals: usize,
    endpoints: Vec<&'static Endpoint>,
}

impl Template {
    fn new(path: &'static str) -> Self {
        let segments: Vec<Option<&'static str>> = path
            .split('/')
            .skip(1)
            .map(|segment| if segment.starts_with('{') && segment.ends_with('}') { None } else { Some(segment) })
            .collect();
        let literals = segments.iter().filter(|segment| segment.is_some()).count();
        Self { segments, literals, endpoints: Vec::new() }
    }

    fn matches(&self, request: &[&str]) -> bool {
        self.segments.iter().zip(request).all(|(template, segment)| match template {
            Some(literal) => literal == segment,
            None => !segment.is_empty(),
        })
    }

    fn endpoint_for(&self, method: &str) -> Option<&'static Endpoint> {
        let exact = self.endpoints.iter().find(|ep| ep.method == method);
        let head_as_get = || (method == "HEAD").then(|| self.endpoints.iter().find(|ep| ep.method == "GET")).flatten();
        exact.or_else(head_as_get).copied()
    }

    /// More literal segments first, then the earlier first literal.
    fn specificity(&self, other: &Self) -> Ordering {
        self.literals.cmp(&other.literals).then_with(|| {
            let mine = self.segments.iter().map(Option::is_some);
            let theirs = other.segments.iter().map(Option::is_some);
            mine.cmp(theirs)
        })
    }
}

/// Templates bucketed by their number of segments.
static INDEX: LazyLock<Vec<Vec<Template>>> = LazyLock::new(|| {
    let mut by_depth: Vec<Vec<Template>> = (0..=MAX_DEPTH).map(|_| Vec::new()).collect();
    let mut position: HashMap<&'static str, (usize, usize)> = HashMap::new();
    for ep in ENDPOINTS {
        if let Some(&(depth, slot)) = position.get(ep.path) {
            if let Some(template) = by_depth.get_mut(depth).and_then(|b| b.get_mut(slot)) {
                template.endpoints.push(ep);
            }
            continue;
        }
        let mut template = Template::new(ep.path);
        let depth = template.segments.len();
        let Some(bucket) = by_depth.get_mut(depth) else {
            continue; // deeper than MAX_DEPTH: the table test forbids it
        };
        template.endpoints.push(ep);
        position.insert(ep.path, (depth, bucket.len()));
        bucket.push(template);
    }
    by_depth
});

/// Match a concrete, still percent-encoded request path (no query) against the
/// templates. A `{param}` matches one non-empty segment. When several templates
/// match, one with this method wins, then the one with more literal segments
/// (e.g. `/api/v2/jobs/users-imports` over `/api/v2/jobs/{id}`), then the one
/// whose first literal comes earlier. `HEAD` falls back to `GET`. Trailing
/// slashes and empty segments are significant, so `/api/v2/users/` is unknown.
///
/// Returns the endpoint for that method, [`Miss::MethodNotAllowed`] when the
/// path matches a template but not with this method, or [`Miss::Unknown`].
pub fn find(method: &str, path: &str) -> Result<&'static Endpoint, Miss> {
    let Some(rest) = path.strip_prefix('/') else {
        return Err(Miss::Unknown);
    };
    let mut segments = [""; MAX_DEPTH];
    let mut depth = 0;
    for segment in rest.split('/') {
        let Some(slot) = segments.get_mut(depth) else {
            return Err(Miss::Unknown);
        };
        *slot = segment;
        depth += 1;
    }
    let request = &segments[..depth];
    if request.iter().any(|segment| segment.is_empty()) {
        return Err(Miss::Unknown);
    }
    let Some(bucket) = INDEX.get(depth) else {
        return Err(Miss::Unknown);
    };

    let mut path_matched = false;
    let mut best: Option<(&Template, &'static Endpoint)> = None;
    for template in bucket.iter().filter(|t| t.matches(request)) {
        path_matched = true;
        let Some(ep) = template.endpoint_for(method) else {
            continue;
        };
        let better = match best {
            None => true,
            Some((current, _)) => template.specificity(current) == Ordering::Greater,
        };
        if better {
            best = Some((template, ep));
        }
    }
    match best {
        Some((_, ep)) => Ok(ep),
        None if path_matched => Err(Miss::MethodNotAllowed),
        None => Err(Miss::Unknown),
    }
}

/// The endpoint with exactly this method and template (as spelled in the table).
pub fn lookup(method: &str, template: &str) -> Option<&'static Endpoint> {
    ENDPOINTS
        .binary_search_by(|ep| (ep.path, ep.method).cmp(&(template, method)))
        .ok()
        .and_then(|index| ENDPOINTS.get(index))
}

/// Management API error body.
#[derive(Serialize)]
struct ManagementError {
    #[serde(rename = "statusCode")]
    status_code: u16,
    error: &'static str,
    message: String,
    #[serde(rename = "errorCode")]
    error_code: &'static str,
}

/// Authentication (OAuth) error body.
#[derive(Serialize)]
struct AuthenticationError {
    error: &'static str,
    error_description: String,
}

/// Auth0-shaped 501 for an endpoint castellan does not serve yet: the
/// Management error body under `/api/v2`, the OAuth error body elsewhere.
pub fn not_implemented(ep: &Endpoint) -> Response {
    let message = format!("castellan does not implement {} {} yet.", ep.method, ep.path);
    let body = match ep.surface {
        Surface::Management => serde_json::to_vec(&ManagementError {
            status_code: StatusCode::NOT_IMPLEMENTED.as_u16(),
            error: "Not Implemented",
            message,
            error_code: "not_implemented",
        }),
        Surface::Authentication => {
            serde_json::to_vec(&AuthenticationError { error: "not_implemented", error_description: message })
        }
    };
    // Serializing two structs of strings cannot fail; an empty body beats a panic.
    let body = body.unwrap_or_default();
    (
        StatusCode::NOT_IMPLEMENTED,
        [(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"))],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn found(method: &str, path: &str) -> (&'static str, &'static str) {
        match find(method, path) {
            Ok(ep) => (ep.method, ep.path),
            Err(miss) => panic!("{method} {path}: {miss:?}"),
        }
    }

    #[test]
    fn exact_templates() {
        assert_eq!(found("GET", "/api/v2/users"), ("GET", "/api/v2/users"));
        assert_eq!(found("POST", "/api/v2/users"), ("POST", "/api/v2/users"));
        assert_eq!(found("POST", "/oauth/token"), ("POST", "/oauth/token"));
        assert_eq!(found("GET", "/.well-known/jwks.json"), ("GET", "/.well-known/jwks.json"));
        assert_eq!(found("GET", "/api/v2/users-by-email"), ("GET", "/api/v2/users-by-email"));
    }

    #[test]
    fn params_match_one_encoded_segment() {
        assert_eq!(found("GET", "/api/v2/users/auth0%7C507f1f77bcf86cd799439011"), ("GET", "/api/v2/users/{id}"));
        // An encoded slash stays inside its segment.
        assert_eq!(found("PATCH", "/api/v2/users/samlp%7Cconn%2Fx"), ("PATCH", "/api/v2/users/{id}"));
        assert_eq!(found("DELETE", "/api/v2/users/abc/roles"), ("DELETE", "/api/v2/users/{id}/roles"));
        assert_eq!(found("DELETE", "/mfa/authenticators/x"), ("DELETE", "/mfa/authenticators/{id}"));
    }

    #[test]
    fn literal_segments_beat_params() {
        assert_eq!(found("POST", "/api/v2/jobs/users-imports"), ("POST", "/api/v2/jobs/users-imports"));
        assert_eq!(found("GET", "/api/v2/jobs/job_123"), ("GET", "/api/v2/jobs/{id}"));
        assert_eq!(found("GET", "/api/v2/branding/themes/default"), ("GET", "/api/v2/branding/themes/default"));
        assert_eq!(found("PATCH", "/api/v2/branding/themes/default"), ("PATCH", "/api/v2/branding/themes/{themeId}"));
        // Same number of literals: the earlier literal wins.
        assert_eq!(found("GET", "/api/v2/organizations/name/members"), ("GET", "/api/v2/organizations/name/{name}"));
        assert_eq!(found("GET", "/api/v2/organizations/org_1/members"), ("GET", "/api/v2/organizations/{id}/members"));
    }

    #[test]
    fn method_decides_before_specificity() {
        // Only /jobs/{id} has GET, so GET of the literal path resolves to it.
        assert_eq!(found("GET", "/api/v2/jobs/users-imports"), ("GET", "/api/v2/jobs/{id}"));
        // Only /organizations/{id}/members has POST.
        assert_eq!(found("POST", "/api/v2/organizations/name/members"), ("POST", "/api/v2/organizations/{id}/members"));
    }

    #[test]
    fn method_mismatch() {
        assert_eq!(find("PUT", "/api/v2/users").map(|_| ()), Err(Miss::MethodNotAllowed));
        assert_eq!(find("GET", "/oauth/token").map(|_| ()), Err(Miss::MethodNotAllowed));
        assert_eq!(find("DELETE", "/api/v2/jobs/users-imports").map(|_| ()), Err(Miss::MethodNotAllowed));
        // Methods are case-sensitive.
        assert_eq!(find("get", "/api/v2/users").map(|_| ()), Err(Miss::MethodNotAllowed));
    }

    #[test]
    fn head_falls_back_to_get() {
        assert_eq!(found("HEAD", "/api/v2/users/x"), ("GET", "/api/v2/users/{id}"));
        assert_eq!(find("HEAD", "/oauth/token").map(|_| ()), Err(Miss::MethodNotAllowed));
    }

    #[test]
    fn unknown_paths() {
        for path in [
            "",
            "/",
            "//",
            "api/v2/users",
            "/api/v2",
            "/api/v2/nope",
            "/api/v1/users",
            "/api/v2/%75sers",
            "/API/V2/USERS",
            "/api/v2/users/x/nope",
            "/api/v2//users",
        ] {
            assert_eq!(find("GET", path).map(|_| ()), Err(Miss::Unknown), "{path:?}");
        }
    }

    #[test]
    fn trailing_slash_is_significant() {
        // Decision: like hapi (Auth0) and axum, a trailing slash is an empty
        // last segment; it matches neither `/users` nor `/users/{id}`.
        assert_eq!(find("GET", "/api/v2/users/").map(|_| ()), Err(Miss::Unknown));
        assert_eq!(find("POST", "/oauth/token/").map(|_| ()), Err(Miss::Unknown));
        assert_eq!(find("GET", "/api/v2/users/x/").map(|_| ()), Err(Miss::Unknown));
    }

    #[test]
    fn odd_input_never_panics() {
        let huge = "/a".repeat(100_000);
        assert_eq!(find("GET", &huge).map(|_| ()), Err(Miss::Unknown));
        let deep = format!("/api/v2/users/{}", "x/".repeat(MAX_DEPTH));
        assert_eq!(find("GET", &deep).map(|_| ()), Err(Miss::Unknown));
        let long_segment = format!("/api/v2/users/{}", "%FF".repeat(50_000));
        assert_eq!(found("GET", &long_segment), ("GET", "/api/v2/users/{id}"));
        for path in ["/%", "/%zz/%00", "/api/v2/users/%E2%82", "/\u{feff}", "/api/v2/users/é"] {
            let _ = find("GET", path);
            let _ = find("", path);
        }
    }

    #[test]
    fn scopes_of_get_users() {
        let ep = lookup("GET", "/api/v2/users");
        assert_eq!(ep.map(|ep| ep.scopes), Some(&["read:users", "read:user_idp_tokens"][..]));
        assert_eq!(ep.map(|ep| ep.surface), Some(Surface::Management));
        assert_eq!(lookup("POST", "/oauth/token").map(|ep| ep.surface), Some(Surface::Authentication));
        assert!(lookup("GET", "/api/v2/users/x").is_none());
        assert!(lookup("get", "/api/v2/users").is_none());
    }

    #[test]
    fn table_is_well_formed() {
        let mut seen = HashSet::new();
        for ep in ENDPOINTS {
            assert!(ep.path.starts_with('/'), "{ep:?}");
            assert!(!ep.path.ends_with('/') && !ep.path.contains("//"), "{ep:?}");
            assert!(ep.path.split('/').count() - 1 <= MAX_DEPTH, "{ep:?}");
            assert_eq!(ep.method, ep.method.to_ascii_uppercase(), "{ep:?}");
            assert!(!ep.operation_id.is_empty(), "{ep:?}");
            assert_eq!(ep.surface == Surface::Management, ep.path.starts_with("/api/v2/"), "{ep:?}");
            assert!(seen.insert((ep.method, ep.path)), "duplicate {ep:?}");
        }
        // lookup() binary-searches: the table must be sorted by (path, method).
        assert!(ENDPOINTS.windows(2).all(|w| (w[0].path, w[0].method) < (w[1].path, w[1].method)));
    }

    #[test]
    fn every_entry_finds_itself() {
        for ep in ENDPOINTS {
            let concrete: Vec<&str> = ep.path.split('/').map(|s| if s.starts_with('{') { "x1" } else { s }).collect();
            let concrete = concrete.join("/");
            let hit = find(ep.method, &concrete);
            assert!(hit.is_ok(), "{} {concrete}: {hit:?}", ep.method);
            assert!(lookup(ep.method, ep.path).is_some_and(|found| std::ptr::eq(found, ep)));
        }
    }

    async fn body_of(response: Response) -> (StatusCode, String, String) {
        use axum::body::to_bytes;
        let status = response.status();
        let content_type =
            response.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        let bytes = match to_bytes(response.into_body(), usize::MAX).await {
            Ok(bytes) => bytes,
            Err(err) => panic!("reading the body: {err}"),
        };
        (status, content_type, String::from_utf8_lossy(&bytes).into_owned())
    }

    fn endpoint(method: &str, template: &str) -> &'static Endpoint {
        match lookup(method, template) {
            Some(ep) => ep,
            None => panic!("{method} {template} is not in the table"),
        }
    }

    #[tokio::test]
    async fn management_501_body() {
        let ep = endpoint("GET", "/api/v2/roles/{id}/users");
        let (status, content_type, body) = body_of(not_implemented(ep)).await;
        assert_eq!(status, StatusCode::NOT_IMPLEMENTED);
        assert_eq!(content_type, "application/json; charset=utf-8");
        assert_eq!(
            body,
            r#"{"statusCode":501,"error":"Not Implemented","message":"castellan does not implement GET /api/v2/roles/{id}/users yet.","errorCode":"not_implemented"}"#
        );
    }

    #[tokio::test]
    async fn authentication_501_body() {
        let ep = endpoint("POST", "/oauth/revoke");
        let (status, content_type, body) = body_of(not_implemented(ep)).await;
        assert_eq!(status, StatusCode::NOT_IMPLEMENTED);
        assert_eq!(content_type, "application/json; charset=utf-8");
        assert_eq!(
            body,
            r#"{"error":"not_implemented","error_description":"castellan does not implement POST /oauth/revoke yet."}"#
        );
    }
}
