//! Robert Jenkins' 32-bit integer mixing hash, as CRUSH uses it (`rjenkins1`).
//!
//! Every placement decision is a function of these hashes, so they must be
//! bit-identical to Ceph's. All arithmetic is wrapping `u32`.

/// The only hash algorithm CRUSH defines (`hash 0` in the text format).
pub const HASH_RJENKINS1: u8 = 0;

const SEED: u32 = 1_315_423_911;
const X0: u32 = 231_232;
const Y0: u32 = 1232;

#[inline(always)]
fn mix(a: &mut u32, b: &mut u32, c: &mut u32) {
    macro_rules! step {
        ($a:ident, $b:ident, $c:ident, $op:tt, $s:expr) => {
            *$a = $a.wrapping_sub(*$b).wrapping_sub(*$c) ^ (*$c $op $s);
        };
    }
    step!(a, b, c, >>, 13);
    step!(b, c, a, <<, 8);
    step!(c, a, b, >>, 13);
    step!(a, b, c, >>, 12);
    step!(b, c, a, <<, 16);
    step!(c, a, b, >>, 5);
    step!(a, b, c, >>, 3);
    step!(b, c, a, <<, 10);
    step!(c, a, b, >>, 15);
}

/// How many hashes [`hash32_3_lanes`] computes at once.
pub const LANES: usize = 8;

#[inline(always)]
fn mix_lanes(a: &mut [u32; LANES], b: &mut [u32; LANES], c: &mut [u32; LANES]) {
    macro_rules! step {
        ($a:ident, $b:ident, $c:ident, $op:tt, $s:expr) => {
            for l in 0..LANES {
                $a[l] = $a[l].wrapping_sub($b[l]).wrapping_sub($c[l]) ^ ($c[l] $op $s);
            }
        };
    }
    step!(a, b, c, >>, 13);
    step!(b, c, a, <<, 8);
    step!(c, a, b, >>, 13);
    step!(a, b, c, >>, 12);
    step!(b, c, a, <<, 16);
    step!(c, a, b, >>, 5);
    step!(a, b, c, >>, 3);
    step!(b, c, a, <<, 10);
    step!(c, a, b, >>, 15);
}

/// `hash32_3(a, b[l], c)` for every lane `l`. Each hash is a long chain of
/// dependent operations, so computing several side by side (which the
/// compiler turns into SIMD) is what makes straw2 draws fast.
#[inline(always)]
pub fn hash32_3_lanes(a: u32, b: [u32; LANES], c: u32) -> [u32; LANES] {
    let mut a = [a; LANES];
    let mut b = b;
    let mut c = [c; LANES];
    let mut h = [0u32; LANES];
    for l in 0..LANES {
        h[l] = SEED ^ a[l] ^ b[l] ^ c[l];
    }
    let (mut x, mut y) = ([X0; LANES], [Y0; LANES]);
    mix_lanes(&mut a, &mut b, &mut h);
    mix_lanes(&mut c, &mut x, &mut h);
    mix_lanes(&mut y, &mut a, &mut h);
    mix_lanes(&mut b, &mut x, &mut h);
    mix_lanes(&mut y, &mut c, &mut h);
    h
}

/// Hash of one value.
pub fn hash32(a: u32) -> u32 {
    let (mut a, mut b, mut h) = (a, a, SEED ^ a);
    let (mut x, mut y) = (X0, Y0);
    mix(&mut b, &mut x, &mut h);
    mix(&mut y, &mut a, &mut h);
    h
}

/// Hash of two values (used by the reweight "is out" test).
pub fn hash32_2(a: u32, b: u32) -> u32 {
    let (mut a, mut b, mut h) = (a, b, SEED ^ a ^ b);
    let (mut x, mut y) = (X0, Y0);
    mix(&mut a, &mut b, &mut h);
    mix(&mut x, &mut a, &mut h);
    mix(&mut b, &mut y, &mut h);
    h
}

/// Hash of three values (straw, straw2 and permutation draws).
#[inline(always)]
pub fn hash32_3(a: u32, b: u32, c: u32) -> u32 {
    let (mut a, mut b, mut c, mut h) = (a, b, c, SEED ^ a ^ b ^ c);
    let (mut x, mut y) = (X0, Y0);
    mix(&mut a, &mut b, &mut h);
    mix(&mut c, &mut x, &mut h);
    mix(&mut y, &mut a, &mut h);
    mix(&mut b, &mut x, &mut h);
    mix(&mut y, &mut c, &mut h);
    h
}

/// Hash of four values (list and tree draws).
pub fn hash32_4(a: u32, b: u32, c: u32, d: u32) -> u32 {
    let (mut a, mut b, mut c, mut d, mut h) = (a, b, c, d, SEED ^ a ^ b ^ c ^ d);
    let (mut x, mut y) = (X0, Y0);
    mix(&mut a, &mut b, &mut h);
    mix(&mut c, &mut d, &mut h);
    mix(&mut a, &mut x, &mut h);
    mix(&mut y, &mut b, &mut h);
    mix(&mut c, &mut x, &mut h);
    mix(&mut y, &mut d, &mut h);
    h
}

/// Hash of five values.
pub fn hash32_5(a: u32, b: u32, c: u32, d: u32, e: u32) -> u32 {
    let (mut a, mut b, mut c, mut d, mut e) = (a, b, c, d, e);
    let mut h = SEED ^ a ^ b ^ c ^ d ^ e;
    let (mut x, mut y) = (X0, Y0);
    mix(&mut a, &mut b, &mut h);
    mix(&mut c, &mut d, &mut h);
    mix(&mut e, &mut x, &mut h);
    mix(&mut y, &mut a, &mut h);
    mix(&mut b, &mut x, &mut h);
    mix(&mut y, &mut c, &mut h);
    mix(&mut d, &mut x, &mut h);
    mix(&mut y, &mut e, &mut h);
    h
}

/// Ceph's object-name hash (`ceph_str_hash_rjenkins`, Bob Jenkins'
/// lookup2 over bytes): what places an object in a PG and orders objects in
/// a PG's listing.
pub fn str_hash(data: &[u8]) -> u32 {
    let word = |k: &[u8]| u32::from_le_bytes([k[0], k[1], k[2], k[3]]);
    let (mut a, mut b, mut c) = (0x9e37_79b9u32, 0x9e37_79b9u32, 0u32);
    let mut k = data;
    while k.len() >= 12 {
        a = a.wrapping_add(word(&k[0..4]));
        b = b.wrapping_add(word(&k[4..8]));
        c = c.wrapping_add(word(&k[8..12]));
        mix(&mut a, &mut b, &mut c);
        k = &k[12..];
    }
    c = c.wrapping_add(data.len() as u32);
    // The tail: up to 11 bytes; c's lowest byte is reserved for the length.
    let mut tail = [0u8; 12];
    tail[..k.len()].copy_from_slice(k);
    a = a.wrapping_add(word(&tail[0..4]));
    b = b.wrapping_add(word(&tail[4..8]));
    c = c.wrapping_add(u32::from_le_bytes([0, tail[8], tail[9], tail[10]]));
    mix(&mut a, &mut b, &mut c);
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn str_hash_matches_ceph() {
        // PGs that Ceph's `osdmaptool --test-map-object NAME --pool 1` gives
        // for a pool with pg_num 4096 (so the PG is the hash's low 12 bits).
        for (name, pg) in [
            ("foo", 0x406),
            ("bar", 0x84b),
            ("object-1", 0x293),
            ("a longer object name with spaces", 0xeb7),
            ("x", 0xf33),
        ] {
            assert_eq!(str_hash(name.as_bytes()) & 0xfff, pg, "{name}");
        }
    }

    #[test]
    fn str_hash_spreads_and_uses_every_byte() {
        assert_ne!(str_hash(b""), str_hash(b"a"));
        assert_ne!(str_hash(b"object-1"), str_hash(b"object-2"));
        // Bytes at every position of a 12-byte block and of the tail count.
        let base = b"abcdefghijklmnopqrstuvw".to_vec();
        let h = str_hash(&base);
        for i in 0..base.len() {
            let mut m = base.clone();
            m[i] ^= 1;
            assert_ne!(str_hash(&m), h, "byte {i} ignored");
        }
    }

    #[test]
    fn lanes_equal_scalar_hashes() {
        for x in [0u32, 1, 77, 0xdead_beef, u32::MAX] {
            for r in [0u32, 1, 5, 1000] {
                let ids: [u32; LANES] =
                    std::array::from_fn(|l| (l as u32).wrapping_mul(2_654_435_761) ^ x);
                let got = hash32_3_lanes(x, ids, r);
                for l in 0..LANES {
                    assert_eq!(got[l], hash32_3(x, ids[l], r), "x {x} id {} r {r}", ids[l]);
                }
            }
        }
    }

    #[test]
    fn hashes_are_deterministic_and_spread() {
        assert_eq!(hash32_3(1, 2, 3), hash32_3(1, 2, 3));
        assert_ne!(hash32_3(1, 2, 3), hash32_3(1, 2, 4));
        assert_ne!(hash32_2(0, 0), hash32_2(0, 1));
        assert_ne!(hash32(7), hash32_4(7, 0, 0, 0));
        assert_ne!(hash32_5(1, 2, 3, 4, 5), hash32_5(1, 2, 3, 4, 6));
        // Low 16 bits are what straw2 draws use; they must vary too.
        let lows: std::collections::HashSet<u32> =
            (0..1000u32).map(|x| hash32_3(x, 5, 0) & 0xffff).collect();
        assert!(
            lows.len() > 980,
            "low bits collide too often: {}",
            lows.len()
        );
    }
}
