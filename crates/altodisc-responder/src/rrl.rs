//! Response rate limiting for UDP, per client prefix (off unless configured).
//!
//! UDP source addresses can be forged, so an authoritative server can be used to reflect and
//! amplify traffic at a victim; rate limiting per client prefix bounds that (the approach of
//! BIND's and NSD's RRL). TCP is never limited here: its handshake proves the address, and a
//! limited client is pointed at it by the TC=1 "slip" answers (RFC 7766 §5).
//!
//! Each prefix (default /24 for IPv4, /56 for IPv6) gets a token bucket of `burst` responses
//! refilled at `responses_per_second`, implemented as GCRA: one atomic "theoretical arrival
//! time" per hash slot, updated with compare-and-swap, so the query path takes no lock and
//! allocates nothing. Prefixes that share a slot share a bucket (stricter, never looser);
//! [`SLOTS`] keeps that rare.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use serde::Deserialize;

use crate::metrics::RrlAction;

/// Hash slots (buckets) of the limiter: 65536 × 8 octets.
pub const SLOTS: usize = 1 << 16;

/// The `[serve.rate_limit]` table.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Responses per second per client prefix, sustained.
    pub responses_per_second: u32,
    /// Responses a prefix may send at once above the rate (the bucket size); default: the rate.
    pub burst: Option<u32>,
    /// Of the limited responses, every `slip`-th is sent as an empty TC=1 answer (so a real
    /// client retries over TCP) and the others are dropped; 0 drops all. Default 2.
    #[serde(default = "default_slip")]
    pub slip: u32,
    /// IPv4 prefix length that forms one client (default 24).
    #[serde(default = "default_v4")]
    pub ipv4_prefix: u8,
    /// IPv6 prefix length that forms one client (default 56).
    #[serde(default = "default_v6")]
    pub ipv6_prefix: u8,
}

fn default_slip() -> u32 {
    2
}
fn default_v4() -> u8 {
    24
}
fn default_v6() -> u8 {
    56
}

/// The limiter.
#[derive(Debug)]
pub struct RateLimiter {
    /// Nanoseconds between two responses at the sustained rate.
    interval_ns: u64,
    /// How far ahead of now the theoretical arrival time may run: burst × interval.
    tolerance_ns: u64,
    slip: u64,
    v4_len: u8,
    v6_len: u8,
    limited: AtomicU64,
    epoch: Instant,
    /// Theoretical arrival time per slot, in ns since `epoch`.
    slots: Box<[AtomicU64]>,
    hasher: foldhash::fast::RandomState,
}

impl RateLimiter {
    /// A limiter for `config` (a rate of 0 is treated as 1 per second).
    #[must_use]
    pub fn new(config: &RateLimitConfig) -> Self {
        let rate = u64::from(config.responses_per_second.max(1));
        let interval_ns = 1_000_000_000 / rate;
        let burst = u64::from(config.burst.unwrap_or(config.responses_per_second).max(1));
        Self {
            interval_ns,
            tolerance_ns: interval_ns.saturating_mul(burst),
            slip: u64::from(config.slip),
            v4_len: config.ipv4_prefix.min(32),
            v6_len: config.ipv6_prefix.min(128),
            limited: AtomicU64::new(0),
            epoch: Instant::now(),
            slots: (0..SLOTS).map(|_| AtomicU64::new(0)).collect(),
            hasher: foldhash::fast::RandomState::default(),
        }
    }

    /// The client prefix of `ip` as a number (IPv4-mapped IPv6 counts as IPv4).
    fn prefix_key(&self, ip: IpAddr) -> u128 {
        match ip.to_canonical() {
            IpAddr::V4(a) => {
                let bits = u32::from(a);
                let masked = if self.v4_len == 0 {
                    0
                } else {
                    bits & (u32::MAX << (32 - u32::from(self.v4_len)))
                };
                u128::from(masked) | (1u128 << 127)
            }
            IpAddr::V6(a) => {
                let bits = u128::from(a);
                if self.v6_len == 0 {
                    0
                } else {
                    bits & (u128::MAX << (128 - u32::from(self.v6_len)))
                }
            }
        }
    }

    /// Decides about one response to `ip` now.
    pub fn check(&self, ip: IpAddr) -> RrlAction {
        let now = u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.check_at(ip, now)
    }

    /// [`Self::check`] at `now` nanoseconds since the limiter started (for tests).
    pub fn check_at(&self, ip: IpAddr, now: u64) -> RrlAction {
        use std::hash::BuildHasher;
        let key = self.prefix_key(ip);
        let h = self.hasher.hash_one(key);
        let slot = usize::try_from(h).unwrap_or(0) % SLOTS;
        let Some(cell) = self.slots.get(slot) else {
            return RrlAction::Pass;
        };
        let mut tat = cell.load(Ordering::Relaxed);
        loop {
            let start = tat.max(now);
            if start - now > self.tolerance_ns {
                break;
            }
            match cell.compare_exchange_weak(
                tat,
                start + self.interval_ns,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return RrlAction::Pass,
                Err(actual) => tat = actual,
            }
        }
        let n = self.limited.fetch_add(1, Ordering::Relaxed) + 1;
        if self.slip != 0 && n.is_multiple_of(self.slip) {
            RrlAction::Slip
        } else {
            RrlAction::Drop
        }
    }
}

/// The empty TC=1 answer sent instead of `reply` to a limited client: the reply's header with
/// TC set and no records, plus the question copied from `query` (RFC 1035 §4.1.2). `None` when
/// the question cannot be delimited (then the response is dropped).
#[must_use]
pub fn slip_response(query: &[u8], reply: &[u8]) -> Option<Vec<u8>> {
    let header = reply.get(..12)?;
    let qdcount = u16::from_be_bytes([*query.get(4)?, *query.get(5)?]);
    let mut end = 12;
    if qdcount == 1 {
        loop {
            let len = usize::from(*query.get(end)?);
            end += 1;
            if len == 0 {
                break;
            }
            if len > 63 {
                // Compression in a question is legal but never seen; do not guess.
                return None;
            }
            end += len;
        }
        end += 4;
    } else if qdcount != 0 {
        return None;
    }
    let question = query.get(12..end)?;
    let mut out = Vec::with_capacity(end);
    out.extend_from_slice(header.get(..2)?);
    out.push(header.get(2)? | 0x02);
    out.push(*header.get(3)?);
    out.extend_from_slice(&qdcount.to_be_bytes());
    out.extend_from_slice(&[0; 6]);
    out.extend_from_slice(question);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(rate: u32, burst: u32, slip: u32, v4: u8) -> RateLimiter {
        RateLimiter::new(&RateLimitConfig {
            responses_per_second: rate,
            burst: Some(burst),
            slip,
            ipv4_prefix: v4,
            ipv6_prefix: 56,
        })
    }

    #[test]
    fn burst_then_rate_per_prefix() {
        let l = limiter(10, 5, 0, 24);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let same: IpAddr = "192.0.2.99".parse().unwrap();
        let other: IpAddr = "198.51.100.1".parse().unwrap();
        // burst + 1 at t=0 (the first response is the "+1" of GCRA).
        let passed = (0..20)
            .filter(|_| l.check_at(a, 0) == RrlAction::Pass)
            .count();
        assert_eq!(passed, 6);
        assert_eq!(
            l.check_at(same, 0),
            RrlAction::Drop,
            "same /24 shares the bucket"
        );
        assert_eq!(l.check_at(other, 0), RrlAction::Pass);
        // 100 ms later one more token (10/s).
        assert_eq!(l.check_at(a, 100_000_000), RrlAction::Pass);
        assert_eq!(l.check_at(a, 100_000_000), RrlAction::Drop);
    }

    #[test]
    fn slip_every_nth_and_ipv6_prefix() {
        let l = limiter(1, 1, 2, 32);
        let a: IpAddr = "2001:db8:0:1::1".parse().unwrap();
        let b: IpAddr = "2001:db8:0:1::2".parse().unwrap();
        assert_eq!(l.check_at(a, 0), RrlAction::Pass);
        assert_eq!(l.check_at(a, 0), RrlAction::Pass);
        let actions: Vec<_> = (0..4).map(|_| l.check_at(b, 0)).collect();
        assert_eq!(
            actions,
            [
                RrlAction::Drop,
                RrlAction::Slip,
                RrlAction::Drop,
                RrlAction::Slip
            ]
        );
    }

    #[test]
    fn slip_response_keeps_id_and_question() {
        let query = [
            0xab, 0xcd, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1, 1, b'a', 0, 0, 35, 0, 1, 0, 0, 41,
        ];
        let reply = [0xab, 0xcd, 0x84, 0x00, 0, 1, 0, 3, 0, 0, 0, 1];
        let s = slip_response(&query, &reply).unwrap();
        assert_eq!(
            s,
            [
                0xab, 0xcd, 0x86, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 1, b'a', 0, 0, 35, 0, 1
            ]
        );
    }
}
