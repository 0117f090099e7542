//! Space: the nearfull, backfillfull and full ratios an operator sets
//! (`osd set-nearfull-ratio` etc.), and the OSD states the leader derives
//! from the OSDs' space reports and those ratios (written into the map,
//! so that OSDs refuse writes to a full OSD's PGs and skip backfill into
//! a backfillfull one, and clients see why).

use cluster::msg::RemoteError;
use cluster::osdmap::Fullness;

use super::{done, CmdResult, Edit};

/// `osd set-{which}-ratio RATIO`: the ratios must stay ordered
/// (nearfull <= backfillfull <= full), as Ceph warns when they are not.
pub(super) fn set_ratio(e: &mut Edit<'_>, which: &str, ratio: f64) -> CmdResult {
    if !(ratio > 0.0 && ratio <= 1.0) {
        return Err(RemoteError::invalid(format!(
            "{which} ratio {ratio} is not in (0, 1]"
        )));
    }
    let ppm = (ratio * 1_000_000.0).round() as u32;
    let mut r = e.map.full_ratios;
    match which {
        "nearfull" => r.nearfull_ppm = ppm,
        "backfillfull" => r.backfillfull_ppm = ppm,
        "full" => r.full_ppm = ppm,
        _ => {
            return Err(RemoteError::invalid(format!(
                "unknown ratio '{which}' (nearfull, backfillfull or full)"
            )))
        }
    }
    if !(r.nearfull_ppm <= r.backfillfull_ppm && r.backfillfull_ppm <= r.full_ppm) {
        return Err(RemoteError::invalid(format!(
            "the ratios must be ordered nearfull ({}) <= backfillfull ({}) <= full ({})",
            ppm_str(r.nearfull_ppm),
            ppm_str(r.backfillfull_ppm),
            ppm_str(r.full_ppm)
        )));
    }
    e.map.full_ratios = r;
    done(format!("{which} ratio set to {ratio}"))
}

fn ppm_str(ppm: u32) -> String {
    format!("{}", f64::from(ppm) / 1_000_000.0)
}

/// The leader's verdicts from the OSDs' space reports.
pub(super) fn set_fullness(e: &mut Edit<'_>, states: &[(u32, Fullness)]) -> CmdResult {
    let mut changed = Vec::new();
    for (id, f) in states {
        if let Some(o) = e.map.osds.get_mut(id) {
            if o.fullness != *f {
                o.fullness = *f;
                changed.push(format!("osd.{id} {}", f.name()));
            }
        }
    }
    done(changed.join(", "))
}
