//! Map epochs: incrementals for subscribers, rebuilding and trimming.

use super::*;

#[test]
fn subscribers_get_incrementals_or_a_full_map() {
    let mut s = booted(2);
    let e = s.osdmap.epoch;
    // max_incrementals is 3 in the seed.
    assert_eq!(s.incrementals.len(), 3);
    let u = s.update_since(e - 1);
    assert!(u.full.is_none());
    assert_eq!(u.incrementals.len(), 1);
    let u = s.update_since(1);
    assert!(u.full.is_some(), "too far behind: a full map");
    let u = s.update_since(0);
    assert_eq!(u.full.as_ref().unwrap().epoch, e);
    assert!(s.update_since(e).full.is_none() && s.update_since(e).incrementals.is_empty());
    // Incrementals replay to the same map.
    let old = s.clone();
    create_pool(&mut s, "p", 4);
    cmd(&mut s, MonCommand::OsdOut { ids: vec![1] }).unwrap();
    let mut held = Some(old.osdmap.clone());
    s.update_since(old.osdmap.epoch)
        .apply_to(&mut held)
        .unwrap();
    assert_eq!(held.as_ref(), Some(&s.osdmap));
}

#[test]
fn every_retained_epoch_can_be_rebuilt() {
    // max_incrementals is 3 in the seed: most epochs are trimmed.
    let mut s = booted(3);
    let mut maps = vec![s.osdmap.clone()];
    for i in 0..3 {
        cmd(&mut s, MonCommand::OsdOut { ids: vec![i] }).unwrap();
        maps.push(s.osdmap.clone());
        cmd(&mut s, MonCommand::OsdIn { ids: vec![i] }).unwrap();
        maps.push(s.osdmap.clone());
    }
    let first = s.first_epoch();
    assert_eq!(first, s.osdmap.epoch - 3);
    for from in [0, first, first + 1, s.osdmap.epoch] {
        let u = s.maps_from(from);
        let full = u.full.clone().unwrap();
        assert_eq!(full.epoch, from.max(first));
        // The full map is exactly that epoch, and the incrementals lead
        // from it to the newest, one epoch at a time.
        if let Some(m) = maps.iter().find(|m| m.epoch == full.epoch) {
            assert_eq!(m, &full);
        }
        let mut m = full;
        for inc in &u.incrementals {
            m.apply(inc).unwrap();
        }
        assert_eq!(m, s.osdmap);
    }
}

#[test]
fn trimming_forgets_only_the_epochs_asked_for_and_keeps_serving_the_rest() {
    let mut s = booted(3);
    s.max_incrementals = 100;
    let mut maps = vec![s.osdmap.clone()];
    for i in 0..3 {
        cmd(&mut s, MonCommand::OsdOut { ids: vec![i] }).unwrap();
        maps.push(s.osdmap.clone());
    }
    let newest = s.osdmap.epoch;
    let before = s.first_epoch();
    assert!(before < newest - 2);
    let trim = |s: &mut ClusterState, to: u32| match s.apply(&ClusterOp {
        now_ms: 2000,
        kind: OpKind::TrimMaps { to },
    }) {
        OpOutcome::Ok(d) => d,
        OpOutcome::Err(e) => panic!("{e}"),
    };
    let d = trim(&mut s, newest - 2);
    assert_eq!(s.first_epoch(), newest - 2, "{}", d.message);
    assert_eq!(s.osdmap.epoch, newest, "trimming makes no new epoch");
    // The oldest kept epoch is served exactly, and leads to the newest.
    let u = s.maps_from(newest - 2);
    let full = u.full.clone().unwrap();
    assert_eq!(Some(&full), maps.iter().find(|m| m.epoch == newest - 2));
    let mut m = full;
    for inc in &u.incrementals {
        m.apply(inc).unwrap();
    }
    assert_eq!(m, s.osdmap);
    // Older or equal targets change nothing; a target past the newest
    // keeps the newest map itself.
    trim(&mut s, before);
    assert_eq!(s.first_epoch(), newest - 2);
    trim(&mut s, newest + 5);
    assert_eq!(s.first_epoch(), newest);
    assert_eq!(s.maps_from(0).full.unwrap(), s.osdmap);
}
