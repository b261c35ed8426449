//! Parsing and validating the bodies of POST and PATCH /api/v2/users, from
//! raw JSON so every message can be Auth0's (the create schema rejects
//! unknown properties; the update schema accepts and ignores them).

use serde_json::{Map, Value};

use crate::validate::{self as v, json_type};
use crate::{metadata, DomainError};

/// A validated POST /api/v2/users body.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CreateUser {
    pub connection: String,
    pub email: Option<String>,
    pub phone_number: Option<String>,
    pub user_metadata: Option<Map<String, Value>>,
    pub app_metadata: Option<Map<String, Value>>,
    pub blocked: Option<bool>,
    pub email_verified: Option<bool>,
    pub phone_verified: Option<bool>,
    pub verify_email: Option<bool>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub name: Option<String>,
    pub nickname: Option<String>,
    pub picture: Option<String>,
    pub user_id: Option<String>,
    pub password: Option<String>,
    pub username: Option<String>,
}

/// A field of a PATCH body: not sent, sent as null, or sent with a value.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Change<T> {
    #[default]
    Keep,
    Unset,
    Set(T),
}

impl<T> Change<T> {
    pub fn is_keep(&self) -> bool {
        matches!(self, Change::Keep)
    }
}

/// A validated PATCH /api/v2/users/{id} body.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserPatch {
    pub email: Change<String>,
    pub phone_number: Change<String>,
    pub given_name: Change<String>,
    pub family_name: Change<String>,
    pub name: Change<String>,
    pub nickname: Change<String>,
    pub picture: Change<String>,
    pub username: Change<String>,
    pub password: Option<String>,
    pub blocked: Option<bool>,
    pub email_verified: Option<bool>,
    pub phone_verified: Option<bool>,
    pub verify_email: Option<bool>,
    pub connection: Option<String>,
    pub user_metadata: Option<Map<String, Value>>,
    pub app_metadata: Option<Map<String, Value>>,
}

impl UserPatch {
    /// True when the body changes app_metadata and nothing else (what a token
    /// with only `update:users_app_metadata` may do).
    pub fn only_app_metadata(&self) -> bool {
        let only = UserPatch { app_metadata: self.app_metadata.clone(), ..Default::default() };
        *self == only
    }
}

const CREATE_PROPS: &[&str] = &[
    "connection",
    "email",
    "phone_number",
    "user_metadata",
    "app_metadata",
    "blocked",
    "email_verified",
    "phone_verified",
    "verify_email",
    "given_name",
    "family_name",
    "name",
    "nickname",
    "picture",
    "user_id",
    "password",
    "username",
];

fn describe(prop: &str) -> &'static str {
    match prop {
        "connection" => "Name of the connection this user should be created in.",
        "email" => "The user's email.",
        "phone_number" => "The user's phone number (following the E.164 recommendation).",
        "given_name" => "The user's given name(s).",
        "family_name" => "The user's family name(s).",
        "name" => "The user's full name.",
        "nickname" => "The user's nickname.",
        "picture" => "A URI pointing to the user's picture.",
        "user_id" => "The external user's id provided by the identity provider.",
        "password" => "Initial password for this user. Only valid for auth0 connection strategy.",
        "username" => "The user's username. Only valid if the connection requires a username.",
        _ => "",
    }
}

fn body_object(body: &Value) -> Result<&Map<String, Value>, DomainError> {
    body.as_object()
        .ok_or_else(|| DomainError::invalid(format!("'Expected type object but found type {}'.", json_type(body))))
}

/// Checks one string-valued property and returns it normalized.
fn string_prop(prop: &str, val: &Value) -> Result<String, DomainError> {
    let d = describe(prop);
    let s = v::expect_string(prop, val, d)?;
    match prop {
        "email" => {
            v::email(prop, s, d)?;
            return Ok(s.to_lowercase());
        }
        "phone_number" => v::phone(prop, s, d)?,
        "given_name" | "family_name" => v::length(prop, s, 1, 150, d)?,
        "name" | "nickname" => v::length(prop, s, 1, 300, d)?,
        "picture" => v::strict_uri(prop, s, d)?,
        "connection" => v::length(prop, s, 1, 512, d)?,
        "password" => v::length(prop, s, 1, 1024, d)?,
        "username" => {
            v::username(prop, s, d)?;
            return Ok(s.to_lowercase());
        }
        "user_id" => {
            v::length(prop, s, 0, 255, d)?;
            if s.chars().any(char::is_whitespace) {
                return Err(DomainError::invalid(format!(
                    "'String does not match pattern ^\\S*$: {s}' on property user_id ({d})."
                )));
            }
        }
        _ => {}
    }
    Ok(s.to_string())
}

fn metadata_prop(prop: &str, val: &Value) -> Result<Map<String, Value>, DomainError> {
    metadata::validate(prop, val)?;
    Ok(val.as_object().cloned().unwrap_or_default())
}

pub fn parse_create(body: &Value) -> Result<CreateUser, DomainError> {
    let map = body_object(body)?;
    if let Some(extra) = map.keys().find(|k| !CREATE_PROPS.contains(&k.as_str())) {
        return Err(DomainError::invalid(format!("'Additional properties not allowed: {extra}'.")));
    }
    let mut out = CreateUser::default();
    for (k, val) in map {
        let prop = k.as_str();
        match prop {
            "user_metadata" => out.user_metadata = metadata::without_nulls(&metadata_prop(prop, val)?),
            "app_metadata" => out.app_metadata = metadata::without_nulls(&metadata_prop(prop, val)?),
            "blocked" => out.blocked = Some(v::expect_bool(prop, val, "")?),
            "email_verified" => out.email_verified = Some(v::expect_bool(prop, val, "")?),
            "phone_verified" => out.phone_verified = Some(v::expect_bool(prop, val, "")?),
            "verify_email" => out.verify_email = Some(v::expect_bool(prop, val, "")?),
            _ => {
                let s = string_prop(prop, val)?;
                let slot = match prop {
                    "connection" => {
                        out.connection = s;
                        continue;
                    }
                    "email" => &mut out.email,
                    "phone_number" => &mut out.phone_number,
                    "given_name" => &mut out.given_name,
                    "family_name" => &mut out.family_name,
                    "name" => &mut out.name,
                    "nickname" => &mut out.nickname,
                    "picture" => &mut out.picture,
                    "user_id" => &mut out.user_id,
                    "password" => &mut out.password,
                    _ => &mut out.username,
                };
                *slot = Some(s);
            }
        }
    }
    if !map.contains_key("connection") {
        return Err(DomainError::invalid("'Missing required property: connection'."));
    }
    Ok(out)
}

const NULLABLE_STRINGS: &[&str] =
    &["email", "phone_number", "given_name", "family_name", "name", "nickname", "picture", "username"];

pub fn parse_patch(body: &Value) -> Result<UserPatch, DomainError> {
    let map = body_object(body)?;
    let mut out = UserPatch::default();
    for (k, val) in map {
        let prop = k.as_str();
        if NULLABLE_STRINGS.contains(&prop) {
            let change = if val.is_null() { Change::Unset } else { Change::Set(string_prop(prop, val)?) };
            *match prop {
                "email" => &mut out.email,
                "phone_number" => &mut out.phone_number,
                "given_name" => &mut out.given_name,
                "family_name" => &mut out.family_name,
                "name" => &mut out.name,
                "nickname" => &mut out.nickname,
                "picture" => &mut out.picture,
                _ => &mut out.username,
            } = change;
            continue;
        }
        match prop {
            "password" if !val.is_null() => out.password = Some(string_prop(prop, val)?),
            "connection" => out.connection = Some(v::expect_string(prop, val, "")?.to_string()),
            "user_metadata" => out.user_metadata = Some(metadata_prop(prop, val)?),
            "app_metadata" => out.app_metadata = Some(metadata_prop(prop, val)?),
            "blocked" => out.blocked = Some(v::expect_bool(prop, val, "")?),
            "email_verified" => out.email_verified = Some(v::expect_bool(prop, val, "")?),
            "phone_verified" => out.phone_verified = Some(v::expect_bool(prop, val, "")?),
            "verify_email" => out.verify_email = Some(v::expect_bool(prop, val, "")?),
            // Accepted by Auth0's schema and ignored here: client_id,
            // verify_phone_number, and unknown properties.
            _ => {}
        }
    }
    if out.password.is_some() && !out.email.is_keep() {
        return Err(DomainError::BadRequest("Cannot update password and email simultaneously".into()));
    }
    if out.password.is_some() && out.email_verified.is_some() {
        return Err(DomainError::BadRequest("Cannot update password and email_verified simultaneously".into()));
    }
    if !out.username.is_keep() && !out.email.is_keep() {
        return Err(DomainError::BadRequest("Cannot update username and email simultaneously".into()));
    }
    if !out.username.is_keep() && out.email_verified.is_some() {
        return Err(DomainError::BadRequest("Cannot update username and email_verified simultaneously".into()));
    }
    if !out.username.is_keep() && out.password.is_some() {
        return Err(DomainError::BadRequest("Cannot update username and password simultaneously".into()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn create_err(body: Value) -> String {
        parse_create(&body).unwrap_err().to_string()
    }

    #[test]
    fn create_accepts_a_full_body() {
        let u = parse_create(&json!({
            "connection": "Username-Password-Authentication", "email": "John@Example.com",
            "password": "x", "user_metadata": {"theme": "dark", "gone": null}, "blocked": false,
            "given_name": "John", "username": "John_D"
        }))
        .unwrap();
        assert_eq!(u.email.as_deref(), Some("john@example.com"));
        assert_eq!(u.username.as_deref(), Some("john_d"));
        assert_eq!(u.user_metadata, Some(json!({"theme": "dark"}).as_object().unwrap().clone()));
    }

    #[test]
    fn create_rejections_table() {
        let cases: &[(Value, &str)] = &[
            (json!([]), "Expected type object but found type array"),
            (json!({"email": "a@b.co"}), "Missing required property: connection"),
            (json!({"connection": "c", "enabled": true}), "Additional properties not allowed: enabled"),
            (json!({"connection": "c", "email": "foo"}), "Object didn't pass validation for format email: foo"),
            (json!({"connection": "c", "email": 5}), "Expected type string but found type integer"),
            (json!({"connection": "c", "name": ""}), "String is too short (0 chars), minimum 1"),
            (json!({"connection": "c", "given_name": "x".repeat(151)}), "String is too long (151 chars), maximum 150"),
            (json!({"connection": "c", "phone_number": "555"}), "does not match pattern"),
            (json!({"connection": "c", "blocked": "yes"}), "Expected type boolean but found type string"),
            (json!({"connection": "c", "user_metadata": {"a.b": 1}}), "must not be empty or contain"),
            (json!({"connection": "c", "app_metadata": {"email": "x"}}), "reserved property name"),
            (json!({"connection": "c", "picture": "not a url"}), "strict-uri"),
            (json!({"connection": "c", "user_id": "a b"}), "does not match pattern"),
        ];
        for (body, want) in cases {
            let got = create_err(body.clone());
            assert!(got.contains(want), "{body}: got {got:?}, want {want:?}");
        }
    }

    #[test]
    fn patch_tristate_and_conflicts() {
        let p = parse_patch(&json!({"name": null, "nickname": "n", "extra": 1})).unwrap();
        assert_eq!(p.name, Change::Unset);
        assert_eq!(p.nickname, Change::Set("n".into()));
        assert!(p.email.is_keep());
        assert!(parse_patch(&json!({"password": "x", "email": "a@b.co"})).is_err());
        assert!(parse_patch(&json!({"username": "x", "email": "a@b.co"})).is_err());
        assert!(parse_patch(&json!({"email": "nope"})).is_err());
        assert!(parse_patch(&json!("x")).is_err());
    }

    #[test]
    fn only_app_metadata_detects_other_fields() {
        assert!(parse_patch(&json!({"app_metadata": {"a": 1}})).unwrap().only_app_metadata());
        assert!(!parse_patch(&json!({"app_metadata": {"a": 1}, "name": "x"})).unwrap().only_app_metadata());
        assert!(!parse_patch(&json!({"user_metadata": {"a": 1}})).unwrap().only_app_metadata());
    }
}
