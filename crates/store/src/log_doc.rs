//! A log event's row: its indexed columns, and a document of the rest.
//!
//! The columns (`log_id`, `date`, `type`, `user_id`, `user_name`,
//! `client_id`, `client_name`, `connection`, `ip`, `audience`, `hostname`)
//! hold their fields exactly, so the row's document leaves them out; it
//! keeps the description, details and the other fields, the scope when it
//! is not stored apart (`log_scopes`), and the date only when the `date`
//! column (milliseconds) cannot give it back as written. A token event's
//! document is then ~50 bytes instead of ~340: fewer pages written, copied
//! by checkpoints and read, for every event.
//!
//! Rows written before this keep the whole event in their document, and
//! their columns equal its fields, so one reader serves both: it takes the
//! document and fills in what it lacks from the columns.

use castellan_domain::clock::format_ms;
use castellan_domain::log_event::LogEvent;
use serde::Serialize;
use serde_json::Value;
use sqlx::any::AnyRow;

use crate::{get_i64, get_opt_str, get_str, Result, StoreError};

/// The columns a reader of events selects, from `logs` aliased `l`.
pub(crate) const LOG_COLUMNS: &str = "l.log_id AS log_id, l.date AS date, l.type AS type, l.user_id AS user_id, \
     l.user_name AS user_name, l.client_id AS client_id, l.client_name AS client_name, l.connection AS connection, \
     l.ip AS ip, l.audience AS audience, l.hostname AS hostname, l.doc AS doc, l.scope_ref AS scope_ref";

/// What a row's document holds: the fields no column has.
#[derive(Serialize)]
struct RowDoc<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    date: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_agent: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    connection_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    strategy: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    strategy_type: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<&'a Value>,
}

/// `e`'s row document. `date_ms`: its date as the `date` column holds it
/// (None when it does not read as one: the column then holds 0);
/// `scope_stored_apart`: its scope is in `log_scopes`.
pub(crate) fn document(e: &LogEvent, date_ms: Option<i64>, scope_stored_apart: bool) -> Result<String> {
    let date_kept = date_ms.map(format_ms).as_deref() != Some(e.date.as_str());
    let doc = RowDoc {
        date: date_kept.then_some(e.date.as_str()),
        description: e.description.as_deref(),
        user_agent: e.user_agent.as_deref(),
        connection_id: e.connection_id.as_deref(),
        strategy: e.strategy.as_deref(),
        strategy_type: e.strategy_type.as_deref(),
        scope: if scope_stored_apart { None } else { e.scope.as_deref() },
        details: e.details.as_ref(),
    };
    serde_json::to_string(&doc).map_err(|err| StoreError::Corrupt(err.to_string()))
}

/// The event of a row selected with `LOG_COLUMNS` (its scope, when stored
/// apart, is put back by the caller).
pub(crate) fn event_of_row(r: &AnyRow) -> Result<LogEvent> {
    let mut e: LogEvent =
        serde_json::from_str(&get_str(r, "doc")?).map_err(|err| StoreError::Corrupt(err.to_string()))?;
    if e.log_id.is_empty() {
        e.log_id = get_str(r, "log_id")?;
    }
    if e.date.is_empty() {
        e.date = format_ms(get_i64(r, "date")?);
    }
    if e.kind.is_empty() {
        e.kind = get_str(r, "type")?;
    }
    for (field, col) in [
        (&mut e.user_id, "user_id"),
        (&mut e.user_name, "user_name"),
        (&mut e.client_id, "client_id"),
        (&mut e.client_name, "client_name"),
        (&mut e.connection, "connection"),
        (&mut e.ip, "ip"),
        (&mut e.audience, "audience"),
        (&mut e.hostname, "hostname"),
    ] {
        if field.is_none() {
            *field = get_opt_str(r, col)?;
        }
    }
    Ok(e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use castellan_domain::clock::parse_iso_ms;

    #[test]
    fn a_document_leaves_out_what_the_columns_hold_and_keeps_a_date_they_cannot_give_back() {
        let mut e = LogEvent::new("seccft", 1_700_000_000_123);
        e.description = Some("Client Credentials for Access Token".into());
        e.client_id = Some("c1".into());
        e.audience = Some("https://api".into());
        e.scope = Some("read:users".into());
        e.details = Some(serde_json::json!({"a": 1}));
        let doc: Value = serde_json::from_str(&document(&e, parse_iso_ms(&e.date), false).unwrap()).unwrap();
        assert_eq!(
            doc,
            serde_json::json!({"description": "Client Credentials for Access Token", "scope": "read:users", "details": {"a": 1}})
        );
        let doc: Value = serde_json::from_str(&document(&e, parse_iso_ms(&e.date), true).unwrap()).unwrap();
        assert!(doc.get("scope").is_none(), "{doc}");
        // A date with other precision, or none that reads as one, stays.
        for date in ["2023-11-14T22:13:20Z", "2023-11-14T22:13:20.123456Z", "yesterday"] {
            e.date = date.into();
            let doc: Value = serde_json::from_str(&document(&e, parse_iso_ms(&e.date), false).unwrap()).unwrap();
            assert_eq!(doc["date"], date, "{date}");
        }
    }
}
