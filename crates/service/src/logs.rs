//! Reading log events: search with the same Lucene parser as users (over
//! log fields), offset paging with Auth0's 1000-result window, checkpoint
//! paging after a log_id, single events, a user's history.

use castellan_domain::log_event::LogEvent;
use castellan_query::{Cond, FieldKind, Filter, LogSchema, Scalar};
use castellan_store::LogSort;
use serde::Serialize;
use serde_json::Value;

use crate::users::SEARCH_CAP;
use crate::{App, ServiceError, Tenant};

#[derive(Debug, Default, Clone)]
pub struct ListLogs {
    pub q: Option<String>,
    pub page: Option<u64>,
    pub per_page: Option<u64>,
    pub include_totals: bool,
    /// `date:1` or `date:-1` (default newest first).
    pub sort: Option<String>,
    pub from: Option<String>,
    pub take: Option<u64>,
    pub user_id: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum LogList {
    Array(Vec<Value>),
    Totals { logs: Vec<Value>, start: u64, limit: u64, length: u64, total: u64 },
}

pub fn log_not_found() -> ServiceError {
    ServiceError::NotFound { message: "The log does not exist.".into(), code: "inexistent_log" }
}

fn parse_sort(s: Option<&str>) -> Result<LogSort, ServiceError> {
    match s {
        None | Some("") | Some("date:-1") | Some("log_id:-1") => Ok(LogSort { descending: true }),
        Some("date:1") | Some("log_id:1") => Ok(LogSort { descending: false }),
        Some(other) => Err(ServiceError::invalid_query(format!(
            "Query validation error: 'Sorting by {other} is not supported; use date:1 or date:-1' on property sort."
        ))),
    }
}

impl App {
    pub async fn list_logs(&self, tenant: &Tenant, p: &ListLogs) -> Result<LogList, ServiceError> {
        self.flush_events().await;
        // Checkpoint: only `from` and `take` count, as in Auth0.
        if p.from.is_some() || (p.take.is_some() && p.page.is_none() && p.per_page.is_none()) {
            let take = p.take.unwrap_or(50);
            if take == 0 || take > 100 {
                return Err(ServiceError::invalid_query(
                    "Query validation error: 'take must be between 1 and 100' on property take.",
                ));
            }
            let events = match &p.from {
                Some(from) => self.store.logs_after(tenant.id, from, take).await?,
                None => {
                    let (mut ev, _) = self
                        .store
                        .search_logs(tenant.id, &Filter::All, LogSort { descending: true }, 0, take, false)
                        .await?;
                    ev.reverse();
                    ev
                }
            };
            return Ok(LogList::Array(events.iter().map(LogEvent::to_json).collect()));
        }
        let per_page = p.per_page.unwrap_or(50);
        if per_page > 100 {
            return Err(ServiceError::invalid_query(format!(
                "Query validation error: 'Too large (value {per_page}); maximum 100' on property per_page."
            )));
        }
        let page = p.page.unwrap_or(0);
        let start = page.saturating_mul(per_page);
        if !tenant.settings.lift_search_cap && start.saturating_add(per_page) > SEARCH_CAP {
            return Err(ServiceError::bad_request(
                "You can only page through the first 1000 records. Use the checkpoint pagination (from, take) to read further.",
                Some("invalid_paging"),
            ));
        }
        let sort = parse_sort(p.sort.as_deref())?;
        let mut filter = match p.q.as_deref() {
            Some(q) if !q.trim().is_empty() => castellan_query::parse(q, &LogSchema)
                .map_err(|e| ServiceError::invalid_query(format!("Invalid query string: {e}")))?,
            _ => Filter::All,
        };
        if let Some(uid) = &p.user_id {
            let by_user = Filter::Field {
                path: "user_id".into(),
                kind: FieldKind::Text { case_insensitive: false },
                cond: Cond::Eq(Scalar::Text(uid.clone())),
            };
            filter = match filter {
                Filter::All => by_user,
                other => Filter::And(vec![by_user, other]),
            };
        }
        let (events, total) =
            self.store.search_logs(tenant.id, &filter, sort, start, per_page, p.include_totals).await?;
        let logs: Vec<Value> = events.iter().map(LogEvent::to_json).collect();
        Ok(match total {
            Some(total) => LogList::Totals { start, limit: per_page, length: logs.len() as u64, logs, total },
            None => LogList::Array(logs),
        })
    }

    pub async fn get_log(&self, tenant: &Tenant, id: &str) -> Result<Value, ServiceError> {
        self.flush_events().await;
        Ok(self.store.get_log(tenant.id, id).await?.ok_or_else(log_not_found)?.to_json())
    }
}
