//! Tenants, their signing keys, and the tenant's configuration documents:
//! resource servers, clients, client grants and connections. Documents are
//! stored as JSON beside the columns they are looked up by.

use castellan_domain::log_event::LogEvent;
use castellan_domain::tenant_model::{Client, ClientGrant, Connection, ResourceServer};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::sql::Sql;
use crate::{conflict_or, get_i64, get_str, Result, Store, StoreError};

#[derive(Debug, Clone)]
pub struct TenantRow {
    pub id: i64,
    pub domain: String,
    pub hash_key: String,
    pub settings: serde_json::Value,
}

#[derive(Debug, Clone)]
pub struct KeyRow {
    pub kid: String,
    pub der_b64: String,
    pub state: String,
}

/// Creation-order key for configuration documents: microseconds of the wall
/// clock, made strictly increasing within the process. Only used to list
/// documents in the order they were made.
fn order_key() -> i64 {
    use std::sync::atomic::{AtomicI64, Ordering};
    static LAST: AtomicI64 = AtomicI64::new(0);
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_micros() as i64).unwrap_or(0);
    let mut prev = LAST.load(Ordering::Relaxed);
    loop {
        let next = now.max(prev + 1);
        match LAST.compare_exchange_weak(prev, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return next,
            Err(p) => prev = p,
        }
    }
}

fn to_doc<T: Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn from_doc<T: DeserializeOwned>(s: &str) -> Result<T> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(e.to_string()))
}

impl Store {
    pub async fn create_tenant(&self, domain: &str, hash_key: &str, now_ms: i64) -> Result<TenantRow> {
        let _w = self.write_guard().await;
        let mut q = Sql::new("INSERT INTO tenants (domain, hash_key, settings, created_at) VALUES (");
        q.text(domain).push(", ").text(hash_key).push(", '{}', ").int(now_ms).push(")");
        q.build().execute(&self.pool).await.map_err(|e| conflict_or(e, "tenant exists"))?;
        drop(_w);
        self.tenant_by_domain(domain).await?.ok_or(StoreError::NotFound)
    }

    pub async fn tenant_by_domain(&self, domain: &str) -> Result<Option<TenantRow>> {
        let mut q = Sql::new("SELECT id, domain, hash_key, settings FROM tenants WHERE domain = ");
        q.text(domain);
        let row = q.build().fetch_optional(&self.pool).await?;
        row.map(|r| {
            Ok(TenantRow {
                id: get_i64(&r, "id")?,
                domain: get_str(&r, "domain")?,
                hash_key: get_str(&r, "hash_key")?,
                settings: from_doc(&get_str(&r, "settings")?)?,
            })
        })
        .transpose()
    }

    pub async fn set_tenant_settings(&self, tenant: i64, settings: &serde_json::Value) -> Result<()> {
        let _w = self.write_guard().await;
        let mut q = Sql::new("UPDATE tenants SET settings = ");
        q.text(settings.to_string()).push(" WHERE id = ").int(tenant);
        q.build().execute(&self.pool).await?;
        Ok(())
    }

    /// Replaces a tenant's settings, recording `events` with the change.
    pub async fn update_tenant_settings(
        &self,
        tenant: i64,
        settings: &serde_json::Value,
        events: &[LogEvent],
    ) -> Result<()> {
        let mut q = Sql::new("UPDATE tenants SET settings = ");
        q.text(settings.to_string()).push(" WHERE id = ").int(tenant);
        self.exec_logged(tenant, &q, events, "conflict").await?;
        Ok(())
    }

    pub async fn list_tenant_domains(&self) -> Result<Vec<String>> {
        let rows = sqlx::query("SELECT domain FROM tenants ORDER BY id").fetch_all(&self.pool).await?;
        rows.iter().map(|r| get_str(r, "domain")).collect()
    }

    pub async fn insert_signing_key(
        &self,
        tenant: i64,
        kid: &str,
        der_b64: &str,
        state: &str,
        now_ms: i64,
    ) -> Result<()> {
        let _w = self.write_guard().await;
        let mut q = Sql::new("INSERT INTO signing_keys (tenant_id, kid, der, state, created_at) VALUES (");
        q.int(tenant)
            .push(", ")
            .text(kid)
            .push(", ")
            .text(der_b64)
            .push(", ")
            .text(state)
            .push(", ")
            .int(now_ms)
            .push(")");
        q.build().execute(&self.pool).await.map_err(|e| conflict_or(e, "key exists"))?;
        Ok(())
    }

    /// Keys in signing order: `current` first, then `next`, then `previous`.
    pub async fn signing_keys(&self, tenant: i64) -> Result<Vec<KeyRow>> {
        let mut q = Sql::new("SELECT kid, der, state FROM signing_keys WHERE tenant_id = ");
        q.int(tenant).push(" ORDER BY CASE state WHEN 'current' THEN 0 WHEN 'next' THEN 1 ELSE 2 END, created_at DESC");
        let rows = q.build().fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| Ok(KeyRow { kid: get_str(r, "kid")?, der_b64: get_str(r, "der")?, state: get_str(r, "state")? }))
            .collect()
    }

    pub async fn insert_resource_server(&self, tenant: i64, rs: &ResourceServer, events: &[LogEvent]) -> Result<()> {
        let mut q = Sql::new("INSERT INTO resource_servers (tenant_id, id, identifier, doc, created_at) VALUES (");
        q.int(tenant).push(", ").text(&rs.id).push(", ").text(&rs.identifier).push(", ").text(to_doc(rs)?);
        q.push(", ").int(order_key()).push(")");
        self.exec_logged(tenant, &q, events, "resource server exists").await?;
        Ok(())
    }

    pub async fn resource_server_by_identifier(&self, tenant: i64, identifier: &str) -> Result<Option<ResourceServer>> {
        let mut q = Sql::new("SELECT doc FROM resource_servers WHERE tenant_id = ");
        q.int(tenant).push(" AND identifier = ").text(identifier);
        self.one_doc(q).await
    }

    pub async fn insert_client(&self, tenant: i64, client: &Client, secret_hash: &str) -> Result<()> {
        self.insert_client_sealed(tenant, client, secret_hash, "", &[]).await
    }

    /// Inserts a client with its secret's hash and sealed copy.
    pub async fn insert_client_sealed(
        &self,
        tenant: i64,
        client: &Client,
        secret_hash: &str,
        sealed: &str,
        events: &[LogEvent],
    ) -> Result<()> {
        let mut q = Sql::new(
            "INSERT INTO clients (tenant_id, client_id, secret_hash, secret_sealed, doc, created_at) VALUES (",
        );
        q.int(tenant).push(", ").text(&client.client_id).push(", ").text(secret_hash).push(", ").text(sealed);
        q.push(", ").text(to_doc(client)?).push(", ").int(order_key()).push(")");
        self.exec_logged(tenant, &q, events, "client exists").await?;
        Ok(())
    }

    /// A client and its secret hash.
    pub async fn client_by_id(&self, tenant: i64, client_id: &str) -> Result<Option<(Client, String)>> {
        let mut q = Sql::new("SELECT doc, secret_hash FROM clients WHERE tenant_id = ");
        q.int(tenant).push(" AND client_id = ").text(client_id);
        let row = q.build().fetch_optional(&self.pool).await?;
        row.map(|r| Ok((from_doc(&get_str(&r, "doc")?)?, get_str(&r, "secret_hash")?))).transpose()
    }

    pub async fn insert_client_grant(&self, tenant: i64, g: &ClientGrant, events: &[LogEvent]) -> Result<()> {
        let mut q =
            Sql::new("INSERT INTO client_grants (tenant_id, id, client_id, audience, doc, created_at) VALUES (");
        q.int(tenant).push(", ").text(&g.id).push(", ").text(&g.client_id).push(", ").text(&g.audience);
        q.push(", ").text(to_doc(g)?).push(", ").int(order_key()).push(")");
        self.exec_logged(tenant, &q, events, "client grant exists").await?;
        Ok(())
    }

    pub async fn client_grant_for(&self, tenant: i64, client_id: &str, audience: &str) -> Result<Option<ClientGrant>> {
        let mut q = Sql::new("SELECT doc FROM client_grants WHERE tenant_id = ");
        q.int(tenant).push(" AND client_id = ").text(client_id).push(" AND audience = ").text(audience);
        self.one_doc(q).await
    }

    pub async fn insert_connection(&self, tenant: i64, c: &Connection, events: &[LogEvent]) -> Result<()> {
        let mut q = Sql::new("INSERT INTO connections (tenant_id, id, name, doc, created_at) VALUES (");
        q.int(tenant).push(", ").text(&c.id).push(", ").text(&c.name).push(", ").text(to_doc(c)?);
        q.push(", ").int(order_key()).push(")");
        self.exec_logged(tenant, &q, events, "connection exists").await?;
        Ok(())
    }

    pub async fn connection_by_name(&self, tenant: i64, name: &str) -> Result<Option<Connection>> {
        let mut q = Sql::new("SELECT doc FROM connections WHERE tenant_id = ");
        q.int(tenant).push(" AND name = ").text(name);
        self.one_doc(q).await
    }

    /// Runs one write statement and records `events` in the same
    /// transaction. Returns the rows affected.
    pub(crate) async fn exec_logged(&self, tenant: i64, q: &Sql, events: &[LogEvent], conflict: &str) -> Result<u64> {
        self.exec_all_logged(tenant, &[q], events, conflict).await
    }

    /// Runs write statements in order and records `events`, all in one
    /// transaction. Returns the rows the first statement affected.
    pub(crate) async fn exec_all_logged(
        &self,
        tenant: i64,
        statements: &[&Sql],
        events: &[LogEvent],
        conflict: &str,
    ) -> Result<u64> {
        let _w = self.write_guard().await;
        // Before the write too: its own events see what it writes.
        self.config_changed();
        let out = async {
            let mut tx = self.write_tx().await?;
            let mut first = None;
            for q in statements {
                let n = q.build().execute(&mut *tx).await.map_err(|e| conflict_or(e, conflict))?.rows_affected();
                first.get_or_insert(n);
            }
            self.insert_logs_tx(&mut tx, tenant, events).await?;
            tx.commit().await?;
            Ok(first.unwrap_or(0))
        }
        .await;
        // Also after a failure, and while the write lock is held: a cache
        // filled inside the transaction (the log streams, read by
        // `insert_logs_tx`) may hold what it wrote, committed or not.
        self.config_changed();
        out
    }

    async fn one_doc<T: DeserializeOwned>(&self, q: Sql) -> Result<Option<T>> {
        let row = q.build().fetch_optional(&self.pool).await?;
        row.map(|r| from_doc(&get_str(&r, "doc")?)).transpose()
    }
}
