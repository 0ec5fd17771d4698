//! Adaptive busy polling of a UDP socket: while queries arrive at least [`GAPS_PER_POLL`] times
//! per poll budget on average, a receive loop that found its socket empty keeps polling it for up
//! to the budget before it goes to sleep in the kernel.
//!
//! Why: the latency of a lightly loaded single-thread server is dominated by waking it up, not by
//! answering. On a virtual machine whose idle CPU halts (no guest halt polling), waking the
//! server's CPU for each datagram costs tens of microseconds: at 20k queries per second a trivial
//! C echo server that sleeps in `recvfrom` had p50 0.11 ms and p99 0.27 ms on the `bench/responder`
//! machine, the same server polling p50 0.044 and p99 0.11 ms. Linux does the same inside the
//! kernel where it is enabled (`cpuidle-haltpoll`, `guest_halt_poll_ns`); this is the user-space
//! form of it, limited to the case where it pays.
//!
//! The budget is long (1 ms by default) compared with the gap that turns polling on (a tenth of
//! it): a shorter budget expired whenever the client's own scheduling jitter stretched a gap, and
//! each expiry cost a wake-up (p99 at 20k/s varied 0.13–0.34 ms with a 100 µs budget, 0.13 ms
//! with 1 ms).
//!
//! Polling pays when the loop is faster than the arrivals: every receive then returns one
//! datagram, and every query waits for a wake-up of its own. A loop that is busy most of the time
//! finds several datagrams queued at each receive (dnsperf at full speed on that machine: 8.8 on
//! average, against 1.007 at 20k/s); the wake-up is shared by the batch, and polling would only
//! turn the short idle spells into CPU time. So it does not poll then.
//!
//! The cost is CPU time: a loop that polls keeps its CPU busy between queries. It is bounded:
//! - it polls only while, over the last [`WINDOW`], the arrival rate was at least
//!   [`GAPS_PER_POLL`] datagrams per budget (10,000 per second for the default 1 ms) and receives
//!   returned fewer than [`POLL_BELOW_MEAN_BATCH`] datagrams on average, so a server that is
//!   idle, lightly loaded or saturated sleeps exactly as before, and polling stops within one
//!   window once that changes;
//! - each idle spell polls for at most the budget, then the loop sleeps;
//! - of the loops that share one socket only one polls at a time ([`PollToken`]), so a socket
//!   never keeps more than one CPU busy;
//! - a budget of zero turns it off.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How long the arrival rate is averaged over before the decision to poll is taken again.
pub(super) const WINDOW: Duration = Duration::from_millis(10);

/// Polling is on while the mean gap between datagrams is at most the budget divided by this.
pub(super) const GAPS_PER_POLL: u32 = 10;

/// ... and while a receive returns fewer datagrams than this on average.
pub(super) const POLL_BELOW_MEAN_BATCH: u64 = 2;

/// Whether one receive loop polls its socket, from the arrival rate it sees.
#[derive(Debug)]
pub(super) struct BusyPoll {
    /// Longest poll of an empty socket; zero = never poll.
    budget: Duration,
    /// Start of the current measuring window.
    window_start: Instant,
    /// Datagrams received in the current window.
    window_count: u64,
    /// Receives (batches) in the current window.
    window_receives: u64,
    /// The decision taken at the end of the last window.
    polling: bool,
}

impl BusyPoll {
    /// A loop that starts out sleeping, as a server that has not seen traffic yet should.
    pub(super) fn new(budget: Duration, now: Instant) -> Self {
        Self {
            budget,
            window_start: now,
            window_count: 0,
            window_receives: 0,
            polling: false,
        }
    }

    /// How long to poll an empty socket before sleeping (zero: sleep at once).
    pub(super) fn budget(&self) -> Duration {
        if self.polling {
            self.budget
        } else {
            Duration::ZERO
        }
    }

    /// One receive returned `count` datagrams at `now`. At the end of each [`WINDOW`] the loop
    /// decides whether to poll during the next one: yes when, in the window that ended,
    /// - the mean gap between datagrams (`elapsed / count`) was at most budget /
    ///   [`GAPS_PER_POLL`], so a poll almost always ends in a datagram instead of in sleep, and
    /// - receives returned fewer than [`POLL_BELOW_MEAN_BATCH`] datagrams on average, so each
    ///   query paid a wake-up of its own.
    ///
    /// A window is closed only by a receive, so a long silence ends as one long window with few
    /// datagrams: no polling after it.
    pub(super) fn received(&mut self, count: usize, now: Instant) {
        self.window_count = self
            .window_count
            .saturating_add(u64::try_from(count).unwrap_or(u64::MAX));
        self.window_receives += 1;
        let elapsed = now.saturating_duration_since(self.window_start);
        if elapsed < WINDOW {
            return;
        }
        // elapsed / count ≤ budget / GAPS_PER_POLL, without division (u128 nanoseconds do not
        // overflow).
        let polled = self.budget.as_nanos() * u128::from(self.window_count);
        let frequent = elapsed.as_nanos() * u128::from(GAPS_PER_POLL) <= polled;
        // count / receives < POLL_BELOW_MEAN_BATCH
        let one_by_one = self.window_count < POLL_BELOW_MEAN_BATCH * self.window_receives;
        self.polling = !self.budget.is_zero() && frequent && one_by_one;
        self.window_start = now;
        self.window_count = 0;
        self.window_receives = 0;
    }
}

/// The right to poll one socket, shared by all receive loops of that socket: at most one of them
/// polls at a time, the others sleep in the kernel as usual.
#[derive(Debug, Clone, Default)]
pub(super) struct PollToken(Arc<AtomicBool>);

impl PollToken {
    /// Takes the right to poll, if no other loop of this socket holds it. Released when the
    /// returned guard is dropped (also when the receive is cancelled mid-poll).
    pub(super) fn try_take(&self) -> Option<PollGuard<'_>> {
        self.0
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
            .then_some(PollGuard(&self.0))
    }

    /// Whether some loop polls right now.
    #[cfg(test)]
    pub(super) fn is_taken(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// Held while a loop polls; see [`PollToken::try_take`].
#[derive(Debug)]
pub(super) struct PollGuard<'a>(&'a AtomicBool);

impl Drop for PollGuard<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BUDGET: Duration = Duration::from_millis(1);

    /// Feeds `datagrams` datagrams `gap` apart, one per receive; returns the time of the last.
    fn feed(poll: &mut BusyPoll, start: Instant, gap: Duration, datagrams: u32) -> Instant {
        let mut now = start;
        for _ in 0..datagrams {
            now += gap;
            poll.received(1, now);
        }
        now
    }

    #[test]
    fn starts_sleeping() {
        let poll = BusyPoll::new(BUDGET, Instant::now());
        assert_eq!(poll.budget(), Duration::ZERO);
    }

    #[test]
    fn polls_when_datagrams_come_faster_than_the_budget() {
        let start = Instant::now();
        let mut poll = BusyPoll::new(BUDGET, start);
        // 20k per second: a 50 µs gap, a twentieth of the budget, for a bit more than one window.
        feed(&mut poll, start, Duration::from_micros(50), 210);
        assert_eq!(poll.budget(), BUDGET);
    }

    #[test]
    fn sleeps_when_datagrams_come_slower_than_the_budget() {
        let start = Instant::now();
        let mut poll = BusyPoll::new(BUDGET, start);
        // 9,000 per second: a 111 µs gap, just over a tenth of the budget.
        feed(&mut poll, start, Duration::from_micros(111), 100);
        assert_eq!(poll.budget(), Duration::ZERO);
    }

    #[test]
    fn stops_polling_after_a_silence_and_when_the_rate_falls() {
        let start = Instant::now();
        let mut poll = BusyPoll::new(BUDGET, start);
        let now = feed(&mut poll, start, Duration::from_micros(50), 210);
        assert_eq!(poll.budget(), BUDGET);
        // One datagram after a second of silence closes a window with a mean gap of ~1 s.
        let now = now + Duration::from_secs(1);
        poll.received(1, now);
        assert_eq!(poll.budget(), Duration::ZERO);
        // Back to 20k per second: polling again after one window.
        let now = feed(&mut poll, now, Duration::from_micros(50), 210);
        assert_eq!(poll.budget(), BUDGET);
        // The rate falls to 2k per second: no polling from the next window on.
        feed(&mut poll, now, Duration::from_micros(500), 25);
        assert_eq!(poll.budget(), Duration::ZERO);
    }

    /// Receives of `batch` datagrams `gap` apart for a bit more than one window.
    fn feed_batches(poll: &mut BusyPoll, start: Instant, gap: Duration, batch: usize) {
        let mut now = start;
        while now <= start + WINDOW {
            now += gap;
            poll.received(batch, now);
        }
    }

    #[test]
    fn does_not_poll_a_socket_that_queues_several_datagrams_per_receive() {
        let start = Instant::now();
        let mut poll = BusyPoll::new(BUDGET, start);
        // 2 datagrams per receive every 50 µs: 40k per second, a wake-up per two queries.
        feed_batches(&mut poll, start, Duration::from_micros(50), 2);
        assert_eq!(poll.budget(), Duration::ZERO);
        // 9 per receive every 30 µs (a saturated server): no polling either.
        feed_batches(&mut poll, start + WINDOW * 2, Duration::from_micros(30), 9);
        assert_eq!(poll.budget(), Duration::ZERO);
    }

    #[test]
    fn an_occasional_batch_does_not_stop_polling() {
        let start = Instant::now();
        let mut poll = BusyPoll::new(BUDGET, start);
        // 20k per second, one receive in ten returns 3 datagrams (a client's burst).
        let mut now = start;
        for i in 0..220 {
            now += Duration::from_micros(50);
            poll.received(if i % 10 == 0 { 3 } else { 1 }, now);
        }
        assert_eq!(poll.budget(), BUDGET);
    }

    #[test]
    fn batches_count_every_datagram() {
        let start = Instant::now();
        let mut poll = BusyPoll::new(BUDGET, start);
        // A receive of 1,000 datagrams and then single ones: the window's mean batch is over 2.
        poll.received(1000, start + Duration::from_millis(1));
        feed(
            &mut poll,
            start + Duration::from_millis(1),
            Duration::from_micros(50),
            200,
        );
        assert_eq!(poll.budget(), Duration::ZERO);
    }

    #[test]
    fn a_zero_budget_never_polls() {
        let start = Instant::now();
        let mut poll = BusyPoll::new(Duration::ZERO, start);
        feed(&mut poll, start, Duration::from_micros(1), 20_000);
        assert_eq!(poll.budget(), Duration::ZERO);
    }

    #[test]
    fn one_loop_per_socket_polls_at_a_time() {
        let token = PollToken::default();
        let other = token.clone();
        let guard = token.try_take();
        assert!(guard.is_some());
        assert!(other.is_taken());
        assert!(other.try_take().is_none());
        drop(guard);
        assert!(!other.is_taken());
        assert!(other.try_take().is_some());
    }
}
