//! CRUSH tunables and Ceph's named profiles.
//!
//! Tunables change how hard CRUSH retries and how it descends; each Ceph
//! release that improved placement added one, so maps carry them explicitly.

/// Every tunable of a CRUSH map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tunables {
    pub choose_local_tries: u32,
    pub choose_local_fallback_tries: u32,
    /// Retries, not tries: the mapper uses one more than this.
    pub choose_total_tries: u32,
    pub chooseleaf_descend_once: u32,
    pub chooseleaf_vary_r: u8,
    pub chooseleaf_stable: u8,
    pub straw_calc_version: u8,
    pub allowed_bucket_algs: u32,
}

/// Bucket algorithms allowed before straw2 existed.
const LEGACY_ALGS: u32 = (1 << 1) | (1 << 2) | (1 << 4);
/// uniform, list, straw and straw2 (tree is deprecated).
const MODERN_ALGS: u32 = LEGACY_ALGS | (1 << 5);

impl Tunables {
    /// The values a map has when it states no tunables (Ceph's argonaut).
    pub const LEGACY: Tunables = Tunables {
        choose_local_tries: 2,
        choose_local_fallback_tries: 5,
        choose_total_tries: 19,
        chooseleaf_descend_once: 0,
        chooseleaf_vary_r: 0,
        chooseleaf_stable: 0,
        straw_calc_version: 0,
        allowed_bucket_algs: LEGACY_ALGS,
    };

    /// Looks a profile up by Ceph's name: `legacy`/`argonaut`, `bobtail`,
    /// `firefly`, `hammer`, `jewel`, `optimal`/`default`.
    pub fn profile(name: &str) -> Option<Tunables> {
        let bobtail = Tunables {
            choose_local_tries: 0,
            choose_local_fallback_tries: 0,
            choose_total_tries: 50,
            chooseleaf_descend_once: 1,
            ..Tunables::LEGACY
        };
        let firefly = Tunables {
            chooseleaf_vary_r: 1,
            ..bobtail
        };
        let hammer = Tunables {
            allowed_bucket_algs: MODERN_ALGS,
            ..firefly
        };
        let jewel = Tunables {
            chooseleaf_stable: 1,
            ..hammer
        };
        Some(match name {
            "legacy" | "argonaut" => Tunables::LEGACY,
            "bobtail" => bobtail,
            "firefly" => firefly,
            "hammer" => hammer,
            "jewel" => jewel,
            "optimal" | "default" => Tunables {
                straw_calc_version: 1,
                ..jewel
            },
            _ => return None,
        })
    }

    /// The tunables of a new map (Ceph's `optimal` since Jewel).
    pub fn optimal() -> Tunables {
        Tunables::profile("optimal").expect("optimal is a known profile")
    }

    /// `(name, value)` in the order the text format lists them.
    pub fn entries(&self) -> [(&'static str, u32); 8] {
        [
            ("choose_local_tries", self.choose_local_tries),
            (
                "choose_local_fallback_tries",
                self.choose_local_fallback_tries,
            ),
            ("choose_total_tries", self.choose_total_tries),
            ("chooseleaf_descend_once", self.chooseleaf_descend_once),
            ("chooseleaf_vary_r", u32::from(self.chooseleaf_vary_r)),
            ("chooseleaf_stable", u32::from(self.chooseleaf_stable)),
            ("straw_calc_version", u32::from(self.straw_calc_version)),
            ("allowed_bucket_algs", self.allowed_bucket_algs),
        ]
    }

    /// Sets one tunable by its text-format name; false if the name is unknown.
    pub fn set(&mut self, name: &str, value: u32) -> bool {
        let narrow = |v: u32| v.min(u32::from(u8::MAX)) as u8;
        match name {
            "choose_local_tries" => self.choose_local_tries = value,
            "choose_local_fallback_tries" => self.choose_local_fallback_tries = value,
            "choose_total_tries" => self.choose_total_tries = value,
            "chooseleaf_descend_once" => self.chooseleaf_descend_once = value,
            "chooseleaf_vary_r" => self.chooseleaf_vary_r = narrow(value),
            "chooseleaf_stable" => self.chooseleaf_stable = narrow(value),
            "straw_calc_version" => self.straw_calc_version = narrow(value),
            "allowed_bucket_algs" => self.allowed_bucket_algs = value,
            _ => return false,
        }
        true
    }
}

impl Default for Tunables {
    fn default() -> Self {
        Tunables::optimal()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_differ_where_ceph_says() {
        let firefly = Tunables::profile("firefly").unwrap();
        let jewel = Tunables::profile("jewel").unwrap();
        assert_eq!(firefly.chooseleaf_vary_r, 1);
        assert_eq!(firefly.chooseleaf_stable, 0);
        assert_eq!(jewel.chooseleaf_stable, 1);
        assert_eq!(jewel.allowed_bucket_algs, 54);
        assert_eq!(Tunables::LEGACY.allowed_bucket_algs, 22);
        assert!(Tunables::profile("quincy-ish").is_none());
    }

    #[test]
    fn set_by_name_round_trips() {
        let mut t = Tunables::LEGACY;
        for (name, _) in Tunables::optimal().entries() {
            assert!(t.set(name, 1), "{name} is settable");
        }
        assert!(!t.set("no_such_tunable", 1));
    }
}
