//! castellan's use cases: the one place that orchestrates the store, crypto
//! and domain rules. HTTP handlers call exactly one function here.

pub mod apis;
pub mod apps;
pub mod attack_protection;
pub mod audit;
pub mod blocks;
pub mod bootstrap;
pub mod connections;
pub mod dashboard;
pub mod devices;
pub mod enduser;
pub mod error;
mod events;
pub mod grants;
pub mod hosted;
pub mod login;
pub mod logs;
pub mod patching;
pub mod roles;
pub mod streams;
pub mod tenants;
pub mod token;
pub mod users;
pub mod webclient;

use std::sync::Arc;

use castellan_crypto::PasswordHasher;
use castellan_domain::Clock;
use castellan_store::Store;

pub use audit::RequestInfo;
pub use castellan_store::DocFilter;
pub use error::{OAuthError, ServiceError};
pub use tenants::{Tenant, TenantSettings};
pub use token::{Principal, TokenAnswer, TokenRequest, TokenResponse};

/// Everything a request needs, cheap to clone: one shared handle (axum's
/// extractors clone it several times a request; cloning each of the
/// store's pools and caches took 2–3% of a token request's CPU).
#[derive(Clone)]
pub struct App(Arc<AppParts>);

/// What an [`App`] shares (reached through it by `Deref`).
pub struct AppParts {
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub hasher: PasswordHasher,
    tenants: Arc<tenants::TenantCache>,
    events: Arc<events::EventQueue>,
    m2m: Arc<token::M2mCache>,
    signed: Arc<token::SignedTokens>,
}

impl std::ops::Deref for App {
    type Target = AppParts;

    fn deref(&self) -> &AppParts {
        &self.0
    }
}

impl App {
    pub fn new(store: Store, clock: Arc<dyn Clock>, hasher: PasswordHasher) -> Self {
        let events = events::EventQueue::new(store.clone());
        App(Arc::new(AppParts {
            store,
            clock,
            hasher,
            tenants: Arc::new(tenants::TenantCache::default()),
            events,
            m2m: Arc::new(token::M2mCache::default()),
            signed: Arc::new(token::SignedTokens::default()),
        }))
    }

    /// Queues events that record no other change (see `events`): they are
    /// written within milliseconds, before any read of the logs through this
    /// `App` and before shutdown completes. Waits only when the queue is full.
    pub async fn log_events(
        &self,
        tenant: i64,
        events: Vec<castellan_domain::log_event::LogEvent>,
    ) -> Result<(), castellan_store::StoreError> {
        self.events.push(tenant, events).await;
        Ok(())
    }

    /// How long queued events gather before the writer takes them (10 ms);
    /// tests lengthen it to hold events in the queue.
    pub fn set_event_gather(&self, gather: std::time::Duration) {
        self.events.set_gather(gather);
    }

    /// Waits until every event queued so far is written: reads of the logs
    /// call it first, and the server before it stops.
    pub async fn flush_events(&self) {
        self.events.flush().await;
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }
}
