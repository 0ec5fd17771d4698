//! Retransmission schedules. Pure arithmetic; the randomness is passed in so tests can pin it.

use std::time::Duration;

/// RFC 2131 §4.1: the first retransmission after 4 s, then 8, 16, 32 and at most 64 s, each
/// "randomized by the value of a uniform random number chosen from the range -1 to +1" second.
/// `attempt` counts transmissions already sent (1 = the wait after the first one); `jitter` is in
/// [-1, 1].
pub(crate) fn v4_wait(attempt: u32, jitter: f64) -> Duration {
    let base = 4u64 << attempt.saturating_sub(1).min(4); // 4, 8, 16, 32, 64
    let secs = (base as f64 + jitter.clamp(-1.0, 1.0)).max(0.0);
    Duration::from_secs_f64(secs)
}

/// RFC 8415 §18.2.6 / §7.6 timers for Information-request.
pub(crate) const INF_MAX_DELAY: Duration = Duration::from_secs(1);
/// INF_TIMEOUT (IRT).
pub(crate) const INF_TIMEOUT: Duration = Duration::from_secs(1);
/// INF_MAX_RT (MRT).
pub(crate) const INF_MAX_RT: Duration = Duration::from_secs(3600);

/// RFC 8415 §15: `RT = IRT + RAND*IRT` first, then `RT = 2*RTprev + RAND*RTprev`, capped with
/// `RT = MRT + RAND*MRT`; RAND is uniform in [-0.1, 0.1]. `prev` is `None` for the first RT.
pub(crate) fn v6_next_rt(prev: Option<Duration>, rand: f64) -> Duration {
    let rand = rand.clamp(-0.1, 0.1);
    let rt = match prev {
        None => INF_TIMEOUT.as_secs_f64() * (1.0 + rand),
        Some(p) => p.as_secs_f64() * (2.0 + rand),
    };
    let mrt = INF_MAX_RT.as_secs_f64();
    let rt = if rt > mrt { mrt * (1.0 + rand) } else { rt };
    Duration::from_secs_f64(rt.max(0.0))
}

/// A uniform random number in `[lo, hi]`.
pub(crate) fn uniform(lo: f64, hi: f64) -> f64 {
    let r: u32 = rand::random();
    lo + (hi - lo) * (f64::from(r) / f64::from(u32::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v4_schedule_doubles_to_64() {
        let secs: Vec<u64> = (1..=7).map(|a| v4_wait(a, 0.0).as_secs()).collect();
        assert_eq!(secs, [4, 8, 16, 32, 64, 64, 64]);
        assert_eq!(v4_wait(1, -1.0), Duration::from_secs(3));
        assert_eq!(v4_wait(1, 1.0), Duration::from_secs(5));
        assert_eq!(
            v4_wait(1, 7.0),
            Duration::from_secs(5),
            "jitter is clamped to ±1 s"
        );
    }

    #[test]
    fn v6_schedule_doubles_with_jitter_and_caps() {
        let first = v6_next_rt(None, 0.0);
        assert_eq!(first, Duration::from_secs(1));
        assert_eq!(v6_next_rt(Some(first), 0.0), Duration::from_secs(2));
        assert_eq!(v6_next_rt(None, 0.1), Duration::from_millis(1100));
        assert_eq!(
            v6_next_rt(None, -0.5),
            Duration::from_millis(900),
            "clamped"
        );
        let capped = v6_next_rt(Some(Duration::from_secs(3000)), 0.0);
        assert_eq!(capped, INF_MAX_RT);
    }

    #[test]
    fn uniform_stays_in_range() {
        for _ in 0..1000 {
            let u = uniform(-1.0, 1.0);
            assert!((-1.0..=1.0).contains(&u));
        }
    }
}
