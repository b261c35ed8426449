//! The search terms of a user: one row per (field path, value), written in the
//! same transaction as the user, so that every search class is an index range
//! scan (see docs/adr/0001-search-terms.md).
//!
//! - Case-insensitive fields (email, name, given_name, family_name, nickname,
//!   username, email.domain) are stored lower-cased.
//! - Numbers and dates also fill `num` (dates as unix milliseconds). The
//!   built-in number and date fields (logins_count, created_at, …) fill
//!   only `num`: the query parser takes no wildcard on them, and equality and
//!   ranges compare `num`; no `value` or `rvalue` index entry is then moved
//!   when they change (`updated_at` changes with every update).
//! - `rvalue` is the reversed value, so suffix wildcards are prefix ranges;
//!   it is left NULL where the parser takes no wildcard (metadata, numbers,
//!   dates, booleans; see `reversed`).
//! - Metadata: every scalar under a dot path (arrays are transparent); every
//!   non-empty object gets a marker row (value NULL) for `_exists_`. Nulls,
//!   `{}` and `[]` are not indexed, as in Auth0.
//! - A user's terms are a set: a value an array repeats, or the provider of
//!   two identities, is one row (see `dedupe`), so that the rows of one
//!   value are its users, and counting them needs no DISTINCT.

use castellan_domain::clock::parse_iso_ms;
use castellan_domain::user::User;
use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub struct Term {
    pub field: String,
    pub value: Option<String>,
    pub num: Option<f64>,
}

/// At most this many metadata terms per user; deeper or larger metadata is
/// stored but not searchable beyond the cap.
pub const MAX_METADATA_TERMS: usize = 2000;
const MAX_METADATA_DEPTH: usize = 16;

fn text(out: &mut Vec<Term>, field: &str, v: Option<&str>, lower: bool) {
    if let Some(v) = v {
        let value = if lower { v.to_lowercase() } else { v.to_string() };
        out.push(Term { field: field.into(), value: Some(value), num: None });
    }
}

fn boolean(out: &mut Vec<Term>, field: &str, v: Option<bool>) {
    if let Some(b) = v {
        out.push(Term { field: field.into(), value: Some(b.to_string()), num: None });
    }
}

fn number(out: &mut Vec<Term>, field: &str, v: Option<f64>) {
    if let Some(n) = v {
        out.push(Term { field: field.into(), value: None, num: Some(n) });
    }
}

fn date(out: &mut Vec<Term>, field: &str, v: Option<&str>) {
    if let Some(ms) = v.and_then(parse_iso_ms) {
        out.push(Term { field: field.into(), value: None, num: Some(ms as f64) });
    }
}

/// The `rvalue` of a term: its value reversed, for the fields a suffix
/// wildcard may name: the built-in text fields. The query parser takes no
/// wildcard on metadata, numbers, dates or booleans.
pub(crate) fn reversed(field: &str, value: Option<&str>) -> Option<String> {
    if metadata_path(field) || matches!(field, "email_verified" | "phone_verified" | "blocked" | "identities.isSocial")
    {
        return None;
    }
    value.map(|v| v.chars().rev().collect())
}

/// A path into `user_metadata` or `app_metadata` (or either root).
pub(crate) fn metadata_path(path: &str) -> bool {
    path.starts_with("user_metadata") || path.starts_with("app_metadata")
}

pub fn user_terms(u: &User) -> Vec<Term> {
    let mut out = Vec::with_capacity(24);
    text(&mut out, "email", u.email.as_deref(), true);
    text(&mut out, "email.domain", u.email_domain().as_deref(), true);
    for f in [
        ("name", &u.name),
        ("given_name", &u.given_name),
        ("family_name", &u.family_name),
        ("nickname", &u.nickname),
        ("username", &u.username),
    ] {
        text(&mut out, f.0, f.1.as_deref(), true);
    }
    text(&mut out, "user_id", Some(&u.user_id), false);
    text(&mut out, "phone_number", u.phone_number.as_deref(), false);
    text(&mut out, "last_ip", u.last_ip.as_deref(), false);
    for i in &u.identities {
        text(&mut out, "identities.connection", Some(&i.connection), false);
        text(&mut out, "identities.provider", Some(&i.provider), false);
        text(&mut out, "identities.user_id", Some(&i.user_id), false);
        boolean(&mut out, "identities.isSocial", Some(i.is_social));
    }
    boolean(&mut out, "email_verified", Some(u.email_verified));
    boolean(&mut out, "phone_verified", u.phone_verified);
    boolean(&mut out, "blocked", u.blocked);
    number(&mut out, "logins_count", u.logins_count.map(|n| n as f64));
    date(&mut out, "created_at", Some(&u.created_at));
    date(&mut out, "updated_at", Some(&u.updated_at));
    date(&mut out, "last_login", u.last_login.as_deref());
    date(&mut out, "last_password_reset", u.last_password_reset.as_deref());
    let budget = out.len() + MAX_METADATA_TERMS;
    for (root, md) in [("user_metadata", &u.user_metadata), ("app_metadata", &u.app_metadata)] {
        if let Some(m) = md {
            if !m.is_empty() {
                out.push(Term { field: root.into(), value: None, num: None });
                for (k, v) in m {
                    metadata(&mut out, &format!("{root}.{k}"), v, 0, budget);
                }
            }
        }
    }
    dedupe(&mut out);
    out
}

/// Keeps one term of each (field, value): a repeated value is dropped,
/// and where a number and a string of the same text meet (`[4.5, "4.5"]`)
/// the one kept has the number, so ranges still find it. Terms without a
/// value (object markers, built-in numbers and dates) are one per (field,
/// num). The order of the rest is kept.
fn dedupe(out: &mut Vec<Term>) {
    type Key<'a> = (&'a str, Option<&'a str>, Option<u64>);
    fn key(t: &Term) -> Key<'_> {
        match t.value.as_deref() {
            Some(v) => (t.field.as_str(), Some(v), None),
            None => (t.field.as_str(), None, t.num.map(f64::to_bits)),
        }
    }
    let mut order: Vec<usize> = (0..out.len()).collect();
    order.sort_by(|&a, &b| key(&out[a]).cmp(&key(&out[b])).then(a.cmp(&b)));
    let mut dropped = vec![false; out.len()];
    let mut kept = order.first().copied().unwrap_or(0);
    for &i in order.iter().skip(1) {
        if key(&out[i]) == key(&out[kept]) {
            dropped[i] = true;
            if out[kept].num.is_none() {
                out[kept].num = out[i].num;
            }
        } else {
            kept = i;
        }
    }
    if dropped.contains(&true) {
        let mut at = 0;
        out.retain(|_| {
            at += 1;
            !dropped[at - 1]
        });
    }
}

fn metadata(out: &mut Vec<Term>, path: &str, v: &Value, depth: usize, budget: usize) {
    if out.len() >= budget || depth > MAX_METADATA_DEPTH {
        return;
    }
    match v {
        Value::Null => {}
        Value::Bool(b) => boolean(out, path, Some(*b)),
        Value::Number(n) => {
            if let Some(f) = n.as_f64() {
                out.push(Term { field: path.into(), value: Some(n.to_string()), num: Some(f) });
            }
        }
        Value::String(s) => text(out, path, Some(s), false),
        Value::Array(items) => items.iter().for_each(|i| metadata(out, path, i, depth + 1, budget)),
        Value::Object(m) => {
            if !m.is_empty() {
                out.push(Term { field: path.into(), value: None, num: None });
                for (k, v) in m {
                    metadata(out, &format!("{path}.{k}"), v, depth + 1, budget);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn terms_cover_fields_and_metadata_paths() {
        let u: User = serde_json::from_value(json!({
            "created_at": "2023-01-25T19:00:26.187Z", "updated_at": "2023-01-25T19:00:26.187Z",
            "user_id": "auth0|63d17c4a", "email": "Jane@Example.com", "email_verified": false,
            "name": "Jane Doe", "identities": [{"connection":"db","user_id":"63d17c4a","provider":"auth0","isSocial":false}],
            "logins_count": 3,
            "user_metadata": {"theme": "dark", "addresses": [{"city": "Paris"}, {"city": "Rome"}], "n": null, "e": {}},
            "app_metadata": {"winner": true, "score": 4.5}
        }))
        .unwrap();
        let t = user_terms(&u);
        let has = |f: &str, v: Option<&str>| t.iter().any(|x| x.field == f && x.value.as_deref() == v);
        assert!(has("email", Some("jane@example.com")));
        assert!(has("email.domain", Some("example.com")));
        assert!(has("name", Some("jane doe")));
        assert!(has("user_metadata.theme", Some("dark")));
        assert!(has("user_metadata.addresses.city", Some("Paris")));
        assert!(has("user_metadata.addresses.city", Some("Rome")));
        assert!(has("user_metadata.addresses", None));
        assert!(has("app_metadata.winner", Some("true")));
        assert!(has("app_metadata.score", Some("4.5")));
        assert!(!t.iter().any(|x| x.field == "user_metadata.n" || x.field == "user_metadata.e"));
        assert!(t.iter().any(|x| x.field == "logins_count" && x.num == Some(3.0)));
        assert!(t.iter().any(|x| x.field == "created_at" && x.num == Some(1_674_673_226_187.0)));
    }

    #[test]
    fn a_value_repeated_in_arrays_is_one_term_and_keeps_its_number() {
        let u: User = serde_json::from_value(json!({
            "created_at": "2023-01-25T19:00:26.187Z", "updated_at": "2023-01-25T19:00:26.187Z",
            "user_id": "auth0|63d17c4a",
            "identities": [
                {"connection":"db","user_id":"a","provider":"auth0","isSocial":false},
                {"connection":"db2","user_id":"b","provider":"auth0","isSocial":false}
            ],
            "user_metadata": {"tags": ["a", "b", "a", "a"], "n": ["4.5", 4.5, 4.5], "o": [{"x": 1}, {"x": 1}]}
        }))
        .unwrap();
        let t = user_terms(&u);
        let count = |f: &str, v: Option<&str>| t.iter().filter(|x| x.field == f && x.value.as_deref() == v).count();
        assert_eq!(count("user_metadata.tags", Some("a")), 1);
        assert_eq!(count("user_metadata.tags", Some("b")), 1);
        assert_eq!(count("user_metadata.o", None), 1);
        assert_eq!(count("user_metadata.o.x", Some("1")), 1);
        assert_eq!(count("identities.provider", Some("auth0")), 1);
        assert_eq!(count("identities.isSocial", Some("false")), 1);
        assert_eq!(count("identities.connection", Some("db")), 1);
        assert_eq!(count("identities.connection", Some("db2")), 1);
        // The string came first; the term kept carries the number.
        let n: Vec<&Term> = t.iter().filter(|x| x.field == "user_metadata.n").collect();
        assert_eq!(n.len(), 1);
        assert_eq!((n[0].value.as_deref(), n[0].num), (Some("4.5"), Some(4.5)));
        // The order of what is kept is the order the terms were made in.
        let tags: Vec<&str> =
            t.iter().filter(|x| x.field == "user_metadata.tags").filter_map(|x| x.value.as_deref()).collect();
        assert_eq!(tags, ["a", "b"]);
    }
}
