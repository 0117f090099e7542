//! Mutual-TLS configurations from an entity's credentials, and who is on
//! the other side of a connection.

use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};

use crate::entity::EntityName;
use crate::error::AuthError;
use crate::keyring::Credentials;
use crate::Result;

/// The crypto provider every Strata connection uses: aws-lc-rs.
pub fn crypto_provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// The DNS name in an entity's certificate, which peers verify.
pub(crate) fn dns_name(e: &EntityName) -> String {
    format!("{e}.strata")
}

/// The name a client verifies when it connects to `entity`.
pub fn server_name(entity: &EntityName) -> ServerName<'static> {
    ServerName::try_from(dns_name(entity)).expect("entity names are valid DNS names")
}

fn cert(pem: &str, what: &str) -> Result<CertificateDer<'static>> {
    CertificateDer::from_pem_slice(pem.as_bytes())
        .map_err(|e| AuthError::Certificate(format!("{what}: {e}")))
}

impl Credentials {
    fn parts(
        &self,
    ) -> Result<(
        Vec<CertificateDer<'static>>,
        PrivateKeyDer<'static>,
        Arc<RootCertStore>,
    )> {
        let chain = vec![cert(&self.cert_pem, "entity certificate")?];
        let key = PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes())
            .map_err(|e| AuthError::Certificate(format!("private key: {e}")))?;
        let mut roots = RootCertStore::empty();
        roots.add(cert(&self.ca_pem, "CA certificate")?)?;
        Ok((chain, key, Arc::new(roots)))
    }

    /// Accepts only clients with a certificate from this cluster's CA.
    pub fn server_config(&self) -> Result<Arc<ServerConfig>> {
        let (chain, key, roots) = self.parts()?;
        let provider = crypto_provider();
        let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider.clone())
            .build()
            .map_err(|e| AuthError::Certificate(e.to_string()))?;
        let config = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain, key)?;
        Ok(Arc::new(config))
    }

    /// Presents this entity's certificate and trusts only the cluster CA.
    pub fn client_config(&self) -> Result<Arc<ClientConfig>> {
        let (chain, key, roots) = self.parts()?;
        let config = ClientConfig::builder_with_provider(crypto_provider())
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)?;
        Ok(Arc::new(config))
    }
}

/// The entity a verified peer certificate chain names (its common name).
pub fn peer_entity(chain: &[CertificateDer<'_>]) -> Result<EntityName> {
    let leaf = chain
        .first()
        .ok_or_else(|| AuthError::Certificate("the peer presented no certificate".into()))?;
    let (_, parsed) = x509_parser::parse_x509_certificate(leaf)
        .map_err(|e| AuthError::Certificate(format!("unparsable peer certificate: {e}")))?;
    let cn = parsed
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .ok_or_else(|| AuthError::Certificate("the peer certificate names no entity".into()))?;
    cn.parse()
}
