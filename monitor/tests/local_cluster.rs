//! deploy/local-cluster.sh, end to end: up, stop and start a daemon,
//! status, down (with the debug binaries, on a loopback address of its own).

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::wait_for;

fn script(dir: &Path, args: &[&str]) -> Output {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let bin = common::bin("strata-mon").parent().unwrap().to_path_buf();
    Command::new(root.join("deploy/local-cluster.sh"))
        .args(args)
        .arg("--dir")
        .arg(dir)
        .env("STRATA_BIN", bin)
        .output()
        .expect("run local-cluster.sh")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

struct Down<'a>(&'a Path);
impl Drop for Down<'_> {
    fn drop(&mut self) {
        let _ = script(self.0, &["down"]);
    }
}

#[test]
fn up_stop_start_down() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("cluster");
    let r: u32 = rand::random();
    let ip = format!("127.{}.{}.1", 1 + r % 250, 1 + (r >> 8) % 250);
    let _down = Down(&dir);
    let o = script(&dir, &["up", "--mons", "3", "--osds", "2", "--ip", &ip]);
    assert!(o.status.success(), "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains("quorum a,b,c") && t.contains("2 osds: 2 up, 2 in"),
        "{t}"
    );
    assert!(dir.join("strata.yaml").exists() && dir.join("client.admin.keyring").exists());

    let strata = |args: &[&str]| -> String {
        let o = Command::new(common::bin("strata"))
            .arg("--conf")
            .arg(dir.join("strata.yaml"))
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).to_string()
    };
    let o = script(&dir, &["stop", "osd.1"]);
    assert!(text(&o).contains("killed osd.1"), "{}", text(&o));
    // Default timings: a dead process is found by its peers' liveness
    // probes within a second (heartbeats would take the 20 s grace).
    let killed = std::time::Instant::now();
    wait_for(90, "osd.1 down", || {
        strata(&["status"]).contains("2 osds: 1 up").then_some(())
    });
    eprintln!(
        "osd.1 killed: marked down after {:?} (default timings)",
        killed.elapsed()
    );
    let o = script(&dir, &["start", "osd.1"]);
    assert!(o.status.success(), "{}", text(&o));
    wait_for(60, "osd.1 up", || {
        strata(&["status"]).contains("2 osds: 2 up").then_some(())
    });
    let o = script(&dir, &["status"]);
    assert!(
        text(&o).contains("mon.a: running") && text(&o).contains("osd.1: running"),
        "{}",
        text(&o)
    );
    // A second `up` over the same directory is refused.
    let o = script(&dir, &["up"]);
    assert!(
        !o.status.success() && text(&o).contains("exists"),
        "{}",
        text(&o)
    );
    let o = script(&dir, &["down"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("stopped mon.a") && text(&o).contains("stopped osd.0"),
        "{}",
        text(&o)
    );
    assert!(
        std::fs::read_dir(dir.join("run")).unwrap().next().is_none(),
        "no pid files remain"
    );
}
