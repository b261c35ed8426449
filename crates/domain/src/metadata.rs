//! user_metadata / app_metadata rules.
//!
//! Merge on PATCH (Auth0's documented behaviour): top-level keys merge into the
//! stored object, nested objects are replaced whole, a key set to `null` is
//! removed, and an empty object `{}` clears everything. Key names may not
//! contain `.` or `$` at any depth; app_metadata may not use Auth0's reserved
//! top-level names.

use serde_json::{Map, Value};

use crate::DomainError;

pub const RESERVED_APP_METADATA_KEYS: &[&str] = &[
    "__tenant",
    "_id",
    "blocked",
    "clientID",
    "created_at",
    "email_verified",
    "email",
    "globalClientID",
    "global_client_id",
    "identities",
    "lastIP",
    "lastLogin",
    "loginsCount",
    "metadata",
    "multifactor_last_modified",
    "multifactor",
    "updated_at",
    "user_id",
];

/// Checks a metadata object given in a request. `property` is `user_metadata`
/// or `app_metadata` and appears in the error message.
pub fn validate(property: &str, value: &Value) -> Result<(), DomainError> {
    let Value::Object(map) = value else {
        return Err(DomainError::invalid(format!(
            "'Expected type object but found type {}' on property {property}.",
            crate::validate::json_type(value)
        )));
    };
    if property == "app_metadata" {
        if let Some(k) = map.keys().find(|k| RESERVED_APP_METADATA_KEYS.contains(&k.as_str())) {
            return Err(DomainError::BadRequest(format!(
                "Payload validation error: 'app_metadata.{k}' is a reserved property name and cannot be used in app_metadata."
            )));
        }
    }
    check_keys(property, map, 0)
}

const MAX_DEPTH: usize = 32;

fn check_keys(path: &str, map: &Map<String, Value>, depth: usize) -> Result<(), DomainError> {
    if depth > MAX_DEPTH {
        return Err(DomainError::invalid(format!("'Object nesting is too deep' on property {path}.")));
    }
    for (k, v) in map {
        if k.is_empty() || k.contains('.') || k.contains('$') {
            return Err(DomainError::invalid(format!(
                "'Metadata keys must not be empty or contain \".\" or \"$\": {k}' on property {path}."
            )));
        }
        walk_value(&format!("{path}.{k}"), v, depth + 1)?;
    }
    Ok(())
}

fn walk_value(path: &str, v: &Value, depth: usize) -> Result<(), DomainError> {
    match v {
        Value::Object(m) => check_keys(path, m, depth),
        Value::Array(items) => items.iter().try_for_each(|i| walk_value(path, i, depth + 1)),
        _ => Ok(()),
    }
}

/// Applies a PATCH's metadata object to the stored one. Returns the new
/// value, or `None` when the object ends up absent (`{}` clears it, which
/// Auth0 renders as the key being absent from the user).
pub fn merge(stored: Option<&Map<String, Value>>, patch: &Map<String, Value>) -> Option<Map<String, Value>> {
    if patch.is_empty() {
        return None;
    }
    let mut out = stored.cloned().unwrap_or_default();
    for (k, v) in patch {
        if v.is_null() {
            out.remove(k);
        } else {
            out.insert(k.clone(), v.clone());
        }
    }
    if out.is_empty() {
        None
    } else {
        Some(out)
    }
}

/// Removes null members from a metadata object given at creation (Auth0
/// never stores nulls).
pub fn without_nulls(map: &Map<String, Value>) -> Option<Map<String, Value>> {
    let out: Map<String, Value> =
        map.iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k.clone(), v.clone())).collect();
    if out.is_empty() {
        None
    } else {
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => panic!("not an object"),
        }
    }

    #[test]
    fn merge_rules_table() {
        let cases: &[(Value, Value, Option<Value>)] = &[
            // top-level keys merge
            (json!({"theme":"light"}), json!({"font":"16px"}), Some(json!({"theme":"light","font":"16px"}))),
            // nested objects are replaced, not deep-merged
            (json!({"a":{"x":1,"y":2}}), json!({"a":{"z":3}}), Some(json!({"a":{"z":3}}))),
            // null deletes the key
            (json!({"a":1,"b":2}), json!({"a":null}), Some(json!({"b":2}))),
            // {} clears
            (json!({"a":1}), json!({}), None),
            // deleting the last key leaves nothing
            (json!({"a":1}), json!({"a":null}), None),
            // arrays replace
            (json!({"l":[1,2]}), json!({"l":[3]}), Some(json!({"l":[3]}))),
        ];
        for (stored, patch, want) in cases {
            let got = merge(Some(&obj(stored.clone())), &obj(patch.clone()));
            assert_eq!(got.map(Value::Object), want.clone(), "{stored} + {patch}");
        }
        assert_eq!(merge(None, &obj(json!({"a":1}))).map(Value::Object), Some(json!({"a":1})));
    }

    #[test]
    fn validation_rejects_bad_keys_and_reserved_names() {
        assert!(validate("user_metadata", &json!({"ok": {"nested": [1, {"x": 2}]}})).is_ok());
        assert!(validate("user_metadata", &json!({"a.b": 1})).is_err());
        assert!(validate("user_metadata", &json!({"a": {"$set": 1}})).is_err());
        assert!(validate("user_metadata", &json!({"a": [{"b.c": 1}]})).is_err());
        assert!(validate("user_metadata", &json!([1])).is_err());
        assert!(validate("app_metadata", &json!({"blocked": true})).is_err());
        assert!(validate("user_metadata", &json!({"blocked": true})).is_ok());
    }
}
