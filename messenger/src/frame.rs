//! Frames on the wire: a fixed 24-byte header, an encoded body, and
//! optional raw bulk data (object bytes travel there, uncopied and
//! unencoded).
//!
//! Header, little-endian:
//!
//! | bytes | field |
//! |---|---|
//! | 0..4 | magic `STRA` |
//! | 4..6 | protocol version (1) |
//! | 6..8 | message type |
//! | 8..10 | flags (0 in version 1) |
//! | 10..12 | reserved (0) |
//! | 12..16 | body length |
//! | 16..20 | raw data length |
//! | 20..24 | crc32c of bytes 0..20, the body and the data |
//!
//! The body is a `cluster::codec` value (version byte + rkyv archive). A
//! receiver checks the magic, version, flags and both lengths against its
//! caps before reading the body, the checksum before decoding it, and
//! decodes only through validation. Bad bytes give a `FrameError`, never a
//! panic; the connection that sent them is closed with that reason.

use rkyv::api::high::{HighDeserializer, HighValidator};
use rkyv::bytecheck::CheckBytes;
use rkyv::rancor::Error as RkyvError;
use thiserror::Error;

pub const MAGIC: [u8; 4] = *b"STRA";
pub const PROTOCOL_VERSION: u16 = 1;
pub const HEADER_LEN: usize = 24;

/// Largest body and raw data a receiver accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub max_body: u32,
    pub max_data: u32,
}

impl Default for Limits {
    /// 16 MiB of body (maps, omap batches), and room for a whole object of
    /// the 128 MiB maximum in raw data.
    fn default() -> Self {
        Limits {
            max_body: 16 << 20,
            max_data: 129 << 20,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    pub msg_type: u16,
    pub body_len: u32,
    pub data_len: u32,
    pub crc: u32,
}

impl FrameHeader {
    /// Header plus body plus data.
    pub fn frame_len(&self) -> usize {
        HEADER_LEN + self.body_len as usize + self.data_len as usize
    }
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum FrameError {
    #[error("not a Strata frame (magic {0:02x?})")]
    BadMagic([u8; 4]),
    #[error("protocol version {0} is not supported (this build speaks {PROTOCOL_VERSION})")]
    UnsupportedVersion(u16),
    #[error("unknown frame flags {0:#06x}")]
    BadFlags(u16),
    #[error("frame body of {len} bytes is above the limit of {max}")]
    BodyTooLarge { len: u32, max: u32 },
    #[error("frame data of {len} bytes is above the limit of {max}")]
    DataTooLarge { len: u32, max: u32 },
    #[error("frame checksum mismatch (header says {expected:#010x}, bytes give {actual:#010x})")]
    Checksum { expected: u32, actual: u32 },
    #[error("message type {msg_type}: {detail}")]
    BadBody { msg_type: u16, detail: String },
}

/// A whole frame, borrowed from a receive buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    pub header: FrameHeader,
    pub body: &'a [u8],
    pub data: &'a [u8],
}

fn checksum(head: &[u8], body: &[u8], data: &[u8]) -> u32 {
    let c = crc32c::crc32c(head);
    let c = crc32c::crc32c_append(c, body);
    crc32c::crc32c_append(c, data)
}

/// The header for `body` and `data`; send it, then them (no copy of data).
pub fn encode_header(msg_type: u16, body: &[u8], data: &[u8]) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[0..4].copy_from_slice(&MAGIC);
    h[4..6].copy_from_slice(&PROTOCOL_VERSION.to_le_bytes());
    h[6..8].copy_from_slice(&msg_type.to_le_bytes());
    let body_len = u32::try_from(body.len()).expect("bodies are far below 4 GiB");
    let data_len = u32::try_from(data.len()).expect("data is far below 4 GiB");
    h[12..16].copy_from_slice(&body_len.to_le_bytes());
    h[16..20].copy_from_slice(&data_len.to_le_bytes());
    let crc = checksum(&h[..20], body, data);
    h[20..24].copy_from_slice(&crc.to_le_bytes());
    h
}

/// A whole frame in one buffer.
pub fn encode_frame(msg_type: u16, body: &[u8], data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + body.len() + data.len());
    out.extend_from_slice(&encode_header(msg_type, body, data));
    out.extend_from_slice(body);
    out.extend_from_slice(data);
    out
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Checks a header against the protocol and `limits`, before anything
/// else of the frame is read.
pub fn parse_header(h: &[u8; HEADER_LEN], limits: &Limits) -> Result<FrameHeader, FrameError> {
    let magic = [h[0], h[1], h[2], h[3]];
    if magic != MAGIC {
        return Err(FrameError::BadMagic(magic));
    }
    let version = u16_at(h, 4);
    if version != PROTOCOL_VERSION {
        return Err(FrameError::UnsupportedVersion(version));
    }
    let flags = u16_at(h, 8);
    if flags != 0 || u16_at(h, 10) != 0 {
        return Err(FrameError::BadFlags(flags));
    }
    let (body_len, data_len) = (u32_at(h, 12), u32_at(h, 16));
    if body_len > limits.max_body {
        return Err(FrameError::BodyTooLarge {
            len: body_len,
            max: limits.max_body,
        });
    }
    if data_len > limits.max_data {
        return Err(FrameError::DataTooLarge {
            len: data_len,
            max: limits.max_data,
        });
    }
    Ok(FrameHeader {
        msg_type: u16_at(h, 6),
        body_len,
        data_len,
        crc: u32_at(h, 20),
    })
}

/// Takes the first whole frame off `buf`: `Ok(None)` if more bytes are
/// needed, otherwise the verified frame and how many bytes it used.
pub fn split_frame<'a>(
    buf: &'a [u8],
    limits: &Limits,
) -> Result<Option<(Frame<'a>, usize)>, FrameError> {
    let Some(head) = buf.first_chunk::<HEADER_LEN>() else {
        return Ok(None);
    };
    let header = parse_header(head, limits)?;
    let len = header.frame_len();
    if buf.len() < len {
        return Ok(None);
    }
    let body_end = HEADER_LEN + header.body_len as usize;
    let (body, data) = (&buf[HEADER_LEN..body_end], &buf[body_end..len]);
    let actual = checksum(&buf[..20], body, data);
    if actual != header.crc {
        return Err(FrameError::Checksum {
            expected: header.crc,
            actual,
        });
    }
    Ok(Some((Frame { header, body, data }, len)))
}

/// Checks the checksum of a frame received in pieces (header, then body and
/// data read into buffers of their own, so bulk data is never copied).
pub fn verify_parts(
    head: &[u8; HEADER_LEN],
    header: &FrameHeader,
    body: &[u8],
    data: &[u8],
) -> Result<(), FrameError> {
    let actual = checksum(&head[..20], body, data);
    if actual != header.crc
        || body.len() != header.body_len as usize
        || data.len() != header.data_len as usize
    {
        return Err(FrameError::Checksum {
            expected: header.crc,
            actual,
        });
    }
    Ok(())
}

/// Decodes a verified frame's body as `T`, through validation.
pub fn decode_body<T>(frame: &Frame<'_>) -> Result<T, FrameError>
where
    T: rkyv::Archive,
    T::Archived: for<'a> CheckBytes<HighValidator<'a, RkyvError>>
        + rkyv::Deserialize<T, HighDeserializer<RkyvError>>,
{
    cluster::codec::decode("message body", frame.body).map_err(|e| FrameError::BadBody {
        msg_type: frame.header.msg_type,
        detail: e.detail,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rkyv::{Archive, Deserialize, Serialize};

    #[derive(Archive, Serialize, Deserialize, Debug, PartialEq, Clone)]
    struct Ping {
        seq: u64,
        from: String,
    }

    fn sample() -> Vec<u8> {
        let body = cluster::codec::encode(&Ping {
            seq: 42,
            from: "osd.3".into(),
        });
        encode_frame(7, &body, b"raw object bytes")
    }

    #[test]
    fn frames_round_trip_and_split_from_a_stream() {
        let one = sample();
        let mut stream = one.clone();
        stream.extend_from_slice(&one);
        let limits = Limits::default();
        let (f, used) = split_frame(&stream, &limits).unwrap().unwrap();
        assert_eq!(used, one.len());
        assert_eq!(f.header.msg_type, 7);
        assert_eq!(f.data, b"raw object bytes");
        assert_eq!(
            decode_body::<Ping>(&f).unwrap(),
            Ping {
                seq: 42,
                from: "osd.3".into()
            }
        );
        assert!(split_frame(&stream[used..], &limits).unwrap().is_some());
        for cut in 0..one.len() {
            assert_eq!(
                split_frame(&one[..cut], &limits),
                Ok(None),
                "a partial frame waits for more bytes"
            );
        }
    }

    #[test]
    fn bad_frames_are_refused_with_the_reason() {
        let limits = Limits {
            max_body: 64,
            max_data: 16,
        };
        let good = sample();
        let with = |at: usize, bytes: &[u8]| {
            let mut f = good.clone();
            f[at..at + bytes.len()].copy_from_slice(bytes);
            f
        };
        assert_eq!(
            split_frame(&with(0, b"HTTP"), &limits),
            Err(FrameError::BadMagic(*b"HTTP"))
        );
        assert_eq!(
            split_frame(&with(4, &9u16.to_le_bytes()), &limits),
            Err(FrameError::UnsupportedVersion(9))
        );
        assert_eq!(
            split_frame(&with(8, &1u16.to_le_bytes()), &limits),
            Err(FrameError::BadFlags(1))
        );
        assert_eq!(
            split_frame(&with(12, &1000u32.to_le_bytes()), &limits),
            Err(FrameError::BodyTooLarge { len: 1000, max: 64 })
        );
        assert_eq!(
            split_frame(&with(16, &1000u32.to_le_bytes()), &limits),
            Err(FrameError::DataTooLarge { len: 1000, max: 16 })
        );
        let last = good.len() - 1;
        assert!(matches!(
            split_frame(&with(last, &[good[last] ^ 1]), &limits),
            Err(FrameError::Checksum { .. })
        ));
        let junk = encode_frame(3, b"not an archive", b"");
        let (f, _) = split_frame(&junk, &limits).unwrap().unwrap();
        let e = decode_body::<Ping>(&f).unwrap_err();
        assert!(e.to_string().starts_with("message type 3: "), "{e}");
        assert_eq!(
            FrameError::BodyTooLarge { len: 1000, max: 64 }.to_string(),
            "frame body of 1000 bytes is above the limit of 64"
        );
    }

    proptest! {
        /// A frame with any bit flipped is never accepted: it is refused,
        /// or (a length grew) it waits for bytes whose checksum will fail.
        #[test]
        fn no_bit_flip_is_accepted(at in 0usize..1000, bit in 0u8..8) {
            let mut f = sample();
            let at = at % f.len();
            f[at] ^= 1 << bit;
            prop_assert!(!matches!(split_frame(&f, &Limits::default()), Ok(Some(_))));
        }

        /// Arbitrary bytes never panic the parser.
        #[test]
        fn garbage_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..200), prefix in any::<bool>()) {
            let mut b = bytes;
            if prefix && b.len() >= 6 {
                b[..4].copy_from_slice(&MAGIC);
                b[4..6].copy_from_slice(&PROTOCOL_VERSION.to_le_bytes());
            }
            if let Ok(Some((f, _))) = split_frame(&b, &Limits::default()) {
                let _ = decode_body::<Ping>(&f);
            }
        }
    }
}
