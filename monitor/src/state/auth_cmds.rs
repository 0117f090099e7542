//! `auth get-or-create` and `auth rm`: client identities and their caps.

use auth::{Caps, EntityKind, EntityName};
use cluster::msg::mon::Done;
use cluster::msg::RemoteError;

use super::{AuthRecord, CmdResult, Edit};

fn client_name(entity: &str) -> Result<EntityName, RemoteError> {
    let name: EntityName = entity
        .parse()
        .map_err(|e: auth::AuthError| RemoteError::invalid(e.to_string()))?;
    if name.kind != EntityKind::Client {
        return Err(RemoteError::invalid(format!(
            "{entity}: only client entities are managed by auth; monitors and OSDs get theirs at mkfs"
        )));
    }
    Ok(name)
}

pub(super) fn get_or_create(
    e: &mut Edit<'_>,
    entity: &str,
    caps: &str,
    issued: Option<&(String, String)>,
) -> CmdResult {
    client_name(entity)?;
    let caps = Caps::parse(caps)
        .map_err(|err| RemoteError::invalid(format!("{entity}: {err}")))?
        .to_string();
    if let Some(existing) = e.auth.get(entity) {
        if existing.caps != caps {
            return Err(RemoteError::invalid(format!(
                "{entity} exists with different caps ({}); use auth rm first",
                existing.caps
            )));
        }
        return Ok(Done {
            message: format!("{entity} exists"),
            ..Default::default()
        });
    }
    let (cert_pem, key_pem) = issued
        .cloned()
        .ok_or_else(|| RemoteError::invalid(format!("{entity}: no credentials were issued")))?;
    e.auth.insert(
        entity.to_string(),
        AuthRecord {
            caps,
            cert_pem,
            key_pem,
        },
    );
    Ok(Done {
        message: format!("{entity} created"),
        ..Default::default()
    })
}

pub(super) fn remove(e: &mut Edit<'_>, entity: &str) -> CmdResult {
    client_name(entity)?;
    let is_admin = |r: &AuthRecord| Caps::parse(&r.caps).is_ok_and(|c| c.mon_all());
    if e.auth.get(entity).is_some_and(is_admin)
        && e.auth.iter().filter(|(_, r)| is_admin(r)).count() == 1
    {
        return Err(RemoteError::busy(format!(
            "{entity} is the last entity with mon 'allow *'; removing it would lock every administrator out"
        )));
    }
    if e.auth.remove(entity).is_none() {
        return Err(RemoteError::not_found(format!(
            "entity {entity} does not exist"
        )));
    }
    super::done(format!("removed {entity}"))
}
