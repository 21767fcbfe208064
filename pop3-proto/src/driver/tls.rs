//! TLS client configurations: the platform's trusted roots, or a CA file of your own.

use super::{Error, Result};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};
use std::path::Path;
use std::string::String;
use std::string::ToString;
use std::sync::Arc;
use std::vec::Vec;

fn builder() -> Result<rustls::ConfigBuilder<ClientConfig, rustls::WantsVerifier>> {
    ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(Error::Tls)
}

/// The platform's root certificates (the system store).
fn platform_roots() -> Result<RootCertStore> {
    let loaded = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    let (added, _ignored) = roots.add_parsable_certificates(loaded.certs);
    if added == 0 {
        return Err(Error::CaFile {
            path: "the platform certificate store".into(),
            reason: "no usable root certificate found (install ca-certificates, or pass a CA file)"
                .into(),
        });
    }
    Ok(roots)
}

/// The CA certificates in a PEM file.
fn roots_from(path: &Path) -> Result<RootCertStore> {
    let error = |reason: String| Error::CaFile {
        path: path.display().to_string(),
        reason,
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .map_err(|e| error(e.to_string()))?
        .collect::<core::result::Result<_, _>>()
        .map_err(|e| error(e.to_string()))?;
    let mut roots = RootCertStore::empty();
    for cert in certs {
        roots.add(cert).map_err(|e| error(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(error("it holds no certificate".into()));
    }
    Ok(roots)
}

/// A TLS configuration trusting the platform's root certificates (the system store).
///
/// ```no_run
/// let config = pop3_proto::driver::tls::platform_config().unwrap();
/// ```
pub fn platform_config() -> Result<Arc<ClientConfig>> {
    let roots = platform_roots()?;
    Ok(Arc::new(
        builder()?
            .with_root_certificates(roots)
            .with_no_client_auth(),
    ))
}

/// A TLS configuration trusting only the certificates in a PEM file (a private CA).
///
/// ```no_run
/// let config = pop3_proto::driver::tls::ca_file_config("ca.pem").unwrap();
/// ```
pub fn ca_file_config(path: impl AsRef<Path>) -> Result<Arc<ClientConfig>> {
    let roots = roots_from(path.as_ref())?;
    Ok(Arc::new(
        builder()?
            .with_root_certificates(roots)
            .with_no_client_auth(),
    ))
}

/// A TLS configuration that also presents a client certificate (for SASL `EXTERNAL`):
/// trusting the CA certificates in `ca_file`, or the platform's roots without one.
///
/// ```no_run
/// let config = pop3_proto::driver::tls::client_cert_config(Some("ca.pem".as_ref()), "me.pem".as_ref(), "me.key".as_ref()).unwrap();
/// ```
pub fn client_cert_config(
    ca_file: Option<&Path>,
    cert_file: &Path,
    key_file: &Path,
) -> Result<Arc<ClientConfig>> {
    use rustls::pki_types::PrivateKeyDer;
    let error = |path: &Path, reason: String| Error::CaFile {
        path: path.display().to_string(),
        reason,
    };
    let roots = match ca_file {
        Some(path) => roots_from(path)?,
        None => platform_roots()?,
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert_file)
        .map_err(|e| error(cert_file, e.to_string()))?
        .collect::<core::result::Result<_, _>>()
        .map_err(|e| error(cert_file, e.to_string()))?;
    if chain.is_empty() {
        return Err(error(cert_file, "it holds no certificate".into()));
    }
    let key = PrivateKeyDer::from_pem_file(key_file).map_err(|e| error(key_file, e.to_string()))?;
    let config = builder()?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .map_err(Error::Tls)?;
    Ok(Arc::new(config))
}

/// The channel binding of a TLS connection for SCRAM-…-PLUS: RFC 9266's `tls-exporter`,
/// offered only over TLS 1.3 (with TLS 1.2 the exporter is safe only with the extended
/// master secret, which cannot be checked here).
pub fn channel_binding(conn: &rustls::ClientConnection) -> Option<crate::sasl::ChannelBinding> {
    if conn.protocol_version() != Some(rustls::ProtocolVersion::TLSv1_3) {
        return None;
    }
    let exported = conn
        .export_keying_material([0u8; 32], b"EXPORTER-Channel-Binding", None)
        .ok()?;
    Some(crate::sasl::ChannelBinding::TlsExporter(exported.to_vec()))
}
