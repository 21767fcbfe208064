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

/// A TLS configuration trusting the platform's root certificates (the system store).
///
/// ```no_run
/// let config = pop3_proto::driver::tls::platform_config().unwrap();
/// ```
pub fn platform_config() -> Result<Arc<ClientConfig>> {
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
    let path = path.as_ref();
    let error = |reason: String| Error::CaFile {
        path: path.display().to_string(),
        reason,
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .map_err(|e| error(e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| error(e.to_string()))?;
    let mut roots = RootCertStore::empty();
    for cert in certs {
        roots.add(cert).map_err(|e| error(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(error("it holds no certificate".into()));
    }
    Ok(Arc::new(
        builder()?
            .with_root_certificates(roots)
            .with_no_client_auth(),
    ))
}
