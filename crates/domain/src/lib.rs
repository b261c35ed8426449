//! castellan's domain: the types and rules of an Auth0 tenant, with no I/O.
//! User shape and defaults, roles and permissions, metadata merge rules,
//! request validation with Auth0's messages, password policies, ids and the
//! clock.

pub mod clock;
pub mod error;
pub mod ids;
pub mod ip;
pub mod log_event;
pub mod metadata;
pub mod password_policy;
pub mod rbac;
pub mod tenant_model;
pub mod user;
pub mod user_input;
pub mod validate;

pub use clock::{Clock, FixedClock, SystemClock};
pub use error::DomainError;
