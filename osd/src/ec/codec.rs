//! The erasure codec: k data shards, m parity shards, any k of the k+m
//! rebuild the rest. One implementation, Reed-Solomon over GF(2^8) with the
//! `reed-solomon-erasure` crate (SIMD-accelerated; its generator matrix is
//! a Vandermonde matrix made systematic), behind [`ErasureCodec`] so that
//! the PG layer never sees the crate.
//!
//! Parity bytes are written to disk, so the code is pinned: [`CODEC_ID`]
//! names it, and golden vectors (`golden-v1.txt` beside this file, checked
//! by the tests) fail the build if a crate upgrade ever changes a parity
//! byte. A new code gets a new id; shards written with the old one must
//! stay readable.
//!
//! Every input is checked before the crate sees it (shard count, equal
//! lengths, enough shards present), so a bad shard read from disk or the
//! network gives an [`EcError`] naming it, never a panic.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, LazyLock, Mutex};

use reed_solomon_erasure::galois_8::ReedSolomon;

/// The code this module implements, as recorded with EC pools.
pub const CODEC_ID: &str = "rs-gf8-vandermonde/1";

/// Most shards GF(2^8) allows (k + m).
pub const MAX_SHARDS: usize = 256;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EcError {
    #[error("erasure code k={k} m={m}: {reason}")]
    Profile { k: usize, m: usize, reason: String },
    /// The crate refused inputs the checks above it let through.
    #[error("erasure code k={k} m={m} could not {what}: {reason}")]
    Codec {
        k: usize,
        m: usize,
        what: &'static str,
        reason: String,
    },
    #[error("{given} data shards given where the stripe layout has {k}")]
    DataShardCount { given: usize, k: usize },
    #[error("stripe_unit {unit}: {reason}")]
    StripeUnit { unit: u64, reason: String },
    #[error("{given} shards given where a {k}+{m} code has {expected}")]
    ShardCount {
        given: usize,
        expected: usize,
        k: usize,
        m: usize,
    },
    #[error("shard {index} is {len} bytes where shard {first} is {expected}")]
    ShardSize {
        index: usize,
        len: usize,
        first: usize,
        expected: usize,
    },
    #[error(
        "shard {index} is {len} bytes, short of the {need} an object of {object_len} bytes needs"
    )]
    ShortShard {
        index: usize,
        len: usize,
        need: usize,
        object_len: u64,
    },
    #[error("only {present} of the {total} shards of a {k}+{m} code are present: {k} are needed")]
    TooFewShards {
        present: usize,
        total: usize,
        k: usize,
        m: usize,
    },
}

/// Encodes and rebuilds the shards of one stripe (or of many stripes laid
/// end to end: the code works column by column, so a shard may hold any
/// number of stripe units). Shards are numbered data first: 0..k are
/// data, k..k+m parity.
pub trait ErasureCodec: Send + Sync + fmt::Debug {
    fn k(&self) -> usize;
    fn m(&self) -> usize;
    /// The m parity shards of `data` (k shards of one length).
    fn encode(&self, data: &[&[u8]]) -> Result<Vec<Vec<u8>>, EcError>;
    /// Fills every `None` of `shards` (k+m, data first) from any k present.
    fn reconstruct(&self, shards: &mut [Option<Vec<u8>>]) -> Result<(), EcError>;
    /// Fills only the missing data shards: what a degraded read needs.
    fn reconstruct_data(&self, shards: &mut [Option<Vec<u8>>]) -> Result<(), EcError>;
}

/// The codec for a k+m code, shared (building one inverts matrices).
pub fn codec_for(k: usize, m: usize) -> Result<Arc<dyn ErasureCodec>, EcError> {
    static CODECS: LazyLock<Mutex<CodecCache>> = LazyLock::new(Default::default);
    let bad = |reason: &str| EcError::Profile {
        k,
        m,
        reason: reason.into(),
    };
    if k < 1 {
        return Err(bad("k must be at least 1"));
    }
    if m < 1 {
        return Err(bad("m must be at least 1"));
    }
    if k + m > MAX_SHARDS {
        return Err(bad("k+m may be at most 256 (the shards of GF(2^8))"));
    }
    let mut all = CODECS.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(c) = all.get(&(k, m)) {
        return Ok(c.clone());
    }
    let rs = ReedSolomon::new(k, m).map_err(|e| bad(&format!("{e:?}")))?;
    let c = Arc::new(RsCodec { k, m, rs });
    all.insert((k, m), c.clone());
    Ok(c)
}

/// The codecs built so far, by (k, m).
type CodecCache = HashMap<(usize, usize), Arc<RsCodec>>;

struct RsCodec {
    k: usize,
    m: usize,
    rs: ReedSolomon,
}

impl fmt::Debug for RsCodec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} k={} m={}", CODEC_ID, self.k, self.m)
    }
}

impl RsCodec {
    fn count_error(&self, given: usize, expected: usize) -> EcError {
        EcError::ShardCount {
            given,
            expected,
            k: self.k,
            m: self.m,
        }
    }

    /// Checks that the present shards are k+m in all, at least k, of one
    /// length; returns that length.
    fn check_present(&self, shards: &[Option<Vec<u8>>]) -> Result<usize, EcError> {
        let total = self.k + self.m;
        if shards.len() != total {
            return Err(self.count_error(shards.len(), total));
        }
        let present: Vec<(usize, usize)> = shards
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().map(|s| (i, s.len())))
            .collect();
        if present.len() < self.k {
            return Err(EcError::TooFewShards {
                present: present.len(),
                total,
                k: self.k,
                m: self.m,
            });
        }
        let (first, expected) = present[0];
        if let Some(&(index, len)) = present.iter().find(|(_, l)| *l != expected) {
            return Err(EcError::ShardSize {
                index,
                len,
                first,
                expected,
            });
        }
        Ok(expected)
    }

    fn rebuild(&self, shards: &mut [Option<Vec<u8>>], data_only: bool) -> Result<(), EcError> {
        let len = self.check_present(shards)?;
        if len == 0 {
            // Nothing to compute (the crate refuses empty shards).
            let n = if data_only { self.k } else { shards.len() };
            for s in &mut shards[..n] {
                s.get_or_insert_with(Vec::new);
            }
            return Ok(());
        }
        let r = if data_only {
            self.rs.reconstruct_data(shards)
        } else {
            self.rs.reconstruct(shards)
        };
        r.map_err(|e| EcError::Codec {
            k: self.k,
            m: self.m,
            what: "rebuild the missing shards",
            reason: format!("{e:?}"),
        })
    }
}

impl ErasureCodec for RsCodec {
    fn k(&self) -> usize {
        self.k
    }

    fn m(&self) -> usize {
        self.m
    }

    fn encode(&self, data: &[&[u8]]) -> Result<Vec<Vec<u8>>, EcError> {
        if data.len() != self.k {
            return Err(self.count_error(data.len(), self.k));
        }
        let len = data[0].len();
        if let Some((index, d)) = data.iter().enumerate().find(|(_, d)| d.len() != len) {
            return Err(EcError::ShardSize {
                index,
                len: d.len(),
                first: 0,
                expected: len,
            });
        }
        let mut parity = vec![vec![0u8; len]; self.m];
        if len > 0 {
            self.rs
                .encode_sep(data, &mut parity)
                .map_err(|e| EcError::Codec {
                    k: self.k,
                    m: self.m,
                    what: "encode parity",
                    reason: format!("{e:?}"),
                })?;
        }
        Ok(parity)
    }

    fn reconstruct(&self, shards: &mut [Option<Vec<u8>>]) -> Result<(), EcError> {
        self.rebuild(shards, false)
    }

    fn reconstruct_data(&self, shards: &mut [Option<Vec<u8>>]) -> Result<(), EcError> {
        self.rebuild(shards, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Deterministic test bytes (xorshift64*), so the golden vectors are
    /// reproducible from their seed alone.
    pub(crate) fn bytes(seed: u64, len: usize) -> Vec<u8> {
        let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        (0..len)
            .map(|_| {
                x ^= x >> 12;
                x ^= x << 25;
                x ^= x >> 27;
                (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8
            })
            .collect()
    }

    fn data_shards(k: usize, len: usize, seed: u64) -> Vec<Vec<u8>> {
        (0..k)
            .map(|i| bytes(seed.wrapping_mul(1000).wrapping_add(i as u64), len))
            .collect()
    }

    /// The golden cases: (k, m, shard length, seed).
    const GOLDEN_CASES: &[(usize, usize, usize, u64)] = &[
        (2, 1, 64, 1),
        (2, 2, 4096, 2),
        (3, 2, 1000, 3),
        (4, 2, 4096, 4),
        (6, 3, 4096, 5),
        (8, 3, 4096, 6),
        (10, 4, 512, 7),
    ];

    fn golden_text() -> String {
        let mut out = format!(
            "# Parity of {CODEC_ID}: k m shard_len seed, then crc32c of each parity\n\
             # shard (data shard i of a case is bytes(seed * 1000 + i, shard_len), see\n\
             # codec.rs). Never edit: a change here changes bytes on disk.\n"
        );
        for &(k, m, len, seed) in GOLDEN_CASES {
            let data = data_shards(k, len, seed);
            let refs: Vec<&[u8]> = data.iter().map(|d| d.as_slice()).collect();
            let parity = codec_for(k, m).unwrap().encode(&refs).unwrap();
            let crcs: Vec<String> = parity
                .iter()
                .map(|p| format!("{:08x}", crc32c::crc32c(p)))
                .collect();
            out.push_str(&format!("{k} {m} {len} {seed} {}\n", crcs.join(" ")));
        }
        // One small case in full, to show the bytes themselves.
        let data = data_shards(4, 16, 9);
        let refs: Vec<&[u8]> = data.iter().map(|d| d.as_slice()).collect();
        for (i, p) in codec_for(4, 2)
            .unwrap()
            .encode(&refs)
            .unwrap()
            .iter()
            .enumerate()
        {
            out.push_str(&format!(
                "# 4+2, 16 bytes, seed 9, parity {i}: {}\n",
                hex::encode(p)
            ));
        }
        out
    }

    /// The parity this build computes is the parity of every earlier
    /// build. (`STRATA_EC_GOLDEN_WRITE=1` writes the file: only for a new
    /// code, with a new CODEC_ID.)
    #[test]
    fn parity_matches_the_golden_vectors() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/ec/golden-v1.txt");
        let now = golden_text();
        if std::env::var_os("STRATA_EC_GOLDEN_WRITE").is_some() {
            std::fs::write(path, &now).unwrap();
        }
        let pinned = include_str!("golden-v1.txt");
        assert_eq!(
            now, pinned,
            "the erasure codec's parity changed: shards on disk would no longer decode"
        );
    }

    #[test]
    fn profiles_out_of_range_are_refused_with_the_reason() {
        let e = codec_for(0, 2).unwrap_err().to_string();
        assert!(e.contains("k=0") && e.contains("at least 1"), "{e}");
        let e = codec_for(4, 0).unwrap_err().to_string();
        assert!(e.contains("m must be at least 1"), "{e}");
        let e = codec_for(200, 57).unwrap_err().to_string();
        assert!(e.contains("at most 256"), "{e}");
    }

    #[test]
    fn bad_shards_give_errors_naming_them() {
        let c = codec_for(4, 2).unwrap();
        let data = data_shards(4, 64, 1);
        let mut refs: Vec<&[u8]> = data.iter().map(|d| d.as_slice()).collect();
        let e = c.encode(&refs[..3]).unwrap_err();
        assert_eq!(e.to_string(), "3 shards given where a 4+2 code has 4");
        refs[2] = &data[2][..60];
        let e = c.encode(&refs).unwrap_err();
        assert_eq!(e.to_string(), "shard 2 is 60 bytes where shard 0 is 64");

        let refs: Vec<&[u8]> = data.iter().map(|d| d.as_slice()).collect();
        let parity = c.encode(&refs).unwrap();
        let mut all: Vec<Option<Vec<u8>>> = data.iter().chain(&parity).cloned().map(Some).collect();
        all[1] = None;
        all[3] = None;
        all[4] = None;
        let e = c.reconstruct(&mut all).unwrap_err();
        assert_eq!(
            e.to_string(),
            "only 3 of the 6 shards of a 4+2 code are present: 4 are needed"
        );
        all[4] = Some(vec![0; 10]);
        let e = c.reconstruct(&mut all).unwrap_err();
        assert_eq!(e.to_string(), "shard 4 is 10 bytes where shard 0 is 64");
        let e = c.reconstruct(&mut all[..5]).unwrap_err();
        assert_eq!(e.to_string(), "5 shards given where a 4+2 code has 6");
    }

    #[test]
    fn empty_shards_encode_and_rebuild_to_empty() {
        let c = codec_for(2, 1).unwrap();
        assert_eq!(c.encode(&[&[], &[]]).unwrap(), vec![Vec::<u8>::new()]);
        let mut s = vec![Some(vec![]), None, Some(vec![])];
        c.reconstruct(&mut s).unwrap();
        assert_eq!(s, vec![Some(vec![]); 3]);
    }

    proptest! {
        /// Any m shards may be lost: the other k give back every shard,
        /// data and parity, byte for byte.
        #[test]
        fn any_k_shards_rebuild_the_rest(
            k in 1usize..9,
            m in 1usize..5,
            len in 1usize..300,
            seed in any::<u64>(),
            lose in proptest::collection::vec(any::<prop::sample::Index>(), 0..5),
            data_only in any::<bool>(),
        ) {
            let c = codec_for(k, m).unwrap();
            let data = data_shards(k, len, seed);
            let refs: Vec<&[u8]> = data.iter().map(|d| d.as_slice()).collect();
            let parity = c.encode(&refs).unwrap();
            let whole: Vec<Vec<u8>> = data.iter().chain(&parity).cloned().collect();
            let mut shards: Vec<Option<Vec<u8>>> = whole.iter().cloned().map(Some).collect();
            for l in lose.iter().take(m) {
                shards[l.index(k + m)] = None;
            }
            if data_only {
                c.reconstruct_data(&mut shards).unwrap();
                for i in 0..k {
                    prop_assert_eq!(shards[i].as_ref(), Some(&whole[i]));
                }
            } else {
                c.reconstruct(&mut shards).unwrap();
                let got: Vec<Vec<u8>> = shards.into_iter().map(|s| s.unwrap()).collect();
                prop_assert_eq!(got, whole);
            }
        }
    }
}
