//! Settings, from (highest first) flags, `CASTELLAN_*` environment
//! variables, an optional TOML file (`--config`), then defaults. Every secret
//! can also be read from a file named by the `*_FILE` variable.

use std::path::PathBuf;

use clap::Args;
use serde::Deserialize;

#[derive(Debug, Args, Default, Clone)]
pub struct ServeArgs {
    /// TOML file with any of the settings below (snake_case keys).
    #[arg(long, env = "CASTELLAN_CONFIG")]
    pub config: Option<PathBuf>,
    /// Directory for the SQLite file and TLS material [default: ./castellan-data]
    #[arg(long, env = "CASTELLAN_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8443]
    #[arg(long, env = "CASTELLAN_LISTEN")]
    pub listen: Option<String>,
    /// The default tenant's public host[:port] [default: localhost:8443]
    #[arg(long, env = "CASTELLAN_DOMAIN")]
    pub domain: Option<String>,
    /// postgres://... to use PostgreSQL; SQLite in the data dir by default.
    #[arg(long, env = "CASTELLAN_DATABASE_URL")]
    pub database_url: Option<String>,
    /// `on` (default) or `off` (plain HTTP behind a TLS proxy).
    #[arg(long, env = "CASTELLAN_TLS")]
    pub tls: Option<String>,
    /// PEM certificate chain to serve instead of the generated one.
    #[arg(long, env = "CASTELLAN_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert.
    #[arg(long, env = "CASTELLAN_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// Log filter (tracing EnvFilter syntax) [default: info]
    #[arg(long, env = "CASTELLAN_LOG")]
    pub log: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    data_dir: Option<PathBuf>,
    listen: Option<String>,
    domain: Option<String>,
    database_url: Option<String>,
    tls: Option<String>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    log: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub data_dir: PathBuf,
    pub listen: String,
    pub domain: String,
    pub database_url: String,
    pub tls: bool,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub log: String,
    pub bootstrap_client_id: Option<String>,
    pub bootstrap_client_secret: Option<String>,
}

/// A value from the environment, or from the file its `_FILE` twin names.
pub fn secret_env(name: &str) -> Result<Option<String>, String> {
    if let Ok(v) = std::env::var(name) {
        if !v.is_empty() {
            return Ok(Some(v));
        }
    }
    match std::env::var(format!("{name}_FILE")) {
        Ok(path) if !path.is_empty() => std::fs::read_to_string(&path)
            .map(|s| Some(s.trim_end_matches(['\r', '\n']).to_string()))
            .map_err(|e| format!("cannot read {name}_FILE ({path}): {e}")),
        _ => Ok(None),
    }
}

impl ServeArgs {
    pub fn resolve(self) -> Result<Settings, String> {
        let file: FileConfig = match &self.config {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
                toml::from_str(&text).map_err(|e| format!("invalid config {}: {e}", p.display()))?
            }
            None => FileConfig::default(),
        };
        let data_dir = self.data_dir.or(file.data_dir).unwrap_or_else(|| PathBuf::from("./castellan-data"));
        let database_url = match self.database_url.or(secret_env("CASTELLAN_DATABASE_URL")?).or(file.database_url) {
            Some(u) => u,
            None => castellan_store::Store::sqlite_url(&data_dir.join("castellan.db")),
        };
        let tls = match self.tls.or(file.tls).as_deref() {
            None | Some("on") | Some("true") => true,
            Some("off") | Some("false") => false,
            Some(other) => return Err(format!("--tls must be on or off, not {other:?}")),
        };
        let tls_cert = self.tls_cert.or(file.tls_cert);
        let tls_key = self.tls_key.or(file.tls_key);
        if tls_cert.is_some() != tls_key.is_some() {
            return Err("--tls-cert and --tls-key go together".into());
        }
        Ok(Settings {
            data_dir,
            listen: self.listen.or(file.listen).unwrap_or_else(|| "127.0.0.1:8443".into()),
            domain: self.domain.or(file.domain).unwrap_or_else(|| "localhost:8443".into()).to_ascii_lowercase(),
            database_url,
            tls,
            tls_cert,
            tls_key,
            log: self.log.or(file.log).unwrap_or_else(|| "info".into()),
            bootstrap_client_id: secret_env("CASTELLAN_BOOTSTRAP_CLIENT_ID")?,
            bootstrap_client_secret: secret_env("CASTELLAN_BOOTSTRAP_CLIENT_SECRET")?,
        })
    }
}
