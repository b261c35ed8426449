//! Applications (clients) and client grants. Bodies arrive checked against
//! Auth0's schemas (the HTTP layer does that); this module applies Auth0's
//! defaults and rules, generates ids and secrets, and keeps references whole.

use castellan_domain::ids;
use castellan_domain::tenant_model::{Client, ClientGrant};
use castellan_store::{DocFilter, DocKind, StoreError};
use serde_json::{json, Map, Value};

use crate::{App, Principal, ServiceError, Tenant};

pub fn client_not_found() -> ServiceError {
    ServiceError::NotFound { message: "The client does not exist".into(), code: "inexistent_client" }
}

pub fn grant_not_found() -> ServiceError {
    ServiceError::NotFound { message: "The client grant does not exist.".into(), code: "inexistent_client_grant" }
}

fn default_grant_types(app_type: Option<&str>) -> Value {
    match app_type {
        Some("non_interactive") => json!(["client_credentials"]),
        Some("spa") | Some("native") => json!(["authorization_code", "implicit", "refresh_token"]),
        Some("resource_server") => json!([]),
        _ => json!(["authorization_code", "implicit", "refresh_token", "client_credentials"]),
    }
}

/// Auth0's defaults for a new client, as its API returns them.
pub(crate) fn with_defaults(mut body: Map<String, Value>, client_id: &str) -> Map<String, Value> {
    let app_type = body.get("app_type").and_then(Value::as_str).map(str::to_string);
    let defaults = [
        ("is_first_party", json!(true)),
        ("is_token_endpoint_ip_header_trusted", json!(false)),
        ("oidc_conformant", json!(false)),
        ("jwt_configuration", json!({"secret_encoded": false, "lifetime_in_seconds": 36000})),
        ("sso_disabled", json!(false)),
        ("cross_origin_authentication", json!(false)),
        ("grant_types", default_grant_types(app_type.as_deref())),
        ("custom_login_page_on", json!(true)),
        (
            "token_endpoint_auth_method",
            json!(if matches!(app_type.as_deref(), Some("spa") | Some("native")) {
                "none"
            } else {
                "client_secret_post"
            }),
        ),
        (
            "refresh_token",
            json!({"rotation_type": "non-rotating", "expiration_type": "non-expiring", "leeway": 0,
                   "token_lifetime": 2592000, "infinite_token_lifetime": true, "infinite_idle_token_lifetime": true,
                   "idle_token_lifetime": 1296000}),
        ),
    ];
    for (k, v) in defaults {
        body.entry(k).or_insert(v);
    }
    body.insert("client_id".into(), json!(client_id));
    body.remove("client_secret");
    body
}

fn to_client(doc: Map<String, Value>) -> Result<Client, ServiceError> {
    serde_json::from_value(Value::Object(doc))
        .map_err(|e| ServiceError::bad_request(e.to_string(), Some("invalid_body")))
}

/// `client_metadata`: string values of at most 255 characters.
fn check_metadata(body: &Map<String, Value>) -> Result<(), ServiceError> {
    for (k, v) in body.get("client_metadata").and_then(Value::as_object).into_iter().flatten() {
        let ok = v.as_str().is_some_and(|s| s.chars().count() <= 255);
        if !ok {
            return Err(ServiceError::bad_request(
                format!("Payload validation error: 'client_metadata values must be strings of at most 255 characters' on property client_metadata.{k}."),
                Some("invalid_body"),
            ));
        }
    }
    Ok(())
}

fn check_name(body: &Map<String, Value>) -> Result<(), ServiceError> {
    check_metadata(body)?;
    if let Some(name) = body.get("name").and_then(Value::as_str) {
        if name.trim().is_empty() || name.contains('<') || name.contains('>') {
            return Err(ServiceError::bad_request(
                "Payload validation error: 'String does not match pattern ^[^<>]+$' on property name.",
                Some("invalid_body"),
            ));
        }
    }
    Ok(())
}

impl App {
    /// The client as the API shows it; `with_secret` adds `client_secret`.
    async fn render_client(&self, tenant: &Tenant, client: &Client, with_secret: bool) -> Result<Value, ServiceError> {
        let mut v = serde_json::to_value(client).map_err(|e| ServiceError::Internal(e.to_string()))?;
        if with_secret {
            if let Some(sealed) = self.store.client_secret_sealed(tenant.id, &client.client_id).await? {
                if !sealed.is_empty() {
                    let secret = tenant.sealer.open(&sealed)?;
                    if let Value::Object(m) = &mut v {
                        m.insert("client_secret".into(), Value::String(secret));
                    }
                }
            }
        }
        Ok(v)
    }

    /// The client as the API shows it with a known secret.
    fn render_client_with(&self, client: &Client, secret: Option<&str>) -> Result<Value, ServiceError> {
        let mut v = serde_json::to_value(client).map_err(|e| ServiceError::Internal(e.to_string()))?;
        if let (Some(secret), Value::Object(m)) = (secret, &mut v) {
            m.insert("client_secret".into(), Value::String(secret.to_string()));
        }
        Ok(v)
    }

    pub async fn create_client(
        &self,
        tenant: &Tenant,
        caller: &Principal,
        body: &Value,
    ) -> Result<Value, ServiceError> {
        let fields = body.as_object().cloned().unwrap_or_default();
        check_name(&fields)?;
        let client_id = ids::random_token(32);
        let client = to_client(with_defaults(fields, &client_id))?;
        let secret = ids::client_secret();
        let sealed = tenant.sealer.seal(&secret)?;
        let out = self.render_client_with(&client, Some(&secret))?;
        let event = self.sapi(tenant, caller, 201, Some(body), Some(&out));
        self.store.insert_client_sealed(tenant.id, &client, &tenant.secrets.hash(&secret), &sealed, &[event]).await?;
        Ok(out)
    }

    pub async fn get_client(&self, tenant: &Tenant, id: &str, with_secret: bool) -> Result<Value, ServiceError> {
        let doc = self.store.get_doc(tenant.id, DocKind::Client, id).await?.ok_or_else(client_not_found)?;
        let client: Client = serde_json::from_value(doc).map_err(|e| ServiceError::Internal(e.to_string()))?;
        self.render_client(tenant, &client, with_secret).await
    }

    pub async fn list_clients(
        &self,
        tenant: &Tenant,
        offset: u64,
        limit: u64,
        with_secret: bool,
        keep: impl Fn(&Value) -> bool,
    ) -> Result<(Vec<Value>, u64), ServiceError> {
        // Clients are few; filters run in memory over the tenant's list.
        let (docs, _) = self.store.list_docs(tenant.id, DocKind::Client, &DocFilter::default(), 0, 100_000).await?;
        let (page, total) = crate::patching::filter_page(docs, keep, offset, limit);
        let mut out = Vec::with_capacity(page.len());
        for d in page {
            let c: Client = serde_json::from_value(d).map_err(|e| ServiceError::Internal(e.to_string()))?;
            out.push(self.render_client(tenant, &c, with_secret).await?);
        }
        Ok((out, total))
    }

    /// PATCH: given top-level properties replace the stored ones; `null`
    /// removes them; `client_secret` sets a new secret.
    pub async fn update_client(
        &self,
        tenant: &Tenant,
        caller: &Principal,
        id: &str,
        body: &Value,
        with_secret: bool,
    ) -> Result<Value, ServiceError> {
        let patch = body.as_object().cloned().unwrap_or_default();
        check_name(&patch)?;
        let Some(Value::Object(mut doc)) = self.store.get_doc(tenant.id, DocKind::Client, id).await? else {
            return Err(client_not_found());
        };
        crate::patching::merge_top_level(&mut doc, body, &["client_secret"]);
        let client = to_client(doc)?;
        let doc = serde_json::to_value(&client).unwrap_or_default();
        let event = self.sapi(tenant, caller, 200, Some(body), Some(&doc));
        self.store.put_doc(tenant.id, DocKind::Client, id, &doc, &[event]).await?;
        if let Some(secret) = patch.get("client_secret").and_then(Value::as_str) {
            self.store
                .set_client_secret(tenant.id, id, &tenant.secrets.hash(secret), &tenant.sealer.seal(secret)?, &[])
                .await?;
        }
        self.render_client(tenant, &client, with_secret).await
    }

    pub async fn rotate_client_secret(
        &self,
        tenant: &Tenant,
        caller: &Principal,
        id: &str,
    ) -> Result<Value, ServiceError> {
        let secret = ids::client_secret();
        let event = self.sapi(tenant, caller, 200, None, Some(&json!({"client_id": id, "client_secret": "*****"})));
        match self
            .store
            .set_client_secret(tenant.id, id, &tenant.secrets.hash(&secret), &tenant.sealer.seal(&secret)?, &[event])
            .await
        {
            Ok(()) => self.get_client(tenant, id, true).await,
            Err(StoreError::NotFound) => Err(client_not_found()),
            Err(e) => Err(e.into()),
        }
    }

    /// Deleting a missing client succeeds, as in Auth0.
    pub async fn delete_client(&self, tenant: &Tenant, caller: &Principal, id: &str) -> Result<(), ServiceError> {
        let event = self.sapi(tenant, caller, 204, None, None);
        self.store.delete_client(tenant.id, id, &[event]).await?;
        Ok(())
    }

    pub async fn create_client_grant(
        &self,
        tenant: &Tenant,
        caller: &Principal,
        body: &Value,
    ) -> Result<Value, ServiceError> {
        let mut body = body.as_object().cloned().unwrap_or_default();
        let client_id = body.get("client_id").and_then(Value::as_str).unwrap_or_default().to_string();
        let audience = body.get("audience").and_then(Value::as_str).unwrap_or_default().to_string();
        if client_id.is_empty() {
            return Err(ServiceError::bad_request(
                "Payload validation error: 'Missing required property: client_id'.",
                Some("invalid_body"),
            ));
        }
        if self.store.get_doc(tenant.id, DocKind::Client, &client_id).await?.is_none() {
            return Err(client_not_found());
        }
        if self.store.resource_server_by_identifier(tenant.id, &audience).await?.is_none() {
            return Err(ServiceError::NotFound {
                message: format!("No resource server found by specified audience: {audience}"),
                code: "inexistent_resource_server",
            });
        }
        body.insert("id".into(), json!(ids::prefixed("cgr")));
        body.entry("scope").or_insert(json!([]));
        body.entry("subject_type").or_insert(json!("client"));
        let grant: ClientGrant = serde_json::from_value(Value::Object(body))
            .map_err(|e| ServiceError::bad_request(e.to_string(), Some("invalid_body")))?;
        let out = serde_json::to_value(&grant).unwrap_or_default();
        let event = self.sapi(tenant, caller, 201, Some(&out), Some(&out));
        match self.store.insert_client_grant(tenant.id, &grant, &[event]).await {
            Ok(()) => Ok(out),
            Err(StoreError::Conflict(_)) => Err(ServiceError::Conflict {
                message: format!("A client grant for client {client_id} and audience {audience} already exists."),
                code: "client_grant_conflict",
            }),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn get_client_grant(&self, tenant: &Tenant, id: &str) -> Result<Value, ServiceError> {
        self.store.get_doc(tenant.id, DocKind::ClientGrant, id).await?.ok_or_else(grant_not_found)
    }

    /// Grants matching the column filters and `keep`, paged in memory
    /// (a tenant has few grants).
    pub async fn list_client_grants(
        &self,
        tenant: &Tenant,
        filter: &DocFilter,
        keep: impl Fn(&Value) -> bool,
        offset: u64,
        limit: u64,
    ) -> Result<(Vec<Value>, u64), ServiceError> {
        let (all, _) = self.store.list_docs(tenant.id, DocKind::ClientGrant, filter, 0, 100_000).await?;
        Ok(crate::patching::filter_page(all, keep, offset, limit))
    }

    pub async fn update_client_grant(
        &self,
        tenant: &Tenant,
        caller: &Principal,
        id: &str,
        body: &Value,
    ) -> Result<Value, ServiceError> {
        let Some(Value::Object(mut doc)) = self.store.get_doc(tenant.id, DocKind::ClientGrant, id).await? else {
            return Err(grant_not_found());
        };
        crate::patching::merge_top_level(&mut doc, body, &[]);
        doc.entry("scope").or_insert(json!([]));
        let doc = Value::Object(doc);
        let event = self.sapi(tenant, caller, 200, Some(body), Some(&doc));
        self.store.put_doc(tenant.id, DocKind::ClientGrant, id, &doc, &[event]).await?;
        Ok(doc)
    }

    /// Deleting a missing grant succeeds, as in Auth0.
    pub async fn delete_client_grant(&self, tenant: &Tenant, caller: &Principal, id: &str) -> Result<(), ServiceError> {
        let event = self.sapi(tenant, caller, 204, None, None);
        self.store.delete_client_grant(tenant.id, id, &[event]).await?;
        Ok(())
    }
}

impl App {
    /// A client's name, for events (None when it is unknown).
    pub async fn client_name(&self, tenant: &Tenant, client_id: &str) -> Option<String> {
        // From the token endpoint's cache: every Management API write names
        // its caller, and the caller is nearly always the same application.
        let cfg = self.m2m_config(tenant.id, client_id, None).await.ok()?;
        cfg.client_name()
    }
}
