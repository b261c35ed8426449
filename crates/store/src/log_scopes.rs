//! Long scopes of log events, stored once per tenant.
//!
//! A machine-to-machine application granted every Management API scope puts
//! ~5.5 KB of scope in each `seccft` event: most of the row, and an overflow
//! page for every token issued. A scope of at least `INTERN_MIN` bytes is
//! kept in `log_scopes` under its SHA-256, the event row names it
//! (`logs.scope_ref`) and its document leaves it out; reads put the text
//! back, so the API, streams and `logs tail` see the event as it was made.
//! A reference is the hash of its text and never changes meaning, so the
//! texts read are cached in the process with nothing to invalidate.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::sync::Arc;

use castellan_domain::log_event::LogEvent;
use sha2::{Digest, Sha256};
use sqlx::any::AnyRow;

use crate::log_doc::event_of_row;
use crate::sql::{Script, Sql};
use crate::{get_opt_str, get_str, Result, Store};

/// Scopes shorter than this stay in the event's document.
pub(crate) const INTERN_MIN: usize = 256;

/// Texts kept in the process; the cache starts over when it is full.
const CACHE_MAX: usize = 1024;

pub(crate) type ScopeCache = std::sync::Mutex<HashMap<String, Arc<str>>>;

/// Scopes hashed lately, newest last: an application's tokens repeat one
/// scope, and comparing it with a few kept texts is cheaper than hashing
/// it again (SHA-256 of 5.5 KB: ~4 µs).
static RECENT: std::sync::Mutex<Vec<(String, String)>> = std::sync::Mutex::new(Vec::new());
const RECENT_MAX: usize = 16;

/// The reference under which `e`'s scope is stored, when it is long enough
/// to be stored apart: the hex SHA-256 of the text.
pub(crate) fn scope_ref(e: &LogEvent) -> Option<String> {
    let scope = e.scope.as_deref().filter(|s| s.len() >= INTERN_MIN)?;
    {
        let recent = RECENT.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, hash)) = recent.iter().rev().find(|(text, _)| text == scope) {
            return Some(hash.clone());
        }
    }
    let digest = Sha256::digest(scope.as_bytes());
    let hash: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    let mut recent = RECENT.lock().unwrap_or_else(|p| p.into_inner());
    if recent.len() >= RECENT_MAX {
        recent.remove(0);
    }
    recent.push((scope.to_string(), hash.clone()));
    Some(hash)
}

/// Adds to `script` the statement that stores the distinct long scopes of
/// `events` (`refs` as `scope_ref` gave them, one per event); a scope
/// already stored is left as it is (no page is written then). Nothing when
/// no event has one.
pub(crate) fn store_scopes<E: Borrow<LogEvent>>(
    script: &mut Script,
    tenant: i64,
    events: &[E],
    refs: &[Option<String>],
) {
    let mut rows: Vec<(&str, &str)> = Vec::new();
    for (e, r) in events.iter().zip(refs) {
        if let (Some(r), Some(scope)) = (r.as_deref(), e.borrow().scope.as_deref()) {
            if !rows.iter().any(|(seen, _)| *seen == r) {
                rows.push((r, scope));
            }
        }
    }
    if rows.is_empty() {
        return;
    }
    let q = script.statement("INSERT INTO log_scopes (tenant_id, hash, scope) VALUES ");
    for (i, (r, scope)) in rows.into_iter().enumerate() {
        if i > 0 {
            q.push(", ");
        }
        q.push("(").int(tenant).push(", ").text(r).push(", ").text(scope).push(")");
    }
    q.push(" ON CONFLICT DO NOTHING");
}

impl Store {
    /// The events of `rows` (selected with `LOG_COLUMNS`), with the
    /// scopes stored apart put back: from the cache, else in one query.
    pub(crate) async fn decode_logs(&self, tenant: i64, rows: &[AnyRow]) -> Result<Vec<LogEvent>> {
        let mut events = Vec::with_capacity(rows.len());
        let mut refs = Vec::with_capacity(rows.len());
        for r in rows {
            events.push(event_of_row(r)?);
            refs.push(get_opt_str(r, "scope_ref")?);
        }
        if refs.iter().all(Option::is_none) {
            return Ok(events);
        }
        let mut missing: Vec<&str> = Vec::new();
        let mut read: HashMap<String, Arc<str>> = HashMap::new();
        {
            let cache = self.log_scopes.lock().unwrap_or_else(|p| p.into_inner());
            for r in refs.iter().flatten() {
                if !cache.contains_key(r.as_str()) && !missing.contains(&r.as_str()) {
                    missing.push(r);
                }
            }
        }
        if !missing.is_empty() {
            let mut q = Sql::new("SELECT hash, scope FROM log_scopes WHERE tenant_id = ");
            q.int(tenant).push(" AND hash IN (");
            for (i, r) in missing.iter().enumerate() {
                if i > 0 {
                    q.push(", ");
                }
                q.text(*r);
            }
            q.push(")");
            let found = q.build().fetch_all(&self.pool).await?;
            let mut cache = self.log_scopes.lock().unwrap_or_else(|p| p.into_inner());
            if cache.len() + found.len() > CACHE_MAX {
                cache.clear();
            }
            for row in found {
                let (hash, text) = (get_str(&row, "hash")?, Arc::<str>::from(get_str(&row, "scope")?));
                cache.insert(hash.clone(), text.clone());
                read.insert(hash, text);
            }
        }
        let cache = self.log_scopes.lock().unwrap_or_else(|p| p.into_inner());
        for (e, r) in events.iter_mut().zip(&refs) {
            // A reference with no stored text (none should exist) leaves the
            // event without a scope rather than failing the read.
            if let Some(text) = r.as_deref().and_then(|r| read.get(r).or_else(|| cache.get(r))) {
                e.scope = Some(text.to_string());
            }
        }
        Ok(events)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(scope: &str) -> LogEvent {
        LogEvent { scope: Some(scope.to_string()), ..LogEvent::new("seccft", 1_700_000_000_000) }
    }

    #[test]
    fn a_reference_is_the_hash_of_its_text_whether_recently_seen_or_not() {
        let a = "a".repeat(300);
        let b = format!("{}b", "a".repeat(299));
        let direct = |s: &str| Sha256::digest(s.as_bytes()).iter().map(|b| format!("{b:02x}")).collect::<String>();
        for _ in 0..2 {
            assert_eq!(scope_ref(&event(&a)), Some(direct(&a)));
            assert_eq!(scope_ref(&event(&b)), Some(direct(&b)), "same length, other text");
        }
        for i in 0..2 * RECENT_MAX {
            let s = format!("{i:04}{}", "x".repeat(INTERN_MIN));
            assert_eq!(scope_ref(&event(&s)), Some(direct(&s)));
        }
        assert_eq!(scope_ref(&event(&a)), Some(direct(&a)), "after being pushed out");
        assert_eq!(scope_ref(&event(&"s".repeat(INTERN_MIN - 1))), None, "short scopes stay in the event");
        assert_eq!(scope_ref(&LogEvent::new("sapi", 0)), None);
    }
}
