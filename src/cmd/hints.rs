//! How to fix the mistakes operators meet first: an address without a port, a privileged port
//! without the capability, an address in use or not on this host.

use std::net::{IpAddr, SocketAddr};

use altodisc_responder::ResponderError;

/// An `ADDR:PORT` argument (`--listen`, `--metrics`); a bare address gets the port to add.
pub(crate) fn parse_listen(text: &str) -> Result<SocketAddr, String> {
    if let Ok(a) = text.parse::<SocketAddr>() {
        return Ok(a);
    }
    let hint = match text.parse::<IpAddr>() {
        Ok(IpAddr::V4(a)) => format!("a port is missing: write {a}:53 (or {a}:5300)"),
        Ok(IpAddr::V6(a)) => {
            format!("a port is missing: write [{a}]:53 (IPv6 addresses go in brackets)")
        }
        Err(_) => "write ADDR:PORT, e.g. 127.0.0.1:53 or [::1]:53".to_owned(),
    };
    Err(format!("{text:?} is not ADDR:PORT: {hint}"))
}

/// The hint for a listening socket that cannot be bound, if there is one.
pub(crate) fn bind_hint(e: &ResponderError) -> Option<String> {
    let ResponderError::Bind { addr, source } = e else {
        return None;
    };
    match source.kind() {
        // Ports below 1024 need CAP_NET_BIND_SERVICE (capabilities(7)) unless the namespaced
        // sysctl net.ipv4.ip_unprivileged_port_start is lowered.
        std::io::ErrorKind::PermissionDenied if addr.port() < 1024 => Some(format!(
            "port {} is privileged: run altodisc from altodisc.service (it grants \
             CAP_NET_BIND_SERVICE through AmbientCapabilities), give the binary the capability \
             (setcap cap_net_bind_service=+ep /usr/bin/altodisc), or run it as root; for a \
             test, listen on a port above 1023",
            addr.port()
        )),
        std::io::ErrorKind::AddrInUse => Some(format!(
            "another server already uses {addr} (see `ss -lunpt 'sport = :{}'`); stop it or \
             listen elsewhere",
            addr.port()
        )),
        std::io::ErrorKind::AddrNotAvailable => Some(format!(
            "{} is not an address of this host (see `ip -brief address`); [::] or 0.0.0.0 \
             listen on all of them",
            addr.ip()
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bind(addr: &str, kind: std::io::ErrorKind) -> ResponderError {
        ResponderError::Bind {
            addr: addr.parse().unwrap(),
            source: std::io::Error::from(kind),
        }
    }

    #[test]
    fn bare_addresses_get_the_port_to_add() {
        assert_eq!(parse_listen("[::1]:53"), Ok("[::1]:53".parse().unwrap()));
        assert!(
            parse_listen("127.0.0.1")
                .unwrap_err()
                .contains("127.0.0.1:53")
        );
        assert!(parse_listen("::1").unwrap_err().contains("[::1]:53"));
        assert!(parse_listen("ns1:53").unwrap_err().contains("ADDR:PORT"));
    }

    #[test]
    fn bind_errors_say_what_to_do() {
        use std::io::ErrorKind::{AddrInUse, AddrNotAvailable, PermissionDenied};
        let hint = bind_hint(&bind("0.0.0.0:53", PermissionDenied)).unwrap();
        assert!(
            hint.contains("CAP_NET_BIND_SERVICE") && !hint.contains("  "),
            "{hint}"
        );
        assert!(bind_hint(&bind("0.0.0.0:5300", PermissionDenied)).is_none());
        assert!(
            bind_hint(&bind("0.0.0.0:53", AddrInUse))
                .unwrap()
                .contains("ss -lunpt")
        );
        assert!(
            bind_hint(&bind("192.0.2.1:53", AddrNotAvailable))
                .unwrap()
                .contains("192.0.2.1 is not an address of this host")
        );
    }
}
