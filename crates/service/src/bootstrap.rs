//! Creating a tenant: its signing key, the Management API resource server,
//! the `Username-Password-Authentication` database connection, and an admin
//! machine-to-machine application granted every Management API scope.

use base64::Engine as _;
use castellan_crypto::{SecretHasher, SigningKey};
use castellan_domain::ids;
use castellan_domain::tenant_model::{Client, ClientGrant, Connection, ConnectionOptions, ResourceServer, Scope};
use rand::RngCore;
use serde_json::{Map, Value};

use crate::{App, ServiceError};

pub const DEFAULT_CONNECTION: &str = "Username-Password-Authentication";

pub struct BootstrapInput<'a> {
    pub domain: &'a str,
    /// Every Management API scope, with its description.
    pub management_scopes: &'a [(String, String)],
    /// Fixed admin credentials (CASTELLAN_BOOTSTRAP_CLIENT_ID/SECRET).
    pub admin_client_id: Option<String>,
    pub admin_client_secret: Option<String>,
}

#[derive(Debug)]
pub struct Bootstrapped {
    pub tenant_id: i64,
    pub admin_client_id: String,
    /// Only when castellan generated it: shown once, never stored in clear.
    pub generated_secret: Option<String>,
}

impl App {
    /// Creates the tenant if it does not exist. Returns None when it existed.
    pub async fn bootstrap_tenant(&self, input: BootstrapInput<'_>) -> Result<Option<Bootstrapped>, ServiceError> {
        let domain = input.domain.trim().to_ascii_lowercase();
        if self.store.tenant_by_domain(&domain).await?.is_some() {
            return Ok(None);
        }
        let now = self.now_ms();
        let mut hash_key = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut hash_key);
        let tenant = self.store.create_tenant(&domain, &hex::encode(hash_key), now).await?;
        let t = tenant.id;

        let (key, der) = SigningKey::generate()?;
        let der_b64 = base64::engine::general_purpose::STANDARD.encode(der);
        self.store.insert_signing_key(t, &key.kid, &der_b64, "current", now).await?;

        let audience = format!("https://{domain}/api/v2/");
        let api = ResourceServer {
            id: ids::object_id(now),
            name: "Auth0 Management API".into(),
            identifier: audience.clone(),
            scopes: input
                .management_scopes
                .iter()
                .map(|(v, d)| Scope { value: v.clone(), description: d.clone() })
                .collect(),
            signing_alg: "RS256".into(),
            token_lifetime: 86400,
            allow_offline_access: false,
            skip_consent_for_verifiable_first_party_clients: false,
            is_system: true,
            extra: serde_json::json!({"token_lifetime_for_web": 7200, "enforce_policies": false, "token_dialect": "access_token"})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        };
        self.store.insert_resource_server(t, &api, &[]).await?;

        let client_id = input.admin_client_id.unwrap_or_else(|| ids::random_token(32));
        let (secret, generated) = match input.admin_client_secret {
            Some(s) => (s, false),
            None => (ids::client_secret(), true),
        };
        let fields = serde_json::json!({"name": "castellan admin (bootstrap)", "app_type": "non_interactive"});
        let client: Client = serde_json::from_value(Value::Object(crate::apps::with_defaults(
            fields.as_object().cloned().unwrap_or_default(),
            &client_id,
        )))
        .map_err(|e| ServiceError::Internal(e.to_string()))?;
        let hasher = SecretHasher::new(&hash_key);
        let sealed = castellan_crypto::SecretBox::derive(&hash_key)?.seal(&secret)?;
        self.store.insert_client_sealed(t, &client, &hasher.hash(&secret), &sealed, &[]).await?;
        self.store
            .insert_client_grant(
                t,
                &ClientGrant {
                    id: ids::prefixed("cgr"),
                    client_id: client_id.clone(),
                    audience,
                    scope: input.management_scopes.iter().map(|(v, _)| v.clone()).collect(),
                    extra: Map::new(),
                },
                &[],
            )
            .await?;
        self.store
            .insert_connection(
                t,
                &Connection {
                    id: ids::prefixed("con"),
                    name: DEFAULT_CONNECTION.into(),
                    strategy: "auth0".into(),
                    options: ConnectionOptions {
                        password_policy: Some(castellan_domain::password_policy::PolicyLevel::Good),
                        brute_force_protection: Some(true),
                        ..Default::default()
                    },
                    enabled_clients: vec![client_id.clone()],
                    realms: vec![DEFAULT_CONNECTION.into()],
                    is_domain_connection: false,
                    extra: Map::new(),
                },
                &[],
            )
            .await?;
        self.invalidate_tenants().await;
        Ok(Some(Bootstrapped {
            tenant_id: t,
            admin_client_id: client_id,
            generated_secret: generated.then_some(secret),
        }))
    }
}
