//! systemd readiness notification (`sd_notify(3)`), for `Type=notify` units such as
//! `deploy/systemd/altodisc.service`, through the `sd-notify` crate. Without `$NOTIFY_SOCKET`
//! (not started by systemd) every call is a no-op.

use sd_notify::NotifyState;

/// Tells systemd the service is ready (`READY=1`) with a one-line `STATUS=` for
/// `systemctl status`. Call it only once the zones are loaded and every socket is bound: units
/// ordered after this one start then.
pub(crate) fn ready(status: &str) {
    send_or_log(&[NotifyState::Ready, NotifyState::Status(&one_line(status))]);
}

/// Updates the `STATUS=` line (e.g. after a reload).
pub(crate) fn status(status: &str) {
    send_or_log(&[NotifyState::Status(&one_line(status))]);
}

/// Tells systemd the service is shutting down (`STOPPING=1`).
pub(crate) fn stopping() {
    send_or_log(&[NotifyState::Stopping]);
}

/// A notification that cannot be sent is logged, never fatal: the DNS service itself works.
fn send_or_log(state: &[NotifyState<'_>]) {
    if let Err(error) = sd_notify::notify(state) {
        tracing::warn!(%error, "cannot notify systemd ($NOTIFY_SOCKET)");
    }
}

/// `STATUS=` is one line: a newline would start another (unknown) assignment.
fn one_line(text: &str) -> String {
    text.replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_stays_on_one_line() {
        assert_eq!(one_line("a\nb\r\nc"), "a b  c");
    }
}
