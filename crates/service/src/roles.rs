//! Roles and permissions: roles CRUD, role permissions and users, users'
//! roles and effective permissions.
//!
//! Bodies are validated in full (castellan_domain::rbac) and every role,
//! user and API they name is checked before anything is written; the store
//! writes each request in one transaction. Permissions are shown with their
//! API's name and the scope's description, read from the resource server.

use std::collections::HashMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use castellan_domain::ids;
use castellan_domain::rbac::{self, Permission, PermissionRef, Role, RoleUser, SourceBody, UserPermission};
use castellan_domain::tenant_model::ResourceServer;
use castellan_domain::user::User;
use castellan_store::{Listed, Missing, StoreError};
use serde_json::Value;

use crate::{App, Principal, ServiceError, Tenant};

/// Offset paging over a role's users stops here unless the tenant lifts
/// the cap (Auth0: "Checkpoint pagination must be used if you need to
/// retrieve more than 1000" members).
pub const ROLE_USERS_OFFSET_CAP: u64 = 1000;

/// One page of a role's users walked by checkpoint; `next` is absent on
/// the last page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleUsersPage {
    pub users: Vec<RoleUser>,
    pub next: Option<String>,
}

pub fn role_not_found() -> ServiceError {
    ServiceError::Status { status: 404, message: "The role does not exist.".into(), code: None }
}

fn role_exists_conflict() -> ServiceError {
    ServiceError::Status { status: 409, message: "The role already exists.".into(), code: None }
}

fn api_not_found(identifier: &str) -> ServiceError {
    ServiceError::NotFound {
        message: format!("The resource server does not exist: '{identifier}'"),
        code: "inexistent_resource_server",
    }
}

fn permission_not_found(p: &PermissionRef) -> ServiceError {
    ServiceError::Status {
        status: 404,
        message: format!(
            "The permission does not exist: '{}' on resource server '{}'",
            p.permission_name, p.resource_server_identifier
        ),
        code: None,
    }
}

fn missing(m: Missing) -> ServiceError {
    match m {
        Missing::Role => role_not_found(),
        Missing::User => ServiceError::user_not_found(),
    }
}

fn role_user(u: User) -> RoleUser {
    RoleUser { user_id: u.user_id, email: u.email, picture: u.picture, name: u.name }
}

/// The opaque checkpoint: the last user id of a page, base64url.
fn encode_cursor(user_id: &str) -> String {
    URL_SAFE_NO_PAD.encode(user_id)
}

fn decode_cursor(from: &str) -> Result<String, ServiceError> {
    URL_SAFE_NO_PAD
        .decode(from.trim_end_matches('='))
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| {
            ServiceError::invalid_query(
                "Query validation error: 'Invalid checkpoint' on property from (Optional Id from which to start selection.).",
            )
        })
}

/// The APIs named by `identifiers`, each looked up once.
type Apis = HashMap<String, Option<ResourceServer>>;

impl App {
    async fn apis<'a>(
        &self,
        tenant: &Tenant,
        identifiers: impl Iterator<Item = &'a str>,
    ) -> Result<Apis, ServiceError> {
        let mut out = Apis::new();
        for id in identifiers {
            if out.contains_key(id) {
                continue;
            }
            // PostgreSQL cannot hold NUL in text: such an API cannot exist.
            let rs =
                if id.contains('\0') { None } else { self.store.resource_server_by_identifier(tenant.id, id).await? };
            out.insert(id.to_string(), rs);
        }
        Ok(out)
    }

    /// Checks that every API named exists and, when adding, that it defines
    /// the permission as one of its scopes.
    async fn check_permissions(
        &self,
        tenant: &Tenant,
        perms: &[PermissionRef],
        adding: bool,
    ) -> Result<(), ServiceError> {
        let apis = self.apis(tenant, perms.iter().map(|p| p.resource_server_identifier.as_str())).await?;
        for p in perms {
            let Some(Some(api)) = apis.get(&p.resource_server_identifier) else {
                return Err(api_not_found(&p.resource_server_identifier));
            };
            if adding && !api.scopes.iter().any(|s| s.value == p.permission_name) {
                return Err(permission_not_found(p));
            }
        }
        Ok(())
    }

    /// Permissions with their API's name and the scope's description.
    async fn describe(&self, tenant: &Tenant, perms: &[PermissionRef]) -> Result<Vec<Permission>, ServiceError> {
        let apis = self.apis(tenant, perms.iter().map(|p| p.resource_server_identifier.as_str())).await?;
        Ok(perms
            .iter()
            .map(|p| {
                let api = apis.get(&p.resource_server_identifier).and_then(Option::as_ref);
                Permission {
                    permission_name: p.permission_name.clone(),
                    description: api.and_then(|a| {
                        a.scopes.iter().find(|s| s.value == p.permission_name).map(|s| s.description.clone())
                    }),
                    resource_server_name: api.map(|a| a.name.clone()).unwrap_or_default(),
                    resource_server_identifier: p.resource_server_identifier.clone(),
                }
            })
            .collect())
    }

    async fn existing_role(&self, tenant: &Tenant, id: &str) -> Result<Role, ServiceError> {
        self.store.get_role(tenant.id, id).await?.ok_or_else(role_not_found)
    }

    async fn existing_user(&self, tenant: &Tenant, user_id: &str) -> Result<(), ServiceError> {
        if self.store.user_exists(tenant.id, user_id).await? {
            Ok(())
        } else {
            Err(ServiceError::user_not_found())
        }
    }

    pub async fn list_roles(
        &self,
        tenant: &Tenant,
        name_filter: Option<&str>,
        offset: u64,
        limit: u64,
    ) -> Result<Listed<Role>, ServiceError> {
        Ok(self.store.list_roles(tenant.id, name_filter, offset, limit).await?)
    }

    pub async fn create_role(&self, tenant: &Tenant, caller: &Principal, body: &Value) -> Result<Role, ServiceError> {
        let new = rbac::parse_new_role(body)?;
        let role = Role { id: ids::prefixed("rol"), name: new.name, description: new.description };
        match self
            .store
            .insert_role(
                tenant.id,
                &role,
                self.now_ms(),
                &[self.sapi(tenant, caller, 200, Some(body), serde_json::to_value(&role).ok().as_ref())],
            )
            .await
        {
            Ok(()) => Ok(role),
            Err(StoreError::Conflict(_)) => Err(role_exists_conflict()),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn get_role(&self, tenant: &Tenant, id: &str) -> Result<Role, ServiceError> {
        self.existing_role(tenant, id).await
    }

    pub async fn update_role(
        &self,
        tenant: &Tenant,
        caller: &Principal,
        id: &str,
        body: &Value,
    ) -> Result<Role, ServiceError> {
        let patch = rbac::parse_role_patch(body)?;
        let mut role = self.existing_role(tenant, id).await?;
        patch.apply(&mut role);
        match self
            .store
            .update_role(
                tenant.id,
                &role,
                &[self.sapi(tenant, caller, 200, Some(body), serde_json::to_value(&role).ok().as_ref())],
            )
            .await
        {
            Ok(()) => Ok(role),
            Err(StoreError::Conflict(_)) => Err(role_exists_conflict()),
            Err(StoreError::NotFound) => Err(role_not_found()),
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes the role, its permissions and its assignments.
    pub async fn delete_role(&self, tenant: &Tenant, caller: &Principal, id: &str) -> Result<(), ServiceError> {
        if self.store.delete_role(tenant.id, id, &[self.sapi(tenant, caller, 200, None, None)]).await? {
            Ok(())
        } else {
            Err(role_not_found())
        }
    }

    pub async fn role_permissions(
        &self,
        tenant: &Tenant,
        id: &str,
        offset: u64,
        limit: u64,
    ) -> Result<Listed<Permission>, ServiceError> {
        self.existing_role(tenant, id).await?;
        let page = self.store.role_permissions(tenant.id, id, offset, limit).await?;
        Ok(Listed { items: self.describe(tenant, &page.items).await?, total: page.total })
    }

    pub async fn add_role_permissions(
        &self,
        tenant: &Tenant,
        caller: &Principal,
        id: &str,
        body: &Value,
    ) -> Result<(), ServiceError> {
        let perms = rbac::parse_permissions(body)?;
        self.existing_role(tenant, id).await?;
        self.check_permissions(tenant, &perms, true).await?;
        if self
            .store
            .add_role_permissions(tenant.id, id, &perms, &[self.sapi(tenant, caller, 201, Some(body), None)])
            .await?
        {
            Ok(())
        } else {
            Err(role_not_found())
        }
    }

    pub async fn remove_role_permissions(
        &self,
        tenant: &Tenant,
        caller: &Principal,
        id: &str,
        body: &Value,
    ) -> Result<(), ServiceError> {
        let perms = rbac::parse_permissions(body)?;
        self.existing_role(tenant, id).await?;
        self.check_permissions(tenant, &perms, false).await?;
        if self
            .store
            .remove_role_permissions(tenant.id, id, &perms, &[self.sapi(tenant, caller, 204, Some(body), None)])
            .await?
        {
            Ok(())
        } else {
            Err(role_not_found())
        }
    }

    /// A role's users by offset (ordered by user id).
    pub async fn role_users(
        &self,
        tenant: &Tenant,
        id: &str,
        offset: u64,
        limit: u64,
    ) -> Result<Listed<RoleUser>, ServiceError> {
        if !tenant.settings.lift_search_cap && offset.saturating_add(limit) > ROLE_USERS_OFFSET_CAP {
            return Err(ServiceError::bad_request(
                "You can only page through the first 1000 records. See https://auth0.com/docs/users/search/v3/view-search-results-by-page#limitation.",
                Some("invalid_paging"),
            ));
        }
        self.existing_role(tenant, id).await?;
        let page = self.store.role_users(tenant.id, id, offset, limit).await?;
        Ok(Listed { items: page.items.into_iter().map(role_user).collect(), total: page.total })
    }

    /// A role's users by checkpoint: `take` users after the cursor `from`.
    pub async fn role_users_checkpoint(
        &self,
        tenant: &Tenant,
        id: &str,
        from: Option<&str>,
        take: u64,
    ) -> Result<RoleUsersPage, ServiceError> {
        let after = from.map(decode_cursor).transpose()?;
        self.existing_role(tenant, id).await?;
        let mut users = self.store.role_users_after(tenant.id, id, after.as_deref(), take.saturating_add(1)).await?;
        let more = users.len() as u64 > take;
        users.truncate(take as usize);
        let next = if more { users.last().map(|u| encode_cursor(&u.user_id)) } else { None };
        Ok(RoleUsersPage { users: users.into_iter().map(role_user).collect(), next })
    }

    /// Gives the role to users; every user must exist.
    pub async fn assign_role_users(
        &self,
        tenant: &Tenant,
        caller: &Principal,
        id: &str,
        body: &Value,
    ) -> Result<(), ServiceError> {
        let users = rbac::parse_user_ids(body)?;
        self.store
            .add_role_users(tenant.id, id, &users, self.now_ms(), &[self.sapi(tenant, caller, 200, Some(body), None)])
            .await?
            .map_err(missing)
    }

    pub async fn user_roles(
        &self,
        tenant: &Tenant,
        user_id: &str,
        offset: u64,
        limit: u64,
    ) -> Result<Listed<Role>, ServiceError> {
        self.existing_user(tenant, user_id).await?;
        Ok(self.store.user_roles(tenant.id, user_id, offset, limit).await?)
    }

    /// Gives roles to a user; every role must exist.
    pub async fn assign_user_roles(
        &self,
        tenant: &Tenant,
        caller: &Principal,
        user_id: &str,
        body: &Value,
    ) -> Result<(), ServiceError> {
        let roles = rbac::parse_role_ids(body, "List of roles IDs to associated with the user.")?;
        self.store
            .add_user_roles(
                tenant.id,
                user_id,
                &roles,
                self.now_ms(),
                &[self.sapi(tenant, caller, 204, Some(body), None)],
            )
            .await?
            .map_err(missing)
    }

    /// Takes roles from a user; roles it does not have are ignored.
    pub async fn remove_user_roles(
        &self,
        tenant: &Tenant,
        caller: &Principal,
        user_id: &str,
        body: &Value,
    ) -> Result<(), ServiceError> {
        let roles = rbac::parse_role_ids(body, "List of roles IDs to remove from the user.")?;
        if self
            .store
            .remove_user_roles(tenant.id, user_id, &roles, &[self.sapi(tenant, caller, 204, Some(body), None)])
            .await?
        {
            Ok(())
        } else {
            Err(ServiceError::user_not_found())
        }
    }

    /// The user's effective permissions (direct and through roles), each
    /// with its sources.
    pub async fn user_permissions(
        &self,
        tenant: &Tenant,
        user_id: &str,
        offset: u64,
        limit: u64,
    ) -> Result<Listed<UserPermission>, ServiceError> {
        self.existing_user(tenant, user_id).await?;
        let all = self.store.user_effective_permissions(tenant.id, user_id).await?;
        let total = all.len() as u64;
        let page: Vec<_> = all
            .into_iter()
            .skip(offset.min(usize::MAX as u64) as usize)
            .take(limit.min(usize::MAX as u64) as usize)
            .collect();
        let refs: Vec<PermissionRef> = page.iter().map(|e| e.permission.clone()).collect();
        let described = self.describe(tenant, &refs).await?;
        let items = described
            .into_iter()
            .zip(page)
            .map(|(permission, e)| UserPermission {
                permission,
                sources: e.sources.iter().map(SourceBody::from).collect(),
            })
            .collect();
        Ok(Listed { items, total })
    }

    pub async fn add_user_permissions(
        &self,
        tenant: &Tenant,
        caller: &Principal,
        user_id: &str,
        body: &Value,
    ) -> Result<(), ServiceError> {
        let perms = rbac::parse_permissions(body)?;
        self.existing_user(tenant, user_id).await?;
        self.check_permissions(tenant, &perms, true).await?;
        if self
            .store
            .add_user_permissions(
                tenant.id,
                user_id,
                &perms,
                self.now_ms(),
                &[self.sapi(tenant, caller, 201, Some(body), None)],
            )
            .await?
        {
            Ok(())
        } else {
            Err(ServiceError::user_not_found())
        }
    }

    /// Takes direct permissions from a user (those given by roles stay).
    pub async fn remove_user_permissions(
        &self,
        tenant: &Tenant,
        caller: &Principal,
        user_id: &str,
        body: &Value,
    ) -> Result<(), ServiceError> {
        let perms = rbac::parse_permissions(body)?;
        self.existing_user(tenant, user_id).await?;
        self.check_permissions(tenant, &perms, false).await?;
        if self
            .store
            .remove_user_permissions(tenant.id, user_id, &perms, &[self.sapi(tenant, caller, 204, Some(body), None)])
            .await?
        {
            Ok(())
        } else {
            Err(ServiceError::user_not_found())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        for id in ["auth0|64107988d3534be8b2dc383c", "google-oauth2|1", "ü|x/y+z"] {
            let c = encode_cursor(id);
            assert!(c.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_'), "{c}");
            assert_eq!(decode_cursor(&c).unwrap(), id);
        }
        assert!(decode_cursor("not base64!").is_err());
        assert!(decode_cursor(&URL_SAFE_NO_PAD.encode([0xff, 0xfe])).is_err(), "not UTF-8");
    }
}
