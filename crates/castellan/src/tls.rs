//! TLS material. Without a configured certificate, the first start makes a
//! local CA (DATA_DIR/tls/ca.pem, for clients to trust) and a server
//! certificate for the domain, localhost and 127.0.0.1, signed by it. The
//! server certificate is re-issued when the domain changes; the CA is kept.

use std::path::Path;

use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose};

pub struct Pem {
    pub cert: Vec<u8>,
    pub key: Vec<u8>,
}

fn ca_params() -> Result<CertificateParams, String> {
    let mut p = CertificateParams::new(Vec::<String>::new()).map_err(|e| e.to_string())?;
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name.push(DnType::CommonName, "castellan local CA");
    p.distinguished_name.push(DnType::OrganizationName, "castellan");
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    p.not_before = rcgen::date_time_ymd(2024, 1, 1);
    p.not_after = rcgen::date_time_ymd(2049, 12, 31);
    Ok(p)
}

fn write_private(path: &Path, data: &str) -> Result<(), String> {
    std::fs::write(path, data).map_err(|e| format!("{}: {e}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Loads or creates the generated CA and server certificate.
pub fn ensure_local_certs(data_dir: &Path, domain: &str) -> Result<Pem, String> {
    let dir = data_dir.join("tls");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let (ca_pem, ca_key_pem) = (dir.join("ca.pem"), dir.join("ca-key.pem"));
    let ca_key = if ca_key_pem.exists() {
        let pem = std::fs::read_to_string(&ca_key_pem).map_err(|e| e.to_string())?;
        KeyPair::from_pem(&pem).map_err(|e| format!("{}: {e}", ca_key_pem.display()))?
    } else {
        let key = KeyPair::generate().map_err(|e| e.to_string())?;
        let cert = ca_params()?.self_signed(&key).map_err(|e| e.to_string())?;
        write_private(&ca_key_pem, &key.serialize_pem())?;
        std::fs::write(&ca_pem, cert.pem()).map_err(|e| e.to_string())?;
        key
    };
    // Same name and key as the CA on disk, so what it signs chains to it.
    let ca_cert = ca_params()?.self_signed(&ca_key).map_err(|e| e.to_string())?;

    let host = domain.rsplit_once(':').map(|(h, _)| h).unwrap_or(domain);
    let (srv_pem, srv_key_pem, srv_for) =
        (dir.join("server.pem"), dir.join("server-key.pem"), dir.join("server.domain"));
    let current = std::fs::read_to_string(&srv_for).unwrap_or_default();
    if current.trim() != host || !srv_pem.exists() || !srv_key_pem.exists() {
        let mut names = vec![host.to_string(), "localhost".to_string(), "127.0.0.1".to_string(), "::1".to_string()];
        names.dedup();
        let mut p = CertificateParams::new(names).map_err(|e| e.to_string())?;
        p.distinguished_name.push(DnType::CommonName, host);
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        p.use_authority_key_identifier_extension = true;
        p.not_before = rcgen::date_time_ymd(2024, 1, 1);
        p.not_after = rcgen::date_time_ymd(2049, 12, 31);
        let key = KeyPair::generate().map_err(|e| e.to_string())?;
        let cert = p.signed_by(&key, &ca_cert, &ca_key).map_err(|e| e.to_string())?;
        write_private(&srv_key_pem, &key.serialize_pem())?;
        std::fs::write(&srv_pem, cert.pem()).map_err(|e| e.to_string())?;
        std::fs::write(&srv_for, host).map_err(|e| e.to_string())?;
    }
    Ok(Pem {
        cert: std::fs::read(&srv_pem).map_err(|e| e.to_string())?,
        key: std::fs::read(&srv_key_pem).map_err(|e| e.to_string())?,
    })
}
