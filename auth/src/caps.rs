//! Capabilities: what an entity may do, in Ceph's notation.
//!
//! Caps are pairs of a service and a grant, as `ceph auth get-or-create`
//! takes them: `mon 'allow r'`, `mon 'allow *'`, `osd 'allow rw pool=data'`,
//! `mon 'allow profile bootstrap-osd'`. Grants within one service are
//! separated by commas. The canonical text is what the monitors store.

use std::fmt;

use crate::AuthError;

/// What an entity may ask the monitors.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum MonCap {
    #[default]
    None,
    /// Only allocate ids for new OSDs (`allow profile bootstrap-osd`).
    BootstrapOsd,
    /// Read maps and status.
    Read,
    /// Read, and change the maps.
    ReadWrite,
    /// Everything, auth included (`allow *`).
    All,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OsdGrant {
    pub write: bool,
    /// `None`: every pool.
    pub pool: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Caps {
    pub mon: MonCap,
    pub osd: Vec<OsdGrant>,
}

impl Caps {
    /// `mon 'allow *' osd 'allow *'`: the administrator.
    pub fn admin() -> Caps {
        Caps {
            mon: MonCap::All,
            osd: vec![OsdGrant {
                write: true,
                pool: None,
            }],
        }
    }

    /// Parses `SERVICE GRANTS [SERVICE GRANTS...]` given as words (the
    /// quotes of a shell command line already removed).
    pub fn parse_words(words: &[String]) -> Result<Caps, AuthError> {
        if !words.len().is_multiple_of(2) {
            return Err(AuthError::BadCaps(format!(
                "'{}': caps come in pairs of service and grant, e.g. mon 'allow r' osd 'allow rw pool=data'",
                words.join(" ")
            )));
        }
        let mut caps = Caps::default();
        for pair in words.chunks(2) {
            match pair[0].as_str() {
                "mon" => caps.mon = parse_mon(&pair[1])?,
                "osd" => caps.osd = parse_osd(&pair[1])?,
                other => {
                    return Err(AuthError::BadCaps(format!(
                        "unknown service '{other}' (expected mon or osd)"
                    )))
                }
            }
        }
        Ok(caps)
    }

    /// Parses the canonical text ([`Caps`]'s `Display`).
    pub fn parse(text: &str) -> Result<Caps, AuthError> {
        let words = split_quoted(text)?;
        Caps::parse_words(&words)
    }

    pub fn mon_read(&self) -> bool {
        self.mon >= MonCap::Read
    }

    pub fn mon_write(&self) -> bool {
        self.mon >= MonCap::ReadWrite
    }

    pub fn mon_all(&self) -> bool {
        self.mon == MonCap::All
    }

    /// May this entity read (or, with `write`, change) objects in `pool`?
    pub fn osd_allows(&self, pool: &str, write: bool) -> bool {
        self.osd
            .iter()
            .any(|g| (g.write || !write) && g.pool.as_deref().is_none_or(|p| p == pool))
    }
}

fn parse_mon(grant: &str) -> Result<MonCap, AuthError> {
    let g: Vec<&str> = grant.split_whitespace().collect();
    match g.as_slice() {
        ["allow", "*"] => Ok(MonCap::All),
        ["allow", "r"] => Ok(MonCap::Read),
        ["allow", "rw"] | ["allow", "rwx"] => Ok(MonCap::ReadWrite),
        ["allow", "profile", "bootstrap-osd"] => Ok(MonCap::BootstrapOsd),
        _ => Err(AuthError::BadCaps(format!(
            "mon '{grant}': expected 'allow *', 'allow r', 'allow rw' or 'allow profile bootstrap-osd'"
        ))),
    }
}

fn parse_osd(grants: &str) -> Result<Vec<OsdGrant>, AuthError> {
    grants
        .split(',')
        .map(|grant| {
            let g: Vec<&str> = grant.split_whitespace().collect();
            let bad = || {
                AuthError::BadCaps(format!(
                    "osd '{}': expected 'allow *', 'allow r', 'allow rw', optionally with pool=NAME",
                    grant.trim()
                ))
            };
            let (perm, rest) = match g.as_slice() {
                ["allow", perm, rest @ ..] => (*perm, rest),
                _ => return Err(bad()),
            };
            let write = match perm {
                "*" | "rw" | "rwx" => true,
                "r" => false,
                _ => return Err(bad()),
            };
            let pool = match rest {
                [] => None,
                [p] => Some(
                    p.strip_prefix("pool=")
                        .filter(|n| !n.is_empty())
                        .ok_or_else(bad)?
                        .to_string(),
                ),
                _ => return Err(bad()),
            };
            Ok(OsdGrant { write, pool })
        })
        .collect()
}

/// Splits `mon 'allow r' osd 'allow rw pool=x'` into words, honouring
/// single quotes.
fn split_quoted(text: &str) -> Result<Vec<String>, AuthError> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut has = false;
    for c in text.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                has = true;
            }
            c if c.is_whitespace() && !quoted => {
                if has {
                    words.push(std::mem::take(&mut cur));
                    has = false;
                }
            }
            c => {
                cur.push(c);
                has = true;
            }
        }
    }
    if quoted {
        return Err(AuthError::BadCaps(format!("'{text}': unbalanced quote")));
    }
    if has {
        words.push(cur);
    }
    Ok(words)
}

impl fmt::Display for Caps {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        let mon = match self.mon {
            MonCap::None => None,
            MonCap::BootstrapOsd => Some("allow profile bootstrap-osd"),
            MonCap::Read => Some("allow r"),
            MonCap::ReadWrite => Some("allow rw"),
            MonCap::All => Some("allow *"),
        };
        if let Some(m) = mon {
            parts.push(format!("mon '{m}'"));
        }
        if !self.osd.is_empty() {
            let grants: Vec<String> = self
                .osd
                .iter()
                .map(|g| {
                    let perm = if g.write { "rw" } else { "r" };
                    match &g.pool {
                        Some(p) => format!("allow {perm} pool={p}"),
                        None if g.write => "allow *".to_string(),
                        None => "allow r".to_string(),
                    }
                })
                .collect();
            parts.push(format!("osd '{}'", grants.join(", ")));
        }
        write!(f, "{}", parts.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn parses_ceph_style_caps() {
        let c = Caps::parse_words(&w(&[
            "mon",
            "allow r",
            "osd",
            "allow rw pool=data, allow r pool=logs",
        ]))
        .unwrap();
        assert_eq!(c.mon, MonCap::Read);
        assert!(c.mon_read() && !c.mon_write());
        assert!(c.osd_allows("data", true));
        assert!(c.osd_allows("logs", false));
        assert!(!c.osd_allows("logs", true));
        assert!(!c.osd_allows("other", false));
        let text = c.to_string();
        assert_eq!(
            text,
            "mon 'allow r' osd 'allow rw pool=data, allow r pool=logs'"
        );
        assert_eq!(Caps::parse(&text).unwrap(), c);
        assert_eq!(
            Caps::parse(&Caps::admin().to_string()).unwrap(),
            Caps::admin()
        );
    }

    #[test]
    fn bad_caps_say_what_is_wrong() {
        for (words, want) in [
            (w(&["mon"]), "pairs"),
            (w(&["mgr", "allow r"]), "unknown service 'mgr'"),
            (w(&["mon", "allow x"]), "mon 'allow x'"),
            (w(&["osd", "allow rw pool="]), "osd 'allow rw pool='"),
        ] {
            let e = Caps::parse_words(&words).unwrap_err().to_string();
            assert!(e.contains(want), "{e}");
        }
        assert!(Caps::parse("mon 'allow r")
            .unwrap_err()
            .to_string()
            .contains("unbalanced"));
    }
}
