//! The tenant's configuration documents as generic JSON rows: resource
//! servers, clients, client grants and connections share one shape (tenant,
//! id, lookup columns, `doc`, `created_at`), so listing, reading, replacing
//! and deleting them is written once. The cascades that keep references from
//! dangling (a deleted client's grants, an API's permissions, a connection's
//! users) run in the same transaction as the delete.

use castellan_domain::log_event::LogEvent;
use serde_json::Value;
use sqlx::{Any, Transaction};

use crate::sql::Sql;
use crate::{get_i64, get_str, Result, Store, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocKind {
    ResourceServer,
    Client,
    ClientGrant,
    Connection,
    LogStream,
}

impl DocKind {
    fn table(self) -> &'static str {
        match self {
            DocKind::ResourceServer => "resource_servers",
            DocKind::Client => "clients",
            DocKind::ClientGrant => "client_grants",
            DocKind::Connection => "connections",
            DocKind::LogStream => "log_streams",
        }
    }
    fn id_col(self) -> &'static str {
        match self {
            DocKind::Client => "client_id",
            _ => "id",
        }
    }
}

/// Optional equality filters on a kind's lookup columns.
#[derive(Debug, Default, Clone)]
pub struct DocFilter {
    pub audience: Option<String>,
    pub client_id: Option<String>,
}

pub(crate) fn parse(s: &str) -> Result<Value> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(e.to_string()))
}

impl Store {
    /// Documents of a kind in creation order, with the total count.
    pub async fn list_docs(
        &self,
        tenant: i64,
        kind: DocKind,
        filter: &DocFilter,
        offset: u64,
        limit: u64,
    ) -> Result<(Vec<Value>, u64)> {
        let mut cond = Sql::new("");
        cond.push(" WHERE tenant_id = ").int(tenant);
        if let Some(a) = &filter.audience {
            cond.push(" AND audience = ").text(a.as_str());
        }
        if let Some(c) = &filter.client_id {
            cond.push(" AND client_id = ").text(c.as_str());
        }
        let mut q = Sql::new(&format!("SELECT doc FROM {}", kind.table()));
        q.push(&cond.text);
        q.args = cond.args.clone();
        q.push(&format!(" ORDER BY created_at, {} LIMIT ", kind.id_col()));
        q.int(limit.min(i64::MAX as u64) as i64).push(" OFFSET ").int(offset.min(i64::MAX as u64) as i64);
        let rows = q.build().fetch_all(&self.pool).await?;
        let docs = rows.iter().map(|r| parse(&get_str(r, "doc")?)).collect::<Result<Vec<_>>>()?;
        let mut c = Sql::new(&format!("SELECT COUNT(*) AS n FROM {}", kind.table()));
        c.push(&cond.text);
        c.args = cond.args;
        let total = get_i64(&c.build().fetch_one(&self.pool).await?, "n")?.max(0) as u64;
        Ok((docs, total))
    }

    pub async fn get_doc(&self, tenant: i64, kind: DocKind, id: &str) -> Result<Option<Value>> {
        let mut q = Sql::new(&format!("SELECT doc FROM {} WHERE tenant_id = ", kind.table()));
        q.int(tenant).push(&format!(" AND {} = ", kind.id_col())).text(id);
        q.build().fetch_optional(&self.pool).await?.map(|r| parse(&get_str(&r, "doc")?)).transpose()
    }

    /// Replaces a document; `NotFound` when it does not exist.
    pub async fn put_doc(&self, tenant: i64, kind: DocKind, id: &str, doc: &Value, events: &[LogEvent]) -> Result<()> {
        let mut q = Sql::new(&format!("UPDATE {} SET doc = ", kind.table()));
        q.text(doc.to_string()).push(" WHERE tenant_id = ").int(tenant);
        q.push(&format!(" AND {} = ", kind.id_col())).text(id);
        if self.exec_logged(tenant, &q, events, "conflict").await? == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Sets a client's secret (hash for verification, sealed copy for display).
    pub async fn set_client_secret(
        &self,
        tenant: i64,
        client_id: &str,
        hash: &str,
        sealed: &str,
        events: &[LogEvent],
    ) -> Result<()> {
        let mut q = Sql::new("UPDATE clients SET secret_hash = ");
        q.text(hash).push(", secret_sealed = ").text(sealed).push(" WHERE tenant_id = ").int(tenant);
        q.push(" AND client_id = ").text(client_id);
        if self.exec_logged(tenant, &q, events, "conflict").await? == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// The sealed secret of a client ("" when none is kept).
    pub async fn client_secret_sealed(&self, tenant: i64, client_id: &str) -> Result<Option<String>> {
        let mut q = Sql::new("SELECT secret_sealed FROM clients WHERE tenant_id = ");
        q.int(tenant).push(" AND client_id = ").text(client_id);
        q.build().fetch_optional(&self.pool).await?.map(|r| get_str(&r, "secret_sealed")).transpose()
    }

    /// Deletes a client, its grants, and its place in connections'
    /// `enabled_clients`. False when it did not exist.
    pub async fn delete_client(&self, tenant: i64, client_id: &str, events: &[LogEvent]) -> Result<bool> {
        let _w = self.write_guard().await;
        let mut tx = self.write_tx().await?;
        let mut q = Sql::new("DELETE FROM clients WHERE tenant_id = ");
        q.int(tenant).push(" AND client_id = ").text(client_id);
        let gone = q.build().execute(&mut *tx).await?.rows_affected() > 0;
        let mut g = Sql::new("DELETE FROM client_grants WHERE tenant_id = ");
        g.int(tenant).push(" AND client_id = ").text(client_id);
        g.build().execute(&mut *tx).await?;
        let mut c = Sql::new("SELECT id, doc FROM connections WHERE tenant_id = ");
        c.int(tenant);
        for row in c.build().fetch_all(&mut *tx).await? {
            let mut doc = parse(&get_str(&row, "doc")?)?;
            let Some(list) = doc.get_mut("enabled_clients").and_then(Value::as_array_mut) else { continue };
            let before = list.len();
            list.retain(|c| c.as_str() != Some(client_id));
            if list.len() != before {
                let mut u = Sql::new("UPDATE connections SET doc = ");
                u.text(doc.to_string()).push(" WHERE tenant_id = ").int(tenant);
                u.push(" AND id = ").text(get_str(&row, "id")?);
                u.build().execute(&mut *tx).await?;
            }
        }
        self.insert_logs_tx(&mut tx, tenant, events).await?;
        tx.commit().await?;
        self.config_changed();
        Ok(gone)
    }

    /// Deletes a resource server with its grants and the role and user
    /// permissions on it. False when it did not exist.
    pub async fn delete_resource_server(
        &self,
        tenant: i64,
        id: &str,
        identifier: &str,
        events: &[LogEvent],
    ) -> Result<bool> {
        let _w = self.write_guard().await;
        let mut tx = self.write_tx().await?;
        let mut q = Sql::new("DELETE FROM resource_servers WHERE tenant_id = ");
        q.int(tenant).push(" AND id = ").text(id);
        let gone = q.build().execute(&mut *tx).await?.rows_affected() > 0;
        delete_where(&mut tx, "client_grants", "audience", tenant, identifier).await?;
        delete_where(&mut tx, "role_permissions", "resource_server_identifier", tenant, identifier).await?;
        delete_where(&mut tx, "user_permissions", "resource_server_identifier", tenant, identifier).await?;
        self.insert_logs_tx(&mut tx, tenant, events).await?;
        tx.commit().await?;
        self.config_changed();
        Ok(gone)
    }

    /// Deletes a client grant. False when it did not exist.
    pub async fn delete_client_grant(&self, tenant: i64, id: &str, events: &[LogEvent]) -> Result<bool> {
        let mut q = Sql::new("DELETE FROM client_grants WHERE tenant_id = ");
        q.int(tenant).push(" AND id = ").text(id);
        Ok(self.exec_logged(tenant, &q, events, "conflict").await? > 0)
    }

    /// Deletes a connection and every user in it (with their terms, roles and
    /// permissions). Returns the number of users removed, None when the
    /// connection did not exist.
    pub async fn delete_connection(
        &self,
        tenant: i64,
        id: &str,
        name: &str,
        events: &[LogEvent],
    ) -> Result<Option<u64>> {
        let _w = self.write_guard().await;
        let mut tx = self.write_tx().await?;
        let mut q = Sql::new("DELETE FROM connections WHERE tenant_id = ");
        q.int(tenant).push(" AND id = ").text(id);
        if q.build().execute(&mut *tx).await?.rows_affected() == 0 {
            return Ok(None);
        }
        for table in ["user_roles", "user_permissions"] {
            let mut d = Sql::new(&format!("DELETE FROM {table} WHERE tenant_id = "));
            d.int(tenant).push(" AND user_id IN (SELECT user_id FROM users WHERE tenant_id = ").int(tenant);
            d.push(" AND connection = ").text(name).push(")");
            d.build().execute(&mut *tx).await?;
        }
        let mut t = Sql::new("DELETE FROM user_terms WHERE user_pk IN (SELECT pk FROM users WHERE tenant_id = ");
        t.int(tenant).push(" AND connection = ").text(name).push(")");
        t.build().execute(&mut *tx).await?;
        let mut u = Sql::new("DELETE FROM users WHERE tenant_id = ");
        u.int(tenant).push(" AND connection = ").text(name);
        let n = u.build().execute(&mut *tx).await?.rows_affected();
        self.insert_logs_tx(&mut tx, tenant, events).await?;
        tx.commit().await?;
        self.users_changed();
        self.config_changed();
        Ok(Some(n))
    }
}

async fn delete_where(tx: &mut Transaction<'_, Any>, table: &str, col: &str, tenant: i64, value: &str) -> Result<()> {
    let mut q = Sql::new(&format!("DELETE FROM {table} WHERE tenant_id = "));
    q.int(tenant).push(&format!(" AND {col} = ")).text(value);
    q.build().execute(&mut **tx).await?;
    Ok(())
}
