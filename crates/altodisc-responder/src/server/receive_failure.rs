//! What a failed UDP receive means for the loop that made it, shared by the batched loop
//! ([`super::udp`]) and the one-datagram loop.
//!
//! Most receive errors on a UDP socket concern one moment, not the socket: an ICMP error from an
//! earlier reply (reported on the socket on some systems), a signal, a moment's memory shortage.
//! The loop tries again. A few say the descriptor is no longer a readable socket; those repeat on
//! every call, so a loop that retried them would spin a CPU forever while serving nothing. Such
//! a loop stops, says why in the log and in `altodisc_udp_workers_failed_total`, and the other
//! loops keep serving. An error taken for passing that nevertheless repeats is retried with a
//! pause, never in a busy loop.

use std::io;
use std::time::Duration;

use nix::errno::Errno;
use tracing::{debug, warn};

use crate::metrics::Metrics;

/// Failed receives in a row (no datagram between them) after which each retry waits
/// [`RETRY_PAUSE`].
const PAUSE_AFTER: u32 = 16;

/// The wait before each retry once [`PAUSE_AFTER`] receives in a row failed: long enough that a
/// repeating error costs no measurable CPU, short enough that the loop serves again within
/// milliseconds once the cause is gone.
pub(super) const RETRY_PAUSE: Duration = Duration::from_millis(10);

/// What the loop does after a failed receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Next {
    /// Receive again at once.
    Retry,
    /// Receive again after [`RETRY_PAUSE`].
    RetryAfterPause,
    /// The socket can no longer be read: the loop ends.
    Stop,
}

/// Whether `error` from a receive means the descriptor is no longer a readable socket (the same
/// call would fail the same way every time).
///
/// `EBADF`, `ENOTSOCK`, `EFAULT`, `EINVAL`, `ENOTCONN` and `EOPNOTSUPP` are the errors
/// recvmsg(2) lists for a bad descriptor or bad arguments; for a bound UDP socket read into
/// buffers this loop owns, none of them depends on the datagram. An error that does not come
/// from the kernel (no OS error code) is an invariant of this program that failed, which repeats
/// as well.
pub(super) fn socket_unusable(error: &io::Error) -> bool {
    match error.raw_os_error() {
        None => true,
        Some(code) => matches!(
            Errno::from_raw(code),
            Errno::EBADF
                | Errno::ENOTSOCK
                | Errno::EFAULT
                | Errno::EINVAL
                | Errno::ENOTCONN
                | Errno::EOPNOTSUPP
        ),
    }
}

/// The failed receives of one loop since its last datagram.
#[derive(Debug, Default)]
pub(super) struct ReceiveFailures {
    in_a_row: u32,
    /// Whether the warning about repeated failures was logged for this run of failures.
    warned: bool,
}

impl ReceiveFailures {
    /// A receive returned datagrams.
    pub(super) fn received(&mut self) {
        self.in_a_row = 0;
        self.warned = false;
    }

    /// A receive failed with `error` (not a receive timeout): what the loop does next.
    pub(super) fn failed(&mut self, error: &io::Error) -> Next {
        if socket_unusable(error) {
            return Next::Stop;
        }
        self.in_a_row = self.in_a_row.saturating_add(1);
        if self.in_a_row < PAUSE_AFTER {
            debug!(%error, "UDP receive failed");
            return Next::Retry;
        }
        if !self.warned {
            self.warned = true;
            warn!(
                %error,
                failures = self.in_a_row,
                "UDP receives keep failing: retrying every {} ms until one succeeds",
                RETRY_PAUSE.as_millis()
            );
        }
        Next::RetryAfterPause
    }
}

/// One running UDP receive loop, counted in `altodisc_udp_workers` from [`Self::start`] until it
/// is dropped, however the loop ends.
pub(super) struct RunningWorker<'a> {
    metrics: &'a Metrics,
}

impl<'a> RunningWorker<'a> {
    /// Counts a loop that starts.
    pub(super) fn start(metrics: &'a Metrics) -> Self {
        metrics.udp_worker(true);
        Self { metrics }
    }

    /// Ends the loop because its socket (`local`, for the log) failed with `error`: counts it in
    /// `altodisc_udp_workers_failed_total` and logs how many loops still serve.
    pub(super) fn stop_failed(self, local: Option<std::net::SocketAddr>, error: &io::Error) {
        let metrics = self.metrics;
        drop(self);
        metrics.udp_worker_failed();
        let local = local.map_or_else(|| "?".to_owned(), |a| a.to_string());
        warn!(
            %error,
            socket = %local,
            still_serving = metrics.udp_workers_running(),
            "UDP socket can no longer be read: this UDP worker stops, the others keep serving \
             (restart the server to get it back)"
        );
    }
}

impl Drop for RunningWorker<'_> {
    fn drop(&mut self) {
        self.metrics.udp_worker(false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(errno: Errno) -> io::Error {
        io::Error::from_raw_os_error(errno as i32)
    }

    #[test]
    fn descriptor_errors_stop_the_loop_passing_ones_do_not() {
        for errno in [
            Errno::EBADF,
            Errno::ENOTSOCK,
            Errno::EFAULT,
            Errno::EINVAL,
            Errno::ENOTCONN,
            Errno::EOPNOTSUPP,
        ] {
            assert_eq!(
                ReceiveFailures::default().failed(&os(errno)),
                Next::Stop,
                "{errno}"
            );
        }
        assert_eq!(
            ReceiveFailures::default().failed(&io::Error::from(io::ErrorKind::InvalidInput)),
            Next::Stop,
            "an error that is not the kernel's"
        );
        for errno in [
            Errno::ECONNREFUSED,
            Errno::EHOSTUNREACH,
            Errno::ENETUNREACH,
            Errno::EINTR,
            Errno::ENOMEM,
            Errno::ENOBUFS,
        ] {
            assert_eq!(
                ReceiveFailures::default().failed(&os(errno)),
                Next::Retry,
                "{errno}"
            );
        }
    }

    #[test]
    fn a_repeating_passing_error_is_retried_with_a_pause_until_a_datagram() {
        let mut failures = ReceiveFailures::default();
        let refused = os(Errno::ECONNREFUSED);
        for _ in 1..PAUSE_AFTER {
            assert_eq!(failures.failed(&refused), Next::Retry);
        }
        for _ in 0..100 {
            assert_eq!(failures.failed(&refused), Next::RetryAfterPause);
        }
        failures.received();
        assert_eq!(
            failures.failed(&refused),
            Next::Retry,
            "a datagram resets the count"
        );
    }

    #[test]
    fn the_running_gauge_follows_the_loops() {
        let metrics = Metrics::default();
        let first = RunningWorker::start(&metrics);
        let second = RunningWorker::start(&metrics);
        assert_eq!(metrics.udp_workers_running(), 2);
        second.stop_failed(None, &os(Errno::ENOTSOCK));
        assert_eq!(metrics.udp_workers_running(), 1);
        drop(first);
        assert_eq!(metrics.udp_workers_running(), 0);
        // Dropping below zero is impossible whatever the order.
        metrics.udp_worker(false);
        assert_eq!(metrics.udp_workers_running(), 0);
    }
}
