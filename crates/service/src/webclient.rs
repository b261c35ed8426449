//! A small outbound HTTP/1.1 client (http and https) for log-stream delivery
//! and the CLI: one request per connection, bounded time and response size.
//! HTTPS trusts the system's roots, plus the PEM certificates in
//! `CASTELLAN_EXTRA_CA_FILE` when set (a private CA, like castellan's own).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::Request;
use hyper_util::rt::TokioIo;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("invalid URL: {0}")]
    Url(String),
    #[error("connection failed: {0}")]
    Connect(String),
    #[error("TLS failed: {0}")]
    Tls(String),
    #[error("HTTP failed: {0}")]
    Http(String),
    #[error("timed out")]
    Timeout,
}

pub struct WebResponse {
    pub status: u16,
    pub body: Bytes,
}

struct Target {
    https: bool,
    host: String,
    port: u16,
    path: String,
}

fn parse_url(url: &str) -> Result<Target, WebError> {
    let bad = || WebError::Url(url.chars().take(200).collect());
    let (https, rest) = if let Some(r) = url.strip_prefix("https://") {
        (true, r)
    } else if let Some(r) = url.strip_prefix("http://") {
        (false, r)
    } else {
        return Err(bad());
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if authority.is_empty() || authority.contains('@') {
        return Err(bad());
    }
    let (host, port) = if let Some(h) = authority.strip_prefix('[') {
        let (h, p) = h.split_once(']').ok_or_else(bad)?;
        (h.to_string(), p.strip_prefix(':').map(|p| p.parse::<u16>().map_err(|_| bad())).transpose()?)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p.parse::<u16>().map_err(|_| bad())?)),
            None => (authority.to_string(), None),
        }
    };
    Ok(Target { https, port: port.unwrap_or(if https { 443 } else { 80 }), host, path: path.to_string() })
}

fn tls_config() -> Result<Arc<rustls::ClientConfig>, WebError> {
    static CONFIG: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let mut roots = rustls::RootCertStore::empty();
            let native = rustls_native_certs::load_native_certs();
            for cert in native.certs {
                let _ = roots.add(cert);
            }
            if let Ok(path) = std::env::var("CASTELLAN_EXTRA_CA_FILE") {
                let pem = std::fs::read(&path).map_err(|e| format!("{path}: {e}"))?;
                for der in pem_certificates(&pem) {
                    roots.add(der).map_err(|e| format!("{path}: {e}"))?;
                }
            }
            let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
            let cfg = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| e.to_string())?
                .with_root_certificates(roots)
                .with_no_client_auth();
            Ok(Arc::new(cfg))
        })
        .clone()
        .map_err(WebError::Tls)
}

/// The DER certificates in a PEM file.
fn pem_certificates(pem: &[u8]) -> Vec<CertificateDer<'static>> {
    use base64::Engine as _;
    let text = String::from_utf8_lossy(pem);
    let mut out = Vec::new();
    let mut inside = false;
    let mut b64 = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line == "-----BEGIN CERTIFICATE-----" {
            inside = true;
            b64.clear();
        } else if line == "-----END CERTIFICATE-----" {
            inside = false;
            if let Ok(der) = base64::engine::general_purpose::STANDARD.decode(&b64) {
                out.push(CertificateDer::from(der));
            }
        } else if inside {
            b64.push_str(line);
        }
    }
    out
}

/// Sends one request and reads up to 1 MiB of the response, within `timeout`.
pub async fn send(
    method: &str,
    url: &str,
    headers: &[(String, String)],
    body: Vec<u8>,
    timeout: Duration,
) -> Result<WebResponse, WebError> {
    tokio::time::timeout(timeout, send_inner(method, url, headers, body)).await.map_err(|_| WebError::Timeout)?
}

async fn send_inner(
    method: &str,
    url: &str,
    headers: &[(String, String)],
    body: Vec<u8>,
) -> Result<WebResponse, WebError> {
    let t = parse_url(url)?;
    let tcp = TcpStream::connect((t.host.as_str(), t.port)).await.map_err(|e| WebError::Connect(e.to_string()))?;
    let host_header = if (t.https && t.port == 443) || (!t.https && t.port == 80) {
        t.host.clone()
    } else {
        format!("{}:{}", t.host, t.port)
    };
    let mut req = Request::builder().method(method).uri(&t.path);
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        req = req.header("host", host_header);
    }
    for (k, v) in headers {
        req = req.header(k.as_str(), v.as_str());
    }
    let req = req.body(Full::new(Bytes::from(body))).map_err(|e| WebError::Http(e.to_string()))?;
    if t.https {
        let name = ServerName::try_from(t.host.clone()).map_err(|e| WebError::Tls(e.to_string()))?;
        let tls = tokio_rustls::TlsConnector::from(tls_config()?)
            .connect(name, tcp)
            .await
            .map_err(|e| WebError::Tls(e.to_string()))?;
        exchange(TokioIo::new(tls), req).await
    } else {
        exchange(TokioIo::new(tcp), req).await
    }
}

async fn exchange<IO>(io: IO, req: Request<Full<Bytes>>) -> Result<WebResponse, WebError>
where
    IO: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(io).await.map_err(|e| WebError::Http(e.to_string()))?;
    let driver = tokio::spawn(conn);
    let resp = sender.send_request(req).await.map_err(|e| WebError::Http(e.to_string()))?;
    let status = resp.status().as_u16();
    let body = Limited::new(resp.into_body(), 1024 * 1024)
        .collect()
        .await
        .map_err(|e| WebError::Http(e.to_string()))?
        .to_bytes();
    driver.abort();
    Ok(WebResponse { status, body })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let t = parse_url("https://logs.example.com/in?x=1").unwrap();
        assert!(t.https && t.host == "logs.example.com" && t.port == 443 && t.path == "/in?x=1");
        let t = parse_url("http://127.0.0.1:9000").unwrap();
        assert!(!t.https && t.port == 9000 && t.path == "/");
        let t = parse_url("http://[::1]:8080/x").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("::1", 8080));
        for bad in ["ftp://x", "http://", "http://u:p@host/", "http://host:notaport/", "localhost:80"] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn pem_parsing() {
        let pem = b"-----BEGIN CERTIFICATE-----\nAAEC\n-----END CERTIFICATE-----\n";
        assert_eq!(pem_certificates(pem).len(), 1);
        assert!(pem_certificates(b"nothing").is_empty());
    }
}
