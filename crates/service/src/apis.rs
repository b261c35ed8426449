//! APIs (resource servers): create with Auth0's defaults, read by id or by
//! identifier, update (the identifier is immutable; system APIs accept only
//! their token settings), delete with everything that points at them.

use castellan_domain::ids;
use castellan_domain::tenant_model::ResourceServer;
use castellan_store::{DocFilter, DocKind, StoreError};
use serde_json::{json, Map, Value};

use crate::{App, Principal, ServiceError, Tenant};

pub fn api_not_found() -> ServiceError {
    ServiceError::NotFound { message: "The resource server does not exist".into(), code: "inexistent_resource_server" }
}

/// What a system API (the Management API) lets a PATCH change.
const SYSTEM_MUTABLE: &[&str] =
    &["token_lifetime", "token_lifetime_for_web", "skip_consent_for_verifiable_first_party_clients"];

fn parse(doc: Map<String, Value>) -> Result<ResourceServer, ServiceError> {
    serde_json::from_value(Value::Object(doc))
        .map_err(|e| ServiceError::bad_request(e.to_string(), Some("invalid_body")))
}

fn check(rs: &ResourceServer) -> Result<(), ServiceError> {
    if rs.name.contains('<') || rs.name.contains('>') {
        return Err(ServiceError::bad_request(
            "Payload validation error: 'String does not match pattern ^[^<>]+$' on property name.",
            Some("invalid_body"),
        ));
    }
    let web = rs.extra.get("token_lifetime_for_web").and_then(Value::as_i64).unwrap_or(rs.token_lifetime);
    if web > rs.token_lifetime {
        return Err(ServiceError::bad_request(
            "token_lifetime_for_web must be less than or equal to token_lifetime",
            Some("invalid_body"),
        ));
    }
    if rs.token_lifetime < 1 || rs.token_lifetime > 2_592_000 {
        return Err(ServiceError::bad_request(
            "Payload validation error: 'token_lifetime must be between 1 and 2592000' on property token_lifetime.",
            Some("invalid_body"),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    if let Some(dup) = rs.scopes.iter().find(|s| !seen.insert(s.value.as_str())) {
        return Err(ServiceError::bad_request(format!("Duplicate scope: {}", dup.value), Some("invalid_body")));
    }
    Ok(())
}

impl App {
    pub async fn create_resource_server(
        &self,
        tenant: &Tenant,
        caller: &Principal,
        body: &Value,
    ) -> Result<Value, ServiceError> {
        let mut doc = body.as_object().cloned().unwrap_or_default();
        let identifier = doc.get("identifier").and_then(Value::as_str).unwrap_or_default().to_string();
        doc.insert("id".into(), json!(ids::object_id(self.now_ms())));
        doc.entry("name").or_insert(json!(identifier));
        doc.entry("scopes").or_insert(json!([]));
        doc.entry("signing_alg").or_insert(json!("RS256"));
        doc.entry("allow_offline_access").or_insert(json!(false));
        doc.entry("token_lifetime").or_insert(json!(86400));
        let lifetime = doc.get("token_lifetime").and_then(Value::as_i64).unwrap_or(86400);
        doc.entry("token_lifetime_for_web").or_insert(json!(lifetime.min(7200)));
        doc.entry("skip_consent_for_verifiable_first_party_clients").or_insert(json!(false));
        doc.entry("enforce_policies").or_insert(json!(false));
        doc.entry("token_dialect").or_insert(json!("access_token"));
        if doc.get("signing_alg").and_then(Value::as_str) == Some("HS256") {
            doc.entry("signing_secret").or_insert(json!(ids::client_secret()));
        }
        let rs = parse(doc)?;
        check(&rs)?;
        let out = serde_json::to_value(&rs).unwrap_or_default();
        let event = self.sapi(tenant, caller, 201, Some(body), Some(&out));
        match self.store.insert_resource_server(tenant.id, &rs, &[event]).await {
            Ok(()) => Ok(out),
            Err(StoreError::Conflict(_)) => Err(ServiceError::Conflict {
                message: format!("A resource server with the same identifier already exists: {identifier}"),
                code: "resource_server_conflict",
            }),
            Err(e) => Err(e.into()),
        }
    }

    /// By id, or by (URL-decoded) identifier, as Auth0 allows.
    pub async fn find_resource_server(
        &self,
        tenant: &Tenant,
        id_or_identifier: &str,
    ) -> Result<ResourceServer, ServiceError> {
        if let Some(doc) = self.store.get_doc(tenant.id, DocKind::ResourceServer, id_or_identifier).await? {
            return serde_json::from_value(doc).map_err(|e| ServiceError::Internal(e.to_string()));
        }
        self.store.resource_server_by_identifier(tenant.id, id_or_identifier).await?.ok_or_else(api_not_found)
    }

    pub async fn get_resource_server(&self, tenant: &Tenant, id: &str) -> Result<Value, ServiceError> {
        Ok(serde_json::to_value(self.find_resource_server(tenant, id).await?).unwrap_or_default())
    }

    pub async fn list_resource_servers(
        &self,
        tenant: &Tenant,
        identifiers: &[String],
        offset: u64,
        limit: u64,
    ) -> Result<(Vec<Value>, u64), ServiceError> {
        if identifiers.is_empty() {
            return Ok(self
                .store
                .list_docs(tenant.id, DocKind::ResourceServer, &DocFilter::default(), offset, limit)
                .await?);
        }
        let (all, _) =
            self.store.list_docs(tenant.id, DocKind::ResourceServer, &DocFilter::default(), 0, 100_000).await?;
        let wanted =
            |d: &Value| d.get("identifier").and_then(Value::as_str).is_some_and(|i| identifiers.iter().any(|x| x == i));
        Ok(crate::patching::filter_page(all, wanted, offset, limit))
    }

    pub async fn update_resource_server(
        &self,
        tenant: &Tenant,
        caller: &Principal,
        id: &str,
        body: &Value,
    ) -> Result<Value, ServiceError> {
        let current = self.find_resource_server(tenant, id).await?;
        let patch = body.as_object().cloned().unwrap_or_default();
        if current.is_system {
            if let Some(k) = patch.keys().find(|k| !SYSTEM_MUTABLE.contains(&k.as_str())) {
                return Err(ServiceError::bad_request(
                    format!("The property {k} of a system resource server cannot be changed."),
                    Some("operation_not_supported"),
                ));
            }
        }
        let Value::Object(mut doc) = serde_json::to_value(&current).unwrap_or_default() else {
            return Err(ServiceError::Internal("resource server is not an object".into()));
        };
        // A shorter token_lifetime pulls an unspecified web lifetime down with it.
        if let Some(l) = patch.get("token_lifetime").and_then(Value::as_i64) {
            if !patch.contains_key("token_lifetime_for_web") {
                if let Some(w) = doc.get("token_lifetime_for_web").and_then(Value::as_i64) {
                    doc.insert("token_lifetime_for_web".into(), json!(w.min(l)));
                }
            }
        }
        crate::patching::merge_top_level(&mut doc, body, &[]);
        if doc.get("signing_alg").and_then(Value::as_str) == Some("HS256") {
            doc.entry("signing_secret").or_insert(json!(ids::client_secret()));
        }
        let rs = parse(doc)?;
        check(&rs)?;
        let v = serde_json::to_value(&rs).unwrap_or_default();
        let event = self.sapi(tenant, caller, 200, Some(body), Some(&v));
        self.store.put_doc(tenant.id, DocKind::ResourceServer, &rs.id, &v, &[event]).await?;
        Ok(v)
    }

    /// Deletes an API with its grants and role/user permissions. A missing
    /// API succeeds (Auth0 answers 204 either way); system APIs cannot go.
    pub async fn delete_resource_server(
        &self,
        tenant: &Tenant,
        caller: &Principal,
        id: &str,
    ) -> Result<(), ServiceError> {
        let rs = match self.find_resource_server(tenant, id).await {
            Ok(rs) => rs,
            Err(ServiceError::NotFound { .. }) => {
                self.log_events(tenant.id, vec![self.sapi(tenant, caller, 204, None, None)]).await?;
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        if rs.is_system {
            return Err(ServiceError::bad_request(
                "A system resource server cannot be deleted.",
                Some("operation_not_supported"),
            ));
        }
        let event = self.sapi(tenant, caller, 204, None, None);
        self.store.delete_resource_server(tenant.id, &rs.id, &rs.identifier, &[event]).await?;
        Ok(())
    }
}
