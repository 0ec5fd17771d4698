//! What the DHCPv4 ([`super::v4`]) and DHCPv6 ([`super::v6`]) clients share around their socket:
//! I/O error mapping, binding with the privilege hint, registration with tokio, and the receive
//! loop between two transmissions (RFC 2131 §4.1 / RFC 8415 §15: keep listening until the
//! retransmission time, ignoring what does not answer our request).

use std::fmt::Display;
use std::net::SocketAddr;

use socket2::Socket;

use super::iface::Interface;
use super::{DhcpError, Trace};

/// At most this many ignored datagrams are kept for the timeout error (all are traced).
const MAX_IGNORED: usize = 16;

/// Maps an I/O error during `context` on `iface` to [`DhcpError::Io`] (for `map_err`).
pub(super) fn io_error(
    iface: &Interface,
    context: &str,
) -> impl FnOnce(std::io::Error) -> DhcpError {
    let context = context.to_owned();
    let interface = iface.name.clone();
    move |source| DhcpError::Io {
        context,
        interface,
        source,
    }
}

/// Binds, turning EACCES/EPERM into the privilege error that explains CAP_NET_BIND_SERVICE.
pub(super) fn bind_or_privilege(
    s: &Socket,
    addr: SocketAddr,
    iface: &Interface,
) -> Result<(), DhcpError> {
    s.bind(&addr.into()).map_err(|e| {
        if e.kind() == std::io::ErrorKind::PermissionDenied {
            DhcpError::Privilege {
                port: addr.port(),
                interface: iface.name.clone(),
                source: e,
            }
        } else {
            DhcpError::Io {
                context: format!("binding {addr}"),
                interface: iface.name.clone(),
                source: e,
            }
        }
    })
}

/// Hands a bound socket to tokio.
pub(super) fn register(s: Socket, iface: &Interface) -> Result<tokio::net::UdpSocket, DhcpError> {
    s.set_nonblocking(true)
        .map_err(io_error(iface, "O_NONBLOCK"))?;
    tokio::net::UdpSocket::from_std(s.into()).map_err(io_error(iface, "registering the socket"))
}

/// Receives until `until`: the first datagram `parse` accepts, with its length and sender, or
/// `None` when the time is up (retransmit, or give up at the deadline). Every rejected datagram
/// is traced as `<label> <interface>: ignored ...` and kept (the first few) in `ignored`.
#[allow(
    clippy::too_many_arguments,
    reason = "the exchange state both clients keep; a struct for one call would only rename it"
)]
pub(super) async fn receive_until<R, W: Display>(
    sock: &tokio::net::UdpSocket,
    buf: &mut [u8],
    until: tokio::time::Instant,
    iface: &Interface,
    label: &str,
    trace: &mut Trace,
    ignored: &mut Vec<String>,
    mut parse: impl FnMut(&[u8]) -> Result<R, W>,
) -> Result<Option<(R, usize, SocketAddr)>, DhcpError> {
    loop {
        let Ok(got) = tokio::time::timeout_at(until, sock.recv_from(buf)).await else {
            return Ok(None);
        };
        let (n, from) = got.map_err(io_error(iface, "receiving"))?;
        let data = buf.get(..n).unwrap_or_default();
        match parse(data) {
            Ok(reply) => return Ok(Some((reply, n, from))),
            Err(why) => {
                let line = format!("{n} octets from {from}: {why}");
                trace.push(format!("{label} {}: ignored {line}", iface.name));
                if ignored.len() < MAX_IGNORED {
                    ignored.push(line);
                }
            }
        }
    }
}
