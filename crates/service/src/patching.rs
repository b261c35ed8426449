//! Helpers shared by the configuration use cases: Auth0's PATCH rule for
//! configuration objects (given top-level properties replace, `null`
//! removes) and in-memory filtering and paging of small per-tenant lists.

use serde_json::{Map, Value};

/// Applies a PATCH body's top-level properties to `doc`, skipping `except`.
pub fn merge_top_level(doc: &mut Map<String, Value>, patch: &Value, except: &[&str]) {
    for (k, v) in patch.as_object().into_iter().flatten() {
        if except.contains(&k.as_str()) {
            continue;
        }
        if v.is_null() {
            doc.remove(k);
        } else {
            doc.insert(k.clone(), v.clone());
        }
    }
}

/// The items `keep` accepts, windowed, with how many matched.
pub fn filter_page(items: Vec<Value>, keep: impl Fn(&Value) -> bool, offset: u64, limit: u64) -> (Vec<Value>, u64) {
    let matching: Vec<Value> = items.into_iter().filter(|v| keep(v)).collect();
    let total = matching.len() as u64;
    (
        matching
            .into_iter()
            .skip(offset.min(usize::MAX as u64) as usize)
            .take(limit.min(usize::MAX as u64) as usize)
            .collect(),
        total,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_replaces_removes_and_skips() {
        let mut doc = json!({"a": 1, "b": {"x": 1}, "c": 3}).as_object().cloned().unwrap();
        merge_top_level(&mut doc, &json!({"a": 2, "b": {"y": 2}, "c": null, "secret": "s"}), &["secret"]);
        assert_eq!(Value::Object(doc), json!({"a": 2, "b": {"y": 2}}));
    }

    #[test]
    fn filter_and_window() {
        let items: Vec<Value> = (0..10).map(|i| json!(i)).collect();
        let (page, total) = filter_page(items, |v| v.as_i64().unwrap() % 2 == 0, 1, 2);
        assert_eq!((page, total), (vec![json!(2), json!(4)], 5));
    }
}
