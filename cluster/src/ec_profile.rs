//! Erasure-code profiles: the key=value settings an operator gives with
//! `osd erasure-code-profile set` (Ceph's syntax and defaults), parsed and
//! checked in one place. The monitors refuse a profile that does not
//! parse; whatever reads a profile from a map (the CLI's `stripe_width`
//! today, OSDs once EC pools take I/O) goes through
//! `OsdMap::ec_profile_of`, so a profile is never used unchecked.

use std::collections::BTreeMap;

/// The keys a profile may hold.
pub const KEYS: &[&str] = &[
    "k",
    "m",
    "plugin",
    "technique",
    "stripe_unit",
    "crush-failure-domain",
    "crush-root",
    "crush-device-class",
];

/// Most data or parity shards a profile may ask for.
pub const MAX_SHARDS_EACH: u32 = 32;

/// Smallest and largest stripe unit: a stripe is `k` units, and a
/// partial write rewrites whole stripes.
pub const MIN_STRIPE_UNIT: u64 = 512;
pub const MAX_STRIPE_UNIT: u64 = 4 << 20;

/// Ceph's default stripe unit (`osd_pool_erasure_code_stripe_unit`).
pub const DEFAULT_STRIPE_UNIT: u64 = 4096;

/// A checked profile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EcProfile {
    pub k: u32,
    pub m: u32,
    /// Bytes of an object on one data shard before the next shard's.
    pub stripe_unit: u64,
    pub failure_domain: String,
    pub root: String,
    /// Only OSDs of this class hold shards (none: any class).
    pub device_class: Option<String>,
}

/// Ceph's defaults for the keys a profile leaves out.
pub fn defaults() -> BTreeMap<String, String> {
    [
        ("k", "2"),
        ("m", "2"),
        ("plugin", "jerasure"),
        ("technique", "reed_sol_van"),
        ("crush-failure-domain", "host"),
        ("crush-root", "default"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// Checks a stripe unit (a power of two from 512 bytes to 4 MiB); the
/// error says why not.
pub fn check_stripe_unit(unit: u64) -> Result<(), &'static str> {
    if !unit.is_power_of_two() {
        return Err("must be a power of two");
    }
    if !(MIN_STRIPE_UNIT..=MAX_STRIPE_UNIT).contains(&unit) {
        return Err("must be from 512 bytes to 4 MiB");
    }
    Ok(())
}

/// A byte count as Ceph writes them: `4096`, `4K`, `64k`, `1M`.
fn parse_size(v: &str) -> Option<u64> {
    let v = v.trim();
    let (num, mult) = match v.char_indices().last()? {
        (i, 'k' | 'K') => (&v[..i], 1u64 << 10),
        (i, 'm' | 'M') => (&v[..i], 1 << 20),
        _ => (v, 1),
    };
    num.parse::<u64>().ok()?.checked_mul(mult)
}

impl EcProfile {
    /// Parses and checks profile `name`'s settings (defaults filled in
    /// for missing keys). The error names the profile, the key and why.
    pub fn parse(name: &str, p: &BTreeMap<String, String>) -> Result<EcProfile, String> {
        let bad = |what: String| format!("erasure-code-profile {name}: {what}");
        if let Some(k) = p.keys().find(|k| !KEYS.contains(&k.as_str())) {
            return Err(bad(format!(
                "unknown key '{k}' (known: {})",
                KEYS.join(", ")
            )));
        }
        let d = defaults();
        let get = |key: &str| -> String {
            p.get(key)
                .or_else(|| d.get(key))
                .cloned()
                .unwrap_or_default()
        };
        let count = |key: &str| -> Result<u32, String> {
            let v = get(key);
            v.parse::<u32>()
                .ok()
                .filter(|n| (1..=MAX_SHARDS_EACH).contains(n))
                .ok_or_else(|| {
                    bad(format!(
                        "{key}={v}: must be a whole number 1..={MAX_SHARDS_EACH}"
                    ))
                })
        };
        let (k, m) = (count("k")?, count("m")?);
        if k < 2 {
            return Err(bad(format!(
                "k={k}: must be at least 2 (k=1 is replication; use a replicated pool)"
            )));
        }
        let plugin = get("plugin");
        if !["jerasure", "isa"].contains(&plugin.as_str()) {
            return Err(bad(format!(
                "plugin '{plugin}' is not available (jerasure and isa are: Reed-Solomon)"
            )));
        }
        let technique = get("technique");
        if technique != "reed_sol_van" {
            return Err(bad(format!(
                "technique '{technique}' is not available (reed_sol_van is)"
            )));
        }
        let su = p.get("stripe_unit").map_or(Ok(DEFAULT_STRIPE_UNIT), |v| {
            parse_size(v).ok_or_else(|| {
                bad(format!(
                    "stripe_unit '{v}' is not a byte count (4096, 4K, 1M)"
                ))
            })
        })?;
        check_stripe_unit(su).map_err(|why| bad(format!("stripe_unit {su}: {why}")))?;
        let nonempty = |key: &str| -> Result<String, String> {
            let v = get(key);
            if v.is_empty() {
                return Err(bad(format!("{key} is empty")));
            }
            Ok(v)
        };
        Ok(EcProfile {
            k,
            m,
            stripe_unit: su,
            failure_domain: nonempty("crush-failure-domain")?,
            root: nonempty("crush-root")?,
            device_class: p
                .get("crush-device-class")
                .filter(|c| !c.is_empty())
                .cloned(),
        })
    }

    /// Data bytes in one stripe (Ceph's pool `stripe_width`).
    pub fn stripe_width(&self) -> u64 {
        u64::from(self.k) * self.stripe_unit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(kv: &[(&str, &str)]) -> Result<EcProfile, String> {
        let p = kv
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        EcProfile::parse("p", &p)
    }

    #[test]
    fn defaults_are_cephs() {
        let p = parse(&[]).unwrap();
        assert_eq!((p.k, p.m, p.stripe_unit), (2, 2, 4096));
        assert_eq!(p.failure_domain, "host");
        assert_eq!(p.root, "default");
        assert_eq!(p.device_class, None);
        assert_eq!(p.stripe_width(), 8192);
    }

    #[test]
    fn stripe_units_take_ceph_suffixes() {
        assert_eq!(parse(&[("stripe_unit", "64K")]).unwrap().stripe_unit, 65536);
        assert_eq!(
            parse(&[("stripe_unit", "1M")]).unwrap().stripe_unit,
            1 << 20
        );
        assert_eq!(parse(&[("stripe_unit", "512")]).unwrap().stripe_unit, 512);
    }

    #[test]
    fn every_bad_setting_is_named() {
        let err = |kv: &[(&str, &str)]| parse(kv).unwrap_err();
        assert_eq!(
            err(&[("k", "1")]),
            "erasure-code-profile p: k=1: must be at least 2 (k=1 is replication; use a replicated pool)"
        );
        assert_eq!(
            err(&[("m", "0")]),
            "erasure-code-profile p: m=0: must be a whole number 1..=32"
        );
        assert_eq!(
            err(&[("k", "x")]),
            "erasure-code-profile p: k=x: must be a whole number 1..=32"
        );
        assert_eq!(
            err(&[("stripe_unit", "3000")]),
            "erasure-code-profile p: stripe_unit 3000: must be a power of two"
        );
        assert_eq!(
            err(&[("stripe_unit", "256")]),
            "erasure-code-profile p: stripe_unit 256: must be from 512 bytes to 4 MiB"
        );
        assert_eq!(
            err(&[("stripe_unit", "8M")]),
            "erasure-code-profile p: stripe_unit 8388608: must be from 512 bytes to 4 MiB"
        );
        assert_eq!(
            err(&[("stripe_unit", "4Q")]),
            "erasure-code-profile p: stripe_unit '4Q' is not a byte count (4096, 4K, 1M)"
        );
        assert_eq!(
            err(&[("technique", "cauchy_good")]),
            "erasure-code-profile p: technique 'cauchy_good' is not available (reed_sol_van is)"
        );
        assert!(err(&[("plugin", "lrc")]).contains("plugin 'lrc' is not available"));
        assert!(err(&[("size", "3")]).contains("unknown key 'size'"));
        assert!(err(&[("crush-root", "")]).contains("crush-root is empty"));
    }
}
