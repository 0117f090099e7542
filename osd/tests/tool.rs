//! `strata-objectstore-tool` end to end: every command on a real store,
//! moving a PG between two stores, and clear errors for bad input.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn tool(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_strata-objectstore-tool"))
        .arg("--data-path")
        .arg(data)
        .args(args)
        .output()
        .unwrap()
}

fn ok(data: &Path, args: &[&str]) -> String {
    let out = tool(data, args);
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn fails(data: &Path, args: &[&str], want: &str) {
    let out = tool(data, args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{args:?} should fail; stderr {err}");
    assert!(err.contains(want), "{args:?}: expected {want:?} in {err:?}");
}

fn with_stdin(data: &Path, args: &[&str], input: &[u8]) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_strata-objectstore-tool"))
        .arg("--data-path")
        .arg(data)
        .args(args)
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    assert!(child.wait().unwrap().success(), "{args:?}");
}

#[test]
fn every_command_and_a_pg_moved_between_stores() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    assert!(ok(&a, &["mkfs"]).contains("created object store"));
    ok(&b, &["mkfs"]);
    ok(&a, &["create-pg", "--pgid", "3.1f"]);
    let big: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 256) as u8).collect();
    let f = dir.path().join("big.bin");
    std::fs::write(&f, &big).unwrap();
    ok(
        &a,
        &["set-bytes", "--pgid", "3.1f", "big", f.to_str().unwrap()],
    );
    with_stdin(&a, &["set-bytes", "--pgid", "3.1f", "small", "-"], b"hello");
    with_stdin(
        &a,
        &["-N", "ns1", "set-bytes", "--pgid", "3.1f", "small", "-"],
        b"other namespace",
    );
    assert_eq!(
        ok(&a, &["get-bytes", "--pgid", "3.1f", "small", "-"]),
        "hello"
    );
    assert_eq!(
        ok(
            &a,
            &["-N", "ns1", "get-bytes", "--pgid", "3.1f", "small", "-"]
        ),
        "other namespace"
    );
    with_stdin(
        &a,
        &["set-attr", "--pgid", "3.1f", "small", "owner", "-"],
        b"alice",
    );
    assert_eq!(
        ok(&a, &["get-attr", "--pgid", "3.1f", "small", "owner"]),
        "alice"
    );
    assert_eq!(
        ok(&a, &["list-attrs", "--pgid", "3.1f", "small"]),
        "owner\n"
    );
    with_stdin(
        &a,
        &["set-omap", "--pgid", "3.1f", "small", "k1", "-"],
        b"v1",
    );
    with_stdin(
        &a,
        &["set-omap", "--pgid", "3.1f", "small", "k2", "-"],
        b"v2",
    );
    with_stdin(&a, &["set-omaphdr", "--pgid", "3.1f", "small", "-"], b"HDR");
    assert_eq!(ok(&a, &["get-omap", "--pgid", "3.1f", "small", "k2"]), "v2");
    assert_eq!(
        ok(&a, &["list-omap", "--pgid", "3.1f", "small"]),
        "k1\nk2\n"
    );
    assert_eq!(ok(&a, &["get-omaphdr", "--pgid", "3.1f", "small"]), "HDR");
    ok(&a, &["rm-omap", "--pgid", "3.1f", "small", "k1"]);
    assert_eq!(ok(&a, &["list-omap", "--pgid", "3.1f", "small"]), "k2\n");
    assert!(ok(&a, &["stat", "--pgid", "3.1f", "big"]).contains("\"size\":300000"));
    assert_eq!(ok(&a, &["list-pgs"]), "3.1f\n");
    let listing = ok(&a, &["list", "--pgid", "3.1f"]);
    assert_eq!(listing.lines().count(), 3, "{listing}");
    assert!(listing.contains("\"namespace\":\"ns1\""), "{listing}");
    assert!(ok(&a, &["info", "--pgid", "3.1f"]).contains("\"info\":null"));
    assert_eq!(ok(&a, &["dump-log", "--pgid", "3.1f"]), "");
    assert!(ok(&a, &["fsck", "--deep"]).contains("3 objects, 300020 bytes verified, 0 errors"));

    let export = dir.path().join("pg.export");
    assert!(ok(
        &a,
        &[
            "export",
            "--pgid",
            "3.1f",
            "--file",
            export.to_str().unwrap()
        ]
    )
    .contains("3 objects"));
    assert!(ok(&b, &["import", "--file", export.to_str().unwrap()])
        .contains("imported PG 3.1f: 3 objects, 300020 bytes"));
    let out = dir.path().join("big.out");
    ok(
        &b,
        &["get-bytes", "--pgid", "3.1f", "big", out.to_str().unwrap()],
    );
    assert_eq!(std::fs::read(&out).unwrap(), big);
    assert_eq!(
        ok(&b, &["get-attr", "--pgid", "3.1f", "small", "owner"]),
        "alice"
    );
    assert_eq!(ok(&b, &["get-omaphdr", "--pgid", "3.1f", "small"]), "HDR");
    assert_eq!(
        ok(&a, &["stat", "--pgid", "3.1f", "small"]),
        ok(&b, &["stat", "--pgid", "3.1f", "small"]),
        "versions and mtimes move too"
    );
    fails(
        &b,
        &["import", "--file", export.to_str().unwrap()],
        "PG 3.1f already exists",
    );

    ok(&a, &["rm-attr", "--pgid", "3.1f", "small", "owner"]);
    ok(&a, &["remove", "--pgid", "3.1f", "big"]);
    assert_eq!(ok(&a, &["list", "--pgid", "3.1f"]).lines().count(), 2);
    ok(&a, &["remove-pg", "--pgid", "3.1f"]);
    assert_eq!(ok(&a, &["list-pgs"]), "");
}

#[test]
fn bad_input_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let s = dir.path().join("s");
    ok(&s, &["mkfs"]);
    ok(&s, &["create-pg", "--pgid", "1.0"]);
    fails(&s, &["mkfs"], "already holds an object store");
    fails(
        &dir.path().join("none"),
        &["list-pgs"],
        "is not a Strata object store (create one with mkfs)",
    );
    fails(&s, &["info", "--pgid", "zz"], "'zz' is not a PG id");
    fails(&s, &["list", "--pgid", "7.7"], "PG 7.7 does not exist");
    fails(
        &s,
        &["get-bytes", "--pgid", "1.0", "ghost", "-"],
        "object \"ghost\" does not exist in PG 1.0",
    );
    fails(
        &s,
        &["get-attr", "--pgid", "1.0", "ghost", "a"],
        "does not exist",
    );
    fails(
        &s,
        &["set-bytes", "--pgid", "1.0", "o", "/no/such/file"],
        "cannot read /no/such/file",
    );
    fails(&s, &["create-pg", "--pgid", "1.0"], "PG 1.0 already exists");
    let garbage = dir.path().join("garbage");
    std::fs::write(&garbage, b"definitely not an export").unwrap();
    fails(
        &s,
        &["import", "--file", garbage.to_str().unwrap()],
        "bad magic",
    );
    // A truncated export is refused and leaves nothing behind.
    let src = dir.path().join("src");
    ok(&src, &["mkfs"]);
    ok(&src, &["create-pg", "--pgid", "2.5"]);
    let f = dir.path().join("o.bin");
    std::fs::write(&f, vec![9u8; 100_000]).unwrap();
    ok(
        &src,
        &["set-bytes", "--pgid", "2.5", "obj", f.to_str().unwrap()],
    );
    let exp = dir.path().join("x.export");
    ok(
        &src,
        &["export", "--pgid", "2.5", "--file", exp.to_str().unwrap()],
    );
    let full = std::fs::read(&exp).unwrap();
    std::fs::write(&exp, &full[..full.len() - 10]).unwrap();
    fails(
        &s,
        &["import", "--file", exp.to_str().unwrap()],
        "truncated export",
    );
    assert_eq!(
        ok(&s, &["list-pgs"]),
        "1.0\n",
        "the failed import removed its PG"
    );
    let mut damaged = full.clone();
    let mid = damaged.len() / 2;
    damaged[mid] ^= 1;
    std::fs::write(&exp, &damaged).unwrap();
    fails(
        &s,
        &["import", "--file", exp.to_str().unwrap()],
        "fails its checksum",
    );
    let out = Command::new(env!("CARGO_BIN_EXE_strata-objectstore-tool"))
        .args(["list-pgs"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("--data-path DIR is required"));
    fails(&s, &["bench", "--size", "lots"], "'lots' is not a size");
}
