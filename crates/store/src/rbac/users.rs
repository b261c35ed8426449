//! Users' roles and direct permissions, their effective permissions, and
//! the clean-up when an API is deleted.

use castellan_domain::log_event::LogEvent;
use std::collections::{BTreeMap, BTreeSet};

use castellan_domain::rbac::{PermissionRef, Role, Source};

use super::{
    any_of, clamp, count, count_existing, delete_permissions, insert_permissions, insert_user_roles, permission_of,
    role_of, storable, user_exists, EffectivePermission, Listed, Missing, API_EXISTS, CHUNK,
};
use crate::get_str;
use crate::sql::Sql;
use crate::{Result, Store};

impl Store {
    pub async fn user_exists(&self, tenant: i64, user_id: &str) -> Result<bool> {
        if !storable(user_id) {
            return Ok(false);
        }
        let mut q = Sql::new("SELECT 1 FROM users WHERE tenant_id = ");
        q.int(tenant).push(" AND user_id = ").text(user_id).push(" LIMIT 1");
        Ok(q.build().fetch_optional(&self.pool).await?.is_some())
    }

    /// A user's roles, ordered as `list_roles` orders them.
    pub async fn user_roles(&self, tenant: i64, user_id: &str, offset: u64, limit: u64) -> Result<Listed<Role>> {
        if !storable(user_id) {
            return Ok(Listed { items: vec![], total: 0 });
        }
        let mut cond = Sql::new(
            " FROM user_roles ur JOIN roles r ON r.tenant_id = ur.tenant_id AND r.id = ur.role_id WHERE ur.tenant_id = ",
        );
        cond.int(tenant).push(" AND ur.user_id = ").text(user_id);
        let mut q = Sql::new("SELECT r.id, r.name, r.description");
        q.push(&cond.text).args.clone_from(&cond.args);
        q.push(" ORDER BY lower(r.name), r.name, r.id LIMIT ").int(clamp(limit)).push(" OFFSET ").int(clamp(offset));
        let rows = q.build().fetch_all(&self.pool).await?;
        let mut c = Sql::new("SELECT COUNT(*) AS n");
        c.push(&cond.text).args.clone_from(&cond.args);
        let total = count(&c.build().fetch_one(&self.pool).await?)?;
        Ok(Listed { items: rows.iter().map(role_of).collect::<Result<_>>()?, total })
    }

    /// Gives roles (distinct ids) to a user. Nothing changes when the user
    /// or any of the roles does not exist.
    pub async fn add_user_roles(
        &self,
        tenant: i64,
        user_id: &str,
        role_ids: &[String],
        now_ms: i64,
        events: &[LogEvent],
    ) -> Result<std::result::Result<(), Missing>> {
        let _w = self.write_guard().await;
        let mut tx = self.write_tx().await?;
        if !user_exists(&mut tx, tenant, user_id).await? {
            return Ok(Err(Missing::User));
        }
        if count_existing(&mut tx, tenant, "roles", "id", role_ids).await? != role_ids.len() {
            return Ok(Err(Missing::Role));
        }
        let pairs: Vec<(&str, &str)> = role_ids.iter().map(|r| (user_id, r.as_str())).collect();
        insert_user_roles(&mut tx, tenant, &pairs, now_ms).await?;
        self.insert_logs_tx(&mut tx, tenant, events).await?;
        tx.commit().await?;
        Ok(Ok(()))
    }

    /// Takes roles from a user (those it lacks are ignored); false when the
    /// user does not exist.
    pub async fn remove_user_roles(
        &self,
        tenant: i64,
        user_id: &str,
        role_ids: &[String],
        events: &[LogEvent],
    ) -> Result<bool> {
        let _w = self.write_guard().await;
        let mut tx = self.write_tx().await?;
        if !user_exists(&mut tx, tenant, user_id).await? {
            return Ok(false);
        }
        let role_ids: Vec<String> = role_ids.iter().filter(|s| storable(s)).cloned().collect();
        for chunk in role_ids.chunks(CHUNK) {
            let mut d = Sql::new("DELETE FROM user_roles WHERE tenant_id = ");
            d.int(tenant).push(" AND user_id = ").text(user_id).push(" AND ");
            any_of(&mut d, "role_id", chunk);
            d.build().execute(&mut *tx).await?;
        }
        self.insert_logs_tx(&mut tx, tenant, events).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Gives permissions directly to a user; false (and nothing added) when
    /// the user does not exist.
    pub async fn add_user_permissions(
        &self,
        tenant: i64,
        user_id: &str,
        perms: &[PermissionRef],
        now_ms: i64,
        events: &[LogEvent],
    ) -> Result<bool> {
        let _w = self.write_guard().await;
        let mut tx = self.write_tx().await?;
        if !user_exists(&mut tx, tenant, user_id).await? {
            return Ok(false);
        }
        insert_permissions(&mut tx, "user_permissions", "user_id", tenant, user_id, perms, Some(now_ms)).await?;
        self.insert_logs_tx(&mut tx, tenant, events).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Takes direct permissions from a user (role-given ones stay); false
    /// when the user does not exist.
    pub async fn remove_user_permissions(
        &self,
        tenant: i64,
        user_id: &str,
        perms: &[PermissionRef],
        events: &[LogEvent],
    ) -> Result<bool> {
        let _w = self.write_guard().await;
        let mut tx = self.write_tx().await?;
        if !user_exists(&mut tx, tenant, user_id).await? {
            return Ok(false);
        }
        delete_permissions(&mut tx, "user_permissions", "user_id", tenant, user_id, perms).await?;
        self.insert_logs_tx(&mut tx, tenant, events).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// A user's effective permissions on existing APIs (direct and through
    /// roles), by API identifier then name, each with its sources.
    pub async fn user_effective_permissions(&self, tenant: i64, user_id: &str) -> Result<Vec<EffectivePermission>> {
        let mut by_perm: BTreeMap<PermissionRef, BTreeSet<(bool, String, String)>> = BTreeMap::new();
        for row in self.permission_rows(tenant, user_id, None, true).await? {
            let (perm, role) = row;
            let key = match role {
                None => (false, String::new(), String::new()),
                Some((id, name)) => (true, name, id),
            };
            by_perm.entry(perm).or_default().insert(key);
        }
        Ok(by_perm
            .into_iter()
            .map(|(permission, keys)| EffectivePermission {
                permission,
                sources: keys
                    .into_iter()
                    .map(|(via_role, name, id)| if via_role { Source::Role { id, name } } else { Source::Direct })
                    .collect(),
            })
            .collect())
    }

    /// The names of the user's permissions on `audience` (direct and through
    /// roles), deduplicated and sorted: what an access token may carry.
    pub async fn user_permissions_for_audience(
        &self,
        tenant: i64,
        user_id: &str,
        audience: &str,
    ) -> Result<Vec<String>> {
        if !storable(audience) {
            return Ok(vec![]);
        }
        let names: BTreeSet<String> = self
            .permission_rows(tenant, user_id, Some(audience), false)
            .await?
            .into_iter()
            .map(|(p, _)| p.permission_name)
            .collect();
        Ok(names.into_iter().collect())
    }

    /// Direct rows (role `None`) then role rows (role id and name), on one
    /// API or all, optionally only on APIs that exist.
    async fn permission_rows(
        &self,
        tenant: i64,
        user_id: &str,
        audience: Option<&str>,
        existing_apis: bool,
    ) -> Result<Vec<(PermissionRef, Option<(String, String)>)>> {
        if !storable(user_id) {
            return Ok(vec![]);
        }
        let mut direct = Sql::new(
            "SELECT p.resource_server_identifier, p.permission_name FROM user_permissions p WHERE p.tenant_id = ",
        );
        direct.int(tenant).push(" AND p.user_id = ").text(user_id);
        let mut via = Sql::new(
            "SELECT p.resource_server_identifier, p.permission_name, r.id, r.name FROM user_roles ur \
             JOIN roles r ON r.tenant_id = ur.tenant_id AND r.id = ur.role_id \
             JOIN role_permissions p ON p.tenant_id = r.tenant_id AND p.role_id = r.id WHERE ur.tenant_id = ",
        );
        via.int(tenant).push(" AND ur.user_id = ").text(user_id);
        for q in [&mut direct, &mut via] {
            if let Some(a) = audience {
                q.push(" AND p.resource_server_identifier = ").text(a);
            }
            if existing_apis {
                q.push(API_EXISTS);
            }
        }
        let mut out = Vec::new();
        for row in direct.build().fetch_all(&self.pool).await? {
            out.push((permission_of(&row)?, None));
        }
        for row in via.build().fetch_all(&self.pool).await? {
            out.push((permission_of(&row)?, Some((get_str(&row, "id")?, get_str(&row, "name")?))));
        }
        Ok(out)
    }
}
