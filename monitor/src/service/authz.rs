//! Who may ask what. Monitors may do anything; an OSD may report about
//! itself and read maps, if the OSDMap still has it; a client needs caps
//! from the auth database (`auth get-or-create`), so a removed client is
//! refused even though its certificate still verifies.

use auth::{Caps, EntityKind, EntityName, MonCap};
use cluster::msg::mon::{MonCommand, MonRequest};
use cluster::msg::RemoteError;

use crate::state::ClusterState;

pub fn authorize(
    state: &ClusterState,
    from: &EntityName,
    req: &MonRequest,
) -> Result<(), RemoteError> {
    let denied = |what: &str| {
        Err(RemoteError::denied(format!(
            "{from} is not allowed to {what}"
        )))
    };
    match from.kind {
        EntityKind::Mon => {
            if state.is_bootstrapped() && state.monmap.rank(&from.id).is_none() {
                return denied("act as a monitor: it is not in the monmap");
            }
            Ok(())
        }
        EntityKind::Osd => {
            let id: u32 = from.id.parse().unwrap_or(u32::MAX);
            if !state.osdmap.osds.contains_key(&id) {
                return denied("talk to the monitors: the OSD does not exist in the OSDMap");
            }
            match req {
                MonRequest::Status
                | MonRequest::Subscribe { .. }
                | MonRequest::GetMaps { .. }
                | MonRequest::AuthCaps { .. } => Ok(()),
                MonRequest::Beacon { osd, .. } if *osd == id => Ok(()),
                MonRequest::Failure { reporter, .. } if *reporter == id => Ok(()),
                MonRequest::PgStats { osd, .. } if *osd == id => Ok(()),
                MonRequest::Command(MonCommand::OsdBoot { id: b, .. }) if *b == id => Ok(()),
                MonRequest::Command(MonCommand::OsdAlive { id: a, .. }) if *a == id => Ok(()),
                MonRequest::Command(MonCommand::OsdPgTemp { id: a, .. }) if *a == id => Ok(()),
                // Going down cleanly.
                MonRequest::Command(MonCommand::OsdDown { ids }) if ids == &[id] => Ok(()),
                _ => denied("send this request (OSDs may only report on themselves)"),
            }
        }
        EntityKind::Client => {
            let name = from.to_string();
            let Some(rec) = state.auth.get(&name) else {
                return Err(RemoteError::denied(format!(
                    "{name} is not a known entity (never created, or removed with auth rm)"
                )));
            };
            let caps = Caps::parse(&rec.caps).unwrap_or_default();
            let ok = match req {
                MonRequest::Status | MonRequest::Subscribe { .. } | MonRequest::GetMaps { .. } => {
                    caps.mon_read()
                }
                MonRequest::AuthList | MonRequest::AuthGet { .. } | MonRequest::AuthCaps { .. } => {
                    caps.mon_all()
                }
                MonRequest::Beacon { .. }
                | MonRequest::Failure { .. }
                | MonRequest::PgStats { .. } => false,
                MonRequest::Command(MonCommand::OsdNew { .. }) => {
                    caps.mon == MonCap::BootstrapOsd || caps.mon_write()
                }
                MonRequest::Command(MonCommand::OsdBoot { .. })
                | MonRequest::Command(MonCommand::OsdAlive { .. })
                | MonRequest::Command(MonCommand::OsdPgTemp { .. }) => false,
                MonRequest::Command(c) if c.is_auth() => caps.mon_all(),
                MonRequest::Command(_) => caps.mon_write(),
            };
            if ok {
                Ok(())
            } else {
                denied(&format!("do this with caps \"{}\"", rec.caps))
            }
        }
    }
}
