//! The endpoints castellan serves: (METHOD, path template) pairs spelled exactly
//! as in [`crate::endpoints::ENDPOINTS`]. Every other endpoint in that table is
//! answered with an Auth0-shaped 501, and docs/compatibility.md is rendered from
//! both lists (`UPDATE_COMPAT_DOC=1 cargo test -p castellan-http --test compat_doc`).
//!
//! Add an entry here in the same change that adds its route.

use crate::endpoints::Endpoint;

/// The Authentication API.
const AUTHENTICATION: &[(&str, &str)] = &[
    ("POST", "/oauth/token"),
    ("GET", "/.well-known/jwks.json"),
    ("GET", "/.well-known/openid-configuration"),
    ("GET", "/userinfo"),
    ("POST", "/oauth/revoke"),
    ("POST", "/dbconnections/signup"),
    ("POST", "/dbconnections/change_password"),
    ("GET", "/authorize"),
    ("GET", "/v2/logout"),
    ("POST", "/tokeninfo"),
];

/// Management API: users.
const USERS: &[(&str, &str)] = &[
    ("GET", "/api/v2/users"),
    ("POST", "/api/v2/users"),
    ("GET", "/api/v2/users/{id}"),
    ("PATCH", "/api/v2/users/{id}"),
    ("DELETE", "/api/v2/users/{id}"),
    ("GET", "/api/v2/users-by-email"),
];

/// Management API: clients, client grants, resource servers, connections.
const TENANT_CONFIG: &[(&str, &str)] = &[
    ("GET", "/api/v2/clients"),
    ("POST", "/api/v2/clients"),
    ("GET", "/api/v2/clients/{id}"),
    ("PATCH", "/api/v2/clients/{id}"),
    ("DELETE", "/api/v2/clients/{id}"),
    ("POST", "/api/v2/clients/{id}/rotate-secret"),
    ("GET", "/api/v2/client-grants"),
    ("POST", "/api/v2/client-grants"),
    ("GET", "/api/v2/client-grants/{id}"),
    ("PATCH", "/api/v2/client-grants/{id}"),
    ("DELETE", "/api/v2/client-grants/{id}"),
    ("GET", "/api/v2/resource-servers"),
    ("POST", "/api/v2/resource-servers"),
    ("GET", "/api/v2/resource-servers/{id}"),
    ("PATCH", "/api/v2/resource-servers/{id}"),
    ("DELETE", "/api/v2/resource-servers/{id}"),
    ("GET", "/api/v2/connections"),
    ("POST", "/api/v2/connections"),
    ("GET", "/api/v2/connections/{id}"),
    ("PATCH", "/api/v2/connections/{id}"),
    ("DELETE", "/api/v2/connections/{id}"),
    ("GET", "/api/v2/connections/{id}/clients"),
    ("PATCH", "/api/v2/connections/{id}/clients"),
];

/// Management API: roles, role permissions and users, users' roles and permissions.
const RBAC: &[(&str, &str)] = &[
    ("GET", "/api/v2/roles"),
    ("POST", "/api/v2/roles"),
    ("GET", "/api/v2/roles/{id}"),
    ("PATCH", "/api/v2/roles/{id}"),
    ("DELETE", "/api/v2/roles/{id}"),
    ("GET", "/api/v2/roles/{id}/permissions"),
    ("POST", "/api/v2/roles/{id}/permissions"),
    ("DELETE", "/api/v2/roles/{id}/permissions"),
    ("GET", "/api/v2/roles/{id}/users"),
    ("POST", "/api/v2/roles/{id}/users"),
    ("GET", "/api/v2/users/{id}/roles"),
    ("POST", "/api/v2/users/{id}/roles"),
    ("DELETE", "/api/v2/users/{id}/roles"),
    ("GET", "/api/v2/users/{id}/permissions"),
    ("POST", "/api/v2/users/{id}/permissions"),
    ("DELETE", "/api/v2/users/{id}/permissions"),
];

/// Management API: the hosted pages' branding.
const BRANDING: &[(&str, &str)] = &[("GET", "/api/v2/branding"), ("PATCH", "/api/v2/branding")];

/// Management API: logs.
const LOGS: &[(&str, &str)] =
    &[("GET", "/api/v2/logs"), ("GET", "/api/v2/logs/{id}"), ("GET", "/api/v2/users/{id}/logs")];

/// Management API: end users' devices, refresh tokens and sessions; user
/// blocks, attack protection and anomaly IP blocks.
const DEVICES_SESSIONS_BLOCKS: &[(&str, &str)] = &[
    ("GET", "/api/v2/device-credentials"),
    ("DELETE", "/api/v2/device-credentials/{id}"),
    ("GET", "/api/v2/refresh-tokens"),
    ("POST", "/api/v2/refresh-tokens/revoke"),
    ("GET", "/api/v2/refresh-tokens/{id}"),
    ("PATCH", "/api/v2/refresh-tokens/{id}"),
    ("DELETE", "/api/v2/refresh-tokens/{id}"),
    ("GET", "/api/v2/users/{user_id}/refresh-tokens"),
    ("DELETE", "/api/v2/users/{user_id}/refresh-tokens"),
    ("GET", "/api/v2/sessions/{id}"),
    ("PATCH", "/api/v2/sessions/{id}"),
    ("DELETE", "/api/v2/sessions/{id}"),
    ("POST", "/api/v2/sessions/{id}/revoke"),
    ("GET", "/api/v2/users/{user_id}/sessions"),
    ("DELETE", "/api/v2/users/{user_id}/sessions"),
    ("GET", "/api/v2/user-blocks"),
    ("DELETE", "/api/v2/user-blocks"),
    ("GET", "/api/v2/user-blocks/{id}"),
    ("DELETE", "/api/v2/user-blocks/{id}"),
    ("GET", "/api/v2/attack-protection/brute-force-protection"),
    ("PATCH", "/api/v2/attack-protection/brute-force-protection"),
    ("GET", "/api/v2/attack-protection/suspicious-ip-throttling"),
    ("PATCH", "/api/v2/attack-protection/suspicious-ip-throttling"),
    ("GET", "/api/v2/attack-protection/breached-password-detection"),
    ("PATCH", "/api/v2/attack-protection/breached-password-detection"),
    ("GET", "/api/v2/anomaly/blocks/ips/{id}"),
    ("DELETE", "/api/v2/anomaly/blocks/ips/{id}"),
];

const GROUPS: &[&[(&str, &str)]] =
    &[AUTHENTICATION, USERS, TENANT_CONFIG, RBAC, LOGS, BRANDING, DEVICES_SESSIONS_BLOCKS];

/// (METHOD, template) of every endpoint castellan serves.
pub fn all() -> impl Iterator<Item = &'static (&'static str, &'static str)> {
    GROUPS.iter().flat_map(|g| g.iter())
}

/// Whether castellan serves this (method, template) pair.
pub fn is_implemented(method: &str, template: &str) -> bool {
    all().any(|&(m, t)| m == method && t == template)
}

/// Whether castellan serves this endpoint.
pub fn serves(ep: &Endpoint) -> bool {
    is_implemented(ep.method, ep.path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoints::lookup;
    use std::collections::HashSet;

    #[test]
    fn every_implemented_entry_is_a_known_endpoint() {
        for &(method, template) in all() {
            assert!(
                lookup(method, template).is_some(),
                "IMPLEMENTED lists {method} {template}, which is not in ENDPOINTS \
                 (check the template's spelling, e.g. `{{id}}`, in endpoints_table.rs)"
            );
        }
    }

    #[test]
    fn no_duplicates() {
        let mut seen = HashSet::new();
        for entry in all() {
            assert!(seen.insert(entry), "{entry:?} is listed twice");
        }
    }

    #[test]
    fn serves_matches_the_list() {
        let served = lookup("GET", "/api/v2/users").map(serves);
        assert_eq!(served, Some(true));
        let not_served = lookup("GET", "/api/v2/roles/{id}/groups").map(serves);
        assert_eq!(not_served, Some(false));
    }
}
