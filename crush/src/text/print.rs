//! [`CrushMap`] to canonical text, byte for byte what `crushtool -d` prints.

use std::fmt::Write;

use super::weight_to_text;
use crate::bucket::{Bucket, BucketAlg};
use crate::map::CrushMap;
use crate::rule::{Rule, Step};
use crate::tunables::Tunables;
use crate::weight_set::ChooseArgMap;

/// Prints the map in crushtool's canonical text form.
pub fn print(map: &CrushMap) -> String {
    let mut out = String::from("# begin crush map\n");
    for ((name, value), (_, legacy)) in map
        .tunables
        .entries()
        .iter()
        .zip(Tunables::LEGACY.entries())
    {
        if *value != legacy {
            let _ = writeln!(out, "tunable {name} {value}");
        }
    }
    out.push_str("\n# devices\n");
    for d in map.devices.values() {
        let _ = write!(out, "device {} {}", d.id, d.name);
        if let Some(c) = d.class.and_then(|c| map.class_name(c)) {
            let _ = write!(out, " class {c}");
        }
        out.push('\n');
    }
    out.push_str("\n# types\n");
    for (id, name) in &map.types {
        let _ = writeln!(out, "type {id} {name}");
    }
    out.push_str("\n# buckets\n");
    let mut done = std::collections::HashSet::new();
    for b in map.visible_buckets() {
        print_bucket_tree(map, b, &mut done, &mut out);
    }
    out.push_str("\n# rules\n");
    for r in map.rules() {
        print_rule(map, r, &mut out);
    }
    if !map.choose_args.is_empty() {
        out.push_str("\n# choose_args\n");
        for (index, set) in &map.choose_args {
            print_choose_args(*index, set, &mut out);
        }
    }
    out.push_str("\n# end crush map\n");
    out
}

/// Children before parents, each bucket once.
fn print_bucket_tree(
    map: &CrushMap,
    b: &Bucket,
    done: &mut std::collections::HashSet<i32>,
    out: &mut String,
) {
    if !done.insert(b.id) {
        return;
    }
    for child in b.items.iter().filter_map(|i| map.bucket(*i)) {
        print_bucket_tree(map, child, done, out);
    }
    print_bucket(map, b, out);
}

fn print_bucket(map: &CrushMap, b: &Bucket, out: &mut String) {
    let tname = map.type_name(b.type_id).unwrap_or("?");
    let _ = writeln!(out, "{tname} {} {{", b.name);
    let _ = writeln!(out, "\tid {}\t\t# do not change unnecessarily", b.id);
    if let Some(classes) = map.class_buckets.get(&b.id) {
        for (class, shadow) in classes {
            let cname = map.class_name(*class).unwrap_or("?");
            let _ = writeln!(
                out,
                "\tid {shadow} class {cname}\t\t# do not change unnecessarily"
            );
        }
    }
    let _ = writeln!(out, "\t# weight {}", weight_to_text(b.weight()));
    let _ = write!(out, "\talg {}", b.alg.name());
    let with_pos = match b.alg {
        BucketAlg::Uniform => {
            let _ = write!(
                out,
                "\t# do not change bucket size ({}) unnecessarily",
                b.size()
            );
            true
        }
        BucketAlg::List => {
            out.push_str("\t# add new items at the end; do not change order unnecessarily");
            false
        }
        BucketAlg::Tree => {
            out.push_str("\t# do not change pos for existing items unnecessarily");
            true
        }
        BucketAlg::Straw | BucketAlg::Straw2 => false,
    };
    out.push('\n');
    let _ = writeln!(out, "\thash {}\t# rjenkins1", b.hash);
    for (pos, (item, w)) in b.items.iter().zip(&b.weights).enumerate() {
        let iname = map.item_name(*item).unwrap_or("?");
        let _ = write!(out, "\titem {iname} weight {}", weight_to_text(*w));
        if with_pos {
            let _ = write!(out, " pos {pos}");
        }
        out.push('\n');
    }
    out.push_str("}\n");
}

fn print_rule(map: &CrushMap, r: &Rule, out: &mut String) {
    let _ = writeln!(out, "rule {} {{", r.name);
    let _ = writeln!(out, "\tid {}", r.id);
    let _ = writeln!(out, "\ttype {}", r.rule_type.name());
    let _ = writeln!(out, "\tmin_size {}", r.min_size);
    let _ = writeln!(out, "\tmax_size {}", r.max_size);
    for step in &r.steps {
        out.push_str("\tstep ");
        match *step {
            Step::Noop => out.push_str("noop"),
            Step::Emit => out.push_str("emit"),
            Step::Take(id) => out.push_str(&take_text(map, id)),
            Step::Choose {
                mode,
                leaf,
                count,
                type_id,
            } => {
                let op = if leaf { "chooseleaf" } else { "choose" };
                let t = map.type_name(type_id).unwrap_or("?");
                let _ = write!(out, "{op} {} {count} type {t}", mode.name());
            }
            ref set => {
                let (name, n) = set.as_set().expect("every other step is matched above");
                let _ = write!(out, "{name} {n}");
            }
        }
        out.push('\n');
    }
    out.push_str("}\n");
}

/// `take` of a shadow bucket prints as its original with the class.
fn take_text(map: &CrushMap, id: i32) -> String {
    for (orig, classes) in &map.class_buckets {
        for (class, shadow) in classes {
            if *shadow == id {
                let name = map.item_name(*orig).unwrap_or("?");
                let cname = map.class_name(*class).unwrap_or("?");
                return format!("take {name} class {cname}");
            }
        }
    }
    format!("take {}", map.item_name(id).unwrap_or("?"))
}

fn print_choose_args(index: u64, set: &ChooseArgMap, out: &mut String) {
    let _ = writeln!(out, "choose_args {index} {{");
    // Ceph lists entries by bucket slot: -1, -2, ...
    for (bucket, arg) in set.iter().rev() {
        if arg.weight_set.is_empty() && arg.ids.is_none() {
            continue;
        }
        out.push_str("  {\n");
        let _ = writeln!(out, "    bucket_id {bucket}");
        if !arg.weight_set.is_empty() {
            out.push_str("    weight_set [\n");
            for row in &arg.weight_set {
                out.push_str("      [ ");
                for w in row {
                    let _ = write!(out, "{} ", weight_to_text(*w));
                }
                out.push_str("]\n");
            }
            out.push_str("    ]\n");
        }
        if let Some(ids) = &arg.ids {
            out.push_str("    ids [ ");
            for id in ids {
                let _ = write!(out, "{id} ");
            }
            out.push_str("]\n");
        }
        out.push_str("  }\n");
    }
    out.push_str("}\n");
}
