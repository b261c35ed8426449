//! One keep-alive HTTP/1.1 connection per load-generating task, over TLS
//! (rustls, trusting a given CA file) or plain TCP. Requests on a connection
//! are sent one after the other, as a browser-less API client would.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// Where to send requests: scheme, socket address, the Host header (which
/// selects castellan's tenant) and the TLS server name.
#[derive(Clone)]
pub struct Target {
    pub tls: Option<Arc<rustls::ClientConfig>>,
    pub addr: String,
    pub host: String,
    pub server_name: String,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target").field("tls", &self.tls.is_some()).field("addr", &self.addr).finish()
    }
}

impl Target {
    /// `https://host:port` or `http://host:port`; `connect` overrides the socket
    /// address (e.g. the Host is `localhost:8443` but we dial 127.0.0.1).
    pub fn new(url: &str, ca: Option<&Path>) -> Result<Target, String> {
        let (tls, rest) = if let Some(r) = url.strip_prefix("https://") {
            (true, r)
        } else if let Some(r) = url.strip_prefix("http://") {
            (false, r)
        } else {
            return Err(format!("{url}: expected http:// or https://"));
        };
        let host = rest.trim_end_matches('/').to_string();
        let (name, port) = match host.rsplit_once(':') {
            Some((n, p)) => (n.to_string(), p.to_string()),
            None => (host.clone(), if tls { "443".into() } else { "80".into() }),
        };
        let dial = if name == "localhost" { "127.0.0.1".to_string() } else { name.clone() };
        let tls = if tls { Some(Arc::new(tls_config(ca)?)) } else { None };
        Ok(Target { tls, addr: format!("{dial}:{port}"), host, server_name: name })
    }

    pub async fn connect(&self) -> Result<Conn, String> {
        let tcp = TcpStream::connect(&self.addr).await.map_err(|e| format!("connect {}: {e}", self.addr))?;
        let _ = tcp.set_nodelay(true);
        let io: Box<dyn Io> = match &self.tls {
            Some(cfg) => {
                let name = ServerName::try_from(self.server_name.clone()).map_err(|e| e.to_string())?;
                let tls = tokio_rustls::TlsConnector::from(cfg.clone())
                    .connect(name, tcp)
                    .await
                    .map_err(|e| format!("TLS handshake with {}: {e}", self.addr))?;
                Box::new(tls)
            }
            None => Box::new(tcp),
        };
        let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
            .await
            .map_err(|e| format!("HTTP handshake: {e}"))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Conn { send, host: self.host.clone(), cookie: None })
    }
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

fn tls_config(ca: Option<&Path>) -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    if let Some(ca) = ca {
        for cert in CertificateDer::pem_file_iter(ca).map_err(|e| format!("{}: {e}", ca.display()))? {
            let cert = cert.map_err(|e| format!("{}: {e}", ca.display()))?;
            roots.add(cert).map_err(|e| format!("{}: {e}", ca.display()))?;
        }
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(cfg)
}

/// A request as the workloads describe it.
#[derive(Debug, Clone)]
pub struct Req {
    pub method: Method,
    pub path: String,
    pub body: Option<(&'static str, Bytes)>,
    pub bearer: Option<Arc<str>>,
}

impl Req {
    pub fn get(path: impl Into<String>, bearer: Option<Arc<str>>) -> Req {
        Req { method: Method::GET, path: path.into(), body: None, bearer }
    }
    pub fn json(method: Method, path: impl Into<String>, body: &serde_json::Value, bearer: Option<Arc<str>>) -> Req {
        Req { method, path: path.into(), body: Some(("application/json", Bytes::from(body.to_string()))), bearer }
    }
    pub fn form(path: impl Into<String>, body: String) -> Req {
        Req {
            method: Method::POST,
            path: path.into(),
            body: Some(("application/x-www-form-urlencoded", Bytes::from(body))),
            bearer: None,
        }
    }
}

pub struct Conn {
    send: SendRequest<Full<Bytes>>,
    host: String,
    /// A `Cookie` header sent with every request (the dashboard's session).
    pub cookie: Option<String>,
}

/// A response: status and the whole body.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub body: Bytes,
    /// The `Set-Cookie` headers, as sent.
    pub set_cookies: Vec<String>,
}

impl Resp {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// The longest a single request may take before it counts as an error.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

impl Conn {
    pub async fn send(&mut self, r: &Req) -> Result<Resp, String> {
        let mut b = Request::builder()
            .method(r.method.clone())
            .uri(&r.path)
            .header("host", &self.host)
            .header("accept", "application/json");
        if let Some(t) = &r.bearer {
            b = b.header("authorization", format!("Bearer {t}"));
        }
        if let Some(c) = &self.cookie {
            b = b.header("cookie", c);
        }
        let body = match &r.body {
            Some((ct, bytes)) => {
                b = b.header("content-type", *ct);
                Full::new(bytes.clone())
            }
            None => Full::new(Bytes::new()),
        };
        let req = b.body(body).map_err(|e| e.to_string())?;
        let fut = async {
            self.send.ready().await.map_err(|e| format!("connection: {e}"))?;
            let resp = self.send.send_request(req).await.map_err(|e| format!("request: {e}"))?;
            let status = resp.status().as_u16();
            let set_cookies = resp
                .headers()
                .get_all("set-cookie")
                .iter()
                .filter_map(|v| v.to_str().ok().map(str::to_string))
                .collect();
            let body = resp.into_body().collect().await.map_err(|e| format!("body: {e}"))?.to_bytes();
            Ok::<_, String>(Resp { status, body, set_cookies })
        };
        tokio::time::timeout(REQUEST_TIMEOUT, fut).await.map_err(|_| "timeout".to_string())?
    }
}

/// Percent-encodes a query-string value.
pub fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}
