//! Legacy straw buckets: each item draws a straw scaled by a precomputed
//! length, longest straw wins. The lengths come from Ceph's floating-point
//! derivation, in its two historical versions (`straw_calc_version` 0 and 1),
//! reproduced operation for operation (including `u32` wrap-around in the
//! products) because placements depend on every bit.

use super::Bucket;
use crate::hash::hash32_3;

pub(super) fn straws(weights: &[u32], version: u8) -> Vec<u32> {
    let size = weights.len();
    let mut straws = vec![0u32; size];
    // Stable insertion order by ascending weight, as Ceph sorts it.
    let mut reverse: Vec<usize> = Vec::with_capacity(size);
    for i in 0..size {
        let at = reverse
            .iter()
            .position(|&j| weights[i] < weights[j])
            .unwrap_or(reverse.len());
        reverse.insert(at, i);
    }
    let mut numleft = size as i32;
    let mut straw = 1.0f64;
    let mut wbelow = 0.0f64;
    let mut lastw = 0.0f64;
    let mut i = 0;
    while i < size {
        let wi = weights[reverse[i]];
        if wi == 0 {
            straws[reverse[i]] = 0;
            i += 1;
            if version >= 1 {
                numleft -= 1;
            }
            continue;
        }
        straws[reverse[i]] = (straw * 65536.0) as u32;
        i += 1;
        if i == size {
            break;
        }
        let (cur, prev) = (weights[reverse[i]], weights[reverse[i - 1]]);
        if version == 0 {
            if cur == prev {
                continue;
            }
            wbelow += (f64::from(prev) - lastw) * f64::from(numleft);
            for &j in &reverse[i..] {
                if weights[j] == cur {
                    numleft -= 1;
                } else {
                    break;
                }
            }
        } else {
            wbelow += (f64::from(prev) - lastw) * f64::from(numleft);
            numleft -= 1;
        }
        let wnext = f64::from((numleft as u32).wrapping_mul(cur.wrapping_sub(prev)));
        let pbelow = wbelow / (wbelow + wnext);
        straw *= (1.0 / pbelow).powf(1.0 / f64::from(numleft));
        lastw = f64::from(prev);
    }
    straws
}

pub(super) fn choose(b: &Bucket, straws: &[u32], x: i32, r: i32) -> i32 {
    let mut high = 0;
    let mut high_draw = 0u64;
    for (i, item) in b.items.iter().enumerate() {
        let draw =
            u64::from(hash32_3(x as u32, *item as u32, r as u32) & 0xffff) * u64::from(straws[i]);
        if i == 0 || draw > high_draw {
            high = i;
            high_draw = draw;
        }
    }
    b.items[high]
}
