//! `altodisc keys list|status`: the DNSSEC keys `serve` (`dnssec = "sign"`) and `altodisc sign`
//! keep in a key directory, per zone: role, algorithm, key tag, the KSK's DS for the parent
//! (RFC 4509, SHA-256) and the files. Read only: it never creates a key (unlike `sign` and
//! `serve`, which make a zone's keys on first use).

use std::path::PathBuf;
use std::process::ExitCode;

use altodisc_proto::DomainName;
use altodisc_responder::dnssec::ZoneKeys;
use clap::{Args, Subcommand};

use crate::exit;

/// Arguments of `altodisc keys`.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  altodisc keys list --key-dir /var/lib/altodisc/keys
  altodisc keys status --key-dir keys --json 2.0.192.in-addr.arpa.
  altodisc keys ds-seen --key-dir keys 2.0.192.in-addr.arpa.   # then: systemctl reload altodisc

Keys: one KSK (flags 257) and one ZSK (256) per zone, ECDSA P-256 (algorithm 13), files
<origin>ksk.pk8 and <origin>zsk.pk8. With `zsk_lifetime` in [serve] the ZSK is rolled over
automatically (<origin>zsk.state): the list shows the active, incoming and retired ZSK.
With `ksk_lifetime` the KSK is rolled over by double-DS (RFC 6781 §4.1.2): publish the DS that
the zone's CDS records name at the parent, then run `keys ds-seen` (or list the parent's
servers in `parent_ds_check`: `serve` then asks them and moves on by itself).

Exit codes: 0 listed, 1 no keys for the zone, 2 unreadable key directory or key file.")]
pub(crate) struct KeysArgs {
    #[command(subcommand)]
    command: KeysCommand,
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Every zone with keys in the directory.
    List(Target),
    /// Confirm that the DS of the zone's new KSK is at the parent (KSK rollover by double-DS,
    /// `ksk_lifetime` in `[serve]`): the old KSK is retired after the parent's DS TTL. Reload
    /// `serve` (SIGHUP) afterwards so it sets its timer.
    DsSeen {
        /// The key directory (`[serve] key_dir`).
        #[arg(long, value_name = "DIR")]
        key_dir: PathBuf,
        /// The zone.
        #[arg(value_name = "ZONE")]
        zone: String,
    },
    /// The keys of one zone.
    Status {
        #[command(flatten)]
        target: Target,
        /// The zone.
        #[arg(value_name = "ZONE")]
        zone: String,
    },
}

#[derive(Debug, Args)]
struct Target {
    /// The key directory (`[serve] key_dir`, `altodisc sign --keys`).
    #[arg(long, value_name = "DIR")]
    key_dir: PathBuf,
    /// One JSON object per zone and line instead of text.
    #[arg(long)]
    json: bool,
}

fn fail(code: u8, message: &str) -> ExitCode {
    eprintln!("altodisc: error: {message}");
    exit::code(code)
}

/// One zone's keys as JSON, or an error naming the file.
fn describe(target: &Target, origin: &DomainName) -> Result<serde_json::Value, String> {
    let base = origin.to_lowercase_string();
    let base = if base == "." {
        "root.".to_owned()
    } else {
        base
    };
    let ksk_file = target.key_dir.join(format!("{base}ksk.pk8"));
    let zsk_file = target.key_dir.join(format!("{base}zsk.pk8"));
    if !ksk_file.exists() && !zsk_file.exists() {
        return Err(String::new());
    }
    let keys = ZoneKeys::load_or_create(&target.key_dir, origin).map_err(|e| e.to_string())?;
    let (ksk, zsk) = keys.key_tags().map_err(|e| e.to_string())?;
    let ds = keys.ds_text(origin).map_err(|e| e.to_string())?;
    let mut ds_list = vec![ds.trim().to_owned()];
    let mut list = vec![];
    // With automatic KSK rollover the state file says which KSKs are in use (read only here).
    match ZoneKeys::ksk_status(&target.key_dir, origin).map_err(|e| e.to_string())? {
        Some(ksks) => {
            ds_list.clear();
            for (k, ds) in ksks {
                list.push(
                    serde_json::json!({"role": "KSK", "state": k.state, "flags": 257,
                    "algorithm": 13, "key_tag": k.key_tag, "since": k.since,
                    "file": target.key_dir.join(k.file).display().to_string()}),
                );
                ds_list.push(ds);
            }
        }
        None => list.push(
            serde_json::json!({"role": "KSK", "state": "active", "flags": 257,
            "algorithm": 13, "key_tag": ksk, "file": ksk_file.display().to_string()}),
        ),
    }
    // With automatic ZSK rollover the state file says which ZSKs are in use (read only here).
    match ZoneKeys::rollover_status(&target.key_dir, origin).map_err(|e| e.to_string())? {
        Some(zsks) => {
            for z in zsks {
                list.push(
                    serde_json::json!({"role": "ZSK", "state": z.state, "flags": 256,
                    "algorithm": 13, "key_tag": z.key_tag, "since": z.since,
                    "file": target.key_dir.join(z.file).display().to_string()}),
                );
            }
        }
        None => list.push(
            serde_json::json!({"role": "ZSK", "state": "active", "flags": 256,
            "algorithm": 13, "key_tag": zsk, "file": zsk_file.display().to_string()}),
        ),
    }
    Ok(serde_json::json!({
        "zone": origin.to_lowercase_string(),
        "keys": list,
        "ds": ds_list.first(),
        "ds_all": ds_list,
    }))
}

fn print(target: &Target, v: &serde_json::Value) {
    if target.json {
        println!("{v}");
        return;
    }
    println!("{}", v["zone"].as_str().unwrap_or_default());
    for k in v["keys"].as_array().into_iter().flatten() {
        println!(
            "  {} {:<8} tag {:>5} algorithm {} flags {}  {}",
            k["role"].as_str().unwrap_or_default(),
            k["state"].as_str().unwrap_or_default(),
            k["key_tag"],
            k["algorithm"],
            k["flags"],
            k["file"].as_str().unwrap_or_default()
        );
    }
    for ds in v["ds_all"].as_array().into_iter().flatten() {
        println!("  DS {}", ds.as_str().unwrap_or_default());
    }
}

/// Runs `altodisc keys`.
pub(crate) fn run(args: &KeysArgs) -> ExitCode {
    match &args.command {
        KeysCommand::List(target) => {
            let zones = match ZoneKeys::zones_in(&target.key_dir) {
                Ok(z) => z,
                Err(e) => return fail(exit::USAGE, &e.to_string()),
            };
            let mut code = exit::SUCCESS;
            for origin in &zones {
                match describe(target, origin) {
                    Ok(v) => print(target, &v),
                    Err(e) => {
                        eprintln!("altodisc: error: zone {origin}: {e}");
                        code = exit::USAGE;
                    }
                }
            }
            exit::code(code)
        }
        KeysCommand::DsSeen { key_dir, zone } => {
            let origin = match DomainName::parse(zone) {
                Ok(o) => o,
                Err(e) => return fail(exit::USAGE, &format!("{zone:?}: {e}")),
            };
            match ZoneKeys::mark_ds_seen(key_dir, &origin, std::time::SystemTime::now()) {
                Ok(msg) => {
                    println!("{msg}");
                    exit::code(exit::SUCCESS)
                }
                Err(e) => fail(exit::USAGE, &format!("zone {origin}: {e}")),
            }
        }
        KeysCommand::Status { target, zone } => {
            let origin = match DomainName::parse(zone) {
                Ok(o) => o,
                Err(e) => return fail(exit::USAGE, &format!("{zone:?}: {e}")),
            };
            match describe(target, &origin) {
                Ok(v) => {
                    print(target, &v);
                    exit::code(exit::SUCCESS)
                }
                Err(e) if e.is_empty() => fail(
                    exit::NOT_FOUND,
                    &format!("no keys for {origin} in {}", target.key_dir.display()),
                ),
                Err(e) => fail(exit::USAGE, &format!("zone {origin}: {e}")),
            }
        }
    }
}
