//! Request bodies checked against Auth0's own OpenAPI schemas, with Auth0's
//! wording: `Payload validation error: '<what>' on property <path>.`
//!
//! The schemas are extracted from the OpenAPI file by `tools/gen_schemas.py`
//! into `request_schemas.json` and parsed once. The validator understands the
//! keywords Auth0's schemas use: type (with nullable type lists), properties,
//! additionalProperties, required, enum, minLength/maxLength, minItems/
//! maxItems, minimum/maximum, min/maxProperties, items, oneOf/anyOf/allOf,
//! `$ref`, and the `email` format. Patterns and Auth0's custom formats are not
//! checked here (the service checks what it relies on).

use std::sync::OnceLock;

use serde_json::{Map, Value};

use crate::error::ApiError;

static SCHEMAS: OnceLock<Value> = OnceLock::new();

fn schemas() -> &'static Value {
    SCHEMAS.get_or_init(|| serde_json::from_str(include_str!("request_schemas.json")).unwrap_or(Value::Null))
}

const MAX_DEPTH: usize = 48;

/// Validates `body` for the operation (`"POST"`, `"/api/v2/clients"`).
/// Operations without a schema accept any JSON.
pub fn validate(method: &str, template: &str, body: &Value) -> Result<(), ApiError> {
    let all = schemas();
    let Some(schema) = all.get("ops").and_then(|o| o.get(format!("{method} {template}"))) else {
        return Ok(());
    };
    let v = Validator { defs: all.get("schemas").and_then(Value::as_object) };
    v.check(schema, body, "", 0).map_err(|e| {
        let at = if e.path.is_empty() { String::new() } else { format!(" on property {}", e.path) };
        ApiError::invalid_body(format!("Payload validation error: '{}'{at}.", e.what))
    })
}

struct Failure {
    what: String,
    path: String,
}

fn fail(what: impl Into<String>, path: &str) -> Result<(), Failure> {
    Err(Failure { what: what.into(), path: path.to_string() })
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn type_matches(t: &str, v: &Value) -> bool {
    match t {
        "number" => v.is_number(),
        "integer" => v.as_i64().is_some() || v.as_u64().is_some() || v.as_f64().is_some_and(|f| f.fract() == 0.0),
        other => type_name(v) == other,
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

struct Validator<'a> {
    defs: Option<&'a Map<String, Value>>,
}

impl Validator<'_> {
    fn check(&self, schema: &Value, v: &Value, path: &str, depth: usize) -> Result<(), Failure> {
        if depth > MAX_DEPTH {
            return fail("Too deeply nested", path);
        }
        let Some(s) = schema.as_object() else {
            return Ok(());
        };
        if let Some(r) = s.get("$ref").and_then(Value::as_str) {
            let name = r.rsplit('/').next().unwrap_or(r);
            if let Some(target) = self.defs.and_then(|d| d.get(name)) {
                self.check(target, v, path, depth + 1)?;
            }
        }
        if let Some(t) = s.get("type") {
            let ok = match t {
                Value::String(t) => type_matches(t, v),
                Value::Array(ts) => ts.iter().filter_map(Value::as_str).any(|t| type_matches(t, v)),
                _ => true,
            };
            if !ok {
                let want = match t {
                    Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(","),
                    other => other.as_str().unwrap_or("").to_string(),
                };
                return fail(format!("Expected type {want} but found type {}", type_name(v)), path);
            }
        }
        if let Some(allowed) = s.get("enum").and_then(Value::as_array) {
            if !allowed.contains(v) {
                let list: Vec<String> = allowed.iter().map(|a| a.to_string()).collect();
                return fail(format!("No enum match for: {v}; expected one of {}", list.join(", ")), path);
            }
        }
        for (kw, any) in [("anyOf", true), ("oneOf", true), ("allOf", false)] {
            if let Some(list) = s.get(kw).and_then(Value::as_array) {
                if any {
                    if !list.iter().any(|alt| self.check(alt, v, path, depth + 1).is_ok()) {
                        return fail(format!("Data does not match any schemas from '{kw}'"), path);
                    }
                } else {
                    for alt in list {
                        self.check(alt, v, path, depth + 1)?;
                    }
                }
            }
        }
        match v {
            Value::String(text) => self.string(s, text, path),
            Value::Number(_) => self.number(s, v, path),
            Value::Array(items) => self.array(s, items, path, depth),
            Value::Object(map) => self.object(s, map, path, depth),
            _ => Ok(()),
        }
    }

    fn string(&self, s: &Map<String, Value>, text: &str, path: &str) -> Result<(), Failure> {
        let n = text.chars().count() as u64;
        if let Some(min) = s.get("minLength").and_then(Value::as_u64) {
            if n < min {
                return fail(format!("String is too short ({n} chars), minimum {min}"), path);
            }
        }
        if let Some(max) = s.get("maxLength").and_then(Value::as_u64) {
            if n > max {
                return fail(format!("String is too long ({n} chars), maximum {max}"), path);
            }
        }
        match s.get("format").and_then(Value::as_str) {
            Some("email") if !castellan_domain::validate::is_email(text) => {
                fail(format!("Object didn't pass validation for format email: {text}"), path)
            }
            Some("non-empty-string") if text.trim().is_empty() => {
                fail("Object didn't pass validation for format non-empty-string", path)
            }
            _ => Ok(()),
        }
    }

    fn number(&self, s: &Map<String, Value>, v: &Value, path: &str) -> Result<(), Failure> {
        let x = v.as_f64().unwrap_or(0.0);
        if let Some(min) = s.get("minimum").and_then(Value::as_f64) {
            if x < min {
                return fail(format!("Value {v} is less than minimum {min}"), path);
            }
        }
        if let Some(max) = s.get("maximum").and_then(Value::as_f64) {
            if x > max {
                return fail(format!("Value {v} is greater than maximum {max}"), path);
            }
        }
        Ok(())
    }

    fn array(&self, s: &Map<String, Value>, items: &[Value], path: &str, depth: usize) -> Result<(), Failure> {
        let n = items.len() as u64;
        if let Some(min) = s.get("minItems").and_then(Value::as_u64) {
            if n < min {
                return fail(format!("Array is too short ({n}), minimum {min}"), path);
            }
        }
        if let Some(max) = s.get("maxItems").and_then(Value::as_u64) {
            if n > max {
                return fail(format!("Array is too long ({n}), maximum {max}"), path);
            }
        }
        if let Some(item_schema) = s.get("items") {
            for (i, item) in items.iter().enumerate() {
                self.check(item_schema, item, &format!("{path}[{i}]"), depth + 1)?;
            }
        }
        Ok(())
    }

    fn object(
        &self,
        s: &Map<String, Value>,
        map: &Map<String, Value>,
        path: &str,
        depth: usize,
    ) -> Result<(), Failure> {
        if let Some(req) = s.get("required").and_then(Value::as_array) {
            for r in req.iter().filter_map(Value::as_str) {
                if !map.contains_key(r) {
                    return fail(format!("Missing required property: {r}"), path);
                }
            }
        }
        let n = map.len() as u64;
        if let Some(max) = s.get("maxProperties").and_then(Value::as_u64) {
            if n > max {
                return fail(format!("Too many properties defined ({n}), maximum {max}"), path);
            }
        }
        if let Some(min) = s.get("minProperties").and_then(Value::as_u64) {
            if n < min {
                return fail(format!("Too few properties defined ({n}), minimum {min}"), path);
            }
        }
        let props = s.get("properties").and_then(Value::as_object);
        for (k, val) in map {
            match props.and_then(|p| p.get(k)) {
                Some(ps) => self.check(ps, val, &join(path, k), depth + 1)?,
                None => match s.get("additionalProperties") {
                    Some(Value::Bool(false)) => {
                        return fail(format!("Additional properties not allowed: {k}"), path);
                    }
                    Some(extra @ Value::Object(_)) => self.check(extra, val, &join(path, k), depth + 1)?,
                    _ => {}
                },
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn msg(method: &str, t: &str, body: Value) -> Option<String> {
        validate(method, t, &body).err().map(|e| e.message)
    }

    #[test]
    fn client_and_grant_bodies() {
        assert_eq!(msg("POST", "/api/v2/clients", json!({"name": "x", "app_type": "non_interactive"})), None);
        assert_eq!(
            msg("POST", "/api/v2/clients", json!({"name": "x", "enabled": true})).as_deref(),
            Some("Payload validation error: 'Additional properties not allowed: enabled'.")
        );
        assert_eq!(
            msg("POST", "/api/v2/clients", json!({"description": "x"})).as_deref(),
            Some("Payload validation error: 'Missing required property: name'.")
        );
        assert!(msg("POST", "/api/v2/clients", json!({"name": 5}))
            .unwrap()
            .contains("Expected type string but found type integer' on property name"));
        assert!(msg("POST", "/api/v2/clients", json!({"name": "x", "app_type": "robot"}))
            .unwrap()
            .contains("No enum match"));
        assert!(msg("POST", "/api/v2/clients", json!({"name": "x", "callbacks": [1]}))
            .unwrap()
            .contains("on property callbacks[0]"));
        assert_eq!(
            msg("POST", "/api/v2/client-grants", json!({"client_id": "c", "audience": "a", "scope": ["read:x"]})),
            None
        );
        assert!(msg("POST", "/api/v2/client-grants", json!({"client_id": "c", "scope": []}))
            .unwrap()
            .contains("Missing required property: audience"));
        assert!(msg("PATCH", "/api/v2/client-grants/{id}", json!({"audience": "x"}))
            .unwrap()
            .contains("Additional properties not allowed: audience"));
        assert!(msg("POST", "/api/v2/resource-servers", json!({"identifier": "x", "token_lifetime": "1"})).is_some());
        assert!(msg("POST", "/api/v2/connections", json!({"name": "db"}))
            .unwrap()
            .contains("Missing required property: strategy"));
        // Nullable type lists.
        assert_eq!(msg("PATCH", "/api/v2/clients/{id}", json!({"description": "d"})), None);
        // No schema: anything goes.
        assert_eq!(msg("GET", "/api/v2/clients", json!([1])), None);
        assert!(msg("POST", "/api/v2/clients", json!([]))
            .unwrap()
            .contains("Expected type object but found type array"));
    }
}
