//! systemd readiness notification (`sd_notify(3)`), for `Type=notify` units such as
//! `deploy/systemd/altodisc.service`.
//!
//! The protocol is one datagram of `KEY=VALUE` lines sent to the `AF_UNIX` socket named by
//! `$NOTIFY_SOCKET` (a path, or an abstract-namespace name written with a leading `@`). A few
//! lines of std are enough; no libsystemd binding and no unsafe code. Without `$NOTIFY_SOCKET`
//! (not started by systemd) every call is a no-op.

use std::ffi::OsStr;
use std::io;

/// The environment variable systemd sets for `Type=notify` services.
const NOTIFY_SOCKET: &str = "NOTIFY_SOCKET";

/// Tells systemd the service is ready (`READY=1`) with a one-line `STATUS=` for
/// `systemctl status`. Call it only once the zones are loaded and every socket is bound: units
/// ordered after this one start then.
pub(crate) fn ready(status: &str) {
    send_or_log(&format!("READY=1\nSTATUS={}", one_line(status)));
}

/// Updates the `STATUS=` line (e.g. after a reload).
pub(crate) fn status(status: &str) {
    send_or_log(&format!("STATUS={}", one_line(status)));
}

/// Tells systemd the service is shutting down (`STOPPING=1`).
pub(crate) fn stopping() {
    send_or_log("STOPPING=1");
}

/// A notification that cannot be sent is logged, never fatal: the DNS service itself works.
fn send_or_log(state: &str) {
    if let Err(error) = notify(state) {
        tracing::warn!(%error, "cannot notify systemd ($NOTIFY_SOCKET)");
    }
}

/// `STATUS=` is one line: a newline would start another (unknown) assignment.
fn one_line(text: &str) -> String {
    text.replace(['\n', '\r'], " ")
}

/// Sends `state` (e.g. `"READY=1\nSTATUS=serving 4 zones"`) to the service manager.
///
/// Returns `Ok(false)` when the process was not started with `$NOTIFY_SOCKET`.
///
/// # Errors
/// The socket error when `$NOTIFY_SOCKET` is set but the datagram cannot be sent.
pub(crate) fn notify(state: &str) -> io::Result<bool> {
    match std::env::var_os(NOTIFY_SOCKET) {
        Some(socket) if !socket.is_empty() => notify_to(&socket, state).map(|()| true),
        _ => Ok(false),
    }
}

/// Sends `state` to the notification socket `socket` (`$NOTIFY_SOCKET` syntax).
#[cfg(unix)]
pub(crate) fn notify_to(socket: &OsStr, state: &str) -> io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::net::UnixDatagram;

    let bytes = socket.as_bytes();
    let sender = UnixDatagram::unbound()?;
    let sent = if let Some(name) = bytes.strip_prefix(b"@") {
        send_abstract(&sender, name, state.as_bytes())?
    } else if bytes.starts_with(b"/") {
        sender.send_to(state.as_bytes(), socket)?
    } else {
        // systemd also knows `vsock:` addresses (for VMs); a container or host service never
        // gets one.
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "unsupported NOTIFY_SOCKET address {}",
                socket.to_string_lossy()
            ),
        ));
    };
    if sent == state.len() {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::WriteZero,
            "short write to NOTIFY_SOCKET",
        ))
    }
}

/// `@name`: Linux abstract socket namespace (the leading `@` stands for the NUL byte).
#[cfg(target_os = "linux")]
fn send_abstract(
    sender: &std::os::unix::net::UnixDatagram,
    name: &[u8],
    data: &[u8],
) -> io::Result<usize> {
    use std::os::linux::net::SocketAddrExt;
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
    sender.send_to_addr(data, &addr)
}

#[cfg(all(unix, not(target_os = "linux")))]
fn send_abstract(
    _sender: &std::os::unix::net::UnixDatagram,
    _name: &[u8],
    _data: &[u8],
) -> io::Result<usize> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "abstract NOTIFY_SOCKET addresses exist only on Linux",
    ))
}

#[cfg(not(unix))]
pub(crate) fn notify_to(_socket: &OsStr, _state: &str) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "sd_notify needs AF_UNIX sockets",
    ))
}

#[cfg(test)]
#[cfg(unix)]
mod tests {
    use std::os::unix::net::UnixDatagram;
    use std::time::Duration;

    use super::*;

    fn receive(listener: &UnixDatagram) -> String {
        listener
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut buf = [0u8; 512];
        let n = listener.recv(&mut buf).unwrap();
        String::from_utf8(buf[..n].to_vec()).unwrap()
    }

    #[test]
    fn path_socket_gets_the_state() {
        let dir = std::env::temp_dir().join(format!("altodisc-notify-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("notify.sock");
        let _ = std::fs::remove_file(&path);
        let listener = UnixDatagram::bind(&path).unwrap();
        notify_to(path.as_os_str(), "READY=1\nSTATUS=serving").unwrap();
        assert_eq!(receive(&listener), "READY=1\nSTATUS=serving");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn abstract_socket_gets_the_state() {
        use std::os::linux::net::SocketAddrExt;
        let name = format!("altodisc-notify-test-{}", std::process::id());
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let listener = UnixDatagram::bind_addr(&addr).unwrap();
        notify_to(OsStr::new(&format!("@{name}")), "STOPPING=1").unwrap();
        assert_eq!(receive(&listener), "STOPPING=1");
    }

    #[test]
    fn status_stays_on_one_line() {
        assert_eq!(one_line("a\nb\r\nc"), "a b  c");
    }

    #[test]
    fn relative_and_vsock_addresses_are_rejected() {
        let err = notify_to(OsStr::new("vsock:2:1234"), "READY=1").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn missing_listener_is_an_error_not_a_panic() {
        let path = std::env::temp_dir().join("altodisc-notify-nobody-listens.sock");
        assert!(notify_to(path.as_os_str(), "READY=1").is_err());
    }
}
