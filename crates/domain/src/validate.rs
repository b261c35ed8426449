//! Field checks shared by request parsers, with Auth0's validation wording:
//! `Payload validation error: '<what>' on property <name> (<description>).`

use serde_json::Value;

use crate::DomainError;

pub fn json_type(v: &Value) -> &'static str {
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

fn err(prop: &str, what: String, description: &str) -> DomainError {
    if description.is_empty() {
        DomainError::invalid(format!("'{what}' on property {prop}."))
    } else {
        DomainError::invalid(format!("'{what}' on property {prop} ({description})."))
    }
}

pub fn expect_string<'a>(prop: &str, v: &'a Value, desc: &str) -> Result<&'a str, DomainError> {
    v.as_str().ok_or_else(|| err(prop, format!("Expected type string but found type {}", json_type(v)), desc))
}

pub fn expect_bool(prop: &str, v: &Value, desc: &str) -> Result<bool, DomainError> {
    v.as_bool().ok_or_else(|| err(prop, format!("Expected type boolean but found type {}", json_type(v)), desc))
}

pub fn length(prop: &str, s: &str, min: usize, max: usize, desc: &str) -> Result<(), DomainError> {
    let n = s.chars().count();
    if n < min {
        return Err(err(prop, format!("String is too short ({n} chars), minimum {min}"), desc));
    }
    if n > max {
        return Err(err(prop, format!("String is too long ({n} chars), maximum {max}"), desc));
    }
    Ok(())
}

/// A pragmatic email check in the spirit of Auth0's `format: email`: one `@`,
/// a local part of 1..=64 chars, a dotted domain of valid labels, 254 at most.
pub fn email(prop: &str, s: &str, desc: &str) -> Result<(), DomainError> {
    if is_email(s) {
        Ok(())
    } else {
        Err(err(prop, format!("Object didn't pass validation for format email: {s}"), desc))
    }
}

pub fn is_email(s: &str) -> bool {
    if s.len() > 254 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let Some((local, domain)) = s.rsplit_once('@') else {
        return false;
    };
    if local.is_empty() || local.chars().count() > 64 || local.contains('@') {
        return false;
    }
    let labels: Vec<&str> = domain.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
}

/// `^\+[0-9]{1,15}$`
pub fn phone(prop: &str, s: &str, desc: &str) -> Result<(), DomainError> {
    let digits = s.strip_prefix('+').unwrap_or("");
    if !digits.is_empty() && digits.len() <= 15 && digits.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(err(prop, format!("String does not match pattern ^\\+[0-9]{{1,15}}$: {s}"), desc))
    }
}

/// An absolute http(s) URL with a host (Auth0's `strict-uri`).
pub fn strict_uri(prop: &str, s: &str, desc: &str) -> Result<(), DomainError> {
    let ok = ["https://", "http://"].iter().any(|p| {
        s.get(..p.len()).is_some_and(|h| h.eq_ignore_ascii_case(p))
            && s.len() > p.len()
            && !s[p.len()..].starts_with('/')
    }) && !s.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(())
    } else {
        Err(err(prop, format!("Object didn't pass validation for format strict-uri: {s}"), desc))
    }
}

/// Usernames: 1..=128 of alphanumerics and `_ + - . ! # $ ' ^ ` ~ @`.
pub fn username(prop: &str, s: &str, desc: &str) -> Result<(), DomainError> {
    length(prop, s, 1, 128, desc)?;
    let ok = s.chars().all(|c| c.is_ascii_alphanumeric() || "_+-.!#$'^`~@".contains(c));
    if ok {
        Ok(())
    } else {
        Err(err(prop, format!("String does not match pattern for username: {s}"), desc))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_cases() {
        for ok in ["a@b.co", "first.last+tag@example.com", "x@sub.domain.example", "ü@exämple.de"] {
            assert!(is_email(ok), "{ok}");
        }
        for bad in ["", "foo", "@b.co", "a@", "a@b", "a b@c.de", "a@-b.co", "a@b..co", "a@@b.co"] {
            assert!(!is_email(bad), "{bad}");
        }
        let long_local = format!("{}@b.co", "a".repeat(65));
        assert!(!is_email(&long_local));
    }

    #[test]
    fn phone_and_uri_and_username() {
        assert!(phone("p", "+14155550100", "").is_ok());
        assert!(phone("p", "14155550100", "").is_err());
        assert!(phone("p", "+1234567890123456", "").is_err());
        assert!(strict_uri("p", "https://example.com/a.png", "").is_ok());
        assert!(strict_uri("p", "javascript:alert(1)", "").is_err());
        assert!(strict_uri("p", "https:///x", "").is_err());
        assert!(username("u", "john.doe_1", "").is_ok());
        assert!(username("u", "john doe", "").is_err());
    }

    #[test]
    fn length_messages() {
        let e = length("name", "", 1, 300, "The user's full name").unwrap_err();
        assert_eq!(
            e.to_string(),
            "Payload validation error: 'String is too short (0 chars), minimum 1' on property name (The user's full name)."
        );
    }
}
