//! The one versioned encoding of Strata's persisted and wire values: one
//! version byte, then an rkyv archive that is validated (bytecheck) in an
//! aligned buffer before use. Bytes from disk or the network are untrusted:
//! damage or a newer format gives an error, never a panic.
//!
//! Version 1 puts the archive right after the version byte (so a reader
//! copies it into an aligned buffer). Version 2, used for large messages,
//! pads the version byte to 16 bytes: the archive is built in place after
//! it and handed to the transport without a copy ([`encode_shared`]), and
//! a reader whose buffer is aligned (large allocations are) validates it
//! where it lies. Both decode everywhere.

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
/// The version-2 layout: version byte, 15 zero bytes, archive.
pub const ENCODING_V2: u8 = 2;
const V2_HEAD: usize = 16;

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

/// Encodes in the version-2 layout, as shared bytes: the archive is
/// serialized once, in place, and never copied afterwards.
pub fn encode_shared<T>(value: &T) -> bytes::Bytes
where
    T: for<'a> Serialize<HighSerializer<AlignedVec, ArenaHandle<'a>, RkyvError>>,
{
    let mut buf = AlignedVec::<16>::new();
    buf.extend_from_slice(&[0u8; V2_HEAD]);
    buf[0] = ENCODING_V2;
    let buf = rkyv::api::high::to_bytes_in::<_, RkyvError>(value, buf)
        .expect("encoding to memory cannot fail");
    bytes::Bytes::from_owner(buf)
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
    let body = match version {
        ENCODING_V1 => body,
        ENCODING_V2 => {
            if bytes.len() < V2_HEAD {
                return Err(bad(format!(
                    "{} bytes, shorter than the {V2_HEAD}-byte version 2 header",
                    bytes.len()
                )));
            }
            if bytes[1..V2_HEAD].iter().any(|&b| b != 0) {
                return Err(bad("version 2 header padding is not zero".into()));
            }
            let body = &bytes[V2_HEAD..];
            if (body.as_ptr() as usize).is_multiple_of(16) {
                return rkyv::from_bytes::<T, RkyvError>(body).map_err(|e| bad(e.to_string()));
            }
            body
        }
        _ => {
            return Err(bad(format!(
                "encoding version {version}, this build reads {ENCODING_V1} and {ENCODING_V2}"
            )))
        }
    };
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

    /// Version 2 decodes from aligned and unaligned buffers alike, and
    /// damage to it is an error, never a panic.
    #[test]
    fn shared_encoding_round_trips_anywhere() {
        let v = Sample {
            name: "obj".into(),
            values: (0..1000).collect(),
            flag: None,
        };
        let shared = encode_shared(&v);
        assert_eq!(shared[0], ENCODING_V2);
        let mut aligned = AlignedVec::<16>::new();
        aligned.extend_from_slice(&shared);
        assert_eq!(decode::<Sample>("sample", &aligned).unwrap(), v);
        let mut shifted = AlignedVec::<16>::new();
        shifted.extend_from_slice(&[0]);
        shifted.extend_from_slice(&shared);
        assert_eq!(decode::<Sample>("sample", &shifted[1..]).unwrap(), v);
        let mut bad_head = shared.to_vec();
        bad_head[3] = 1;
        assert!(decode::<Sample>("sample", &bad_head).is_err());
        assert!(decode::<Sample>("sample", &shared[..10]).is_err());
        for i in (V2_HEAD..shared.len()).step_by(97) {
            let mut b = aligned.to_vec();
            b[i] ^= 0xff;
            let _ = decode::<Sample>("sample", &b); // must not panic
        }
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
        let mut v3 = bytes.clone();
        v3[0] = 3;
        assert!(decode::<Sample>("sample", &v3)
            .unwrap_err()
            .to_string()
            .contains("encoding version 3"));
        assert!(decode::<Sample>("sample", &bytes[..bytes.len() / 2]).is_err());
        assert!(decode::<Sample>("sample", &[]).is_err());
        for i in 1..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0xff;
            let _ = decode::<Sample>("sample", &b); // must not panic
        }
    }
}
