//! Connections: database connections (`auth0` strategy) with Auth0's default
//! options; other strategies are stored as given. Deleting a connection
//! deletes its users.

use castellan_domain::clock::format_ms;
use castellan_domain::ids;
use castellan_domain::tenant_model::Connection;
use castellan_store::{DocFilter, DocKind, StoreError};
use serde_json::{json, Value};

use crate::{App, Principal, ServiceError, Tenant};

pub fn connection_not_found() -> ServiceError {
    ServiceError::NotFound { message: "The connection does not exist".into(), code: "inexistent_connection" }
}

/// `^[a-zA-Z0-9](-[a-zA-Z0-9]|[a-zA-Z0-9])*$`, at most 128 characters.
fn valid_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
        && !name.contains("--")
}

fn parse(doc: Value) -> Result<Connection, ServiceError> {
    serde_json::from_value(doc).map_err(|e| ServiceError::bad_request(e.to_string(), Some("invalid_body")))
}

impl App {
    async fn check_clients_exist(&self, tenant: &Tenant, ids: &[String]) -> Result<(), ServiceError> {
        for id in ids {
            if self.store.get_doc(tenant.id, DocKind::Client, id).await?.is_none() {
                return Err(ServiceError::bad_request(
                    format!("The client does not exist: {id}"),
                    Some("invalid_body"),
                ));
            }
        }
        Ok(())
    }

    pub async fn create_connection(
        &self,
        tenant: &Tenant,
        caller: &Principal,
        body: &Value,
    ) -> Result<Value, ServiceError> {
        let mut doc = body.as_object().cloned().unwrap_or_default();
        let name = doc.get("name").and_then(Value::as_str).unwrap_or_default().to_string();
        if !valid_name(&name) {
            return Err(ServiceError::bad_request(
                format!("Payload validation error: 'String does not match pattern ^[a-zA-Z0-9](-[a-zA-Z0-9]|[a-zA-Z0-9])*$: {name}' on property name."),
                Some("invalid_body"),
            ));
        }
        let strategy = doc.get("strategy").and_then(Value::as_str).unwrap_or_default().to_string();
        doc.insert("id".into(), json!(ids::prefixed("con")));
        doc.entry("enabled_clients").or_insert(json!([]));
        doc.entry("realms").or_insert(json!([name]));
        doc.entry("is_domain_connection").or_insert(json!(false));
        let options = doc.entry("options").or_insert(json!({}));
        if strategy == "auth0" {
            if let Value::Object(o) = options {
                o.entry("passwordPolicy").or_insert(json!("good"));
                o.entry("brute_force_protection").or_insert(json!(true));
                o.entry("strategy_version").or_insert(json!(2));
            }
        }
        let conn = parse(Value::Object(doc))?;
        self.check_clients_exist(tenant, &conn.enabled_clients).await?;
        let out = serde_json::to_value(&conn).unwrap_or_default();
        let event = self.sapi(tenant, caller, 201, Some(body), Some(&out));
        match self.store.insert_connection(tenant.id, &conn, &[event]).await {
            Ok(()) => Ok(out),
            Err(StoreError::Conflict(_)) => Err(ServiceError::Conflict {
                message: "A connection with the same name already exists".into(),
                code: "connection_conflict",
            }),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn get_connection(&self, tenant: &Tenant, id: &str) -> Result<Connection, ServiceError> {
        let doc = self.store.get_doc(tenant.id, DocKind::Connection, id).await?.ok_or_else(connection_not_found)?;
        serde_json::from_value(doc).map_err(|e| ServiceError::Internal(e.to_string()))
    }

    /// All connections of the tenant (few), filtered by strategy and name.
    pub async fn list_connections(
        &self,
        tenant: &Tenant,
        strategies: &[String],
        name: Option<&str>,
    ) -> Result<Vec<Value>, ServiceError> {
        let (all, _) = self.store.list_docs(tenant.id, DocKind::Connection, &DocFilter::default(), 0, 100_000).await?;
        Ok(all
            .into_iter()
            .filter(|c| {
                strategies.is_empty() || strategies.iter().any(|s| c.get("strategy").and_then(Value::as_str) == Some(s))
            })
            .filter(|c| name.is_none_or(|n| c.get("name").and_then(Value::as_str) == Some(n)))
            .collect())
    }

    /// PATCH: given top-level properties replace the stored ones (`options`
    /// replaces the whole options object, as in Auth0).
    pub async fn update_connection(
        &self,
        tenant: &Tenant,
        caller: &Principal,
        id: &str,
        body: &Value,
    ) -> Result<Value, ServiceError> {
        let current = self.get_connection(tenant, id).await?;
        let Value::Object(mut doc) = serde_json::to_value(&current).unwrap_or_default() else {
            return Err(ServiceError::Internal("connection is not an object".into()));
        };
        crate::patching::merge_top_level(&mut doc, body, &[]);
        let conn = parse(Value::Object(doc))?;
        self.check_clients_exist(tenant, &conn.enabled_clients).await?;
        let v = serde_json::to_value(&conn).unwrap_or_default();
        let event = self.sapi(tenant, caller, 200, Some(body), Some(&v));
        self.store.put_doc(tenant.id, DocKind::Connection, id, &v, &[event]).await?;
        Ok(v)
    }

    /// Enables or disables clients on a connection (`[{client_id, status}]`).
    pub async fn set_connection_clients(
        &self,
        tenant: &Tenant,
        caller: &Principal,
        id: &str,
        changes: &[(String, bool)],
    ) -> Result<(), ServiceError> {
        let mut conn = self.get_connection(tenant, id).await?;
        let enabling: Vec<String> = changes.iter().filter(|(_, on)| *on).map(|(c, _)| c.clone()).collect();
        self.check_clients_exist(tenant, &enabling).await?;
        for (client, on) in changes {
            conn.enabled_clients.retain(|c| c != client);
            if *on {
                conn.enabled_clients.push(client.clone());
            }
        }
        let body = json!(changes.iter().map(|(c, on)| json!({"client_id": c, "status": on})).collect::<Vec<_>>());
        let event = self.sapi(tenant, caller, 204, Some(&body), None);
        self.store
            .put_doc(tenant.id, DocKind::Connection, id, &serde_json::to_value(&conn).unwrap_or_default(), &[event])
            .await?;
        Ok(())
    }

    /// Deletes the connection and its users; answers Auth0's `{deleted_at}`.
    pub async fn delete_connection(
        &self,
        tenant: &Tenant,
        caller: &Principal,
        id: &str,
    ) -> Result<Value, ServiceError> {
        let conn = self.get_connection(tenant, id).await?;
        let out = json!({"deleted_at": format_ms(self.now_ms())});
        let event = self.sapi(tenant, caller, 202, None, Some(&out));
        self.store
            .delete_connection(tenant.id, &conn.id, &conn.name, &[event])
            .await?
            .ok_or_else(connection_not_found)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::valid_name;

    #[test]
    fn connection_names() {
        for ok in ["db", "Username-Password-Authentication", "a-b-c", "x1"] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in ["", "-a", "a-", "a--b", "a_b", "a b", &"a".repeat(129)] {
            assert!(!valid_name(bad), "{bad}");
        }
    }
}
