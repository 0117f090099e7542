//! Entity names: `mon.a`, `osd.3`, `client.admin`.

use std::fmt;
use std::str::FromStr;

use crate::error::AuthError;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EntityKind {
    Mon,
    Osd,
    Client,
}

impl EntityKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntityKind::Mon => "mon",
            EntityKind::Osd => "osd",
            EntityKind::Client => "client",
        }
    }
}

/// An entity: its kind and its id within the kind.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EntityName {
    pub kind: EntityKind,
    pub id: String,
}

impl EntityName {
    pub fn mon(id: &str) -> EntityName {
        EntityName {
            kind: EntityKind::Mon,
            id: id.to_string(),
        }
    }
    pub fn osd(id: u32) -> EntityName {
        EntityName {
            kind: EntityKind::Osd,
            id: id.to_string(),
        }
    }
    pub fn client(id: &str) -> EntityName {
        EntityName {
            kind: EntityKind::Client,
            id: id.to_string(),
        }
    }
}

impl fmt::Display for EntityName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.kind.as_str(), self.id)
    }
}

impl FromStr for EntityName {
    type Err = AuthError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || AuthError::BadEntity(s.to_string());
        let (kind, id) = s.split_once('.').ok_or_else(bad)?;
        let kind = match kind {
            "mon" => EntityKind::Mon,
            "osd" => EntityKind::Osd,
            "client" => EntityKind::Client,
            _ => return Err(bad()),
        };
        // Ids become DNS labels in certificates: lowercase letters, digits,
        // '-' inside labels, '.' between them.
        let labels_ok = id.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        });
        if id.is_empty() || id.len() > 200 || !labels_ok {
            return Err(bad());
        }
        if kind == EntityKind::Osd && id.parse::<u32>().is_err() {
            return Err(bad());
        }
        Ok(EntityName {
            kind,
            id: id.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ceph_style_names() {
        for ok in ["mon.a", "osd.3", "client.admin", "client.rgw.host-1"] {
            assert_eq!(ok.parse::<EntityName>().unwrap().to_string(), ok);
        }
        for bad in [
            "",
            "mon",
            "mon.",
            "osd.x",
            "disk.1",
            "client.Admin",
            "client.a_b",
            "client.-a",
            "client..a",
        ] {
            let e = bad.parse::<EntityName>().unwrap_err().to_string();
            assert!(e.contains("is not an entity name"), "{bad}: {e}");
        }
    }
}
