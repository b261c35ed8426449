//! User use cases: create, read, list/search, update, delete, by email.

use castellan_domain::clock::format_ms;
use castellan_domain::ids;
use castellan_domain::password_policy;
use castellan_domain::user::{default_picture, email_local_part, project, Identity, User};
use castellan_domain::user_input::{self, Change, CreateUser};
use castellan_domain::{metadata, DomainError};
use castellan_query::{Filter, UserSchema};
use castellan_store::{Sort, SortField, StoreError};
use serde::Serialize;
use serde_json::Value;

use crate::{App, Principal, ServiceError, Tenant};

pub const SEARCH_CAP: u64 = 1000;
pub const MAX_PER_PAGE: u64 = 100;
pub const DEFAULT_PER_PAGE: u64 = 50;

#[derive(Debug, Default, Clone)]
pub struct ListUsers {
    pub page: Option<u64>,
    pub per_page: Option<u64>,
    pub include_totals: bool,
    pub sort: Option<String>,
    pub fields: Vec<String>,
    pub include_fields: bool,
    pub q: Option<String>,
    pub search_engine: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum UserList {
    Array(Vec<Value>),
    Totals { start: u64, limit: u64, length: u64, users: Vec<Value>, total: u64 },
}

fn conflict() -> ServiceError {
    ServiceError::Conflict { message: "The user already exists.".into(), code: "auth0_idp_error" }
}

impl App {
    pub async fn create_user(&self, tenant: &Tenant, caller: &Principal, body: &Value) -> Result<Value, ServiceError> {
        self.create_user_from(tenant, caller, body, true).await
    }

    /// Creates a user for the Management API (`via_api`: records `sapi` and
    /// `ss`) or for a public signup (records `ss`).
    pub(crate) async fn create_user_from(
        &self,
        tenant: &Tenant,
        caller: &Principal,
        body: &Value,
        via_api: bool,
    ) -> Result<Value, ServiceError> {
        let input = user_input::parse_create(body)?;
        let conn = self.store.connection_by_name(tenant.id, &input.connection).await?.ok_or_else(|| {
            ServiceError::bad_request("The connection does not exist.", Some("inexistent_connection"))
        })?;
        if !conn.is_database() {
            return Err(ServiceError::bad_request(
                "Connection does not support user creation through the API. It must either be a database or passwordless connection.",
                None,
            ));
        }
        if conn.enabled_clients.is_empty() {
            return Err(ServiceError::bad_request("The connection is disabled", None));
        }
        if let Some(cid) = &caller.client_id {
            if !conn.enabled_clients.iter().any(|c| c == cid) {
                return Err(ServiceError::bad_request(
                    format!(
                        "Connection must be enabled for this client to perform single user creation and signup operations (client_id: {cid} - connection: {})",
                        conn.name
                    ),
                    None,
                ));
            }
        }
        let requires_username = conn.options.requires_username.unwrap_or(false);
        if input.username.is_some() && !requires_username {
            return Err(ServiceError::bad_request(
                "Cannot set username for connection without requires_username.",
                None,
            ));
        }
        if input.email.is_none() {
            return Err(DomainError::invalid(
                "'Missing required property: email' on property email (The user's email).",
            )
            .into());
        }
        if requires_username && input.username.is_none() {
            return Err(DomainError::invalid("'Missing required property: username' on property username.").into());
        }
        let password = input
            .password
            .clone()
            .ok_or_else(|| DomainError::invalid("'Missing required property: password' on property password."))?;
        password_policy::check(conn.options.policy(), conn.options.min_length(), &password)?;
        let user = new_user(&input, &conn.name, self.now_ms());
        password_policy::PasswordRules::from_options(&conn.options.extra).check(&password, &personal_info(&user))?;
        let hash = self.hasher.hash(password).await?;
        let out = user.to_json();
        let mut events = Vec::with_capacity(2);
        if via_api {
            events.push(self.sapi(tenant, caller, 201, Some(body), Some(&out)));
        }
        let mut signup = self.user_event("ss", tenant, caller, &user);
        signup.connection_id = Some(conn.id.clone());
        signup.details = Some(serde_json::json!({"body": castellan_domain::log_event::redact(body)}));
        events.push(signup);
        // Queued events that happened before (see Mgmt's extractor) first.
        self.flush_events().await;
        match self.store.insert_user(tenant.id, &user, Some(&hash), &events).await {
            Ok(_) => Ok(out),
            Err(StoreError::Conflict(_)) => Err(conflict()),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn get_user(
        &self,
        tenant: &Tenant,
        id: &str,
        fields: &[String],
        include: bool,
    ) -> Result<Value, ServiceError> {
        let u = self.store.get_user(tenant.id, id).await?.ok_or_else(ServiceError::user_not_found)?;
        Ok(project(u.user.to_json(), fields, include))
    }

    /// Deleting a user that does not exist succeeds, as in Auth0.
    pub async fn delete_user(&self, tenant: &Tenant, caller: &Principal, id: &str) -> Result<(), ServiceError> {
        let Some(existing) = self.store.get_user(tenant.id, id).await? else {
            // Auth0 answers 204 for a user that is not there; the call is still recorded.
            self.log_events(tenant.id, vec![self.sapi(tenant, caller, 204, None, None)]).await?;
            return Ok(());
        };
        let events =
            [self.sapi(tenant, caller, 204, None, None), self.user_event("sdu", tenant, caller, &existing.user)];
        self.store.delete_user(tenant.id, id, &events).await?;
        Ok(())
    }

    pub async fn users_by_email(
        &self,
        tenant: &Tenant,
        email: &str,
        fields: &[String],
        include: bool,
    ) -> Result<Vec<Value>, ServiceError> {
        let found = self.store.users_by_email(tenant.id, email).await?;
        Ok(found.into_iter().map(|s| project(s.user.to_json(), fields, include)).collect())
    }

    pub async fn update_user(
        &self,
        tenant: &Tenant,
        caller: &Principal,
        id: &str,
        body: &Value,
    ) -> Result<Value, ServiceError> {
        let patch = user_input::parse_patch(body)?;
        if !caller.has("update:users") && !patch.only_app_metadata() {
            return Err(ServiceError::Forbidden {
                message: "Some fields cannot be updated with the permissions granted by the bearer token scopes. The following scopes are required: update:users.".into(),
                code: "insufficient_scope",
            });
        }
        // Most updates (metadata, names, blocked) need nothing but the row:
        // it is read and written in one transaction under the write lock.
        if patch.password.is_none() && patch.username.is_keep() {
            let now = format_ms(self.now_ms());
            let done = self
                .store
                .update_user_with(tenant.id, id, |stored| {
                    let mut u = stored.user;
                    apply_patch(&patch, &mut u);
                    u.updated_at = now;
                    let out = u.to_json();
                    let events = vec![self.sapi(tenant, caller, 200, Some(body), Some(&out))];
                    Ok::<_, ServiceError>((u, events, out))
                })
                .await;
            return match done {
                Ok(Some(r)) => r,
                Ok(None) => Err(ServiceError::user_not_found()),
                Err(e) => Err(update_failed(e)),
            };
        }
        let stored = self.store.get_user(tenant.id, id).await?.ok_or_else(ServiceError::user_not_found)?;
        let before = stored.user.clone();
        let mut u = stored.user;
        let now = format_ms(self.now_ms());
        // The connection's settings matter only to a new username or
        // password.
        let conn = match u.connection() {
            Some(name) => self.store.connection_by_name(tenant.id, name).await?,
            _ => None,
        };
        if !patch.username.is_keep() && !conn.as_ref().is_some_and(|c| c.options.requires_username.unwrap_or(false)) {
            return Err(ServiceError::bad_request(
                "Cannot set username for connection without requires_username.",
                None,
            ));
        }
        apply_patch(&patch, &mut u);
        let mut new_hash = None;
        if let Some(pw) = &patch.password {
            let conn = conn
                .as_ref()
                .filter(|c| c.is_database())
                .ok_or_else(|| ServiceError::bad_request("Connection is not supported for this operation", None))?;
            password_policy::check(conn.options.policy(), conn.options.min_length(), pw)?;
            let rules = password_policy::PasswordRules::from_options(&conn.options.extra);
            rules.check(pw, &personal_info(&u))?;
            if rules.history > 0 {
                let mut previous: Vec<String> = stored.password_hash.iter().cloned().collect();
                previous.extend(self.store.password_history(tenant.id, &u.user_id, rules.history as u64 - 1).await?);
                for old in previous {
                    if self.hasher.verify(pw.clone(), old).await? {
                        return Err(ServiceError::bad_request(
                            "PasswordHistoryError: Password has previously been used",
                            None,
                        ));
                    }
                }
            }
            new_hash = Some(self.hasher.hash(pw.clone()).await?);
            u.last_password_reset = Some(now.clone());
        }
        u.updated_at = now;
        let out = u.to_json();
        let mut events = vec![self.sapi(tenant, caller, 200, Some(body), Some(&out))];
        if new_hash.is_some() {
            events.push(self.user_event("scp", tenant, caller, &u));
        }
        self.store
            .update_user(tenant.id, stored.pk, &before, &u, new_hash.as_deref(), &events)
            .await
            .map_err(update_failed)?;
        Ok(out)
    }

    pub async fn list_users(&self, tenant: &Tenant, p: &ListUsers) -> Result<UserList, ServiceError> {
        match p.search_engine.as_deref() {
            None | Some("v3") => {}
            Some("v1") => return Err(ServiceError::invalid_query("You are not allowed to use search_engine=v1.")),
            Some("v2") => {
                return Err(ServiceError::invalid_query("You are not allowed to use search_engine=v2. Use search_engine=v3 instead."))
            }
            Some(other) => {
                return Err(ServiceError::invalid_query(format!(
                    "Query validation error: 'Invalid value \"{other}\"; expected one of v1, v2, v3' on property search_engine."
                )))
            }
        }
        let per_page = p.per_page.unwrap_or(DEFAULT_PER_PAGE);
        if per_page > MAX_PER_PAGE {
            return Err(ServiceError::invalid_query(format!(
                "Query validation error: 'Too large (value {per_page}); maximum 100' on property per_page (Number of results per page. Paging is disabled if parameter not sent.)."
            )));
        }
        let page = p.page.unwrap_or(0);
        let start = page.saturating_mul(per_page);
        if !tenant.settings.lift_search_cap && start.saturating_add(per_page) > SEARCH_CAP {
            return Err(ServiceError::bad_request(
                "You can only page through the first 1000 records. See https://auth0.com/docs/users/search/v3/view-search-results-by-page#limitation.",
                Some("invalid_paging"),
            ));
        }
        let sort = p.sort.as_deref().map(parse_sort).transpose()?;
        let filter = match p.q.as_deref() {
            Some(q) if !q.trim().is_empty() => castellan_query::parse(q, &UserSchema)
                .map_err(|e| ServiceError::invalid_query(format!("Invalid query string: {e}")))?,
            _ => Filter::All,
        };
        let page_rows = self.store.search_users(tenant.id, &filter, sort, start, per_page, p.include_totals).await?;
        let users: Vec<Value> =
            page_rows.users.into_iter().map(|s| project(s.user.to_json(), &p.fields, p.include_fields)).collect();
        Ok(match page_rows.total {
            Some(total) => UserList::Totals { start, limit: per_page, length: users.len() as u64, users, total },
            None => UserList::Array(users),
        })
    }
}

impl App {
    /// An event about a user (`ss`, `sdu`, `scp`…), by a Management API caller.
    fn user_event(
        &self,
        kind: &str,
        tenant: &Tenant,
        caller: &Principal,
        u: &User,
    ) -> castellan_domain::log_event::LogEvent {
        let mut e = self.event(kind, tenant, caller);
        e.description = None;
        e.user_id = Some(u.user_id.clone());
        e.user_name = u.email.clone().or_else(|| u.username.clone()).or_else(|| u.phone_number.clone());
        e.connection = u.connection().map(str::to_string);
        e.strategy = Some("auth0".into());
        e.strategy_type = Some("database".into());
        e
    }
}

/// What `password_no_personal_info` keeps out of a password.
fn personal_info(u: &User) -> Vec<&str> {
    let mut out: Vec<&str> = [&u.name, &u.nickname, &u.username, &u.email, &u.given_name, &u.family_name]
        .into_iter()
        .filter_map(|v| v.as_deref())
        .collect();
    if let Some(e) = &u.email {
        out.push(email_local_part(e));
    }
    out
}

fn parse_sort(s: &str) -> Result<Sort, ServiceError> {
    let bad = || {
        ServiceError::invalid_query(format!(
        "Query validation error: 'String does not match pattern ^(([a-zA-Z0-9_\\.]+))\\:(1|-1)$: {s}' on property sort (Field to sort by. Use field:order where order is 1 for ascending and -1 for descending.)."
    ))
    };
    let (field, dir) = s.rsplit_once(':').ok_or_else(bad)?;
    let descending = match dir {
        "1" => false,
        "-1" => true,
        _ => return Err(bad()),
    };
    let field = SortField::parse(field)
        .ok_or_else(|| ServiceError::invalid_query(format!("Sorting by '{field}' is not supported.")))?;
    Ok(Sort { field, descending })
}

fn new_user(input: &CreateUser, connection: &str, now_ms: i64) -> User {
    let now = format_ms(now_ms);
    let local_id = input.user_id.clone().filter(|s| !s.is_empty()).unwrap_or_else(|| ids::object_id(now_ms));
    let handle = input
        .email
        .clone()
        .or_else(|| input.username.clone())
        .or_else(|| input.phone_number.clone())
        .unwrap_or_else(|| local_id.clone());
    let name = input.name.clone().unwrap_or_else(|| handle.clone());
    let nickname = input
        .nickname
        .clone()
        .unwrap_or_else(|| input.username.clone().unwrap_or_else(|| email_local_part(&handle).to_string()));
    let picture = input.picture.clone().unwrap_or_else(|| default_picture(input.email.as_deref(), &name));
    User {
        created_at: now.clone(),
        email: input.email.clone(),
        email_verified: input.email_verified.unwrap_or(false),
        family_name: input.family_name.clone(),
        given_name: input.given_name.clone(),
        identities: vec![Identity {
            connection: connection.to_string(),
            user_id: local_id.clone(),
            provider: "auth0".into(),
            is_social: false,
        }],
        name: Some(name),
        nickname: Some(nickname),
        phone_number: input.phone_number.clone(),
        phone_verified: input.phone_verified,
        picture: Some(picture),
        updated_at: now,
        user_id: format!("auth0|{local_id}"),
        username: input.username.clone(),
        blocked: input.blocked,
        last_ip: None,
        last_login: None,
        logins_count: None,
        last_password_reset: None,
        user_metadata: input.user_metadata.clone(),
        app_metadata: input.app_metadata.clone(),
    }
}

/// What a failed user update answers.
fn update_failed(e: StoreError) -> ServiceError {
    match e {
        StoreError::Conflict(_) => ServiceError::bad_request("The specified new email already exists", None),
        StoreError::NotFound => ServiceError::user_not_found(),
        e => e.into(),
    }
}

/// Applies a PATCH's profile fields and metadata to `u` (not the password,
/// and not `updated_at`).
fn apply_patch(patch: &user_input::UserPatch, u: &mut User) {
    let apply = |slot: &mut Option<String>, c: &Change<String>| match c {
        Change::Keep => {}
        Change::Unset => *slot = None,
        Change::Set(v) => *slot = Some(v.clone()),
    };
    if let Change::Set(_) | Change::Unset = &patch.email {
        apply(&mut u.email, &patch.email);
        u.email_verified = patch.email_verified.unwrap_or(false);
    } else if let Some(v) = patch.email_verified {
        u.email_verified = v;
    }
    apply(&mut u.username, &patch.username);
    apply(&mut u.phone_number, &patch.phone_number);
    apply(&mut u.given_name, &patch.given_name);
    apply(&mut u.family_name, &patch.family_name);
    apply(&mut u.name, &patch.name);
    apply(&mut u.nickname, &patch.nickname);
    apply(&mut u.picture, &patch.picture);
    if let Some(v) = patch.phone_verified {
        u.phone_verified = Some(v);
    }
    if let Some(b) = patch.blocked {
        u.blocked = Some(b);
    }
    if let Some(m) = &patch.user_metadata {
        u.user_metadata = metadata::merge(u.user_metadata.as_ref(), m);
    }
    if let Some(m) = &patch.app_metadata {
        u.app_metadata = metadata::merge(u.app_metadata.as_ref(), m);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sort_parsing() {
        assert_eq!(parse_sort("name:1").unwrap(), Sort { field: SortField::Name, descending: false });
        assert_eq!(parse_sort("created_at:-1").unwrap(), Sort { field: SortField::CreatedAt, descending: true });
        for bad in ["name", "name:2", "user_metadata.x:1", ":1", "name:"] {
            assert!(parse_sort(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn new_user_defaults_follow_auth0() {
        let input = CreateUser { email: Some("auzironian@example.com".into()), ..Default::default() };
        let u = new_user(&input, "Username-Password-Authentication", 1_674_673_226_187);
        assert_eq!(u.name.as_deref(), Some("auzironian@example.com"));
        assert_eq!(u.nickname.as_deref(), Some("auzironian"));
        assert!(u.user_id.starts_with("auth0|63d17c4a"));
        assert_eq!(u.identities[0].user_id, u.user_id.trim_start_matches("auth0|"));
        assert_eq!(u.created_at, "2023-01-25T19:00:26.187Z");
        assert!(u.picture.as_deref().unwrap_or("").ends_with("au.png"));
        assert!(u.user_metadata.is_none() && u.app_metadata.is_none());
    }
}
