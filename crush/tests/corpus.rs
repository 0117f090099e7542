//! Every placement in the corpus computed by Ceph's crushtool must come out
//! of our mapper bit for bit, and every canonical map must survive a
//! parse-print round trip byte for byte.

mod common;

use crush::text;

#[test]
fn every_corpus_mapping_matches_ceph() {
    let mut mismatches = Vec::new();
    let mut total = 0usize;
    for (name, _) in common::maps() {
        let map =
            text::parse(&common::read(&name, "txt")).unwrap_or_else(|e| panic!("{name}: {e}"));
        let args = map.test_choose_args();
        for case in common::cases(&name) {
            let mut weights = map.default_reweights();
            for &(dev, w) in &case.reweights {
                if dev >= weights.len() {
                    weights.resize(dev + 1, 0);
                }
                weights[dev] = w;
            }
            assert_eq!(
                case.lines.len(),
                (case.max_x - case.min_x + 1) as usize,
                "{name} case {}",
                case.index
            );
            for (x, expected) in &case.lines {
                total += 1;
                let got = map.do_rule(case.rule, *x, case.numrep, &weights, args.as_ref());
                if &got != expected && mismatches.len() < 20 {
                    mismatches.push(format!(
                        "{name} case {} rule {} numrep {} x {x}: expected {expected:?}, got {got:?}",
                        case.index, case.rule, case.numrep
                    ));
                }
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} checked; first mismatches:\n{}",
        total,
        mismatches.join("\n")
    );
    assert_eq!(total, 303_024, "the corpus has 303024 mapping lines");
}

#[test]
fn canonical_maps_are_text_fixed_points() {
    let mut failures = Vec::new();
    for (name, category) in common::maps() {
        if category == "rawtext" {
            continue;
        }
        let src = common::read(&name, "txt");
        let map = text::parse(&src).unwrap_or_else(|e| panic!("{name}: {e}"));
        let printed = text::print(&map);
        if printed != src {
            let line = src
                .lines()
                .zip(printed.lines())
                .position(|(a, b)| a != b)
                .unwrap_or_else(|| src.lines().count().min(printed.lines().count()));
            failures.push(format!(
                "{name}: first difference at line {}:\n  want {:?}\n  got  {:?}",
                line + 1,
                src.lines().nth(line),
                printed.lines().nth(line)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn rawtext_maps_reparse_to_the_same_placements() {
    // Hand-written maps print differently (5-decimal weights are rounded to
    // 3), but the ids the compiler assigned must survive the round trip.
    for name in ["rawtext_01", "rawtext_02"] {
        let map = text::parse(&common::read(name, "txt")).unwrap();
        let again = text::parse(&text::print(&map)).unwrap();
        let printed = text::print(&again);
        assert_eq!(
            text::print(&text::parse(&printed).unwrap()),
            printed,
            "{name}: canonical text is a fixed point"
        );
        let ids: Vec<i32> = map.buckets().map(|b| b.id).collect();
        let ids2: Vec<i32> = again.buckets().map(|b| b.id).collect();
        assert_eq!(ids, ids2, "{name}: bucket and shadow ids survive");
    }
}
