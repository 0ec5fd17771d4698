//! Reading the access-domain option back from the OS DHCP client's lease files (no privileges).
//!
//! * ISC dhclient text leases (`/var/lib/dhcp/dhclient.<if>.leases`, `dhclient6.<if>.leases`):
//!   `lease { interface "eth0"; option v4-access-domain example.net.; }` and
//!   `lease6 { interface "eth0"; ... option dhcp6.v6-access-domain example.net.; }`. The **last**
//!   block for the interface wins (dhclient appends a block at every renewal). Values written as
//!   colon-hex (`7:65:78:...:0`, a `string`-typed redefinition) go through the same wire decoder.
//! * dhcpcd 9 binary leases (`/var/lib/dhcpcd/<if>.lease` = the raw BOOTP reply,
//!   `<if>.lease6` = the raw DHCPv6 Reply): parsed by [`super::v4::parse_reply`] /
//!   [`super::v6::parse_reply`], the network path's parsers.
//!
//! For IPv4, option 213 is preferred and option 15 (`option domain-name`) used only without it,
//! exactly as on the network (RFC 7286 §3.1.2).

use std::path::{Path, PathBuf};

use altodisc_proto::access_domain::{decode_access_domain, parse_domain_name_option};
use altodisc_proto::name::DomainName;

use super::{AddressFamily, DomainSource, LearnedDomain, v4, v6};

/// Largest lease file read: dhclient files grow with every renewal, but not to this.
const MAX_LEASE_FILE: u64 = 4 << 20;

/// Why a lease file gave no domain.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LeaseError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not a lease file this reader knows.
    #[error("{path}: {why}")]
    Format {
        /// The file.
        path: PathBuf,
        /// Why.
        why: String,
    },
    /// The file is for the other address family.
    #[error("{path} holds an {found} lease, not {wanted}")]
    WrongFamily {
        /// The file.
        path: PathBuf,
        /// Family in the file.
        found: AddressFamily,
        /// Family asked for.
        wanted: AddressFamily,
    },
    /// The lease has no access-domain option (or its value is invalid).
    #[error("{path}: {why}")]
    NoDomain {
        /// The file.
        path: PathBuf,
        /// Why.
        why: String,
    },
    /// No lease file was found in the standard places.
    #[error("no lease file for {interface} ({family}); looked at: {}", .looked.join(", "))]
    NotFound {
        /// The interface.
        interface: String,
        /// The family.
        family: AddressFamily,
        /// Paths tried.
        looked: Vec<String>,
    },
}

/// The standard lease-file locations for an interface and family, in the order `--from-lease auto`
/// tries them: Debian/Ubuntu ifupdown dhclient, Red Hat dhclient, dhcpcd 9 (Linux and BSD paths).
#[must_use]
pub fn standard_paths(interface: &str, family: AddressFamily) -> Vec<PathBuf> {
    let p = |s: String| PathBuf::from(s);
    match family {
        AddressFamily::Ipv4 => vec![
            p(format!("/var/lib/dhcp/dhclient.{interface}.leases")),
            p(format!("/var/lib/dhclient/dhclient-{interface}.leases")),
            p("/var/lib/dhcp/dhclient.leases".to_owned()),
            p(format!("/var/lib/dhcpcd/{interface}.lease")),
            p(format!("/var/lib/dhcpcd5/{interface}.lease")),
            p(format!("/var/db/dhcpcd/{interface}.lease")),
        ],
        AddressFamily::Ipv6 => vec![
            p(format!("/var/lib/dhcp/dhclient6.{interface}.leases")),
            p(format!("/var/lib/dhclient/dhclient6-{interface}.leases")),
            p("/var/lib/dhcp/dhclient6.leases".to_owned()),
            p(format!("/var/lib/dhcpcd/{interface}.lease6")),
            p(format!("/var/lib/dhcpcd5/{interface}.lease6")),
            p(format!("/var/db/dhcpcd/{interface}.lease6")),
        ],
    }
}

/// `--from-lease auto`: the first standard file that exists and yields a domain; errors from files
/// that exist are reported if none does.
///
/// # Errors
/// [`LeaseError::NotFound`] when no file exists, otherwise the last file's error.
pub fn read_auto(interface: &str, family: AddressFamily) -> Result<LearnedDomain, LeaseError> {
    let mut last_err = None;
    let mut looked = Vec::new();
    for path in standard_paths(interface, family) {
        looked.push(path.display().to_string());
        if !path.exists() {
            continue;
        }
        match read_file(&path, Some(interface), family) {
            Ok(d) => return Ok(d),
            Err(e) => last_err = Some(e),
        }
    }
    Err(last_err.unwrap_or(LeaseError::NotFound {
        interface: interface.to_owned(),
        family,
        looked,
    }))
}

/// Reads one lease file (format detected from its content). `interface` selects dhclient lease
/// blocks (blocks without an `interface` statement always match); dhcpcd files are per interface
/// by name already.
///
/// # Errors
/// [`LeaseError`] with the reason.
pub fn read_file(
    path: &Path,
    interface: Option<&str>,
    family: AddressFamily,
) -> Result<LearnedDomain, LeaseError> {
    let bytes = read_capped(path)?;
    parse_lease_bytes(&bytes, path, interface, family)
}

/// Reads at most [`MAX_LEASE_FILE`] octets of `path` ([`read_bounded`]), with its refusals as
/// [`LeaseError::Format`].
fn read_capped(path: &Path) -> Result<Vec<u8>, LeaseError> {
    read_bounded(path, MAX_LEASE_FILE).map_err(|e| match e.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::InvalidData => LeaseError::Format {
            path: path.to_owned(),
            why: format!("{e}; give the lease file itself"),
        },
        _ => LeaseError::Io {
            path: path.to_owned(),
            source: e,
        },
    })
}

/// Reads at most `cap` octets of a file the user named, whatever its metadata says: the size of
/// a device or a FIFO is 0, and `/dev/zero` would otherwise be read until memory runs out. The
/// file is opened without blocking, so a FIFO without a writer gives its (empty) content at
/// once, and one whose writer has sent nothing yet is refused instead of waited for. Used for
/// lease files, the trust-anchor file and the CLI's `discover --config`.
///
/// # Errors
/// The open or read error; [`std::io::ErrorKind::InvalidData`] when the file holds more than
/// `cap` octets; [`std::io::ErrorKind::WouldBlock`] for a FIFO (or other non-regular file) with
/// no data ready. The messages say which and why.
pub fn read_bounded(path: &Path, cap: u64) -> std::io::Result<Vec<u8>> {
    use std::io::{Error, ErrorKind, Read};
    use std::os::unix::fs::OpenOptionsExt;

    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::fcntl::OFlag::O_NONBLOCK.bits())
        .open(path)?;
    let regular = file.metadata()?.is_file();
    let mut bytes = Vec::new();
    match file.take(cap.saturating_add(1)).read_to_end(&mut bytes) {
        Ok(_) => {}
        Err(e) if e.kind() == ErrorKind::WouldBlock => {
            return Err(Error::new(
                ErrorKind::WouldBlock,
                "not a regular file, and it has no data ready (a FIFO whose writer has not \
                 written)",
            ));
        }
        Err(e) => return Err(e),
    }
    if u64::try_from(bytes.len()).map_or(true, |n| n > cap) {
        return Err(Error::new(
            ErrorKind::InvalidData,
            format!(
                "more than {cap} octets{}, too large",
                if regular { "" } else { " (not a regular file)" }
            ),
        ));
    }
    Ok(bytes)
}

/// The content-based dispatch of [`read_file`], for callers that already hold the bytes.
///
/// # Errors
/// [`LeaseError`] with the reason.
pub fn parse_lease_bytes(
    bytes: &[u8],
    path: &Path,
    interface: Option<&str>,
    family: AddressFamily,
) -> Result<LearnedDomain, LeaseError> {
    let fail = |why: String| LeaseError::NoDomain {
        path: path.to_owned(),
        why,
    };
    let shown = path.display().to_string();
    // dhcpcd v4: a BOOTREPLY with the magic cookie at 236.
    if bytes.len() >= 240 && bytes[0] == 2 && bytes[236..240] == [0x63, 0x82, 0x53, 0x63] {
        if family != AddressFamily::Ipv4 {
            return Err(LeaseError::WrongFamily {
                path: path.to_owned(),
                found: AddressFamily::Ipv4,
                wanted: family,
            });
        }
        let reply = v4::parse_reply(bytes, None).map_err(|e| LeaseError::Format {
            path: path.to_owned(),
            why: format!("dhcpcd lease: {e}"),
        })?;
        let (domain, source) =
            v4::domain_from_reply(&reply, &shown).map_err(|e| fail(e.to_string()))?;
        let option = if source == DomainSource::Dhcpv4 {
            213
        } else {
            15
        };
        return Ok(LearnedDomain {
            domain,
            source: DomainSource::Lease,
            detail: format!("dhcpcd lease {shown}, option {option}"),
        });
    }
    // dhcpcd v6: a raw Reply (type 7).
    if bytes.first() == Some(&7) && !looks_like_text(bytes) {
        if family != AddressFamily::Ipv6 {
            return Err(LeaseError::WrongFamily {
                path: path.to_owned(),
                found: AddressFamily::Ipv6,
                wanted: family,
            });
        }
        let reply = v6::parse_reply(bytes, None).map_err(|e| LeaseError::Format {
            path: path.to_owned(),
            why: format!("dhcpcd lease6: {e}"),
        })?;
        let domain = v6::domain_from_reply(&reply, &shown).map_err(|e| fail(e.to_string()))?;
        return Ok(LearnedDomain {
            domain,
            source: DomainSource::Lease,
            detail: format!("dhcpcd lease6 {shown}, option 57"),
        });
    }
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Err(LeaseError::Format {
            path: path.to_owned(),
            why: "neither a dhcpcd binary lease nor a dhclient text lease".to_owned(),
        });
    };
    let blocks = parse_dhclient(text).map_err(|why| LeaseError::Format {
        path: path.to_owned(),
        why: format!("dhclient lease: {why}"),
    })?;
    let want_kind = match family {
        AddressFamily::Ipv4 => "lease",
        AddressFamily::Ipv6 => "lease6",
    };
    let block = blocks
        .iter()
        .rev()
        .filter(|b| b.kind == want_kind)
        .find(|b| match (interface, &b.interface) {
            (Some(want), Some(have)) => want == have,
            _ => true,
        })
        .ok_or_else(|| {
            fail(format!(
                "no `{want_kind} {{}}` block{}",
                interface.map_or(String::new(), |i| format!(" for interface {i}"))
            ))
        })?;
    let (domain, option) = dhclient_domain(block, family).map_err(fail)?;
    Ok(LearnedDomain {
        domain,
        source: DomainSource::Lease,
        detail: format!(
            "dhclient lease {shown}{}, option {option}",
            block
                .interface
                .as_ref()
                .map_or(String::new(), |i| format!(" (interface {i})"))
        ),
    })
}

fn looks_like_text(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .take(64)
        .all(|b| b.is_ascii_graphic() || b.is_ascii_whitespace())
}

/// One `lease {}` or `lease6 {}` block: its interface and its `option NAME VALUE;` statements
/// (including those nested in `ia-na {}` and the like).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Block {
    kind: String,
    interface: Option<String>,
    options: Vec<(String, String)>,
}

/// A dhclient token: a word, a quoted string (escapes resolved), or punctuation.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Word(String),
    Str(String),
    Open,
    Close,
    Semi,
}

fn tokenize(text: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '#' => {
                for (_, c) in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            '{' => out.push(Tok::Open),
            '}' => out.push(Tok::Close),
            ';' => out.push(Tok::Semi),
            '"' => {
                let mut s = String::new();
                let mut closed = false;
                while let Some((_, c)) = chars.next() {
                    match c {
                        '"' => {
                            closed = true;
                            break;
                        }
                        '\\' => {
                            // dhclient writes octal escapes (\007) and \" \\.
                            let mut oct = String::new();
                            while oct.len() < 3 {
                                match chars.peek() {
                                    Some(&(_, d)) if d.is_digit(8) => {
                                        oct.push(d);
                                        chars.next();
                                    }
                                    _ => break,
                                }
                            }
                            if oct.is_empty() {
                                if let Some((_, e)) = chars.next() {
                                    s.push(e);
                                }
                            } else {
                                let v = u32::from_str_radix(&oct, 8).unwrap_or(0);
                                s.push(char::from_u32(v).unwrap_or('\u{fffd}'));
                            }
                        }
                        c => s.push(c),
                    }
                }
                if !closed {
                    return Err(format!("unterminated string at byte {i}"));
                }
                out.push(Tok::Str(s));
            }
            c if c.is_whitespace() => {}
            _ => {
                let mut w = String::from(c);
                while let Some(&(_, d)) = chars.peek() {
                    if d.is_whitespace() || matches!(d, '{' | '}' | ';' | '"' | '#') {
                        break;
                    }
                    w.push(d);
                    chars.next();
                }
                out.push(Tok::Word(w));
            }
        }
    }
    Ok(out)
}

/// Collects the top-level `lease`/`lease6` blocks.
fn parse_dhclient(text: &str) -> Result<Vec<Block>, String> {
    let toks = tokenize(text)?;
    let mut blocks = Vec::new();
    let mut i = 0usize;
    let mut depth = 0usize;
    let mut current: Option<Block> = None;
    let mut stmt: Vec<Tok> = Vec::new();
    while let Some(t) = toks.get(i) {
        i += 1;
        match t {
            Tok::Open => {
                if depth == 0 {
                    let kind = match stmt.first() {
                        Some(Tok::Word(w)) if w == "lease" || w == "lease6" => Some(w.clone()),
                        _ => None,
                    };
                    current = kind.map(|kind| Block {
                        kind,
                        interface: None,
                        options: Vec::new(),
                    });
                }
                depth += 1;
                stmt.clear();
            }
            Tok::Close => {
                depth = depth
                    .checked_sub(1)
                    .ok_or_else(|| "unbalanced `}`".to_owned())?;
                stmt.clear();
                if depth == 0
                    && let Some(b) = current.take()
                {
                    blocks.push(b);
                }
            }
            Tok::Semi => {
                if let Some(b) = current.as_mut() {
                    match stmt.as_slice() {
                        [Tok::Word(k), Tok::Str(v)] if k == "interface" => {
                            b.interface = Some(v.clone());
                        }
                        [Tok::Word(k), Tok::Word(name), rest @ ..] if k == "option" => {
                            let value = rest
                                .iter()
                                .map(|t| match t {
                                    Tok::Word(w) => w.clone(),
                                    Tok::Str(s) => format!("\"{s}\""),
                                    _ => String::new(),
                                })
                                .collect::<Vec<_>>()
                                .join(" ");
                            b.options.push((name.clone(), value));
                        }
                        _ => {}
                    }
                }
                stmt.clear();
            }
            other => stmt.push(other.clone()),
        }
    }
    if depth != 0 {
        return Err("unterminated block".to_owned());
    }
    Ok(blocks)
}

/// Option names dhclient uses for 213/57: its built-in RFC 5986 names, and `unknown-213` for a
/// build without them.
const V4_NAMES: [&str; 2] = ["v4-access-domain", "unknown-213"];
const V6_NAMES: [&str; 2] = ["dhcp6.v6-access-domain", "dhcp6.unknown-57"];

fn dhclient_domain(block: &Block, family: AddressFamily) -> Result<(DomainName, u8), String> {
    let names: &[&str] = match family {
        AddressFamily::Ipv4 => &V4_NAMES,
        AddressFamily::Ipv6 => &V6_NAMES,
    };
    let code = match family {
        AddressFamily::Ipv4 => 213,
        AddressFamily::Ipv6 => 57,
    };
    let last = |wanted: &[&str]| {
        block
            .options
            .iter()
            .rev()
            .find(|(n, _)| wanted.contains(&n.as_str()))
            .map(|(_, v)| v.clone())
    };
    if let Some(v) = last(names) {
        return match dhclient_value_to_name(&v) {
            Ok(Some(n)) => Ok((n, code)),
            Ok(None) => Err(format!("option {code} holds only the root name")),
            Err(e) => Err(format!("option {code} value {v:?} rejected: {e}")),
        };
    }
    if family == AddressFamily::Ipv4
        && let Some(v) = last(&["domain-name"])
    {
        // Option 15 is plain text (RFC 2132 §3.17): `option domain-name "example.net";`.
        let text = v.trim_matches('"');
        return match parse_domain_name_option(text.as_bytes()) {
            Ok(Some(n)) => Ok((n, 15)),
            Ok(None) => Err("option 15 is empty".to_owned()),
            Err(e) => Err(format!("option 15 value {v:?} rejected: {e}")),
        };
    }
    Err(match family {
        AddressFamily::Ipv4 => "the lease has neither option 213 (v4-access-domain) nor option 15 \
                                 (dhclient records 213 only with `also request v4-access-domain;`)"
            .to_owned(),
        AddressFamily::Ipv6 => "the lease has no option 57 (dhcp6.v6-access-domain; dhclient \
                                 records it only with `also request dhcp6.v6-access-domain;`)"
            .to_owned(),
    })
}

/// dhclient writes a `domain-name`-typed option as `example.net.` (unquoted), a `domain-list` as
/// `"example.net."`, and a `string`/unknown one as colon-hex `7:65:...:0` (what dhclient writes for an option it does not know the type of).
/// Hex goes through the wire decoder (the RFC 5986 rules); text through the name parser.
fn dhclient_value_to_name(v: &str) -> Result<Option<DomainName>, String> {
    let v = v.trim();
    if let Some(bytes) = colon_hex(v) {
        return decode_access_domain(&bytes).map_err(|e| e.to_string());
    }
    let text = v.trim_matches('"');
    if text.contains(' ') || text.contains(',') {
        return Err("more than one name (RFC 5986 §3.2: exactly one)".to_owned());
    }
    let text = text.strip_suffix('.').unwrap_or(text);
    if text.is_empty() {
        return Ok(None);
    }
    DomainName::parse(text).map(Some).map_err(|e| e.to_string())
}

fn colon_hex(v: &str) -> Option<Vec<u8>> {
    if !v.contains(':') {
        return None;
    }
    v.split(':')
        .map(|p| {
            (1..=2)
                .contains(&p.len())
                .then(|| u8::from_str_radix(p, 16).ok())
                .flatten()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DHCLIENT_V4: &str = r#"
default-duid "\000\001\000\001\036\240\262\027\002\000\000\000\000\001";
lease {
  interface "eth1";
  fixed-address 192.0.2.101;
  option v4-access-domain other.example.;
  renew 0 2026/11/22 07:00:00;
}
lease {
  interface "eth0";
  fixed-address 192.0.2.100;
  option subnet-mask 255.255.255.0;
  option v4-access-domain old.example.;
}
lease {
  interface "eth0";
  fixed-address 192.0.2.100;
  option domain-name "lan.example";
  option v4-access-domain example.net.;
  expire 0 2026/11/22 08:00:00;
}
"#;

    fn read(
        text: &str,
        iface: Option<&str>,
        fam: AddressFamily,
    ) -> Result<LearnedDomain, LeaseError> {
        parse_lease_bytes(text.as_bytes(), Path::new("t.leases"), iface, fam)
    }

    /// A folder of this test's own, removed when dropped.
    struct Scratch(PathBuf);
    impl Scratch {
        fn new(name: &str) -> Self {
            let dir =
                std::env::temp_dir().join(format!("altodisc-lease-{name}-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            Self(dir)
        }
    }
    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// `discover --from-lease /dev/zero` used to read until memory ran out: the size cap looked
    /// at `metadata().len()`, which is 0 for devices.
    #[test]
    fn dev_zero_is_capped_not_read_forever() {
        let started = std::time::Instant::now();
        let err = read_file(Path::new("/dev/zero"), None, AddressFamily::Ipv4).unwrap_err();
        assert!(
            matches!(&err, LeaseError::Format { why, .. } if why.contains("too large")
                && why.contains("not a regular file")),
            "{err}"
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }

    /// A FIFO must not hang the reader: without a writer it reads as empty at once, and with a
    /// writer that has not written it is refused instead of waited for.
    #[test]
    fn fifo_lease_returns_promptly() {
        let scratch = Scratch::new("fifo");
        let fifo = scratch.0.join("lease.fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
        let started = std::time::Instant::now();
        let err = read_file(&fifo, None, AddressFamily::Ipv4).unwrap_err();
        assert!(matches!(err, LeaseError::NoDomain { .. }), "{err}");
        // Opened read-write, the FIFO has a writer (this test) that never writes.
        let _writer = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&fifo)
            .unwrap();
        let err = read_file(&fifo, None, AddressFamily::Ipv4).unwrap_err();
        assert!(
            matches!(&err, LeaseError::Format { why, .. } if why.contains("no data ready")),
            "{err}"
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }

    /// A regular file over the cap is refused by what was read, not by its metadata alone.
    #[test]
    fn oversized_regular_lease_is_refused() {
        let scratch = Scratch::new("big");
        let path = scratch.0.join("big.leases");
        let big = usize::try_from(MAX_LEASE_FILE).unwrap() + 1;
        std::fs::write(&path, vec![b'#'; big]).unwrap();
        let err = read_file(&path, None, AddressFamily::Ipv4).unwrap_err();
        assert!(
            matches!(&err, LeaseError::Format { why, .. } if why.contains("too large")
                && !why.contains("not a regular file")),
            "{err}"
        );
        // At the cap exactly it is read (and then fails only as a lease without a block).
        std::fs::write(&path, vec![b'#'; big - 1]).unwrap();
        let err = read_file(&path, None, AddressFamily::Ipv4).unwrap_err();
        assert!(matches!(err, LeaseError::NoDomain { .. }), "{err}");
    }

    #[test]
    fn dhclient_last_block_for_interface() {
        let d = read(DHCLIENT_V4, Some("eth0"), AddressFamily::Ipv4).unwrap();
        assert_eq!(d.domain.to_string(), "example.net.");
        assert_eq!(d.source, DomainSource::Lease);
        assert!(d.detail.contains("option 213"), "{}", d.detail);
        let d = read(DHCLIENT_V4, Some("eth1"), AddressFamily::Ipv4).unwrap();
        assert_eq!(d.domain.to_string(), "other.example.");
        assert!(read(DHCLIENT_V4, Some("eth9"), AddressFamily::Ipv4).is_err());
        assert!(read(DHCLIENT_V4, Some("eth0"), AddressFamily::Ipv6).is_err());
    }

    #[test]
    fn dhclient_value_forms() {
        for (val, want) in [
            ("example.net.", Some("example.net.")),
            ("\"example.net.\"", Some("example.net.")),
            ("7:65:78:61:6d:70:6c:65:3:6e:65:74:0", Some("example.net.")),
            (".", None),
        ] {
            assert_eq!(
                dhclient_value_to_name(val).unwrap().map(|n| n.to_string()),
                want.map(str::to_owned),
                "{val}"
            );
        }
        assert!(
            dhclient_value_to_name("c0:c").is_err(),
            "compression pointer"
        );
        assert!(dhclient_value_to_name("\"a.example. b.example.\"").is_err());
    }

    #[test]
    fn dhclient_option_15_fallback_and_v6() {
        let v4 = "lease { interface \"eth0\"; option domain-name \"example.org\"; }";
        let d = read(v4, Some("eth0"), AddressFamily::Ipv4).unwrap();
        assert_eq!(d.domain.to_string(), "example.org.");
        assert!(d.detail.contains("option 15"));
        let v6 = r#"default-duid "\000\003\000\001\002\000\000\000\000\001";
lease6 {
  interface "eth0";
  ia-na 00:00:00:01 {
    starts 1700000000;
    iaaddr 2001:db8::100 { starts 1700000000; preferred-life 3600; }
  }
  option dhcp6.client-id 0:3:0:1:2:0:0:0:0:1;
  option dhcp6.v6-access-domain example.net.;
}"#;
        let d = read(v6, Some("eth0"), AddressFamily::Ipv6).unwrap();
        assert_eq!(d.domain.to_string(), "example.net.");
        let no57 = "lease6 { interface \"eth0\"; option dhcp6.name-servers 2001:db8::1; }";
        let e = read(no57, Some("eth0"), AddressFamily::Ipv6)
            .unwrap_err()
            .to_string();
        assert!(e.contains("no option 57"), "{e}");
    }

    /// Real files written by dhclient 4.4.3 and dhcpcd 9.4.1 in the namespace lab
    /// (tests/fixtures/dhcp/README.md).
    #[test]
    fn real_client_lease_files() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/dhcp");
        for (file, iface, fam, client) in [
            (
                "dhclient.eth0.leases",
                Some("eth0"),
                AddressFamily::Ipv4,
                "dhclient",
            ),
            (
                "dhclient6.eth0.leases",
                Some("eth0"),
                AddressFamily::Ipv6,
                "dhclient",
            ),
            ("dhcpcd.lease", None, AddressFamily::Ipv4, "dhcpcd"),
            ("dhcpcd.lease6", None, AddressFamily::Ipv6, "dhcpcd"),
        ] {
            let d = read_file(&dir.join(file), iface, fam).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(d.domain.to_string(), "example.net.", "{file}");
            assert!(d.detail.starts_with(client), "{file}: {}", d.detail);
        }
        // The other family's file is refused with the reason.
        let e = read_file(&dir.join("dhcpcd.lease"), None, AddressFamily::Ipv6).unwrap_err();
        assert!(matches!(e, LeaseError::WrongFamily { .. }), "{e}");
        let e = read_file(&dir.join("dhcpcd.lease6"), None, AddressFamily::Ipv4).unwrap_err();
        assert!(matches!(e, LeaseError::WrongFamily { .. }), "{e}");
        // A dhcpcd lease cut short is a format error, not a panic.
        let bytes = std::fs::read(dir.join("dhcpcd.lease")).unwrap();
        for cut in [240, 250, 290, 299] {
            let r = parse_lease_bytes(&bytes[..cut], Path::new("cut"), None, AddressFamily::Ipv4);
            assert!(r.is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn garbage_is_a_clear_error() {
        assert!(read("lease { interface \"eth0\"; ", None, AddressFamily::Ipv4).is_err());
        let junk: Vec<u8> = (0..300u32).map(|i| (i * 31 + 1).to_le_bytes()[0]).collect();
        assert!(parse_lease_bytes(&junk, Path::new("j"), None, AddressFamily::Ipv4).is_err());
        assert!(parse_lease_bytes(&junk, Path::new("j"), None, AddressFamily::Ipv6).is_err());
    }
}
