//! Roles, role permissions, users' roles and direct permissions.
//!
//! Assignments are rows keyed by ids (`user_roles`, `role_permissions`,
//! `user_permissions`); adding one that exists is a no-op. Each write checks
//! the role or user it names inside its own transaction, so a request naming
//! something missing changes nothing. A user's roles and permissions are
//! read through `roles`, and permissions only on APIs in `resource_servers`,
//! so a row left behind by a concurrent delete is never shown. PostgreSQL
//! rejects NUL characters in text: ids holding one cannot exist and are
//! answered without a query.

use castellan_domain::rbac::{PermissionRef, Role, Source};
use castellan_domain::user::User;
use sqlx::any::AnyRow;
use sqlx::{Any, Transaction};

use crate::sql::Sql;
use crate::{get_i64, get_opt_str, get_str, Result, StoreError};

/// One page of a list and the size of the whole list.
#[derive(Debug, Clone, PartialEq)]
pub struct Listed<T> {
    pub items: Vec<T>,
    pub total: u64,
}

/// What a write found missing (it then changed nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    Role,
    User,
}

/// One of a user's permissions and everything that grants it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EffectivePermission {
    pub permission: PermissionRef,
    /// Direct first, then roles by name.
    pub sources: Vec<Source>,
}

/// Rows per multi-row statement (4 arguments each).
const CHUNK: usize = 200;

/// Whether PostgreSQL can hold the text (it has no NUL characters).
fn storable(s: &str) -> bool {
    !s.contains('\0')
}

fn count(row: &AnyRow) -> Result<u64> {
    Ok(get_i64(row, "n")?.max(0) as u64)
}

fn clamp(n: u64) -> i64 {
    n.min(i64::MAX as u64) as i64
}

fn role_of(row: &AnyRow) -> Result<Role> {
    Ok(Role { id: get_str(row, "id")?, name: get_str(row, "name")?, description: get_opt_str(row, "description")? })
}

fn permission_of(row: &AnyRow) -> Result<PermissionRef> {
    Ok(PermissionRef {
        resource_server_identifier: get_str(row, "resource_server_identifier")?,
        permission_name: get_str(row, "permission_name")?,
    })
}

fn user_of(row: &AnyRow) -> Result<User> {
    serde_json::from_str(&get_str(row, "doc")?).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// `AND EXISTS (the permission's API)`, for a table aliased `p`.
const API_EXISTS: &str = " AND EXISTS (SELECT 1 FROM resource_servers rs WHERE rs.tenant_id = p.tenant_id \
     AND rs.identifier = p.resource_server_identifier)";

/// `(col = a OR col = b ...)` over `values`.
fn any_of(q: &mut Sql, col: &str, values: &[String]) {
    q.push("(");
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            q.push(" OR ");
        }
        q.push(col).push(" = ").text(v);
    }
    q.push(")");
}

/// `((p.rsi = a AND p.name = b) OR ...)` over `perms`.
fn any_permission(q: &mut Sql, perms: &[PermissionRef]) {
    q.push("(");
    for (i, p) in perms.iter().enumerate() {
        if i > 0 {
            q.push(" OR ");
        }
        q.push("(resource_server_identifier = ").text(&p.resource_server_identifier);
        q.push(" AND permission_name = ").text(&p.permission_name).push(")");
    }
    q.push(")");
}

async fn exists(tx: &mut Transaction<'_, Any>, mut q: Sql) -> Result<bool> {
    q.push(" LIMIT 1");
    Ok(q.build().fetch_optional(&mut **tx).await?.is_some())
}

async fn role_exists(tx: &mut Transaction<'_, Any>, tenant: i64, id: &str) -> Result<bool> {
    if !storable(id) {
        return Ok(false);
    }
    let mut q = Sql::new("SELECT 1 FROM roles WHERE tenant_id = ");
    q.int(tenant).push(" AND id = ").text(id);
    exists(tx, q).await
}

async fn user_exists(tx: &mut Transaction<'_, Any>, tenant: i64, user_id: &str) -> Result<bool> {
    if !storable(user_id) {
        return Ok(false);
    }
    let mut q = Sql::new("SELECT 1 FROM users WHERE tenant_id = ");
    q.int(tenant).push(" AND user_id = ").text(user_id);
    exists(tx, q).await
}

/// How many of `ids` exist in `table.col` (ids are distinct).
async fn count_existing(
    tx: &mut Transaction<'_, Any>,
    tenant: i64,
    table: &str,
    col: &str,
    ids: &[String],
) -> Result<usize> {
    let ids: Vec<String> = ids.iter().filter(|s| storable(s)).cloned().collect();
    let mut found = 0;
    for chunk in ids.chunks(CHUNK) {
        let mut q = Sql::new(&format!("SELECT COUNT(*) AS n FROM {table} WHERE tenant_id = "));
        q.int(tenant).push(" AND ");
        any_of(&mut q, col, chunk);
        found += count(&q.build().fetch_one(&mut **tx).await?)? as usize;
    }
    Ok(found)
}

/// Inserts `(tenant, key, identifier, name[, created_at])` rows, skipping
/// those that exist.
async fn insert_permissions(
    tx: &mut Transaction<'_, Any>,
    table: &str,
    key_col: &str,
    tenant: i64,
    key: &str,
    perms: &[PermissionRef],
    created_at: Option<i64>,
) -> Result<()> {
    for chunk in perms.chunks(CHUNK) {
        let mut q = Sql::new(&format!(
            "INSERT INTO {table} (tenant_id, {key_col}, resource_server_identifier, permission_name{}) VALUES ",
            if created_at.is_some() { ", created_at" } else { "" }
        ));
        for (i, p) in chunk.iter().enumerate() {
            q.push(if i > 0 { ", (" } else { "(" }).int(tenant).push(", ").text(key);
            q.push(", ").text(&p.resource_server_identifier).push(", ").text(&p.permission_name);
            if let Some(t) = created_at {
                q.push(", ").int(t);
            }
            q.push(")");
        }
        q.push(" ON CONFLICT DO NOTHING");
        q.build().execute(&mut **tx).await?;
    }
    Ok(())
}

async fn delete_permissions(
    tx: &mut Transaction<'_, Any>,
    table: &str,
    key_col: &str,
    tenant: i64,
    key: &str,
    perms: &[PermissionRef],
) -> Result<()> {
    let perms: Vec<PermissionRef> = perms
        .iter()
        .filter(|p| storable(&p.resource_server_identifier) && storable(&p.permission_name))
        .cloned()
        .collect();
    for chunk in perms.chunks(CHUNK) {
        let mut q = Sql::new(&format!("DELETE FROM {table} WHERE tenant_id = "));
        q.int(tenant).push(&format!(" AND {key_col} = ")).text(key).push(" AND ");
        any_permission(&mut q, chunk);
        q.build().execute(&mut **tx).await?;
    }
    Ok(())
}

/// Inserts `(tenant, user_id, role_id, created_at)` rows, skipping those
/// that exist.
async fn insert_user_roles(tx: &mut Transaction<'_, Any>, tenant: i64, pairs: &[(&str, &str)], now: i64) -> Result<()> {
    for chunk in pairs.chunks(CHUNK) {
        let mut q = Sql::new("INSERT INTO user_roles (tenant_id, user_id, role_id, created_at) VALUES ");
        for (i, (user, role)) in chunk.iter().enumerate() {
            q.push(if i > 0 { ", (" } else { "(" }).int(tenant).push(", ").text(*user);
            q.push(", ").text(*role).push(", ").int(now).push(")");
        }
        q.push(" ON CONFLICT DO NOTHING");
        q.build().execute(&mut **tx).await?;
    }
    Ok(())
}

mod roles;
mod users;
