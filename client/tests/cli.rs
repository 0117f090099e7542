//! The CLIs start, describe themselves, and fail clearly without a
//! cluster. (Also makes `cargo test` build them for the cluster tests in
//! monitor/tests, which drive them.)

use std::process::Command;

#[test]
fn help_lists_the_commands() {
    let out = Command::new(env!("CARGO_BIN_EXE_strata"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for w in [
        "status",
        "health",
        "quorum_status",
        "osd",
        "auth",
        "pg",
        "df",
    ] {
        assert!(text.contains(w), "strata --help lacks {w}:\n{text}");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_strados"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for w in ["put", "get", "ls", "setomapval", "bench", "lspools"] {
        assert!(text.contains(w), "strados --help lacks {w}:\n{text}");
    }
}

#[test]
fn a_missing_config_is_named() {
    for (bin, cmd) in [
        (env!("CARGO_BIN_EXE_strata"), "status"),
        (env!("CARGO_BIN_EXE_strados"), "lspools"),
    ] {
        let out = Command::new(bin)
            .args(["--conf", "/nonexistent/strata.yaml", cmd])
            .output()
            .unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("/nonexistent/strata.yaml"), "{bin}: {err}");
    }
}
