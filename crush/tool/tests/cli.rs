//! Drives the real `strata-crushtool` binary: its output must equal what
//! Ceph's crushtool printed for the same map and arguments (golden files made
//! by `golden/regenerate.sh`), and bad input must fail clearly.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn corpus() -> PathBuf {
    let dir = std::env::var_os("STRATA_CRUSH_VECTORS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/crush-vectors")
        });
    assert!(
        dir.join("MANIFEST").is_file(),
        "CRUSH corpus not found at {}",
        dir.display()
    );
    dir
}

fn golden() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn tool(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_strata-crushtool"))
        .args(args)
        .output()
        .expect("run strata-crushtool")
}

fn map_path(name: &str) -> String {
    corpus()
        .join(format!("{name}.txt"))
        .to_string_lossy()
        .into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn output_matches_crushtool_golden_files() {
    let cases = std::fs::read_to_string(golden().join("cases.txt")).unwrap();
    let mut checked = 0;
    for line in cases
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let mut words = line.split_whitespace();
        let (id, map) = (words.next().unwrap(), words.next().unwrap());
        let mut args = vec!["-i".to_string(), map_path(map)];
        let mut rest = words.peekable();
        while let Some(w) = rest.next() {
            args.push(w.to_string());
            if w == "--compare" {
                args.push(map_path(rest.next().unwrap()));
            }
        }
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = tool(&argv);
        let want = |ext: &str| std::fs::read(golden().join(format!("{id}.{ext}"))).unwrap();
        assert!(
            out.stdout == want("stdout"),
            "{id}: stdout differs from crushtool's\n{}",
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .take(5)
                .collect::<Vec<_>>()
                .join("\n")
        );
        assert!(
            out.stderr == want("stderr"),
            "{id}: stderr differs: {}",
            stderr(&out)
        );
        let status: i32 = String::from_utf8(want("status"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert_eq!(out.status.code(), Some(status), "{id}: exit status");
        checked += 1;
    }
    assert!(checked >= 14, "only {checked} golden cases ran");
}

#[test]
fn decompile_is_canonical_and_compile_validates() {
    let src = map_path("straw2_dc_01");
    let out = tool(&["-d", &src]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        out.stdout,
        std::fs::read(&src).unwrap(),
        "a canonical map decompiles to itself"
    );
    let dir = tempdir("compile");
    let dst = dir.join("out.txt");
    let out = tool(&["-c", &map_path("rawtext_02"), "-o", dst.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let canon = std::fs::read_to_string(&dst).unwrap();
    assert!(
        canon.starts_with("# begin crush map\n")
            && canon.contains("\tid -9 class ssd\t\t# do not change unnecessarily"),
        "{canon}"
    );
}

#[test]
fn edits_then_compare_preview_movement() {
    let dir = tempdir("edit");
    let before = map_path("straw2_flat_01");
    let after = dir.join("after.txt");
    let out = tool(&[
        "-i",
        &before,
        "--add-item",
        "50",
        "2.0",
        "osd.50",
        "--loc",
        "host",
        "newhost",
        "--loc",
        "root",
        "default",
        "-o",
        after.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(&after).unwrap();
    assert!(
        text.contains("host newhost {") && text.contains("item osd.50 weight 2.000"),
        "{text}"
    );
    assert!(
        text.contains("item newhost weight 2.000"),
        "the new host hangs under default:\n{text}"
    );
    let out = tool(&[
        "-i",
        &before,
        "--compare",
        after.to_str().unwrap(),
        "--rule",
        "0",
        "--num-rep",
        "3",
    ]);
    assert_eq!(out.status.code(), Some(1), "differing maps exit 1");
    let report = String::from_utf8(out.stdout.clone()).unwrap();
    let moved: u64 = report
        .split(" had ")
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        moved > 0 && moved < 1024,
        "some but not all inputs move: {report}"
    );
    assert!(stderr(&out).contains("maps are NOT equivalent"));
    let out = tool(&[
        "-i",
        after.to_str().unwrap(),
        "--remove-item",
        "osd.50",
        "--test",
        "--show-statistics",
        "--rule",
        "0",
        "--num-rep",
        "3",
        "--min-x",
        "0",
        "--max-x",
        "9",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn bad_input_fails_with_a_clear_message() {
    let dir = tempdir("bad");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["-i".into(), "/nonexistent/map.txt".into(), "--test".into()],
            "cannot read /nonexistent/map.txt",
        ),
        (
            vec![
                "-i".into(),
                map_path("edge_01"),
                "--test".into(),
                "--rule".into(),
                "42".into(),
                "--num-rep".into(),
                "1".into(),
            ],
            "rule 42 does not exist",
        ),
        (
            vec![
                "-i".into(),
                map_path("edge_01"),
                "--test".into(),
                "--weight".into(),
                "osd.99".into(),
                "1".into(),
            ],
            "'osd.99' is neither a device id nor a device name",
        ),
        (
            vec![
                "-i".into(),
                map_path("edge_01"),
                "--reweight-item".into(),
                "osd.0".into(),
                "abc".into(),
            ],
            "'abc' is not a valid weight",
        ),
        (
            vec![
                "-i".into(),
                map_path("edge_01"),
                "--remove-item".into(),
                "nosuch".into(),
                "-o".into(),
                "/dev/null".into(),
            ],
            "item nosuch does not exist",
        ),
        (vec!["-i".into(), map_path("edge_01")], "nothing to do"),
        (
            vec![
                "-i".into(),
                map_path("edge_01"),
                "--test".into(),
                "--min-rep".into(),
                "3".into(),
            ],
            "give both --min-rep and --max-rep",
        ),
    ];
    for (args, want) in cases {
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = tool(&argv);
        assert_eq!(out.status.code(), Some(1), "{argv:?} should fail");
        assert!(
            stderr(&out).contains(want),
            "{argv:?}: expected {want:?} in {:?}",
            stderr(&out)
        );
    }
    let broken = dir.join("broken.txt");
    std::fs::write(
        &broken,
        "device 0 osd.0\ntype 0 osd\ntype 1 host\nhost h {\n\tid -1\n\titem osd.7 weight 1.0\n}\n",
    )
    .unwrap();
    let out = tool(&["-i", broken.to_str().unwrap(), "--test"]);
    assert!(
        stderr(&out).contains("broken.txt: line 6: item 'osd.7' in bucket 'h' is not defined"),
        "{}",
        stderr(&out)
    );
    let binary = dir.join("map.bin");
    std::fs::write(&binary, [0u8, 0, 1, 0, 7, 7, 0xff, 0xfe]).unwrap();
    let out = tool(&["-i", binary.to_str().unwrap(), "--test"]);
    assert!(stderr(&out).contains("looks binary"), "{}", stderr(&out));
}

fn tempdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("strata-crushtool-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}
