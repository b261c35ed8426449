//! Per-dialect DDL, applied in order and recorded in `schema_migrations`.

use sqlx::Executor;

use crate::{Dialect, Result, Store, StoreError};

/// Migrations are append-only: once released (and data directories exist),
/// a migration is never edited; changes go into a new one.
///
/// Each migration is written once with two placeholders: `{pk}` (an
/// auto-increment primary key) and `{text}` (a text column compared
/// byte-wise, so prefix ranges behave the same on both backends).
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE tenants (
    id {pk},
    domain TEXT NOT NULL UNIQUE,
    hash_key TEXT NOT NULL,
    settings TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE signing_keys (
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    kid TEXT NOT NULL,
    der TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, kid)
);
CREATE TABLE resource_servers (
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    id TEXT NOT NULL,
    identifier TEXT NOT NULL,
    doc TEXT NOT NULL,
    created_at BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, identifier)
);
CREATE TABLE clients (
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    client_id TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    secret_sealed TEXT NOT NULL DEFAULT '',
    doc TEXT NOT NULL,
    created_at BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, client_id)
);
CREATE INDEX clients_created ON clients (tenant_id, created_at, client_id);
CREATE TABLE client_grants (
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    audience TEXT NOT NULL,
    doc TEXT NOT NULL,
    created_at BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, client_id, audience)
);
CREATE INDEX client_grants_audience ON client_grants (tenant_id, audience);
CREATE TABLE connections (
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    doc TEXT NOT NULL,
    created_at BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, name)
);
CREATE TABLE users (
    pk {pk},
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    user_id {text} NOT NULL,
    connection TEXT NOT NULL,
    email {text},
    username {text},
    name {text},
    nickname {text},
    given_name {text},
    family_name {text},
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    last_login BIGINT,
    logins_count BIGINT,
    password_hash TEXT,
    doc TEXT NOT NULL
);
CREATE UNIQUE INDEX users_id ON users (tenant_id, user_id);
CREATE UNIQUE INDEX users_conn_email ON users (tenant_id, connection, email);
CREATE UNIQUE INDEX users_conn_username ON users (tenant_id, connection, username);
CREATE INDEX users_email ON users (tenant_id, email);
CREATE INDEX users_created ON users (tenant_id, created_at, pk);
CREATE INDEX users_name ON users (tenant_id, name, pk);
CREATE TABLE user_terms (
    tenant_id BIGINT NOT NULL,
    field {text} NOT NULL,
    value {text},
    rvalue {text},
    num DOUBLE PRECISION,
    user_pk BIGINT NOT NULL REFERENCES users(pk) ON DELETE CASCADE
);
CREATE INDEX user_terms_value ON user_terms (tenant_id, field, value, user_pk);
CREATE INDEX user_terms_rvalue ON user_terms (tenant_id, field, rvalue, user_pk);
CREATE INDEX user_terms_num ON user_terms (tenant_id, field, num, user_pk);
CREATE INDEX user_terms_user ON user_terms (user_pk);
CREATE TABLE roles (
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    id TEXT NOT NULL,
    name {text} NOT NULL,
    description TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX roles_name ON roles (tenant_id, name);
CREATE TABLE role_permissions (
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    role_id TEXT NOT NULL,
    resource_server_identifier TEXT NOT NULL,
    permission_name TEXT NOT NULL,
    PRIMARY KEY (tenant_id, role_id, resource_server_identifier, permission_name)
);
CREATE INDEX role_permissions_api ON role_permissions (tenant_id, resource_server_identifier);
CREATE TABLE user_roles (
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    user_id {text} NOT NULL,
    role_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, user_id, role_id)
);
CREATE INDEX user_roles_role ON user_roles (tenant_id, role_id, user_id);
CREATE TABLE user_permissions (
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    user_id {text} NOT NULL,
    resource_server_identifier TEXT NOT NULL,
    permission_name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, user_id, resource_server_identifier, permission_name)
);
CREATE INDEX user_permissions_api ON user_permissions (tenant_id, resource_server_identifier);
"#,
    r#"
CREATE TABLE logs (
    seq {pk},
    tenant_id BIGINT NOT NULL,
    log_id {text} NOT NULL,
    date BIGINT NOT NULL,
    type {text} NOT NULL,
    user_id {text},
    user_name {text},
    client_id {text},
    client_name {text},
    connection {text},
    ip {text},
    audience {text},
    hostname {text},
    doc TEXT NOT NULL
);
CREATE UNIQUE INDEX logs_id ON logs (tenant_id, log_id);
CREATE INDEX logs_date ON logs (tenant_id, date);
CREATE INDEX logs_type ON logs (tenant_id, type, log_id);
CREATE INDEX logs_user ON logs (tenant_id, user_id, log_id);
CREATE INDEX logs_client ON logs (tenant_id, client_id, log_id);
CREATE TABLE log_streams (
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    id TEXT NOT NULL,
    doc TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    lease_owner TEXT,
    lease_until BIGINT,
    failing_since BIGINT,
    PRIMARY KEY (tenant_id, id)
);
CREATE TABLE log_outbox (
    seq {pk},
    tenant_id BIGINT NOT NULL,
    stream_id TEXT NOT NULL,
    log_seq BIGINT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX log_outbox_stream ON log_outbox (tenant_id, stream_id, seq);
"#,
    r#"
CREATE TABLE refresh_tokens (
    tenant_id BIGINT NOT NULL,
    id TEXT NOT NULL,
    family TEXT NOT NULL,
    token_hash TEXT NOT NULL,
    user_id {text} NOT NULL,
    client_id TEXT NOT NULL,
    audience TEXT,
    scope TEXT NOT NULL,
    session_id TEXT,
    rotating BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    idle_expires_at BIGINT,
    last_used_at BIGINT,
    rotated_at BIGINT,
    revoked_at BIGINT,
    device TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX refresh_tokens_hash ON refresh_tokens (token_hash);
CREATE INDEX refresh_tokens_user ON refresh_tokens (tenant_id, user_id, created_at);
CREATE INDEX refresh_tokens_family ON refresh_tokens (tenant_id, family);
CREATE TABLE auth_codes (
    code_hash TEXT PRIMARY KEY,
    tenant_id BIGINT NOT NULL,
    doc TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE TABLE sessions (
    tenant_id BIGINT NOT NULL,
    id TEXT NOT NULL,
    cookie_hash TEXT NOT NULL,
    user_id {text} NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT,
    doc TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX sessions_cookie ON sessions (cookie_hash);
CREATE INDEX sessions_user ON sessions (tenant_id, user_id, created_at);
CREATE TABLE login_failures (
    tenant_id BIGINT NOT NULL,
    user_id {text} NOT NULL,
    ip TEXT NOT NULL,
    failures BIGINT NOT NULL,
    blocked_at BIGINT,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, user_id, ip)
);
CREATE TABLE ip_blocks (
    tenant_id BIGINT NOT NULL,
    ip TEXT NOT NULL,
    blocked_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, ip)
);
"#,
    r#"
CREATE TABLE dashboard_admins (
    tenant_id BIGINT NOT NULL,
    id TEXT NOT NULL,
    email {text} NOT NULL,
    password_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_login_at BIGINT,
    failures BIGINT NOT NULL,
    locked_until BIGINT,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX dashboard_admins_email ON dashboard_admins (tenant_id, email);
CREATE TABLE dashboard_sessions (
    tenant_id BIGINT NOT NULL,
    id TEXT NOT NULL,
    cookie_hash TEXT NOT NULL,
    admin_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX dashboard_sessions_cookie ON dashboard_sessions (cookie_hash);
"#,
    r#"
CREATE TABLE refresh_token_metadata (
    tenant_id BIGINT NOT NULL,
    family TEXT NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (tenant_id, family)
);
CREATE TABLE ip_failures (
    tenant_id BIGINT NOT NULL,
    ip TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, ip)
);
"#,
    r#"
ALTER TABLE refresh_tokens ADD COLUMN auth_time BIGINT
"#,
    r#"
CREATE TABLE password_history (
    tenant_id BIGINT NOT NULL,
    user_id {text} NOT NULL,
    password_hash TEXT NOT NULL,
    replaced_at BIGINT NOT NULL
);
CREATE INDEX password_history_user ON password_history (tenant_id, user_id, replaced_at)
"#,
    // The tenant's users in key order: searches that no search term can
    // drive (everything, or NOT …) walk this small index instead of the rows.
    r#"
CREATE INDEX users_tenant ON users (tenant_id, pk)
"#,
    // Fewer index entries per event. log_id starts with the event's date:
    // date ranges, date order and retention use the log_id index. Events
    // without a user (token exchanges, Management API calls: most of them)
    // stay out of the user index; `user_id = ?` implies the index's WHERE.
    // (On a store with millions of events the new index takes a minute to
    // build, once.)
    r#"
DROP INDEX logs_date;
DROP INDEX logs_user;
CREATE INDEX logs_user ON logs (tenant_id, user_id, log_id) WHERE user_id IS NOT NULL
"#,
    // Long scopes of events stored once (see `log_scopes`).
    r#"
CREATE TABLE log_scopes (
    tenant_id BIGINT NOT NULL,
    hash TEXT NOT NULL,
    scope TEXT NOT NULL,
    PRIMARY KEY (tenant_id, hash)
);
ALTER TABLE logs ADD COLUMN scope_ref TEXT
"#,
    // What is true of the stored data beyond its schema. `terms_unique`:
    // no user has a (field, value) term twice (see `terms::dedupe`). A
    // store with no terms yet has it from the start; an older one gets it
    // when `Store::dedupe_terms` has gone through every user.
    r#"
CREATE TABLE store_flags (name TEXT PRIMARY KEY);
INSERT INTO store_flags (name) SELECT 'terms_unique' WHERE NOT EXISTS (SELECT 1 FROM user_terms)
"#,
    // Log rows whose document leaves out what their columns hold (see
    // `log_doc`). Nothing changes in the schema: the step is here so that
    // a castellan from before it, which reads an event from its document
    // alone, refuses a store holding such rows (`StoreError::Newer`).
    r#"
INSERT INTO store_flags (name) VALUES ('log_documents_slim')
"#,
];

fn render(sql: &str, dialect: Dialect) -> String {
    let (pk, text) = match dialect {
        Dialect::Sqlite => ("INTEGER PRIMARY KEY AUTOINCREMENT", "TEXT"),
        Dialect::Postgres => ("BIGSERIAL PRIMARY KEY", "TEXT COLLATE \"C\""),
    };
    sql.replace("{pk}", pk).replace("{text}", text)
}

pub async fn migrate(store: &Store) -> Result<()> {
    let _w = store.write_guard().await;
    let mut conn = store.pool.acquire().await?;
    if store.dialect == Dialect::Postgres {
        // Several instances may start at once: serialize migrations.
        conn.execute("SELECT pg_advisory_lock(7300501)").await?;
    }
    let result = apply(&mut conn, store.dialect).await;
    if store.dialect == Dialect::Postgres {
        conn.execute("SELECT pg_advisory_unlock(7300501)").await?;
    }
    result
}

async fn apply(conn: &mut sqlx::AnyConnection, dialect: Dialect) -> Result<()> {
    conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY)").await?;
    let done: Option<i64> =
        sqlx::query_scalar("SELECT MAX(version) FROM schema_migrations").fetch_one(&mut *conn).await?;
    let done = done.unwrap_or(0) as usize;
    if done > MIGRATIONS.len() {
        // Written by a newer castellan: this one would write what that one
        // no longer reads right (an older version writes search terms that
        // repeat, which `terms_unique` stores must not hold).
        return Err(StoreError::Newer(format!(
            "the store's schema is at version {done}, this castellan knows {}: run the newer castellan",
            MIGRATIONS.len()
        )));
    }
    for (i, m) in MIGRATIONS.iter().enumerate().skip(done) {
        let version = (i + 1) as i64;
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        for stmt in render(m, dialect).split(';').map(str::trim).filter(|s| !s.is_empty()) {
            tx.execute(stmt).await?;
        }
        sqlx::query("INSERT INTO schema_migrations (version) VALUES ($1)").bind(version).execute(&mut *tx).await?;
        tx.commit().await?;
    }
    Ok(())
}
