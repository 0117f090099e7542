//! How an object's bytes lie across the k data shards of an EC pool:
//! stripe after stripe, each stripe `k * stripe_unit` bytes, unit `i` of a
//! stripe on data shard `i` (Ceph's layout). Each shard holds one unit per
//! stripe begun, so a small object costs at most one unit per shard, and
//! the last stripe is zero-padded only up to that unit.

use super::codec::EcError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StripeLayout {
    k: usize,
    unit: usize,
}

impl StripeLayout {
    /// A layout of `k` data shards and `unit`-byte chunks: `unit` a power
    /// of two from 512 bytes to 4 MiB.
    pub fn new(k: usize, unit: u64) -> Result<StripeLayout, EcError> {
        let bad = |reason: &str| EcError::StripeUnit {
            unit,
            reason: reason.into(),
        };
        cluster::ec_profile::check_stripe_unit(unit).map_err(bad)?;
        if k == 0 {
            return Err(EcError::Profile {
                k,
                m: 0,
                reason: "k must be at least 1".into(),
            });
        }
        Ok(StripeLayout {
            k,
            unit: unit as usize,
        })
    }

    pub fn k(&self) -> usize {
        self.k
    }

    pub fn unit(&self) -> usize {
        self.unit
    }

    /// Bytes of object data in one stripe.
    pub fn width(&self) -> u64 {
        (self.k * self.unit) as u64
    }

    /// Stripes an object of `len` bytes spans.
    pub fn stripes(&self, len: u64) -> u64 {
        len.div_ceil(self.width())
    }

    /// Bytes each shard (data or parity) holds for an object of `len`.
    pub fn shard_len(&self, len: u64) -> u64 {
        self.stripes(len) * self.unit as u64
    }

    /// The stripes a byte range touches (for a partial write's
    /// read-modify-write, or a read's shard ranges).
    pub fn stripes_of(&self, offset: u64, len: u64) -> std::ops::Range<u64> {
        if len == 0 {
            return offset / self.width()..offset / self.width();
        }
        offset / self.width()..(offset + len).div_ceil(self.width())
    }

    /// The k data shards of `data` (the last stripe zero-padded).
    pub fn split(&self, data: &[u8]) -> Vec<Vec<u8>> {
        let shard_len = self.shard_len(data.len() as u64) as usize;
        let mut shards = vec![vec![0u8; shard_len]; self.k];
        for (n, chunk) in data.chunks(self.unit).enumerate() {
            let (stripe, i) = (n / self.k, n % self.k);
            let at = stripe * self.unit;
            shards[i][at..at + chunk.len()].copy_from_slice(chunk);
        }
        shards
    }

    /// The first `len` bytes of the object whose k data shards are
    /// `shards` (each at least `shard_len(len)` bytes).
    pub fn join(&self, shards: &[&[u8]], len: u64) -> Result<Vec<u8>, EcError> {
        if shards.len() != self.k {
            return Err(EcError::DataShardCount {
                given: shards.len(),
                k: self.k,
            });
        }
        let need = self.shard_len(len) as usize;
        if let Some((index, s)) = shards.iter().enumerate().find(|(_, s)| s.len() < need) {
            return Err(EcError::ShortShard {
                index,
                len: s.len(),
                need,
                object_len: len,
            });
        }
        let len = len as usize;
        let mut out = Vec::with_capacity(len);
        let mut n = 0;
        while out.len() < len {
            let (stripe, i) = (n / self.k, n % self.k);
            let at = stripe * self.unit;
            let take = self.unit.min(len - out.len());
            out.extend_from_slice(&shards[i][at..at + take]);
            n += 1;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn stripe_units_must_be_powers_of_two_in_range() {
        let e = StripeLayout::new(4, 3000).unwrap_err().to_string();
        assert_eq!(e, "stripe_unit 3000: must be a power of two");
        let e = StripeLayout::new(4, 256).unwrap_err().to_string();
        assert_eq!(e, "stripe_unit 256: must be from 512 bytes to 4 MiB");
        assert!(StripeLayout::new(4, 4096).is_ok());
    }

    #[test]
    fn a_small_object_costs_one_unit_per_shard() {
        let l = StripeLayout::new(4, 4096).unwrap();
        assert_eq!(l.shard_len(0), 0);
        assert_eq!(l.shard_len(1), 4096);
        assert_eq!(l.shard_len(16384), 4096);
        assert_eq!(l.shard_len(16385), 8192);
        let shards = l.split(b"hello");
        assert_eq!(shards.len(), 4);
        assert!(shards.iter().all(|s| s.len() == 4096));
        assert_eq!(&shards[0][..5], b"hello");
        assert_eq!(l.stripes_of(0, 1), 0..1);
        assert_eq!(l.stripes_of(16383, 2), 0..2);
        assert_eq!(l.stripes_of(16384, 0), 1..1);
    }

    #[test]
    fn units_go_round_robin_across_the_data_shards() {
        let l = StripeLayout::new(2, 512).unwrap();
        let data: Vec<u8> = (0..2048u32).map(|i| (i / 512) as u8).collect();
        let s = l.split(&data);
        // Units 0 and 2 on shard 0, units 1 and 3 on shard 1.
        assert!(s[0][..512].iter().all(|b| *b == 0) && s[0][512..].iter().all(|b| *b == 2));
        assert!(s[1][..512].iter().all(|b| *b == 1) && s[1][512..].iter().all(|b| *b == 3));
    }

    #[test]
    fn short_shards_are_an_error_not_a_panic() {
        let l = StripeLayout::new(2, 512).unwrap();
        let e = l.join(&[&[0; 512]], 100).unwrap_err();
        assert_eq!(
            e.to_string(),
            "1 data shards given where the stripe layout has 2"
        );
        let e = l.join(&[&[0; 512], &[0; 100]], 1000).unwrap_err();
        assert_eq!(
            e.to_string(),
            "shard 1 is 100 bytes, short of the 512 an object of 1000 bytes needs"
        );
    }

    proptest! {
        #[test]
        fn join_gives_back_what_split_took(
            k in 1usize..8,
            unit_log in 9u32..13,
            data in proptest::collection::vec(any::<u8>(), 0..20000),
        ) {
            let l = StripeLayout::new(k, 1 << unit_log).unwrap();
            let shards = l.split(&data);
            prop_assert!(shards.iter().all(|s| s.len() as u64 == l.shard_len(data.len() as u64)));
            let refs: Vec<&[u8]> = shards.iter().map(|s| s.as_slice()).collect();
            prop_assert_eq!(l.join(&refs, data.len() as u64).unwrap(), data);
        }
    }
}
