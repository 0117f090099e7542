//! Reads the CRUSH corpus that Ceph's crushtool computed
//! (`shared/crush-vectors/`, beside the repository; `STRATA_CRUSH_VECTORS`
//! overrides the location).

#![allow(dead_code)]

use std::path::PathBuf;

pub fn corpus_dir() -> PathBuf {
    let dir = std::env::var_os("STRATA_CRUSH_VECTORS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/crush-vectors")
        });
    assert!(
        dir.join("MANIFEST").is_file(),
        "CRUSH corpus not found at {} (set STRATA_CRUSH_VECTORS to the crush-vectors directory)",
        dir.display()
    );
    dir
}

/// Map names listed in the corpus MANIFEST, with their category.
pub fn maps() -> Vec<(String, String)> {
    let manifest = std::fs::read_to_string(corpus_dir().join("MANIFEST")).expect("read MANIFEST");
    manifest
        .lines()
        .filter(|l| l.starts_with("map "))
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f[1].to_string(), f[3].to_string())
        })
        .collect()
}

pub fn read(name: &str, ext: &str) -> String {
    let p = corpus_dir().join(format!("{name}.{ext}"));
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

/// One `case` of a `.mappings` file.
#[derive(Debug)]
pub struct Case {
    pub index: usize,
    pub rule: u32,
    pub numrep: usize,
    pub min_x: i32,
    pub max_x: i32,
    /// `(device, 16.16 weight)` overrides.
    pub reweights: Vec<(usize, u32)>,
    /// `(x, expected result)`.
    pub lines: Vec<(i32, Vec<i32>)>,
}

pub fn cases(name: &str) -> Vec<Case> {
    let mut out: Vec<Case> = Vec::new();
    for line in read(name, "mappings").lines() {
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let t: Vec<&str> = line.split(' ').collect();
        match t[0] {
            "case" => {
                assert_eq!(t[9], "reweights", "{name}: malformed case line {line:?}");
                let k: usize = t[10].parse().unwrap();
                let reweights = t[11..11 + k]
                    .iter()
                    .map(|kv| {
                        let (d, w) = kv.split_once('=').unwrap();
                        (d.parse().unwrap(), w.parse().unwrap())
                    })
                    .collect();
                out.push(Case {
                    index: t[1].parse().unwrap(),
                    rule: t[3].parse().unwrap(),
                    numrep: t[5].parse().unwrap(),
                    min_x: t[7].parse().unwrap(),
                    max_x: t[8].parse().unwrap(),
                    reweights,
                    lines: Vec::new(),
                });
            }
            "rule" => {
                let x: i32 = t[5].parse().unwrap();
                let list = t[7].trim_start_matches('[').trim_end_matches(']');
                let v = if list.is_empty() {
                    Vec::new()
                } else {
                    list.split(',').map(|s| s.parse().unwrap()).collect()
                };
                out.last_mut()
                    .expect("mapping before any case")
                    .lines
                    .push((x, v));
            }
            other => panic!("{name}.mappings: unexpected line kind {other:?}"),
        }
    }
    out
}
