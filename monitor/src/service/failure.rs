//! OSD failure detection, run by the leader. OSDs heartbeat each other
//! and report a peer that stops answering; when enough distinct OSDs
//! (`mon_osd_min_down_reporters`, fewer if fewer others are up) report
//! the same peer, it is marked down. An OSD that sends no beacon for
//! `mon_osd_report_timeout` is marked down by the monitors alone. A down
//! OSD is marked out after `mon_osd_down_out_interval` unless `noout`.
//! This state is not replicated: a new leader starts its clocks afresh.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use cluster::OsdMap;

pub struct Detector {
    beacons: HashMap<u32, Instant>,
    /// target -> reporter -> when reported.
    reports: HashMap<u32, HashMap<u32, Instant>>,
}

pub struct Settings {
    pub min_reporters: u32,
    pub report_timeout: Duration,
    pub grace: Duration,
    pub down_out_interval: Duration,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Verdicts {
    pub down: Vec<u32>,
    pub out: Vec<u32>,
}

impl Detector {
    /// A detector that treats every OSD as just heard from.
    pub fn new(map: &OsdMap, now: Instant) -> Detector {
        Detector {
            beacons: map.osds.keys().map(|id| (*id, now)).collect(),
            reports: HashMap::new(),
        }
    }

    pub fn beacon(&mut self, osd: u32, now: Instant) {
        self.beacons.insert(osd, now);
    }

    /// A failure report (`failed_for_ms > 0`) or its retraction.
    pub fn report(&mut self, target: u32, reporter: u32, failed_for_ms: u64, now: Instant) {
        if failed_for_ms == 0 {
            if let Some(r) = self.reports.get_mut(&target) {
                r.remove(&reporter);
            }
        } else {
            self.reports
                .entry(target)
                .or_default()
                .insert(reporter, now);
        }
    }

    /// What to mark down and out now.
    pub fn tick(&mut self, map: &OsdMap, now: Instant, now_ms: u64, s: &Settings) -> Verdicts {
        let mut v = Verdicts::default();
        // Reports go stale: a reporter that stopped repeating itself has
        // seen the peer again or is gone itself.
        let fresh = s.grace * 2;
        for r in self.reports.values_mut() {
            r.retain(|reporter, t| now.duration_since(*t) <= fresh && map.is_up(*reporter));
        }
        let up = map.num_up() as u32;
        for (id, o) in &map.osds {
            if !o.up {
                self.reports.remove(id);
                continue;
            }
            let others_up = up.saturating_sub(1);
            let needed = s.min_reporters.min(others_up).max(1);
            let reporters = self.reports.get(id).map_or(0, |r| r.len() as u32);
            let last = *self.beacons.entry(*id).or_insert(now);
            if reporters >= needed || now.duration_since(last) > s.report_timeout {
                v.down.push(*id);
            }
        }
        if !map.flags.contains("noout") {
            let wait = s.down_out_interval.as_millis() as u64;
            for (id, o) in &map.osds {
                if !o.up
                    && o.is_in()
                    && o.down_since_ms > 0
                    && now_ms.saturating_sub(o.down_since_ms) >= wait
                {
                    v.out.push(*id);
                }
            }
        }
        v
    }

    /// An OSD that booted starts clean.
    pub fn booted(&mut self, osd: u32, now: Instant) {
        self.reports.remove(&osd);
        self.beacons.insert(osd, now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cluster::osdmap::{OsdInfo, REWEIGHT_IN};

    fn map(up: &[bool]) -> OsdMap {
        let mut m = OsdMap::default();
        for (i, u) in up.iter().enumerate() {
            m.osds.insert(
                i as u32,
                OsdInfo {
                    id: i as u32,
                    uuid: String::new(),
                    addr: String::new(),
                    hostname: String::new(),
                    up: *u,
                    reweight: REWEIGHT_IN,
                    up_from: 1,
                    up_thru: 0,
                    down_since_ms: if *u { 0 } else { 1_000 },
                    out_by_operator: false,
                    fullness: Default::default(),
                },
            );
        }
        m
    }

    fn settings() -> Settings {
        Settings {
            min_reporters: 2,
            report_timeout: Duration::from_secs(900),
            grace: Duration::from_secs(20),
            down_out_interval: Duration::from_secs(600),
        }
    }

    #[test]
    fn two_reporters_mark_a_peer_down() {
        let m = map(&[true, true, true, true]);
        let t = Instant::now();
        let mut d = Detector::new(&m, t);
        d.report(3, 0, 21_000, t);
        assert_eq!(d.tick(&m, t, 0, &settings()).down, Vec::<u32>::new());
        d.report(3, 0, 21_000, t);
        assert!(
            d.tick(&m, t, 0, &settings()).down.is_empty(),
            "one reporter twice is one"
        );
        d.report(3, 1, 21_000, t);
        assert_eq!(d.tick(&m, t, 0, &settings()).down, vec![3]);
        // A retraction takes a report back.
        d.report(3, 1, 0, t);
        assert!(d.tick(&m, t, 0, &settings()).down.is_empty());
    }

    #[test]
    fn with_one_other_osd_its_report_is_enough() {
        let m = map(&[true, true]);
        let t = Instant::now();
        let mut d = Detector::new(&m, t);
        d.report(1, 0, 21_000, t);
        assert_eq!(d.tick(&m, t, 0, &settings()).down, vec![1]);
    }

    #[test]
    fn stale_reports_and_down_reporters_do_not_count() {
        let mut m = map(&[true, true, true, true]);
        let t = Instant::now();
        let mut d = Detector::new(&m, t);
        d.report(2, 0, 21_000, t);
        d.report(2, 1, 21_000, t);
        // The second reporter went down itself: one report left, two needed.
        m.osds.get_mut(&1).unwrap().up = false;
        assert!(d.tick(&m, t, 0, &settings()).down.is_empty());
        let later = t + Duration::from_secs(41);
        let m = map(&[true, true, true]);
        let mut d = Detector::new(&m, t);
        d.report(2, 0, 21_000, t);
        d.report(2, 1, 21_000, t);
        assert!(d.tick(&m, later, 0, &settings()).down.is_empty());
    }

    #[test]
    fn silence_and_the_out_timer() {
        let m = map(&[true, false]);
        let t = Instant::now();
        let mut d = Detector::new(&m, t);
        let s = settings();
        let v = d.tick(&m, t + Duration::from_secs(901), 1_000 + 599_999, &s);
        assert_eq!(v.down, vec![0], "no beacon for the report timeout");
        assert!(v.out.is_empty());
        let v = d.tick(&m, t, 1_000 + 600_000, &s);
        assert_eq!(v.out, vec![1]);
        let mut m = m;
        m.flags.insert("noout".into());
        assert!(d.tick(&m, t, 1_000 + 600_000, &s).out.is_empty());
    }
}
