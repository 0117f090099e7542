//! Who is who in a Strata cluster, and how they prove it.
//!
//! Every entity (`mon.a`, `osd.3`, `client.admin`) holds a key and a
//! certificate naming it, signed by the cluster's CA, which bootstrapping
//! creates. Every connection is mutual TLS: a peer without a certificate from
//! this cluster's CA is refused, and each side learns the other's entity
//! name from its certificate. Keyring files hold an entity's certificate and
//! key with the CA's certificate. Crypto comes from aws-lc-rs, chosen
//! explicitly (it moves bulk data faster than ring in our measurements).

mod ca;
pub mod caps;
mod entity;
mod error;
mod keyring;
mod tls;

pub use ca::ClusterCa;
pub use caps::{Caps, MonCap};
pub use entity::{EntityKind, EntityName};
pub use error::AuthError;
pub use keyring::{random_uuid, write_private, Credentials};
pub use tls::{crypto_provider, peer_entity, server_name};

pub type Result<T> = std::result::Result<T, AuthError>;
