//! HTTP surfaces of castellan: the Management API (/api/v2), the Authentication
//! API (/oauth, /.well-known) and health probes. Handlers are thin: extract,
//! check the scope, call one service function, map the result.

pub mod body_schema;
mod dashboard;
mod devices;
pub mod endpoints;
mod enduser;
pub mod error;
pub mod extract;
pub mod hosted;
pub mod implemented;
mod logs;
mod oauth;
pub mod paging;
mod protection;
mod roles;
mod router;
mod tenant_config;
mod users;

pub use router::router;
