//! `altodisc sign ZONEFILE`: DNSSEC-sign a zone file (RFC 8686 §6.1: operators SHOULD sign their
//! reverse zones) with keys kept in a directory, for serving by any authoritative server (NSD,
//! Knot, BIND serve a pre-signed zone unchanged). The signer is `altodisc_responder::dnssec`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use altodisc_proto::DomainName;
use altodisc_responder::dnssec::{Denial, Nsec3Params, SigningPolicy, ZoneKeys, sign_zone_with};
use altodisc_zone::master::zone_to_master;
use clap::Args;

use crate::exit;

/// Arguments of `altodisc sign`.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  altodisc sign --keys /var/lib/altodisc/keys --out 2.0.192.in-addr.arpa.signed zones/2.0.192.in-addr.arpa.zone
  altodisc sign --keys keys/ --ds-out ds.txt example.net.zone > example.net.signed

Keys: ECDSA P-256 (algorithm 13), a KSK and a ZSK per zone, created in --keys on first use
(<origin>ksk.pk8, <origin>zsk.pk8, mode 0600) and reused afterwards, so the DS stays valid.
The KSK's DS goes to stderr (and to --ds-out): give it to the parent zone, or to resolvers as a
--trust-anchor. Denial of existence: NSEC, or NSEC3 with --nsec3 (RFC 5155; RFC 9276's 0 extra
iterations and no salt unless given). Existing DNSSEC records are replaced. Re-sign before
the signatures expire (--validity-days; `altodisc sign` again, e.g. daily from cron).

Exit codes: 0 signed, 2 invalid input (unreadable or broken zone file, key problems).")]
pub(crate) struct SignArgs {
    /// The zone file (origin from $ORIGIN, --origin, or the file name `<origin>.zone`).
    #[arg(value_name = "ZONEFILE")]
    zone: PathBuf,
    /// Directory holding the zone's keys (created if missing).
    #[arg(long, value_name = "DIR")]
    keys: PathBuf,
    /// The zone origin, when neither $ORIGIN nor the file name gives it.
    #[arg(long, value_name = "NAME")]
    origin: Option<String>,
    /// Write the signed zone here instead of stdout.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Also write the KSK's DS record here.
    #[arg(long, value_name = "FILE")]
    ds_out: Option<PathBuf>,
    /// Signature validity, in days from now (inception is one hour back, for slow clocks).
    #[arg(long, default_value_t = 14, value_name = "DAYS")]
    validity_days: u64,
    /// Deny existence with NSEC3 (RFC 5155) instead of NSEC.
    #[arg(long)]
    nsec3: bool,
    /// NSEC3 extra hash iterations (RFC 9276 §3.1: 0).
    #[arg(long, default_value_t = 0, value_name = "N", requires = "nsec3")]
    nsec3_iterations: u16,
    /// NSEC3 salt in hex, or "-" for none (RFC 9276 §3.1: none).
    #[arg(long, default_value = "-", value_name = "HEX", requires = "nsec3")]
    nsec3_salt: String,
    /// NSEC3 opt-out (RFC 5155 §6): delegations without DS get no NSEC3.
    #[arg(long, requires = "nsec3")]
    nsec3_opt_out: bool,
}

fn fail(message: &str) -> ExitCode {
    eprintln!("altodisc: error: {message}");
    exit::code(exit::USAGE)
}

/// Runs `altodisc sign`.
pub(crate) fn run(args: &SignArgs) -> ExitCode {
    if args.validity_days == 0 || args.validity_days > 3650 {
        return fail("--validity-days must be between 1 and 3650");
    }
    let origin = match &args.origin {
        Some(o) => match DomainName::parse(o) {
            Ok(n) => Some(n),
            Err(e) => return fail(&format!("--origin {o:?}: {e}")),
        },
        None => altodisc_zone::reader::origin_from_file_name(&args.zone),
    };
    let read = match altodisc_zone::reader::read_zone_file(&args.zone, origin.as_ref()) {
        Ok(r) => r,
        Err(e) => return fail(&e.to_string()),
    };
    if read.has_errors() {
        for d in &read.diagnostics {
            eprintln!("{d:?}");
        }
        return fail(&format!(
            "{}: the zone file has errors; not signing",
            args.zone.display()
        ));
    }
    let origin = read.zone.origin.clone();
    let keys = match ZoneKeys::load_or_create(&args.keys, &origin) {
        Ok(k) => k,
        Err(e) => return fail(&e.to_string()),
    };
    let policy = SigningPolicy {
        validity: Duration::from_secs(args.validity_days.saturating_mul(86_400)),
        ..SigningPolicy::default()
    };
    let denial = if args.nsec3 {
        let params = match Nsec3Params::parse_salt(&args.nsec3_salt) {
            Ok(salt) => Nsec3Params {
                iterations: args.nsec3_iterations,
                salt,
                opt_out: args.nsec3_opt_out,
            },
            Err(e) => return fail(&format!("--nsec3-salt: {e}")),
        };
        if let Err(e) = params.validate() {
            return fail(&format!("--nsec3-iterations: {e}"));
        }
        Denial::Nsec3(params)
    } else {
        Denial::Nsec
    };
    let signed = match sign_zone_with(&read.zone, &keys, &policy, &denial, SystemTime::now()) {
        Ok(z) => z,
        Err(e) => return fail(&e.to_string()),
    };
    let ds = match keys.ds_text(&origin) {
        Ok(d) => d,
        Err(e) => return fail(&e.to_string()),
    };
    // The zone's one presentation writer (altodisc_zone::rdata), not hickory's Display: that
    // writes TXT without quotes (`apex text` re-reads as two strings) and label octets in octal
    // (`\377`), which BIND refuses and NSD reads as another name.
    let text = zone_to_master(
        &signed,
        &format!("{origin} signed by altodisc sign (NSEC, ECDSAP256SHA256)"),
    );
    let written = match &args.out {
        Some(p) => std::fs::write(p, &text).map_err(|e| format!("{}: {e}", p.display())),
        None => std::io::stdout()
            .lock()
            .write_all(text.as_bytes())
            .map_err(|e| e.to_string()),
    };
    if let Err(m) = written {
        return fail(&m);
    }
    if let Some(p) = &args.ds_out
        && let Err(e) = std::fs::write(p, &ds)
    {
        return fail(&format!("{}: {e}", p.display()));
    }
    eprint!("DS for the parent zone / --trust-anchor:\n{ds}");
    exit::code(exit::SUCCESS)
}
