//! Ceph's text form of a CRUSH map: what `crushtool -d` prints and
//! `crushtool -c` reads.
//!
//! [`parse`] accepts everything the decompiler prints plus the hand-written
//! liberties the compiler allows (omitted ids, weights and tunables, `ruleset`,
//! extra whitespace); [`print`] writes the canonical form, so a canonical map
//! is a fixed point of parse-then-print. Weights are 16.16 fixed point, parsed
//! from `f32` text as Ceph does and printed with three decimals.

mod lexer;
mod parse;
mod print;

pub use parse::parse;
pub use print::print;

/// Parses a 16.16 weight the way Ceph's compiler does: single-precision
/// `strtof`, times 65536 in `f32`, truncated.
pub fn weight_from_text(s: &str) -> Option<u32> {
    let v: f32 = s.parse().ok()?;
    if !v.is_finite() || v < 0.0 {
        return None;
    }
    Some((v * 65536.0f32) as u32)
}

/// Formats a 16.16 weight as Ceph's decompiler does (`%.3f` of an `f32`).
pub fn weight_to_text(w: u32) -> String {
    format!("{:.3}", f64::from(w as f32 / 65536.0f32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_parse_like_strtof() {
        // Values from the corpus README: single-precision, truncated.
        assert_eq!(weight_from_text("1.819"), Some(119209));
        assert_eq!(weight_from_text("1.81939"), Some(119235));
        assert_eq!(weight_from_text("3.63869"), Some(238465));
        assert_eq!(weight_from_text("0.1"), Some(6553));
        assert_eq!(weight_from_text("abc"), None);
        assert_eq!(weight_from_text("-1.0"), None);
        assert_eq!(weight_from_text("inf"), None);
        assert_eq!(weight_to_text(119209), "1.819");
        assert_eq!(weight_to_text(0), "0.000");
    }

    /// Found by the parser fuzz: a huge explicit `pos` used to size the
    /// bucket before it was checked, asking for hundreds of GB.
    #[test]
    fn a_huge_item_pos_is_refused_without_allocating() {
        let map = |pos: &str| {
            format!(
                "device 0 osd.0\ndevice 1 osd.1\ntype 0 osd\ntype 1 root\n\
                 root r {{\n\tid -1\n\talg uniform\n\thash 0\n\
                 \titem osd.0 weight 1.000 pos {pos}\n\titem osd.1 weight 1.000\n}}\n"
            )
        };
        let e = parse(&map("99999999999")).unwrap_err().to_string();
        assert!(e.contains("pos 99999999999 >= size 2"), "{e}");
        let e = parse(&map("2")).unwrap_err().to_string();
        assert!(e.contains("pos 2 >= size 2"), "{e}");
        let m = parse(&map("1")).unwrap();
        let b = m.bucket(-1).unwrap();
        assert_eq!(b.items, vec![1, 0], "explicit pos 1, the other fills pos 0");
    }

    /// Also found by the fuzz: a bucket id of -2^31 sized the bucket table
    /// at 2^31 entries (240 GiB).
    #[test]
    fn a_huge_bucket_id_is_refused_without_allocating() {
        let text = "device 0 osd.0\ntype 0 osd\ntype 1 root\n\
                    root r {\n\tid -2147483648\n\talg straw2\n\thash 0\n\titem osd.0 weight 1.000\n}\n";
        let e = parse(text).unwrap_err().to_string();
        assert!(e.contains("below the smallest allowed"), "{e}");
    }
}
