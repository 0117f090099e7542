//! A real cluster for tests: `strata-mon` and `strata-osd` processes in a
//! temporary directory, on a loopback address of their own (127.X.Y.Z,
//! chosen at random so tests can run side by side), driven through the
//! real `strata` CLI. Every process is killed by pid when the cluster is
//! dropped; every wait polls with a deadline.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Where cargo put the workspace's binaries (beside this test's `deps/`).
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let p = dir.join(name);
    assert!(
        p.exists(),
        "{} is missing: build the workspace first (cargo test --workspace builds it)",
        p.display()
    );
    p
}

/// Polls `f` every 100 ms until it returns `Some`, or panics after `secs`.
pub fn wait_for<T>(secs: u64, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {secs}s waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub struct Cluster {
    pub dir: tempfile::TempDir,
    pub conf: PathBuf,
    pub net: String,
    pub mon_names: Vec<String>,
    mons: BTreeMap<String, Child>,
    osds: BTreeMap<u32, Child>,
    pub osd_opts: Vec<String>,
}

fn random_net() -> String {
    let r: u32 = rand::random();
    format!("127.{}.{}", 1 + r % 250, (r >> 8) % 250 + 1)
}

impl Cluster {
    /// Bootstraps a cluster with `mons` monitors and starts them; `set`
    /// adds config options (`key=value`).
    pub fn new(mons: usize, set: &[&str]) -> Cluster {
        let dir = tempfile::tempdir().expect("temp dir");
        let conf = dir.path().join("strata.yaml");
        let net = random_net();
        let names: Vec<String> = ["a", "b", "c", "d", "e"][..mons]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let mut cmd = Command::new(bin("strata-mon"));
        cmd.arg("bootstrap").arg("--conf").arg(&conf);
        for (i, n) in names.iter().enumerate() {
            cmd.arg("--mon").arg(format!("{n}={net}.{}:3300", i + 1));
        }
        for s in [
            "mon_data=mon/{id}",
            "osd_crush_chooseleaf_type=0",
            "mon_raft_heartbeat_ms=200",
        ] {
            cmd.arg("--set").arg(s);
        }
        for s in set {
            cmd.arg("--set").arg(s);
        }
        let out = cmd.output().expect("run strata-mon bootstrap");
        assert!(
            out.status.success(),
            "bootstrap: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut c = Cluster {
            dir,
            conf,
            net,
            mon_names: names.clone(),
            mons: BTreeMap::new(),
            osds: BTreeMap::new(),
            osd_opts: Vec::new(),
        };
        for n in &names {
            let out = Command::new(bin("strata-mon"))
                .args(["--mkfs", "--id", n, "--conf"])
                .arg(&c.conf)
                .output()
                .expect("run strata-mon --mkfs");
            assert!(
                out.status.success(),
                "mkfs mon.{n}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        for n in &names {
            c.start_mon(n);
        }
        c.wait_quorum(names.len());
        c
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    fn log(&self, name: &str) -> std::fs::File {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.path().join(format!("{name}.log")))
            .expect("log file")
    }

    pub fn mon_addr(&self, name: &str) -> String {
        let i = self
            .mon_names
            .iter()
            .position(|n| n == name)
            .expect("known mon");
        format!("{}.{}:3300", self.net, i + 1)
    }

    /// Where a monitor serves its metrics.
    pub fn mon_metrics_addr(&self, name: &str) -> String {
        self.mon_addr(name).replace(":3300", ":9283")
    }

    pub fn osd_metrics_addr(&self, i: u32) -> String {
        format!("{}.{}:9284", self.net, 100 + i)
    }

    pub fn start_mon(&mut self, name: &str) {
        let child = Command::new(bin("strata-mon"))
            .args(["--id", name, "--conf"])
            .arg(&self.conf)
            .arg("-o")
            .arg(format!("metrics_addr={}", self.mon_metrics_addr(name)))
            .stdout(Stdio::null())
            .stderr(self.log(&format!("mon.{name}")))
            .spawn()
            .expect("start strata-mon");
        self.mons.insert(name.to_string(), child);
    }

    /// SIGKILL, by pid.
    pub fn kill_mon(&mut self, name: &str) {
        if let Some(mut c) = self.mons.remove(name) {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn mkfs_osd(&mut self, i: u32) -> u32 {
        let dir = self.path().join(format!("osd{i}"));
        let out = Command::new(bin("strata-osd"))
            .args(["--mkfs", "--data"])
            .arg(&dir)
            .arg("--conf")
            .arg(&self.conf)
            .output()
            .expect("run strata-osd --mkfs");
        assert!(
            out.status.success(),
            "mkfs osd: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let s = String::from_utf8_lossy(&out.stdout).to_string();
        s.split_whitespace()
            .find_map(|w| w.strip_prefix("osd.").and_then(|n| n.parse().ok()))
            .expect("mkfs prints the id")
    }

    pub fn start_osd(&mut self, i: u32) {
        let dir = self.path().join(format!("osd{i}"));
        let mut cmd = Command::new(bin("strata-osd"));
        cmd.arg("--data")
            .arg(&dir)
            .arg("--conf")
            .arg(&self.conf)
            .arg("-o")
            .arg(format!("public_addr={}.{}:0", self.net, 100 + i))
            .arg("-o")
            .arg(format!("metrics_addr={}", self.osd_metrics_addr(i)));
        for o in &self.osd_opts {
            cmd.arg("-o").arg(o);
        }
        let child = cmd
            .stdout(Stdio::null())
            .stderr(self.log(&format!("osd.{i}")))
            .spawn()
            .expect("start strata-osd");
        self.osds.insert(i, child);
    }

    /// Whether this harness runs OSD `i` now.
    pub fn runs_osd(&self, i: u32) -> bool {
        self.osds.contains_key(&i)
    }

    pub fn kill_osd(&mut self, i: u32) {
        if let Some(mut c) = self.osds.remove(&i) {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Adds `n` OSDs and waits until all are up.
    pub fn add_osds(&mut self, n: u32) {
        for _ in 0..n {
            let id = self.mkfs_osd(self.osds.len() as u32);
            self.start_osd(id);
        }
        let want = self.osds.len() as u64;
        wait_for(60, "OSDs up", || {
            let s = self.status()?;
            (s["osdmap"]["num_up_osds"].as_u64() == Some(want)).then_some(())
        });
    }

    /// Runs the admin CLI.
    pub fn strata(&self, args: &[&str]) -> Output {
        Command::new(bin("strata"))
            .arg("--conf")
            .arg(&self.conf)
            .args(["--connect-timeout", "20"])
            .args(args)
            .output()
            .expect("run strata")
    }

    /// Runs the CLI and returns stdout, panicking with stderr on failure.
    pub fn ok(&self, args: &[&str]) -> String {
        let o = self.strata(args);
        assert!(
            o.status.success(),
            "strata {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).to_string()
    }

    pub fn json(&self, args: &[&str]) -> Option<Value> {
        let mut a = args.to_vec();
        a.extend(["--format", "json", "--connect-timeout", "5"]);
        let o = self.strata(&a);
        if !o.status.success() {
            return None;
        }
        serde_json::from_slice(&o.stdout).ok()
    }

    pub fn status(&self) -> Option<Value> {
        self.json(&["status"])
    }

    pub fn wait_quorum(&self, n: usize) -> Value {
        wait_for(60, "the monitor quorum", || {
            let q = self.json(&["quorum_status"])?;
            (q["quorum_names"].as_array()?.len() == n && q["quorum_leader_name"].is_string())
                .then_some(q)
        })
    }

    pub fn leader(&self) -> String {
        self.wait_quorum_leader()
    }

    fn wait_quorum_leader(&self) -> String {
        wait_for(60, "a leader", || {
            let q = self.json(&["quorum_status"])?;
            q["quorum_leader_name"].as_str().map(str::to_string)
        })
    }

    pub fn osd_up(&self, id: u32) -> Option<bool> {
        let d = self.json(&["osd", "dump"])?;
        let o = d["osds"]
            .as_array()?
            .iter()
            .find(|o| o["osd"] == id)?
            .clone();
        Some(o["up"] == 1)
    }
}

/// `GET /metrics` from `addr`.
pub fn scrape(addr: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(b"GET /metrics HTTP/1.0\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    out.starts_with("HTTP/1.0 200").then_some(out)
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for (_, mut c) in std::mem::take(&mut self.mons) {
            let _ = c.kill();
            let _ = c.wait();
        }
        for (_, mut c) in std::mem::take(&mut self.osds) {
            let _ = c.kill();
            let _ = c.wait();
        }
        if std::thread::panicking() {
            // Keep the logs of a failed test where a person can read them.
            let keep = self.dir.path().to_path_buf();
            let logs =
                std::env::temp_dir().join(format!("strata-test-logs-{}", std::process::id()));
            let _ = std::fs::create_dir_all(&logs);
            if let Ok(rd) = std::fs::read_dir(&keep) {
                for e in rd.flatten() {
                    if e.path().extension().is_some_and(|x| x == "log") {
                        let _ = std::fs::copy(e.path(), logs.join(e.file_name()));
                    }
                }
            }
            eprintln!("daemon logs copied to {}", logs.display());
        }
    }
}
