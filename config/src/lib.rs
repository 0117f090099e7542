//! Strata's configuration: one YAML file read by every daemon and tool.
//!
//! Top-level keys are the options (named as Ceph names them where Ceph has
//! them). A `daemons:` map holds per-daemon sections, like Ceph's
//! `[osd.3]`, whose keys override the top level for that daemon; then
//! `-o KEY=VALUE` flags override both. Every option and its default is in
//! [`Options`] and docs/config.md.

mod options;

use std::path::{Path, PathBuf};

pub use options::Options;
use serde_yaml_ng::{Mapping, Value};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {path}: {reason}")]
    File { path: String, reason: String },
    #[error("option override '{0}': expected KEY=VALUE")]
    BadOverride(String),
    #[error("config {origin}: {reason}")]
    Invalid { origin: String, reason: String },
}

/// Where the config file is: `--conf`, then `STRATA_CONF`, then
/// `/etc/strata/strata.yaml`.
pub fn config_path(flag: Option<&Path>) -> PathBuf {
    flag.map(Path::to_path_buf)
        .or_else(|| std::env::var_os("STRATA_CONF").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("/etc/strata/strata.yaml"))
}

/// Loads the options for `entity` (`mon.a`, `osd.3`, `client.admin`) from
/// the file at `path`, applying its `daemons:` section and then
/// `overrides` (`KEY=VALUE`). Relative paths in the file are taken from the
/// file's directory.
pub fn load(path: &Path, entity: &str, overrides: &[String]) -> Result<Options, ConfigError> {
    let origin = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
        path: origin.clone(),
        reason: e.to_string(),
    })?;
    let dir = path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let dir = if dir.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        dir
    };
    from_text(&text, &origin, &dir, entity, overrides)
}

/// As [`load`], from text already read; `dir` anchors relative paths.
pub fn from_text(
    text: &str,
    origin: &str,
    dir: &Path,
    entity: &str,
    overrides: &[String],
) -> Result<Options, ConfigError> {
    let invalid = |reason: String| ConfigError::Invalid {
        origin: origin.to_string(),
        reason,
    };
    let doc: Value = if text.trim().is_empty() {
        Value::Mapping(Mapping::new())
    } else {
        serde_yaml_ng::from_str(text).map_err(|e| invalid(e.to_string()))?
    };
    let Value::Mapping(mut top) = doc else {
        return Err(invalid("the top level must be a map of options".into()));
    };
    let daemons = top.remove("daemons");
    if let Some(Value::Mapping(d)) = &daemons {
        if let Some(section) = d.get(entity) {
            let Value::Mapping(section) = section else {
                return Err(invalid(format!(
                    "daemons.{entity} must be a map of options"
                )));
            };
            for (k, v) in section {
                top.insert(k.clone(), v.clone());
            }
        }
    } else if daemons.is_some() {
        return Err(invalid(
            "'daemons' must be a map of per-daemon sections".into(),
        ));
    }
    for o in overrides {
        let (k, v) = o
            .split_once('=')
            .ok_or_else(|| ConfigError::BadOverride(o.clone()))?;
        let v: Value = serde_yaml_ng::from_str(v).unwrap_or(Value::String(v.to_string()));
        top.insert(Value::String(k.trim().to_string()), v);
    }
    let mut opts: Options = serde_yaml_ng::from_value(Value::Mapping(top.clone()))
        .map_err(|e| invalid(name_the_option(&top).unwrap_or_else(|| e.to_string())))?;
    opts.anchor(dir, entity);
    opts.validate().map_err(invalid)?;
    Ok(opts)
}

/// Finds the option whose value does not fit, so the error can name it.
fn name_the_option(top: &Mapping) -> Option<String> {
    top.iter().find_map(|(k, v)| {
        let mut one = Mapping::new();
        one.insert(k.clone(), v.clone());
        serde_yaml_ng::from_value::<Options>(Value::Mapping(one))
            .err()
            .map(|e| {
                let name = k.as_str().unwrap_or("?");
                format!("option {name}: {e}")
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "
fsid: 7f0c
mon_host:
  a: 127.0.0.1:3300
osd_heartbeat_grace: 20
keyring: client.admin.keyring
daemons:
  osd.1:
    osd_heartbeat_grace: 5
    metrics_addr: 127.0.0.1:9101
";

    #[test]
    fn sections_and_overrides_apply_in_order() {
        let d = Path::new("/etc/strata");
        let o = from_text(FILE, "t", d, "osd.0", &[]).unwrap();
        assert_eq!(o.osd_heartbeat_grace, 20.0);
        assert_eq!(o.metrics_addr, "");
        assert_eq!(
            o.keyring,
            Some(PathBuf::from("/etc/strata/client.admin.keyring"))
        );
        let o = from_text(FILE, "t", d, "osd.1", &[]).unwrap();
        assert_eq!(o.osd_heartbeat_grace, 5.0);
        assert_eq!(o.metrics_addr, "127.0.0.1:9101");
        let o = from_text(FILE, "t", d, "osd.1", &["osd_heartbeat_grace=7.5".into()]).unwrap();
        assert_eq!(o.osd_heartbeat_grace, 7.5);
        assert_eq!(o.osd_data, PathBuf::from("/var/lib/strata/osd/osd.1"));
        assert_eq!(o.mon_osd_down_out_interval, 600.0);
    }

    #[test]
    fn the_example_config_loads_for_every_daemon() {
        let path = Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../deploy/examples/strata.yaml"
        ));
        for who in ["mon.a", "osd.2", "client.admin"] {
            let o = load(path, who, &[]).unwrap();
            assert_eq!(o.mons().len(), 3);
        }
        assert_eq!(
            load(path, "osd.1", &[]).unwrap().metrics_addr,
            "10.0.0.2:9284"
        );
    }

    #[test]
    fn bad_files_name_the_problem() {
        let d = Path::new(".");
        let e = from_text("osd_heartbeat_grace: soon", "f.yaml", d, "osd.0", &[]).unwrap_err();
        assert!(
            e.to_string().contains("config f.yaml")
                && e.to_string().contains("osd_heartbeat_grace"),
            "{e}"
        );
        let e = from_text("no_such_option: 1", "f.yaml", d, "osd.0", &[]).unwrap_err();
        assert!(e.to_string().contains("no_such_option"), "{e}");
        let e = from_text("fsid: x", "f.yaml", d, "osd.0", &["grace".into()]).unwrap_err();
        assert!(e.to_string().contains("'grace'"), "{e}");
        let e = from_text("osd_heartbeat_grace: 0", "f.yaml", d, "osd.0", &[]).unwrap_err();
        assert!(e.to_string().contains("osd_heartbeat_grace"), "{e}");
        let e = load(Path::new("/nonexistent/s.yaml"), "osd.0", &[]).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/s.yaml"), "{e}");
    }
}
