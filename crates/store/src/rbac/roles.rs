//! Roles: create, read, rename, delete and list; their permissions and
//! their members.

use castellan_domain::log_event::LogEvent;
use castellan_domain::rbac::{PermissionRef, Role};
use castellan_domain::user::User;
use sqlx::{Any, Executor, Transaction};

use super::{
    clamp, count, count_existing, delete_permissions, exists, insert_permissions, insert_user_roles, permission_of,
    role_exists, role_of, storable, user_of, Listed, Missing, API_EXISTS,
};
use crate::sql::{Arg, Sql};
use crate::{Dialect, Result, Store, StoreError};

/// Serializes role-name checks across instances sharing a PostgreSQL
/// (SQLite writes are already serialized by the store's write lock).
async fn lock_role_names(tx: &mut Transaction<'_, Any>, dialect: Dialect, tenant: i64) -> Result<()> {
    if dialect == Dialect::Postgres {
        let sql = format!("SELECT pg_advisory_xact_lock(7300502, {})", tenant.clamp(0, i32::MAX as i64));
        (&mut **tx).execute(sql.as_str()).await?;
    }
    Ok(())
}

async fn name_taken(tx: &mut Transaction<'_, Any>, tenant: i64, name: &str, except: Option<&str>) -> Result<bool> {
    let mut q = Sql::new("SELECT 1 FROM roles WHERE tenant_id = ");
    q.int(tenant).push(" AND name = ").text(name);
    if let Some(id) = except {
        q.push(" AND id <> ").text(id);
    }
    exists(tx, q).await
}

fn role_conflict() -> StoreError {
    StoreError::Conflict("The role already exists.".into())
}

impl Store {
    /// Inserts a role; a role of the same name (exact match) is a `Conflict`.
    pub async fn insert_role(&self, tenant: i64, role: &Role, now_ms: i64, events: &[LogEvent]) -> Result<()> {
        let _w = self.write_guard().await;
        let mut tx = self.write_tx().await?;
        lock_role_names(&mut tx, self.dialect, tenant).await?;
        if name_taken(&mut tx, tenant, &role.name, None).await? {
            return Err(role_conflict());
        }
        let mut q = Sql::new("INSERT INTO roles (tenant_id, id, name, description, created_at) VALUES (");
        q.int(tenant).push(", ").text(&role.id).push(", ").text(&role.name).push(", ");
        q.arg(role.description.clone().map(Arg::Text).unwrap_or(Arg::NullText)).push(", ").int(now_ms).push(")");
        q.build().execute(&mut *tx).await.map_err(|e| crate::conflict_or(e, "The role already exists."))?;
        self.insert_logs_tx(&mut tx, tenant, events).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn get_role(&self, tenant: i64, id: &str) -> Result<Option<Role>> {
        if !storable(id) {
            return Ok(None);
        }
        let mut q = Sql::new("SELECT id, name, description FROM roles WHERE tenant_id = ");
        q.int(tenant).push(" AND id = ").text(id);
        q.build().fetch_optional(&self.pool).await?.as_ref().map(role_of).transpose()
    }

    /// Replaces a role's name and description: `NotFound` when it is gone,
    /// `Conflict` when another role has the name.
    pub async fn update_role(&self, tenant: i64, role: &Role, events: &[LogEvent]) -> Result<()> {
        if !storable(&role.id) {
            return Err(StoreError::NotFound);
        }
        let _w = self.write_guard().await;
        let mut tx = self.write_tx().await?;
        lock_role_names(&mut tx, self.dialect, tenant).await?;
        if name_taken(&mut tx, tenant, &role.name, Some(&role.id)).await? {
            return Err(role_conflict());
        }
        let mut q = Sql::new("UPDATE roles SET name = ");
        q.text(&role.name).push(", description = ");
        q.arg(role.description.clone().map(Arg::Text).unwrap_or(Arg::NullText));
        q.push(" WHERE tenant_id = ").int(tenant).push(" AND id = ").text(&role.id);
        if q.build().execute(&mut *tx).await?.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        self.insert_logs_tx(&mut tx, tenant, events).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Deletes a role, its permissions and its assignments to users, with
    /// `events`, in one transaction; false (and nothing recorded) when there
    /// was no such role.
    pub async fn delete_role(&self, tenant: i64, id: &str, events: &[LogEvent]) -> Result<bool> {
        if !storable(id) {
            return Ok(false);
        }
        let _w = self.write_guard().await;
        let mut tx = self.write_tx().await?;
        for table in ["user_roles", "role_permissions"] {
            let mut d = Sql::new(&format!("DELETE FROM {table} WHERE tenant_id = "));
            d.int(tenant).push(" AND role_id = ").text(id);
            d.build().execute(&mut *tx).await?;
        }
        let mut d = Sql::new("DELETE FROM roles WHERE tenant_id = ");
        d.int(tenant).push(" AND id = ").text(id);
        if d.build().execute(&mut *tx).await?.rows_affected() == 0 {
            // Nothing to delete: roll back, record nothing.
            return Ok(false);
        }
        self.insert_logs_tx(&mut tx, tenant, events).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Roles by name (ASCII letters case-folded, then byte order, then id).
    /// `name_filter` keeps the roles whose name contains it, ignoring the
    /// case of ASCII letters.
    pub async fn list_roles(
        &self,
        tenant: i64,
        name_filter: Option<&str>,
        offset: u64,
        limit: u64,
    ) -> Result<Listed<Role>> {
        let mut cond = Sql::new(" FROM roles WHERE tenant_id = ");
        cond.int(tenant);
        if let Some(f) = name_filter.filter(|f| !f.is_empty()) {
            if !storable(f) {
                return Ok(Listed { items: vec![], total: 0 });
            }
            let mut pattern = String::from("%");
            for c in f.to_ascii_lowercase().chars() {
                if matches!(c, '%' | '_' | '\\') {
                    pattern.push('\\');
                }
                pattern.push(c);
            }
            pattern.push('%');
            cond.push(" AND lower(name) LIKE ").text(pattern).push(" ESCAPE '\\'");
        }
        let mut q = Sql::new("SELECT id, name, description");
        q.push(&cond.text).args.clone_from(&cond.args);
        q.push(" ORDER BY lower(name), name, id LIMIT ").int(clamp(limit)).push(" OFFSET ").int(clamp(offset));
        let rows = q.build().fetch_all(&self.pool).await?;
        let mut c = Sql::new("SELECT COUNT(*) AS n");
        c.push(&cond.text).args.clone_from(&cond.args);
        let total = count(&c.build().fetch_one(&self.pool).await?)?;
        Ok(Listed { items: rows.iter().map(role_of).collect::<Result<_>>()?, total })
    }

    /// A role's permissions on existing APIs, by API identifier then name.
    pub async fn role_permissions(
        &self,
        tenant: i64,
        role_id: &str,
        offset: u64,
        limit: u64,
    ) -> Result<Listed<PermissionRef>> {
        if !storable(role_id) {
            return Ok(Listed { items: vec![], total: 0 });
        }
        let mut cond = Sql::new(" FROM role_permissions p WHERE p.tenant_id = ");
        cond.int(tenant).push(" AND p.role_id = ").text(role_id).push(API_EXISTS);
        let mut q = Sql::new("SELECT p.resource_server_identifier, p.permission_name");
        q.push(&cond.text).args.clone_from(&cond.args);
        q.push(" ORDER BY p.resource_server_identifier, p.permission_name LIMIT ").int(clamp(limit));
        q.push(" OFFSET ").int(clamp(offset));
        let rows = q.build().fetch_all(&self.pool).await?;
        let mut c = Sql::new("SELECT COUNT(*) AS n");
        c.push(&cond.text).args.clone_from(&cond.args);
        let total = count(&c.build().fetch_one(&self.pool).await?)?;
        Ok(Listed { items: rows.iter().map(permission_of).collect::<Result<_>>()?, total })
    }

    /// Adds permissions to a role; false (and nothing added) when the role
    /// does not exist.
    pub async fn add_role_permissions(
        &self,
        tenant: i64,
        role_id: &str,
        perms: &[PermissionRef],
        events: &[LogEvent],
    ) -> Result<bool> {
        let _w = self.write_guard().await;
        let mut tx = self.write_tx().await?;
        if !role_exists(&mut tx, tenant, role_id).await? {
            return Ok(false);
        }
        insert_permissions(&mut tx, "role_permissions", "role_id", tenant, role_id, perms, None).await?;
        self.insert_logs_tx(&mut tx, tenant, events).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Removes permissions from a role (those it lacks are ignored); false
    /// when the role does not exist.
    pub async fn remove_role_permissions(
        &self,
        tenant: i64,
        role_id: &str,
        perms: &[PermissionRef],
        events: &[LogEvent],
    ) -> Result<bool> {
        let _w = self.write_guard().await;
        let mut tx = self.write_tx().await?;
        if !role_exists(&mut tx, tenant, role_id).await? {
            return Ok(false);
        }
        delete_permissions(&mut tx, "role_permissions", "role_id", tenant, role_id, perms).await?;
        self.insert_logs_tx(&mut tx, tenant, events).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The users of a role by user id, offset-paged.
    pub async fn role_users(&self, tenant: i64, role_id: &str, offset: u64, limit: u64) -> Result<Listed<User>> {
        if !storable(role_id) {
            return Ok(Listed { items: vec![], total: 0 });
        }
        let mut cond = Sql::new(
            " FROM user_roles ur JOIN users u ON u.tenant_id = ur.tenant_id AND u.user_id = ur.user_id \
             WHERE ur.tenant_id = ",
        );
        cond.int(tenant).push(" AND ur.role_id = ").text(role_id);
        let mut q = Sql::new("SELECT u.doc");
        q.push(&cond.text).args.clone_from(&cond.args);
        q.push(" ORDER BY ur.user_id LIMIT ").int(clamp(limit)).push(" OFFSET ").int(clamp(offset));
        let rows = q.build().fetch_all(&self.pool).await?;
        let mut c = Sql::new("SELECT COUNT(*) AS n");
        c.push(&cond.text).args.clone_from(&cond.args);
        let total = count(&c.build().fetch_one(&self.pool).await?)?;
        Ok(Listed { items: rows.iter().map(user_of).collect::<Result<_>>()?, total })
    }

    /// Up to `take` users of a role whose id sorts after `after`, by user
    /// id (the checkpoint walk).
    pub async fn role_users_after(
        &self,
        tenant: i64,
        role_id: &str,
        after: Option<&str>,
        take: u64,
    ) -> Result<Vec<User>> {
        if !storable(role_id) || !after.is_none_or(storable) {
            return Ok(vec![]);
        }
        let mut q = Sql::new(
            "SELECT u.doc FROM user_roles ur JOIN users u ON u.tenant_id = ur.tenant_id AND u.user_id = ur.user_id \
             WHERE ur.tenant_id = ",
        );
        q.int(tenant).push(" AND ur.role_id = ").text(role_id);
        if let Some(a) = after {
            q.push(" AND ur.user_id > ").text(a);
        }
        q.push(" ORDER BY ur.user_id LIMIT ").int(clamp(take));
        q.build().fetch_all(&self.pool).await?.iter().map(user_of).collect()
    }

    /// Gives a role to users (distinct ids). Nothing changes when the role
    /// or any of the users does not exist.
    pub async fn add_role_users(
        &self,
        tenant: i64,
        role_id: &str,
        user_ids: &[String],
        now_ms: i64,
        events: &[LogEvent],
    ) -> Result<std::result::Result<(), Missing>> {
        let _w = self.write_guard().await;
        let mut tx = self.write_tx().await?;
        if !role_exists(&mut tx, tenant, role_id).await? {
            return Ok(Err(Missing::Role));
        }
        if count_existing(&mut tx, tenant, "users", "user_id", user_ids).await? != user_ids.len() {
            return Ok(Err(Missing::User));
        }
        let pairs: Vec<(&str, &str)> = user_ids.iter().map(|u| (u.as_str(), role_id)).collect();
        insert_user_roles(&mut tx, tenant, &pairs, now_ms).await?;
        self.insert_logs_tx(&mut tx, tenant, events).await?;
        tx.commit().await?;
        Ok(Ok(()))
    }
}
