//! The cluster CA: created when a cluster is bootstrapped, held by the
//! monitors, signing one certificate per entity.

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

use crate::entity::EntityName;
use crate::keyring::Credentials;
use crate::tls::dns_name;
use crate::Result;

/// The cluster's certificate authority (its certificate and private key).
pub struct ClusterCa {
    fsid: String,
    cert_pem: String,
    key_pem: String,
}

impl ClusterCa {
    /// A new CA for the cluster `fsid`.
    pub fn generate(fsid: &str) -> Result<ClusterCa> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params
            .distinguished_name
            .push(DnType::CommonName, format!("strata cluster {fsid}"));
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params.self_signed(&key)?;
        Ok(ClusterCa {
            fsid: fsid.to_string(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }

    /// A CA loaded from its PEM certificate and key.
    pub fn from_pem(fsid: &str, cert_pem: &str, key_pem: &str) -> Result<ClusterCa> {
        let key = KeyPair::from_pem(key_pem)?;
        Issuer::from_ca_cert_pem(cert_pem, key)?;
        Ok(ClusterCa {
            fsid: fsid.to_string(),
            cert_pem: cert_pem.to_string(),
            key_pem: key_pem.to_string(),
        })
    }

    pub fn fsid(&self) -> &str {
        &self.fsid
    }

    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    pub fn key_pem(&self) -> &str {
        &self.key_pem
    }

    /// Signs a new key and certificate for `entity`: common name = the
    /// entity name, DNS name `<entity>.strata` (what peers verify), usable
    /// both as a TLS server and client.
    pub fn issue(&self, entity: &EntityName) -> Result<Credentials> {
        let issuer = Issuer::from_ca_cert_pem(&self.cert_pem, KeyPair::from_pem(&self.key_pem)?)?;
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(vec![dns_name(entity)])?;
        params
            .distinguished_name
            .push(DnType::CommonName, entity.to_string());
        params.distinguished_name.push(
            DnType::OrganizationName,
            format!("strata cluster {}", self.fsid),
        );
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let cert = params.signed_by(&key, &issuer)?;
        Ok(Credentials {
            entity: entity.clone(),
            fsid: self.fsid.clone(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            ca_pem: self.cert_pem.clone(),
        })
    }
}
