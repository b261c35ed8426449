//! Auth0's list envelopes, shared by every list endpoint:
//! - no `include_totals` (or false): a bare JSON array;
//! - `include_totals=true`: `{"<key>": [...], "start", "limit", "total"}`;
//! - checkpoint (`from`/`take`): `{"<key>": [...], "next"}` with `next` left
//!   out on the last page.
//!
//! Offset paging is off (everything, up to the endpoint's cap) when neither
//! `page` nor `per_page` is given, as Auth0 documents for most lists.

use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::{json_response, ApiError};
use crate::extract::QueryPairs;

/// Offset paging as asked for by the query string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Offset {
    pub page: u64,
    /// `None`: paging off.
    pub per_page: Option<u64>,
    pub include_totals: bool,
}

impl Offset {
    /// Reads `page`, `per_page` (≤ `max`) and `include_totals`.
    pub fn from_query(q: &QueryPairs, max: u64) -> Result<Offset, ApiError> {
        let page = q.uint("page")?;
        let per_page = q.uint("per_page")?;
        if let Some(n) = per_page {
            if n > max {
                return Err(ApiError::invalid_query(format!(
                    "Query validation error: 'Too large (value {n}); maximum {max}' on property per_page."
                )));
            }
        }
        let include_totals = q.bool("include_totals", false)?;
        // `page` alone pages with the default size.
        let per_page = match (page, per_page) {
            (_, Some(n)) => Some(n),
            (Some(_), None) => Some(50),
            (None, None) => None,
        };
        Ok(Offset { page: page.unwrap_or(0), per_page, include_totals })
    }

    /// (offset, limit) for a store query; `cap` bounds an unpaged list.
    pub fn window(&self, cap: u64) -> (u64, u64) {
        match self.per_page {
            Some(n) => (self.page.saturating_mul(n), n),
            None => (0, cap),
        }
    }

    /// Applies the window to an in-memory list.
    pub fn slice<T>(&self, items: Vec<T>, cap: u64) -> Vec<T> {
        let (start, limit) = self.window(cap);
        items.into_iter().skip(start.min(usize::MAX as u64) as usize).take(limit as usize).collect()
    }

    /// The response: a bare array, or the totals envelope under `key`.
    pub fn respond<T: Serialize>(&self, key: &str, items: Vec<T>, total: u64) -> Response {
        if !self.include_totals {
            return json_response(StatusCode::OK, &items);
        }
        let (start, limit) = match self.per_page {
            Some(n) => (self.page.saturating_mul(n), n),
            None => (0, total.max(items.len() as u64)),
        };
        let mut m = Map::new();
        m.insert(key.to_string(), serde_json::to_value(&items).unwrap_or(Value::Array(vec![])));
        m.insert("start".into(), start.into());
        m.insert("limit".into(), limit.into());
        m.insert("total".into(), total.into());
        json_response(StatusCode::OK, &Value::Object(m))
    }
}

/// Checkpoint paging (`from`, `take`), present when `take` or `from` is given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub from: Option<String>,
    pub take: u64,
}

impl Checkpoint {
    /// `None` when the request uses offset paging.
    pub fn from_query(q: &QueryPairs, max: u64) -> Result<Option<Checkpoint>, ApiError> {
        let from = q.get("from").filter(|s| !s.is_empty()).map(str::to_string);
        let take = q.uint("take")?;
        if from.is_none() && take.is_none() {
            return Ok(None);
        }
        let take = take.unwrap_or(50);
        if take == 0 || take > max {
            return Err(ApiError::invalid_query(format!(
                "Query validation error: 'Value must be between 1 and {max}' on property take."
            )));
        }
        Ok(Some(Checkpoint { from, take }))
    }

    /// `{"<key>": [...], "next": "..."}`; `next` only when there is more.
    pub fn respond<T: Serialize>(key: &str, items: Vec<T>, next: Option<String>) -> Response {
        let mut m = Map::new();
        m.insert(key.to_string(), serde_json::to_value(&items).unwrap_or(Value::Array(vec![])));
        if let Some(n) = next {
            m.insert("next".into(), Value::String(n));
        }
        json_response(StatusCode::OK, &Value::Object(m))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> QueryPairs {
        QueryPairs(serde_urlencoded::from_str(s).unwrap())
    }

    #[test]
    fn offset_rules() {
        let o = Offset::from_query(&q(""), 100).unwrap();
        assert_eq!((o.per_page, o.window(1000)), (None, (0, 1000)));
        let o = Offset::from_query(&q("page=2&per_page=10&include_totals=true"), 100).unwrap();
        assert_eq!(o.window(1000), (20, 10));
        assert_eq!(o.slice((0..25).collect::<Vec<_>>(), 1000), vec![20, 21, 22, 23, 24]);
        assert_eq!(Offset::from_query(&q("page=1"), 100).unwrap().window(1000), (50, 50));
        assert!(Offset::from_query(&q("per_page=101"), 100).is_err());
        assert!(Offset::from_query(&q("page=x"), 100).is_err());
    }

    #[test]
    fn checkpoint_rules() {
        assert_eq!(Checkpoint::from_query(&q("page=1"), 100).unwrap(), None);
        assert_eq!(Checkpoint::from_query(&q("take=5"), 100).unwrap(), Some(Checkpoint { from: None, take: 5 }));
        assert_eq!(Checkpoint::from_query(&q("from=abc"), 100).unwrap().map(|c| c.take), Some(50));
        assert!(Checkpoint::from_query(&q("take=0"), 100).is_err());
        assert!(Checkpoint::from_query(&q("take=101"), 100).is_err());
    }
}

/// A list request in either paging style.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListMode {
    Offset(Offset),
    Checkpoint(Checkpoint),
}

impl ListMode {
    /// Checkpoint when `from` or `take` is present, else offset.
    pub fn from_query(q: &QueryPairs, max: u64) -> Result<ListMode, ApiError> {
        match Checkpoint::from_query(q, max)? {
            Some(c) => Ok(ListMode::Checkpoint(c)),
            None => Ok(ListMode::Offset(Offset::from_query(q, max)?)),
        }
    }

    /// (offset, limit) to read; `cap` bounds an unpaged list. Checkpoint
    /// cursors are offsets into the list's stable creation order.
    pub fn window(&self, cap: u64) -> Result<(u64, u64), ApiError> {
        match self {
            ListMode::Offset(o) => Ok(o.window(cap)),
            ListMode::Checkpoint(c) => {
                let start = match &c.from {
                    None => 0,
                    Some(f) => f.parse::<u64>().map_err(|_| {
                        ApiError::invalid_query("Query validation error: 'Invalid checkpoint' on property from.")
                    })?,
                };
                Ok((start, c.take))
            }
        }
    }

    /// Renders a window read with [`ListMode::window`] out of `total` items.
    pub fn respond<T: Serialize>(&self, key: &str, items: Vec<T>, total: u64, cap: u64) -> Result<Response, ApiError> {
        let (start, _) = self.window(cap)?;
        Ok(match self {
            ListMode::Offset(o) => o.respond(key, items, total),
            ListMode::Checkpoint(_) => {
                let end = start + items.len() as u64;
                let next = (end < total && !items.is_empty()).then(|| end.to_string());
                Checkpoint::respond(key, items, next)
            }
        })
    }
}
