//! straw2 buckets: every item draws `ln(u) / weight` with `u` uniform from the
//! hash; the largest draw wins. Changing one item's weight only moves inputs
//! to or from that item, which is why straw2 is the default.

use super::ln_table::{LL, RH_LH};
use super::Bucket;
use crate::hash::hash32_3;
use crate::weight_set::ChooseArg;

/// 2^44 * log2(input + 1), in fixed point, from Ceph's tables.
#[inline]
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

#[inline]
fn draw(x: i32, id: i32, r: i32, weight: u32) -> i64 {
    let u = hash32_3(x as u32, id as u32, r as u32) & 0xffff;
    // ln is in [-0x1000000000000, 0]; dividing by a larger weight gives a
    // larger (less negative) draw. Division truncates toward zero, as in C.
    let ln = crush_ln(u) as i64 - 0x1_0000_0000_0000;
    ln / i64::from(weight)
}

pub(super) fn choose(b: &Bucket, x: i32, r: i32, arg: Option<&ChooseArg>, position: usize) -> i32 {
    let weights = match arg.and_then(|a| a.weights_for(position)) {
        Some(w) => w,
        None => &b.weights[..],
    };
    let ids = match arg.and_then(|a| a.ids.as_deref()) {
        Some(ids) => ids,
        None => &b.items[..],
    };
    let mut high = 0;
    let mut high_draw = 0i64;
    for i in 0..b.items.len() {
        let d = if weights[i] != 0 {
            draw(x, ids[i], r, weights[i])
        } else {
            i64::MIN
        };
        if i == 0 || d > high_draw {
            high = i;
            high_draw = d;
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
    fn formula_entries_match() {
        // RH[k] = 2^55 / (128 + k), rounded either way: a transcription check.
        for k in 0..=128u64 {
            let q = (1u64 << 55) / (128 + k);
            let rh = RH_LH[2 * k as usize];
            assert!(rh == q || rh == q + 1, "RH[{k}] = {rh:#x}, expected about {q:#x}");
        }
        // LH[k] ~ 2^48 * log2(1 + k/128) within float precision, except the
        // last entry, which Ceph stores as 0xffff00000000.
        for k in 0..128usize {
            let expect = (1u64 << 48) as f64 * (1.0 + k as f64 / 128.0).log2();
            let lh = RH_LH[2 * k + 1] as f64;
            assert!((lh - expect).abs() < 2.0, "LH[{k}] = {lh}, formula {expect}");
        }
        assert_eq!(RH_LH[257], 0xffff_0000_0000);
    }
}
