//! straw2 buckets: every item draws `ln(u) / weight` with `u` uniform from the
//! hash; the largest draw wins. Changing one item's weight only moves inputs
//! to or from that item, which is why straw2 is the default.

use super::ln_table::{LL, RH_LH};
use super::Bucket;
use crate::hash::{hash32_3_lanes, LANES};
use crate::weight_set::ChooseArg;

/// 2^44 * log2(input + 1), in fixed point, from Ceph's tables.
#[inline(always)]
fn crush_ln(xin: u32) -> u64 {
    let mut x = xin + 1;
    let mut iexpon: i32 = 15;
    if x & 0x18000 == 0 {
        let bits = (x & 0x1ffff).leading_zeros() as i32 - 16;
        x <<= bits;
        iexpon = 15 - bits;
    }
    let index1 = ((x >> 8) << 1) as usize;
    let rh = RH_LH[index1 - 256];
    let lh = RH_LH[index1 + 1 - 256];
    let xl64 = (u64::from(x).wrapping_mul(rh)) >> 48;
    let mut result = (iexpon as u64) << (12 + 32);
    let ll = LL[(xl64 & 0xff) as usize];
    result += (lh + ll) >> (48 - 12 - 32);
    result
}

/// `2^48 - crush_ln(u)` for every 16-bit `u`: one load instead of the
/// log's chain of dependent steps (512 KiB, built once on first use).
fn neg_ln_table() -> &'static [u64; 0x10000] {
    static TABLE: std::sync::OnceLock<Box<[u64; 0x10000]>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = Box::new([0u64; 0x10000]);
        for (u, v) in t.iter_mut().enumerate() {
            *v = 0x1_0000_0000_0000 - crush_ln(u as u32);
        }
        t
    })
}

/// Exact division by a fixed weight as a multiply and shift.
///
/// Ceph divides `ln` (at most 2^48 in magnitude) by the 32-bit weight for
/// every item of every draw; that division dominates the mapper. With
/// `l = ceil(log2 d)`, `k = 49 + l` and `m = ceil(2^k / d)`, the error of
/// `m / 2^k` against `1 / d` is below `2^-k`, so for every `n <= 2^49`
/// `(n * m) >> k == n / d` exactly (the error adds less than `n / 2^k <=
/// 2^-l <= 1/d`, which cannot carry past the next multiple of `1/d`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Reciprocal {
    m: u64,
    k: u32,
}

impl Reciprocal {
    pub(crate) fn new(d: u32) -> Reciprocal {
        debug_assert!(d > 0);
        let l = 32 - (d - 1).leading_zeros();
        let k = 49 + l;
        let m = (1u128 << k).div_ceil(u128::from(d)) as u64;
        Reciprocal { m, k }
    }

    #[inline]
    fn divide(self, n: u64) -> u64 {
        ((u128::from(n) * u128::from(self.m)) >> self.k) as u64
    }
}

/// One reciprocal per item (`None` for weight 0, which never wins).
pub(super) fn reciprocals(weights: &[u32]) -> Vec<Option<Reciprocal>> {
    weights
        .iter()
        .map(|&w| (w != 0).then(|| Reciprocal::new(w)))
        .collect()
}

/// The straw2 draw over all items; the largest draw wins (the first on ties).
#[inline]
pub(super) fn choose(
    b: &Bucket,
    recip: &[Option<Reciprocal>],
    x: i32,
    r: i32,
    arg: Option<&ChooseArg>,
    position: usize,
) -> i32 {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked just above; the function
            // is the same safe code compiled with AVX2 enabled.
            return unsafe { choose_avx2(b, recip, x, r, arg, position) };
        }
    }
    choose_body(b, recip, x, r, arg, position)
}

/// The same draw compiled for AVX2, which computes eight hashes per
/// instruction instead of four.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn choose_avx2(
    b: &Bucket,
    recip: &[Option<Reciprocal>],
    x: i32,
    r: i32,
    arg: Option<&ChooseArg>,
    position: usize,
) -> i32 {
    choose_body(b, recip, x, r, arg, position)
}

#[inline(always)]
fn choose_body(
    b: &Bucket,
    recip: &[Option<Reciprocal>],
    x: i32,
    r: i32,
    arg: Option<&ChooseArg>,
    position: usize,
) -> i32 {
    let weight_set = arg.and_then(|a| a.weights_for(position));
    let ids = match arg.and_then(|a| a.ids.as_deref()) {
        Some(ids) => ids,
        None => &b.items[..],
    };
    let mut high = 0;
    let mut high_draw = 0i64;
    let mut lane_ids = [0u32; LANES];
    for (chunk, start) in ids.chunks(LANES).zip((0..).step_by(LANES)) {
        for (slot, id) in lane_ids.iter_mut().zip(chunk) {
            *slot = *id as u32;
        }
        let hashes = hash32_3_lanes(x as u32, lane_ids, r as u32);
        for (j, h) in hashes.iter().take(chunk.len()).enumerate() {
            let i = start + j;
            // Looked up per item on purpose: hoisting the table reference out
            // of the loop measured 1.5x slower (register pressure in the AVX2
            // build); the OnceLock check is one predictable branch.
            let neg_ln = neg_ln_table()[(h & 0xffff) as usize];
            // Division truncates toward zero, as in C: -(n / w).
            let d = match weight_set {
                None => match recip[i] {
                    Some(rc) => -(rc.divide(neg_ln) as i64),
                    None => i64::MIN,
                },
                Some(ws) if ws[i] != 0 => -((neg_ln / u64::from(ws[i])) as i64),
                Some(_) => i64::MIN,
            };
            if i == 0 || d > high_draw {
                high = i;
                high_draw = d;
            }
        }
    }
    b.items[high]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ln_follows_log2_within_table_precision() {
        // crush_ln(u) ~ 2^44 * log2(u + 1); the shipped tables are off the
        // formula by well under 1% of the scale.
        for u in (0..=0xffffu32).step_by(7) {
            let expect = (1u64 << 44) as f64 * f64::from(u + 1).log2();
            let got = crush_ln(u) as f64;
            assert!(
                (got - expect).abs() < (1u64 << 44) as f64 * 0.01,
                "crush_ln({u}) = {got}, formula {expect}"
            );
        }
        assert!(crush_ln(0xffff) <= 1 << 48);
    }

    #[test]
    fn reciprocal_division_is_exact() {
        let mut divisors: Vec<u32> = vec![
            1,
            2,
            3,
            5,
            7,
            0x10000,
            0x10001,
            65535,
            u32::MAX,
            u32::MAX - 1,
            1 << 31,
            (1 << 31) + 1,
        ];
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..2000 {
            divisors.push((next() as u32).max(1));
            divisors.push(((next() % 0x64_0000) as u32).max(1));
        }
        for d in divisors {
            let rc = Reciprocal::new(d);
            let d64 = u64::from(d);
            let mut ns = vec![
                0u64,
                1,
                d64 - 1,
                d64,
                d64 + 1,
                1 << 48,
                (1 << 48) - 1,
                (1 << 49) - 1,
            ];
            ns.extend((0..50).map(|_| next() % (1 << 49)));
            ns.extend((1..50).map(|q| (q * d64).min(1 << 49)));
            ns.extend((1..50).map(|q| (q * d64).saturating_sub(1).min(1 << 49)));
            for n in ns {
                assert_eq!(rc.divide(n), n / d64, "{n} / {d}");
            }
        }
    }

    #[test]
    fn formula_entries_match() {
        // RH[k] = 2^55 / (128 + k), rounded either way: a transcription check.
        for k in 0..=128u64 {
            let q = (1u64 << 55) / (128 + k);
            let rh = RH_LH[2 * k as usize];
            assert!(
                rh == q || rh == q + 1,
                "RH[{k}] = {rh:#x}, expected about {q:#x}"
            );
        }
        // LH[k] ~ 2^48 * log2(1 + k/128) within float precision, except the
        // last entry, which Ceph stores as 0xffff00000000.
        for k in 0..128usize {
            let expect = (1u64 << 48) as f64 * (1.0 + k as f64 / 128.0).log2();
            let lh = RH_LH[2 * k + 1] as f64;
            assert!(
                (lh - expect).abs() < 2.0,
                "LH[{k}] = {lh}, formula {expect}"
            );
        }
        assert_eq!(RH_LH[257], 0xffff_0000_0000);
    }
}
