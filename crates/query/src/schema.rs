//! The searchable fields of Auth0 users ([`UserSchema`]).

use crate::{FieldKind, Schema};

/// Auth0's searchable user fields (search v3).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UserSchema;

/// Case-insensitive text. Auth0 stores usernames lower-cased, so `username` is too.
const TEXT_CI: &[&str] = &["email", "email.domain", "name", "given_name", "family_name", "nickname", "username"];

/// Case-sensitive text.
const TEXT_CS: &[&str] = &[
    "phone_number",
    "user_id",
    "identities.connection",
    "identities.provider",
    "identities.user_id",
    "last_ip",
    "organization_id",
];

const INTEGER: &[&str] = &["logins_count"];

const DATE: &[&str] = &["created_at", "updated_at", "last_login", "last_password_reset"];

const BOOL: &[&str] = &["blocked", "email_verified", "phone_verified", "identities.isSocial"];

const METADATA_ROOTS: &[&str] = &["user_metadata", "app_metadata"];

/// What an unfielded term searches.
const DEFAULT_FIELDS: &[&str] = &["name", "email", "nickname", "given_name", "family_name", "username"];

impl Schema for UserSchema {
    fn field(&self, path: &str) -> Option<FieldKind> {
        if TEXT_CI.contains(&path) {
            Some(FieldKind::Text { case_insensitive: true })
        } else if TEXT_CS.contains(&path) {
            Some(FieldKind::Text { case_insensitive: false })
        } else if INTEGER.contains(&path) {
            Some(FieldKind::Integer)
        } else if DATE.contains(&path) {
            Some(FieldKind::Date)
        } else if BOOL.contains(&path) {
            Some(FieldKind::Bool)
        } else if is_metadata_path(path) {
            Some(FieldKind::Metadata)
        } else {
            None
        }
    }

    fn default_fields(&self) -> &[&'static str] {
        DEFAULT_FIELDS
    }

    fn exists_field(&self, path: &str) -> Option<FieldKind> {
        if METADATA_ROOTS.contains(&path) {
            Some(FieldKind::Metadata)
        } else {
            self.field(path)
        }
    }
}

/// `user_metadata.a[.b…]` or `app_metadata.a[.b…]`, with no empty segment.
fn is_metadata_path(path: &str) -> bool {
    METADATA_ROOTS.iter().any(|root| {
        path.strip_prefix(root)
            .and_then(|rest| rest.strip_prefix('.'))
            .is_some_and(|rest| rest.split('.').all(|segment| !segment.is_empty()))
    })
}

/// The searchable fields of log events (`GET /api/v2/logs?q=`), all matched
/// exactly as stored, and `date` as a date.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogSchema;

const LOG_TEXT: &[&str] =
    &["log_id", "type", "user_id", "user_name", "client_id", "client_name", "connection", "ip", "audience", "hostname"];

/// What an unfielded log term searches (Auth0's `search` parameter).
const LOG_DEFAULT_FIELDS: &[&str] = &["client_name", "connection", "user_name"];

impl Schema for LogSchema {
    fn field(&self, path: &str) -> Option<FieldKind> {
        if path == "date" {
            Some(FieldKind::Date)
        } else if LOG_TEXT.contains(&path) {
            Some(FieldKind::Text { case_insensitive: false })
        } else {
            None
        }
    }

    fn default_fields(&self) -> &[&'static str] {
        LOG_DEFAULT_FIELDS
    }
}
