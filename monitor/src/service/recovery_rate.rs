//! The cluster's recovery rate and progress, from the primaries' PG
//! reports: each report carries the objects and bytes its primary has
//! recovered or backfilled so far; the increments over the last ten
//! seconds give the rate (`strata status`'s `io: recovery:` line), and a
//! recovery "event" runs from the moment object copies go missing or
//! misplaced until none are, its progress measured against the most
//! outstanding work seen.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use cluster::msg::mon::{PgStat, RecoveryView};

const WINDOW: Duration = Duration::from_secs(10);

#[derive(Default)]
pub struct RecoveryTracker {
    /// Each PG's last counters: (reporting OSD, objects, bytes).
    last: BTreeMap<(u64, u32), (u32, u64, u64)>,
    /// Increments, newest last.
    samples: VecDeque<(Instant, u64, u64)>,
    /// The recovery under way: when it began and the most work seen.
    event: Option<(Instant, u64)>,
}

impl RecoveryTracker {
    /// Takes one PG's report.
    pub fn record(&mut self, osd: u32, s: &PgStat, now: Instant) {
        let key = (s.pool, s.seed);
        let prev = self
            .last
            .insert(key, (osd, s.recovered_objects, s.recovered_bytes));
        // Counters restart with a new primary (or a restarted one).
        if let Some((o, objects, bytes)) = prev {
            if o == osd && s.recovered_objects >= objects && s.recovered_bytes >= bytes {
                let d = (s.recovered_objects - objects, s.recovered_bytes - bytes);
                if d != (0, 0) {
                    self.samples.push_back((now, d.0, d.1));
                }
            }
        }
        self.expire(now);
    }

    fn expire(&mut self, now: Instant) {
        while self
            .samples
            .front()
            .is_some_and(|(t, _, _)| now.duration_since(*t) > WINDOW)
        {
            self.samples.pop_front();
        }
    }

    /// The rate over the window, and the progress of the recovery under
    /// way given the object copies still degraded or misplaced.
    pub fn view(&mut self, outstanding: u64, now: Instant) -> RecoveryView {
        self.expire(now);
        let secs = WINDOW.as_secs_f64();
        let (objects, bytes) = self
            .samples
            .iter()
            .fold((0u64, 0u64), |(o, b), (_, so, sb)| (o + so, b + sb));
        let progress = if outstanding == 0 {
            self.event = None;
            None
        } else {
            let (start, most) = self.event.get_or_insert((now, outstanding));
            *most = (*most).max(outstanding);
            Some((
                now.duration_since(*start).as_secs_f64(),
                1.0 - outstanding as f64 / *most as f64,
            ))
        };
        RecoveryView {
            objects_per_sec: objects as f64 / secs,
            bytes_per_sec: bytes as f64 / secs,
            progress,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stat(seed: u32, objects: u64, bytes: u64) -> PgStat {
        PgStat {
            pool: 1,
            seed,
            state: "active+recovering".into(),
            num_objects: 10,
            num_bytes: 0,
            up: vec![],
            acting: vec![],
            last_update: (0, 0),
            reported_epoch: 1,
            last_epoch_clean: 0,
            num_objects_degraded: 0,
            num_objects_misplaced: 0,
            num_objects_unfound: 0,
            recovered_objects: objects,
            recovered_bytes: bytes,
        }
    }

    #[test]
    fn increments_within_the_window_make_the_rate_and_restarts_do_not_count() {
        let mut t = RecoveryTracker::default();
        let t0 = Instant::now();
        t.record(0, &stat(0, 5, 500), t0);
        t.record(0, &stat(0, 25, 2500), t0 + Duration::from_secs(1));
        // A new primary starts from zero: no negative increment.
        t.record(2, &stat(0, 3, 300), t0 + Duration::from_secs(2));
        t.record(2, &stat(0, 13, 1300), t0 + Duration::from_secs(3));
        let v = t.view(40, t0 + Duration::from_secs(3));
        assert_eq!(v.objects_per_sec, 3.0);
        assert_eq!(v.bytes_per_sec, 300.0);
        assert_eq!(v.progress, Some((0.0, 0.0)));
        let v = t.view(10, t0 + Duration::from_secs(5));
        assert_eq!(v.progress, Some((2.0, 0.75)));
        // Past the window the rate is gone; with nothing outstanding so
        // is the event.
        let v = t.view(0, t0 + Duration::from_secs(30));
        assert_eq!((v.objects_per_sec, v.progress), (0.0, None));
    }
}
