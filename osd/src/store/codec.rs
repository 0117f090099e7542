//! Versioned encoding of everything the store persists: one version byte,
//! then an rkyv archive that is validated (bytecheck) in an aligned buffer
//! before use. Bytes from disk are untrusted: damage or a newer format gives
//! an error, never a panic.

use rkyv::api::high::{HighDeserializer, HighSerializer, HighValidator};
use rkyv::bytecheck::CheckBytes;
use rkyv::rancor::Error as RkyvError;
use rkyv::ser::allocator::ArenaHandle;
use rkyv::util::AlignedVec;
use rkyv::{Archive, Deserialize, Serialize};

use super::error::StoreError;

/// The encoding version this build writes and reads.
pub const ENCODING_V1: u8 = 1;

pub fn encode<T>(value: &T) -> Vec<u8>
where
    T: for<'a> Serialize<HighSerializer<AlignedVec, ArenaHandle<'a>, RkyvError>>,
{
    let body = rkyv::to_bytes::<RkyvError>(value).expect("encoding to memory cannot fail");
    let mut out = Vec::with_capacity(body.len() + 1);
    out.push(ENCODING_V1);
    out.extend_from_slice(&body);
    out
}

pub fn decode<T>(what: &str, bytes: &[u8]) -> Result<T, StoreError>
where
    T: Archive,
    T::Archived: for<'a> CheckBytes<HighValidator<'a, RkyvError>>
        + Deserialize<T, HighDeserializer<RkyvError>>,
{
    let bad = |detail: String| StoreError::BadMetadata {
        what: what.to_string(),
        detail,
    };
    let (&version, body) = bytes
        .split_first()
        .ok_or_else(|| bad("empty value".into()))?;
    if version != ENCODING_V1 {
        return Err(bad(format!(
            "encoding version {version}, this build reads {ENCODING_V1}"
        )));
    }
    let mut aligned = AlignedVec::<16>::with_capacity(body.len());
    aligned.extend_from_slice(body);
    rkyv::from_bytes::<T, RkyvError>(&aligned).map_err(|e| bad(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::types::{LogKind, ObjectId, PgLogEntry, Version};

    #[test]
    fn round_trips_and_rejects_damage() {
        let e = PgLogEntry {
            version: Version::new(3, 9),
            prior_version: Version::new(2, 1),
            object: ObjectId::new("ns", "obj"),
            kind: LogKind::Modify,
            reqid: 77,
            mtime_ns: 5,
        };
        let bytes = encode(&e);
        assert_eq!(decode::<PgLogEntry>("log", &bytes).unwrap(), e);
        let mut v2 = bytes.clone();
        v2[0] = 2;
        assert!(decode::<PgLogEntry>("log", &v2)
            .unwrap_err()
            .to_string()
            .contains("encoding version 2"));
        assert!(decode::<PgLogEntry>("log", &bytes[..bytes.len() / 2]).is_err());
        assert!(decode::<PgLogEntry>("log", &[]).is_err());
        for i in 1..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0xff;
            let _ = decode::<PgLogEntry>("log", &b); // must not panic
        }
    }
}
