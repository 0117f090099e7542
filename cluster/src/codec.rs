//! The one versioned encoding of Strata's persisted and wire values: one
//! version byte, then an rkyv archive that is validated (bytecheck) in an
//! aligned buffer before use. Bytes from disk or the network are untrusted:
//! damage or a newer format gives an error, never a panic.

use rkyv::api::high::{HighDeserializer, HighSerializer, HighValidator};
use rkyv::bytecheck::CheckBytes;
use rkyv::rancor::Error as RkyvError;
use rkyv::ser::allocator::ArenaHandle;
use rkyv::util::AlignedVec;
use rkyv::{Archive, Deserialize, Serialize};

/// Bytes that do not decode: what they were meant to be, and why not.
#[derive(Debug, thiserror::Error)]
#[error("cannot decode {what}: {detail}")]
pub struct DecodeError {
    pub what: String,
    pub detail: String,
}

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

pub fn decode<T>(what: &str, bytes: &[u8]) -> Result<T, DecodeError>
where
    T: Archive,
    T::Archived: for<'a> CheckBytes<HighValidator<'a, RkyvError>>
        + Deserialize<T, HighDeserializer<RkyvError>>,
{
    let bad = |detail: String| DecodeError {
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

    #[derive(Archive, Serialize, Deserialize, Debug, PartialEq)]
    struct Sample {
        name: String,
        values: Vec<u64>,
        flag: Option<u8>,
    }

    #[test]
    fn round_trips_and_rejects_damage() {
        let v = Sample {
            name: "obj".into(),
            values: vec![1, 2, 3],
            flag: Some(7),
        };
        let bytes = encode(&v);
        assert_eq!(decode::<Sample>("sample", &bytes).unwrap(), v);
        let mut v2 = bytes.clone();
        v2[0] = 2;
        assert!(decode::<Sample>("sample", &v2)
            .unwrap_err()
            .to_string()
            .contains("encoding version 2"));
        assert!(decode::<Sample>("sample", &bytes[..bytes.len() / 2]).is_err());
        assert!(decode::<Sample>("sample", &[]).is_err());
        for i in 1..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0xff;
            let _ = decode::<Sample>("sample", &b); // must not panic
        }
    }
}
