//! Properties CRUSH must have on any map, checked on random hierarchies built
//! through the builder API: determinism, distinct results, failure-domain
//! separation, reweight semantics, and straw2's optimal data movement.

use std::collections::HashSet;

use crush::{text, CrushMap, ITEM_NONE};
use proptest::prelude::*;

const ONE: u32 = 0x10000;

/// Hosts of devices with random 16.16 weights, under root `default`, with a
/// replicated rule (0) and an erasure rule (1), both one device per host.
fn hierarchy(hosts: &[Vec<u32>]) -> CrushMap {
    let mut m = CrushMap::new();
    let mut id = 0;
    for (h, devs) in hosts.iter().enumerate() {
        let host = format!("host{h}");
        for &w in devs {
            m.add_device(
                id,
                &format!("osd.{id}"),
                w,
                &[("host", &host), ("root", "default")],
            )
            .unwrap();
            id += 1;
        }
    }
    m.create_replicated_rule("rep", "default", "host", None)
        .unwrap();
    m.create_erasure_rule("ec", "default", "host", None)
        .unwrap();
    m
}

/// Devices directly under one straw2 root, with a rule choosing devices.
fn flat(weights: &[u32]) -> CrushMap {
    let mut m = CrushMap::new();
    for (id, &w) in weights.iter().enumerate() {
        m.add_device(id as i32, &format!("osd.{id}"), w, &[("root", "flat")])
            .unwrap();
    }
    m.create_replicated_rule("flat", "flat", "osd", None)
        .unwrap();
    m
}

fn weight() -> impl Strategy<Value = u32> {
    // 0.1 to 16.0, in 16.16 fixed point
    (ONE / 10)..(16 * ONE)
}

fn hosts() -> impl Strategy<Value = Vec<Vec<u32>>> {
    prop::collection::vec(prop::collection::vec(weight(), 1..5), 2..7)
}

fn host_of(m: &CrushMap, dev: i32) -> i32 {
    m.parent_of(dev).expect("device is placed").id
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn placement_is_deterministic_and_canonical_text_is_stable(hosts in hosts(), x0 in 0i32..1_000_000) {
        // Text prints weights with three decimals (as Ceph's does), so an
        // arbitrary 16.16 weight is normalised by the first round trip; from
        // then on text, map and placements are fixed points.
        let m = hierarchy(&hosts);
        let once = text::parse(&text::print(&m)).unwrap();
        let printed = text::print(&once);
        let twice = text::parse(&printed).unwrap();
        prop_assert_eq!(&text::print(&twice), &printed);
        let w = m.default_reweights();
        for x in x0..x0 + 200 {
            for rule in [0, 1] {
                let a = m.do_rule(rule, x, 3, &w, None);
                prop_assert_eq!(&a, &m.do_rule(rule, x, 3, &w, None));
                prop_assert_eq!(once.do_rule(rule, x, 3, &w, None), twice.do_rule(rule, x, 3, &w, None), "rule {} x {}", rule, x);
            }
        }
    }

    #[test]
    fn results_are_distinct_and_one_per_failure_domain(hosts in hosts(), numrep in 1usize..6) {
        let m = hierarchy(&hosts);
        let w = m.default_reweights();
        for x in 0..300 {
            for rule in [0, 1] {
                let out = m.do_rule(rule, x, numrep, &w, None);
                let placed: Vec<i32> = out.iter().copied().filter(|o| *o != ITEM_NONE).collect();
                prop_assert!(out.len() <= numrep);
                let devs: HashSet<i32> = placed.iter().copied().collect();
                prop_assert_eq!(devs.len(), placed.len(), "duplicate device in {:?}", out);
                let domains: HashSet<i32> = placed.iter().map(|d| host_of(&m, *d)).collect();
                prop_assert_eq!(domains.len(), placed.len(), "two replicas share a host in {:?}", out);
                // firstn may come up short when num-rep nears the number of
                // hosts (Ceph's "bad mappings"); indep always keeps every
                // position, with holes where it fails.
                if rule == 1 {
                    prop_assert_eq!(out.len(), numrep, "indep keeps every position");
                } else {
                    prop_assert!(!out.is_empty(), "no replica placed for x {}", x);
                }
            }
        }
    }

    #[test]
    fn an_out_device_is_never_chosen_and_only_its_inputs_move(hosts in hosts(), pick in any::<prop::sample::Index>()) {
        let m = hierarchy(&hosts);
        let mut w = m.default_reweights();
        let dev = pick.index(w.len()) as i32;
        let before: Vec<Vec<i32>> = (0..500).map(|x| m.do_rule(0, x, 1, &w, None)).collect();
        w[dev as usize] = 0;
        for (x, old) in before.iter().enumerate() {
            let new = m.do_rule(0, x as i32, 1, &w, None);
            prop_assert!(!new.contains(&dev), "out device {} chosen for x {}", dev, x);
            if !old.contains(&dev) {
                prop_assert_eq!(old, &new, "x {} moved although it was not on osd.{}", x, dev);
            }
        }
    }

    #[test]
    fn straw2_adding_a_device_moves_its_share_only_onto_it(weights in prop::collection::vec(weight(), 2..12), new_w in weight()) {
        let m = flat(&weights);
        let mut grown = m.clone();
        let new_id = weights.len() as i32;
        grown.add_device(new_id, &format!("osd.{new_id}"), new_w, &[("root", "flat")]).unwrap();
        let (w0, w1) = (m.default_reweights(), grown.default_reweights());
        let n = 4000;
        let mut moved = 0;
        for x in 0..n {
            let (a, b) = (m.do_rule(0, x, 1, &w0, None), grown.do_rule(0, x, 1, &w1, None));
            if a != b {
                prop_assert_eq!(&b, &vec![new_id], "x {} moved from {:?} to an old device", x, a);
                moved += 1;
            }
        }
        let total: u64 = weights.iter().map(|w| u64::from(*w)).sum::<u64>() + u64::from(new_w);
        let share = f64::from(new_w) / total as f64;
        let got = f64::from(moved) / f64::from(n);
        prop_assert!((got - share).abs() < 0.05, "moved {} of inputs, device share {}", got, share);
    }

    #[test]
    fn straw2_reweighting_moves_inputs_only_to_or_from_that_device(weights in prop::collection::vec(weight(), 2..12), pick in any::<prop::sample::Index>(), new_w in weight()) {
        let m = flat(&weights);
        let dev = pick.index(weights.len()) as i32;
        let mut changed = m.clone();
        changed.reweight_item(&format!("osd.{dev}"), new_w).unwrap();
        let w = m.default_reweights();
        for x in 0..2000 {
            let (a, b) = (m.do_rule(0, x, 1, &w, None), changed.do_rule(0, x, 1, &w, None));
            if a != b {
                prop_assert!(a == vec![dev] || b == vec![dev], "x {}: {:?} -> {:?} without osd.{}", x, a, b, dev);
            }
        }
    }
}

/// Tokens that steer a mangled map toward interesting parser paths.
fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("{".to_string()),
        Just("}".to_string()),
        Just("[".to_string()),
        Just("]".to_string()),
        Just("id".to_string()),
        Just("class".to_string()),
        Just("item".to_string()),
        Just("weight".to_string()),
        Just("pos".to_string()),
        Just("step".to_string()),
        Just("take".to_string()),
        Just("-2147483648".to_string()),
        Just("99999999999".to_string()),
        Just("-1.5".to_string()),
        Just("nan".to_string()),
        "[a-z0-9.~-]{1,8}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// Whatever the text, parsing returns a map or an error; it never panics
    /// or allocates without bound.
    #[test]
    fn mangled_map_text_never_panics(edits in prop::collection::vec((any::<prop::sample::Index>(), 0u8..3, token()), 1..12)) {
        let src = include_str!("../../deploy/examples/crushmap.txt");
        let mut toks: Vec<String> = src.split_inclusive(char::is_whitespace).map(str::to_string).collect();
        for (at, op, tok) in edits {
            let i = at.index(toks.len());
            match op {
                0 => { toks.remove(i); }
                1 => toks.insert(i, format!("{tok} ")),
                _ => toks[i] = format!("{tok} "),
            }
        }
        let text: String = toks.concat();
        if let Ok(m) = text::parse(&text) {
            let w = m.default_reweights();
            for r in m.rules().map(|r| r.id).collect::<Vec<_>>() {
                let _ = m.do_rule(r, 1, 3, &w, None);
            }
            let _ = text::print(&m);
        }
    }
}
