//! The store's use of the shared versioned encoding (`cluster::codec`):
//! decoding failures become `StoreError::BadMetadata`.

pub use cluster::codec::encode;

use super::error::StoreError;

pub fn decode<T>(what: &str, bytes: &[u8]) -> Result<T, StoreError>
where
    T: rkyv::Archive,
    T::Archived: for<'a> rkyv::bytecheck::CheckBytes<rkyv::api::high::HighValidator<'a, rkyv::rancor::Error>>
        + rkyv::Deserialize<T, rkyv::api::high::HighDeserializer<rkyv::rancor::Error>>,
{
    cluster::codec::decode(what, bytes).map_err(|e| StoreError::BadMetadata {
        what: e.what,
        detail: e.detail,
    })
}
