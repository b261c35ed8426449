//! Roles and permissions as Auth0 shapes them, and the request bodies of the
//! RBAC endpoints parsed from raw JSON so every rejection carries Auth0's
//! `Payload validation error: ...` wording. Every body schema of these
//! endpoints rejects unknown properties (`additionalProperties: false`).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::validate::{self as v, json_type};
use crate::DomainError;

/// Most entries one request may name (roles, users or permissions). Auth0
/// documents no limit; this bounds the work of one call.
pub const MAX_ITEMS: usize = 1000;
/// Longest role name accepted.
pub const NAME_MAX: usize = 255;
/// Longest role description accepted.
pub const DESCRIPTION_MAX: usize = 1000;
/// Longest user id accepted in `users` (Auth0's `user-id-with-max-length`).
pub const USER_ID_MAX: usize = 255;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Role {
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A validated POST /api/v2/roles body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRole {
    pub name: String,
    pub description: Option<String>,
}

/// A validated PATCH /api/v2/roles/{id} body; `None` keeps the value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RolePatch {
    pub name: Option<String>,
    pub description: Option<String>,
}

impl RolePatch {
    pub fn apply(&self, role: &mut Role) {
        if let Some(n) = &self.name {
            role.name = n.clone();
        }
        if let Some(d) = &self.description {
            role.description = Some(d.clone());
        }
    }
}

/// A permission named by its API (resource server identifier) and name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PermissionRef {
    pub resource_server_identifier: String,
    pub permission_name: String,
}

/// One item of GET /roles/{id}/permissions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Permission {
    pub permission_name: String,
    /// The API scope's description; absent when the API no longer defines it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub resource_server_name: String,
    pub resource_server_identifier: String,
}

/// Where a user's permission comes from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Source {
    Direct,
    Role { id: String, name: String },
}

/// `{"source_id", "source_name", "source_type"}`: DIRECT with empty id and
/// name (as recorded), ROLE with the role's id and name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceBody {
    pub source_id: String,
    pub source_name: String,
    pub source_type: &'static str,
}

impl From<&Source> for SourceBody {
    fn from(s: &Source) -> Self {
        match s {
            Source::Direct => {
                SourceBody { source_id: String::new(), source_name: String::new(), source_type: "DIRECT" }
            }
            Source::Role { id, name } => {
                SourceBody { source_id: id.clone(), source_name: name.clone(), source_type: "ROLE" }
            }
        }
    }
}

/// One item of GET /users/{id}/permissions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserPermission {
    #[serde(flatten)]
    pub permission: Permission,
    pub sources: Vec<SourceBody>,
}

/// One item of GET /roles/{id}/users.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoleUser {
    pub user_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub picture: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

fn invalid(msg: String) -> DomainError {
    DomainError::invalid(msg)
}

/// The body as an object whose keys are all in `allowed`.
fn object<'a>(body: &'a Value, allowed: &[&str]) -> Result<&'a Map<String, Value>, DomainError> {
    let map = body
        .as_object()
        .ok_or_else(|| invalid(format!("'Expected type object but found type {}'.", json_type(body))))?;
    if let Some(extra) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(invalid(format!("'Additional properties not allowed: {extra}'.")));
    }
    Ok(map)
}

fn required<'a>(map: &'a Map<String, Value>, prop: &str, at: Option<&str>) -> Result<&'a Value, DomainError> {
    map.get(prop).ok_or_else(|| match at {
        Some(path) => invalid(format!("'Missing required property: {prop}' on property {path}.")),
        None => invalid(format!("'Missing required property: {prop}'.")),
    })
}

fn role_name(val: &Value) -> Result<String, DomainError> {
    let d = "Name of the role.";
    let s = v::expect_string("name", val, d)?;
    v::length("name", s, 1, NAME_MAX, d)?;
    if s.chars().any(char::is_control) {
        return Err(invalid(format!("'String must not contain control characters' on property name ({d}).")));
    }
    Ok(s.to_string())
}

fn role_description(val: &Value) -> Result<String, DomainError> {
    let d = "Description of the role.";
    let s = v::expect_string("description", val, d)?;
    v::length("description", s, 0, DESCRIPTION_MAX, d)?;
    if s.contains('\0') {
        return Err(invalid(format!("'String must not contain NUL characters' on property description ({d}).")));
    }
    Ok(s.to_string())
}

pub fn parse_new_role(body: &Value) -> Result<NewRole, DomainError> {
    let map = object(body, &["name", "description"])?;
    let name = role_name(required(map, "name", None)?)?;
    let description = map.get("description").map(role_description).transpose()?;
    Ok(NewRole { name, description })
}

pub fn parse_role_patch(body: &Value) -> Result<RolePatch, DomainError> {
    let map = object(body, &["name", "description"])?;
    Ok(RolePatch {
        name: map.get("name").map(role_name).transpose()?,
        description: map.get("description").map(role_description).transpose()?,
    })
}

/// The array under `prop`, with Auth0's item-count bounds.
fn array<'a>(map: &'a Map<String, Value>, prop: &str, min: usize, desc: &str) -> Result<&'a [Value], DomainError> {
    let val = required(map, prop, None)?;
    let items = val.as_array().ok_or_else(|| {
        invalid(format!("'Expected type array but found type {}' on property {prop} ({desc}).", json_type(val)))
    })?;
    if items.len() < min {
        return Err(invalid(format!(
            "'Array is too short ({}), minimum {min}' on property {prop} ({desc}).",
            items.len()
        )));
    }
    if items.len() > MAX_ITEMS {
        return Err(invalid(format!(
            "'Array is too long ({}), maximum {MAX_ITEMS}' on property {prop} ({desc}).",
            items.len()
        )));
    }
    Ok(items)
}

/// `{"permissions": [{"resource_server_identifier", "permission_name"}, ...]}`
/// (at least one), duplicates removed, order kept.
pub fn parse_permissions(body: &Value) -> Result<Vec<PermissionRef>, DomainError> {
    const DESC: &str = "array of resource_server_identifier, permission_name pairs.";
    let map = object(body, &["permissions"])?;
    let mut out: Vec<PermissionRef> = Vec::new();
    for (i, item) in array(map, "permissions", 1, DESC)?.iter().enumerate() {
        let at = format!("permissions[{i}]");
        let obj = item.as_object().ok_or_else(|| {
            invalid(format!("'Expected type object but found type {}' on property {at}.", json_type(item)))
        })?;
        if let Some(extra) = obj.keys().find(|k| *k != "resource_server_identifier" && *k != "permission_name") {
            return Err(invalid(format!("'Additional properties not allowed: {extra}' on property {at}.")));
        }
        let field = |prop: &str, desc: &str| -> Result<String, DomainError> {
            let val = required(obj, prop, Some(&at))?;
            Ok(v::expect_string(&format!("{at}.{prop}"), val, desc)?.to_string())
        };
        let p = PermissionRef {
            resource_server_identifier: field(
                "resource_server_identifier",
                "Resource server (API) identifier that this permission is for.",
            )?,
            permission_name: field("permission_name", "Name of this permission.")?,
        };
        if !out.contains(&p) {
            out.push(p);
        }
    }
    Ok(out)
}

/// `{"roles": ["rol_...", ...]}` (at least one non-empty id), deduplicated.
pub fn parse_role_ids(body: &Value, desc: &str) -> Result<Vec<String>, DomainError> {
    let map = object(body, &["roles"])?;
    let mut out: Vec<String> = Vec::new();
    for (i, item) in array(map, "roles", 1, desc)?.iter().enumerate() {
        let at = format!("roles[{i}]");
        let s = v::expect_string(&at, item, "")?;
        v::length(&at, s, 1, usize::MAX, "")?;
        if !out.iter().any(|x| x == s) {
            out.push(s.to_string());
        }
    }
    Ok(out)
}

/// `{"users": ["auth0|...", ...]}` (may be empty), deduplicated.
pub fn parse_user_ids(body: &Value) -> Result<Vec<String>, DomainError> {
    let map = object(body, &["users"])?;
    let mut out: Vec<String> = Vec::new();
    for (i, item) in array(map, "users", 0, "user_id's of the users to assign the role to.")?.iter().enumerate() {
        let at = format!("users[{i}]");
        let s = v::expect_string(&at, item, "")?;
        if s.is_empty() || s.chars().count() > USER_ID_MAX {
            return Err(invalid(format!(
                "'Object didn't pass validation for format user-id-with-max-length: {s}' on property {at}."
            )));
        }
        if !out.iter().any(|x| x == s) {
            out.push(s.to_string());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn err<T: std::fmt::Debug>(r: Result<T, DomainError>) -> String {
        r.unwrap_err().to_string()
    }

    #[test]
    fn new_role_bodies() {
        let r = parse_new_role(&json!({"name": "admin", "description": "All of it"})).unwrap();
        assert_eq!(r, NewRole { name: "admin".into(), description: Some("All of it".into()) });
        assert_eq!(parse_new_role(&json!({"name": "x"})).unwrap().description, None);
        let cases: &[(Value, &str)] = &[
            (json!([]), "Payload validation error: 'Expected type object but found type array'."),
            (json!({}), "Payload validation error: 'Missing required property: name'."),
            (json!({"name": "a", "id": "rol_x"}), "Payload validation error: 'Additional properties not allowed: id'."),
            (
                json!({"name": 5}),
                "Payload validation error: 'Expected type string but found type integer' on property name (Name of the role.).",
            ),
            (
                json!({"name": ""}),
                "Payload validation error: 'String is too short (0 chars), minimum 1' on property name (Name of the role.).",
            ),
            (
                json!({"name": "a\u{0}b"}),
                "Payload validation error: 'String must not contain control characters' on property name (Name of the role.).",
            ),
            (
                json!({"name": "a", "description": null}),
                "Payload validation error: 'Expected type string but found type null' on property description (Description of the role.).",
            ),
        ];
        for (body, want) in cases {
            assert_eq!(err(parse_new_role(body)), *want, "{body}");
        }
        assert!(
            err(parse_new_role(&json!({"name": "n".repeat(NAME_MAX + 1)}))).contains("String is too long (256 chars)")
        );
        assert!(parse_new_role(&json!({"name": "ünïcode rôle"})).is_ok());
    }

    #[test]
    fn patch_keeps_what_is_not_sent() {
        let p = parse_role_patch(&json!({"description": ""})).unwrap();
        let mut role = Role { id: "rol_1".into(), name: "a".into(), description: Some("b".into()) };
        p.apply(&mut role);
        assert_eq!((role.name.as_str(), role.description.as_deref()), ("a", Some("")));
        assert_eq!(parse_role_patch(&json!({})).unwrap(), RolePatch::default());
        assert!(err(parse_role_patch(&json!({"foo": 1}))).contains("Additional properties not allowed: foo"));
    }

    #[test]
    fn permission_bodies() {
        let body = json!({"permissions": [
            {"resource_server_identifier": "https://api", "permission_name": "read:a"},
            {"resource_server_identifier": "https://api", "permission_name": "read:a"},
            {"permission_name": "b", "resource_server_identifier": "https://api"}
        ]});
        let got = parse_permissions(&body).unwrap();
        assert_eq!(got.len(), 2, "duplicates removed");
        assert_eq!(got[1].permission_name, "b");
        let cases: &[(Value, &str)] = &[
            (json!({}), "'Missing required property: permissions'."),
            (json!({"permissions": []}), "'Array is too short (0), minimum 1' on property permissions"),
            (json!({"permissions": "x"}), "'Expected type array but found type string' on property permissions"),
            (json!({"permissions": [1]}), "'Expected type object but found type integer' on property permissions[0]."),
            (
                json!({"permissions": [{"permission_name": "a"}]}),
                "'Missing required property: resource_server_identifier' on property permissions[0].",
            ),
            (
                json!({"permissions": [{"permission_name": 1, "resource_server_identifier": "x"}]}),
                "'Expected type string but found type integer' on property permissions[0].permission_name",
            ),
            (
                json!({"permissions": [{"permission_name": "a", "resource_server_identifier": "x", "x": 1}]}),
                "'Additional properties not allowed: x' on property permissions[0].",
            ),
        ];
        for (body, want) in cases {
            let got = err(parse_permissions(body));
            assert!(got.contains(want), "{body}: {got}");
        }
        let many: Vec<Value> = (0..=MAX_ITEMS)
            .map(|i| json!({"resource_server_identifier": "a", "permission_name": i.to_string()}))
            .collect();
        assert!(
            err(parse_permissions(&json!({ "permissions": many }))).contains("Array is too long (1001), maximum 1000")
        );
    }

    #[test]
    fn id_lists() {
        let d = "List of roles IDs to associated with the user.";
        assert_eq!(parse_role_ids(&json!({"roles": ["a", "b", "a"]}), d).unwrap(), vec!["a", "b"]);
        assert!(err(parse_role_ids(&json!({"roles": []}), d)).contains("Array is too short (0), minimum 1"));
        assert!(err(parse_role_ids(&json!({"roles": [""]}), d))
            .contains("String is too short (0 chars), minimum 1' on property roles[0]"));
        assert!(err(parse_role_ids(&json!({"roles": [7]}), d)).contains("on property roles[0]"));
        assert!(err(parse_role_ids(&json!({"users": ["a"]}), d)).contains("Additional properties not allowed: users"));
        assert_eq!(parse_user_ids(&json!({"users": []})).unwrap(), Vec::<String>::new());
        assert!(err(parse_user_ids(&json!({"users": ["x".repeat(256)]}))).contains("user-id-with-max-length"));
        assert!(err(parse_user_ids(&json!({"users": [null]}))).contains("found type null' on property users[0]"));
        let many: Vec<String> = (0..=MAX_ITEMS).map(|i| i.to_string()).collect();
        assert!(err(parse_user_ids(&json!({ "users": many }))).contains("Array is too long"));
    }

    #[test]
    fn response_shapes() {
        let p = UserPermission {
            permission: Permission {
                permission_name: "read:a".into(),
                description: Some("Read A".into()),
                resource_server_name: "API".into(),
                resource_server_identifier: "https://api".into(),
            },
            sources: vec![(&Source::Direct).into(), (&Source::Role { id: "rol_1".into(), name: "R".into() }).into()],
        };
        assert_eq!(
            serde_json::to_string(&p).unwrap(),
            r#"{"permission_name":"read:a","description":"Read A","resource_server_name":"API","resource_server_identifier":"https://api","sources":[{"source_id":"","source_name":"","source_type":"DIRECT"},{"source_id":"rol_1","source_name":"R","source_type":"ROLE"}]}"#
        );
        let r = Role { id: "rol_1".into(), name: "n".into(), description: None };
        assert_eq!(serde_json::to_string(&r).unwrap(), r#"{"id":"rol_1","name":"n"}"#);
    }
}
