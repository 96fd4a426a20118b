//! Mutual TLS to a Docker engine's TCP endpoint, as Docker documents it ("Protect the Docker
//! daemon socket"): the engine's certificate checked against a CA of the operator's, and this
//! server's client certificate and key presented.

use std::path::PathBuf;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde::{Deserialize, Serialize};
use tokio_rustls::TlsConnector;

use super::SandboxError;

/// The files of an engine's mutual TLS (`tls = { ca = …, cert = …, key = … }` in `[[engines]]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EngineTls {
    /// The CA that signed the engine's certificate (`ca.pem`).
    pub ca: PathBuf,
    /// This server's client certificate (`cert.pem`).
    pub cert: PathBuf,
    /// Its private key (`key.pem`).
    pub key: PathBuf,
}

/// A TLS client for one engine, ready to wrap connections to it.
#[derive(Clone)]
pub struct TlsClient {
    pub(super) connector: TlsConnector,
    pub(super) server_name: ServerName<'static>,
}

impl EngineTls {
    /// Reads the files and builds the client for the engine at `endpoint` (`tcp://host:port`):
    /// the engine's certificate must name `host`.
    pub fn client(&self, endpoint: &str) -> Result<TlsClient, SandboxError> {
        let unusable = |what: &str, detail: String| SandboxError::EngineUnreachable {
            endpoint: endpoint.to_owned(),
            detail: format!("the TLS {what} cannot be used: {detail}"),
        };
        let mut roots = rustls::RootCertStore::empty();
        let cas = CertificateDer::pem_file_iter(&self.ca)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| unusable("CA", format!("{}: {e}", self.ca.display())))?;
        let (added, _) = roots.add_parsable_certificates(cas);
        if added == 0 {
            return Err(unusable(
                "CA",
                format!("{} holds no certificate", self.ca.display()),
            ));
        }
        let chain = CertificateDer::pem_file_iter(&self.cert)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| unusable("certificate", format!("{}: {e}", self.cert.display())))?;
        let key = PrivateKeyDer::from_pem_file(&self.key)
            .map_err(|e| unusable("key", format!("{}: {e}", self.key.display())))?;
        let config = rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)
            .map_err(|e| unusable("certificate and key", e.to_string()))?;
        let host = endpoint
            .strip_prefix("tcp://")
            .and_then(|rest| rest.rsplit_once(':').map(|(host, _)| host))
            .unwrap_or_default()
            .trim_matches(|c| c == '[' || c == ']');
        let server_name = ServerName::try_from(host.to_owned())
            .map_err(|e| unusable("engine name", format!("{host:?}: {e}")))?;
        Ok(TlsClient {
            connector: TlsConnector::from(Arc::new(config)),
            server_name,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreadable_files_are_named_in_the_error() {
        let tls = EngineTls {
            ca: "/nonexistent/ca.pem".into(),
            cert: "/nonexistent/cert.pem".into(),
            key: "/nonexistent/key.pem".into(),
        };
        let Err(error) = tls.client("tcp://127.0.0.1:2376") else {
            panic!("missing files were accepted");
        };
        let text = error.to_string();
        assert!(
            text.contains("/nonexistent/ca.pem") && text.contains("TLS CA"),
            "{text}"
        );
    }
}
