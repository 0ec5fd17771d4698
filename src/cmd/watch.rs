//! `altodisc discover --watch`: the discovery agent, and `--write-alto-conf`.
//!
//! RFC 7286 §3 ties the ALTO server to the access network: it changes when the host moves to
//! another network (new addresses, routes, DHCP options) and its DNS answer expires with its TTL.
//! The agent therefore re-runs discovery
//!
//! * when the kernel reports a link, address or route change (rtnetlink multicast groups; the
//!   messages only wake the agent, which then waits `--settle` for the burst to end),
//! * when the smallest TTL among the current candidates runs out (bounded by
//!   `--min-interval`/`--max-interval`),
//! * on SIGHUP,
//!
//! and writes the per-(interface, family) result as JSON to `--state-file` atomically (temporary
//! file + rename: a reader sees the old or the new file, never a part). Each change of the result
//! is logged on stderr. SIGTERM and SIGINT stop it after the file is complete.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use altodisc_resolver::dhcp::discover::{DiscoverOptions, PairResult, PairStatus, discover};
use altodisc_resolver::verify::Verification;
use clap::Args;
use netlink_sys::protocols::NETLINK_ROUTE;
use netlink_sys::{AsyncSocket, AsyncSocketExt, SocketAddr, TokioSocket};
use serde_json::{Value, json};
use tokio::signal::unix::{SignalKind, signal};

use super::resolve::DnsArgs;
use super::verify::VerifyCandidates;
use crate::exit;

/// rtnetlink multicast groups (linux/rtnetlink.h): links, IPv4/IPv6 addresses and routes.
const RTMGRP_LINK: u32 = 0x1;
const RTMGRP_IPV4_IFADDR: u32 = 0x10;
const RTMGRP_IPV4_ROUTE: u32 = 0x40;
const RTMGRP_IPV6_IFADDR: u32 = 0x100;
const RTMGRP_IPV6_ROUTE: u32 = 0x400;

/// Default state file of the agent (the systemd unit's RuntimeDirectory).
pub(crate) const DEFAULT_STATE_FILE: &str = "/run/altodisc/discovery.json";

/// The agent's flags (part of `altodisc discover`).
#[derive(Debug, Args)]
pub(crate) struct WatchArgs {
    /// Keep discovery current: re-run on link/address/route changes, when the smallest TTL of
    /// the answer expires and on SIGHUP; write each result to --state-file. SIGTERM stops it.
    #[arg(long)]
    pub(crate) watch: bool,
    /// Where --watch writes the current result (JSON, replaced atomically).
    #[arg(long, value_name = "FILE", default_value = DEFAULT_STATE_FILE, requires = "watch")]
    state_file: PathBuf,
    /// After a network change, wait this long for more changes before re-running (e.g. 1s, 500ms).
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = humantime::parse_duration, requires = "watch")]
    settle: Duration,
    /// Re-run at most this often because of TTL expiry (TTLs below it are raised to it).
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = humantime::parse_duration, requires = "watch")]
    min_interval: Duration,
    /// Re-run at least this often, also when nothing was found (no TTL to wait for).
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = humantime::parse_duration, requires = "watch")]
    max_interval: Duration,
    /// Write the first verified candidate as `default_ird` into this OpenALTO client
    /// configuration file (INI `[client]` section), atomically, keeping its other lines. Needs
    /// --verify: only a server whose IRD verified is written.
    #[arg(long, value_name = "PATH", requires = "verify")]
    pub(crate) write_alto_conf: Option<PathBuf>,
}

/// The first verified URI over all pairs, in pair order then candidate order.
fn best_verified(tried: &[Option<Vec<Verification>>]) -> Option<&str> {
    tried
        .iter()
        .flatten()
        .flat_map(|t| t.iter())
        .find(|v| v.verified)
        .map(|v| v.uri.as_str())
}

/// `--write-alto-conf` after a (non-watch) run: writes the best verified URI, or says why not.
/// Returns an error message when nothing could be written.
pub(crate) fn write_alto_conf(
    path: &Path,
    tried: &[Option<Vec<Verification>>],
) -> Result<String, String> {
    let uri = best_verified(tried).ok_or_else(|| {
        format!(
            "--write-alto-conf {}: no candidate verified; the file is unchanged",
            path.display()
        )
    })?;
    altodisc_resolver::alto_conf::write_default_ird(path, uri)
        .map_err(|e| format!("--write-alto-conf: {e}"))?;
    Ok(uri.to_owned())
}

/// A netlink route socket subscribed to link, address and route changes.
fn netlink_socket() -> std::io::Result<TokioSocket> {
    let mut socket = TokioSocket::new(NETLINK_ROUTE)?;
    let groups = RTMGRP_LINK
        | RTMGRP_IPV4_IFADDR
        | RTMGRP_IPV4_ROUTE
        | RTMGRP_IPV6_IFADDR
        | RTMGRP_IPV6_ROUTE;
    socket.socket_mut().bind(&SocketAddr::new(0, groups))?;
    Ok(socket)
}

/// Waits for the next netlink message. Its content does not matter: any link, address or route
/// change re-runs discovery.
async fn next_change(nl: &mut TokioSocket) -> std::io::Result<()> {
    match nl.recv_from_full().await {
        Ok(_) => Ok(()),
        // ENOBUFS: the kernel dropped messages because we were slow; still a change.
        Err(e) if e.raw_os_error() == Some(nix::libc::ENOBUFS) => Ok(()),
        Err(e) => Err(e),
    }
}

/// The part of a pair's result whose change is logged: status, domain and candidate URIs.
fn summary(pair: &Value) -> String {
    let uris: Vec<&str> = pair["candidates"]
        .as_array()
        .map(|c| c.iter().filter_map(|c| c["uri"].as_str()).collect())
        .unwrap_or_default();
    format!(
        "{} {}: {} domain={} [{}]",
        pair["interface"].as_str().unwrap_or("?"),
        pair["family"].as_str().unwrap_or("?"),
        pair["status"].as_str().unwrap_or("?"),
        pair["domain"].as_str().unwrap_or("-"),
        uris.join(" ")
    )
}

/// The smallest candidate TTL over every pair that found something.
fn smallest_ttl(results: &[PairResult]) -> Option<u32> {
    results
        .iter()
        .filter(|r| r.status == PairStatus::Found)
        .filter_map(|r| r.unaptr.as_ref())
        .flat_map(|u| u.candidates.iter().map(|c| c.ttl))
        .min()
}

/// Runs the agent until SIGTERM/SIGINT.
pub(crate) fn run(
    watch: &WatchArgs,
    opts: &DiscoverOptions,
    dns: &DnsArgs,
    verify: &VerifyCandidates,
    rt: &tokio::runtime::Runtime,
) -> ExitCode {
    if watch.min_interval > watch.max_interval || watch.max_interval.is_zero() {
        eprintln!("altodisc: error: --min-interval must not exceed --max-interval (> 0)");
        return exit::code(exit::USAGE);
    }
    match rt.block_on(agent(watch, opts, dns, verify)) {
        Ok(()) => exit::code(exit::SUCCESS),
        Err(m) => {
            eprintln!("altodisc: error: {m}");
            exit::code(exit::USAGE)
        }
    }
}

async fn agent(
    watch: &WatchArgs,
    opts: &DiscoverOptions,
    dns: &DnsArgs,
    verify: &VerifyCandidates,
) -> Result<(), String> {
    let mut nl = netlink_socket().map_err(|e| format!("netlink route socket: {e}"))?;
    let mut hup = signal(SignalKind::hangup()).map_err(|e| format!("SIGHUP: {e}"))?;
    let mut term = signal(SignalKind::terminate()).map_err(|e| format!("SIGTERM: {e}"))?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| format!("SIGINT: {e}"))?;
    let allow_http = opts
        .wanted
        .iter()
        .any(|w| w.protocol.eq_ignore_ascii_case("http"));
    let mut previous: Vec<String> = Vec::new();
    let mut generation: u64 = 0;
    let mut reason = "start";
    loop {
        generation = generation.saturating_add(1);
        // The resolver is rebuilt each time: a network change may bring a new resolv.conf.
        let resolver = dns.resolver().await?;
        let mut ro = resolver.options;
        ro.unaptr = dns.unaptr_options();
        let resolver = resolver.options(ro);
        let (pairs, wait, ttl_bound) = match discover(opts, &resolver).await {
            Ok(results) => {
                let mut tried = Vec::with_capacity(results.len());
                for r in &results {
                    let uris: Vec<String> = r
                        .unaptr
                        .as_ref()
                        .map(|u| u.candidates.iter().map(|c| c.uri.clone()).collect())
                        .unwrap_or_default();
                    let t = if uris.is_empty() {
                        None
                    } else {
                        verify
                            .run(allow_http, &uris)
                            .await
                            .map_err(|e| e.to_string())?
                    };
                    tried.push(t);
                }
                if let Some(path) = &watch.write_alto_conf {
                    match write_alto_conf(path, &tried) {
                        Ok(uri) => {
                            eprintln!("altodisc: watch: {}: default_ird = {uri}", path.display());
                        }
                        Err(m) => eprintln!("altodisc: watch: {m}"),
                    }
                }
                let pairs: Vec<Value> = results
                    .iter()
                    .zip(&tried)
                    .map(|(r, t)| {
                        crate::cmd::verify::with_verification(r.to_json(false), t.as_deref())
                    })
                    .collect();
                let ttl = smallest_ttl(&results).map(|t| Duration::from_secs(u64::from(t)));
                let wait = ttl.map_or(watch.max_interval, |t| {
                    t.clamp(watch.min_interval, watch.max_interval)
                });
                (pairs, wait, ttl.is_some_and(|t| t <= watch.max_interval))
            }
            // No interface right now (all down): an empty result, re-run on the next change.
            Err(e) => {
                eprintln!("altodisc: watch: discovery could not run: {e}");
                (Vec::new(), watch.max_interval, false)
            }
        };
        let now: Vec<String> = pairs.iter().map(summary).collect();
        if now != previous {
            eprintln!("altodisc: watch: result changed ({reason}):");
            for line in &now {
                eprintln!("altodisc: watch:   {line}");
            }
            if now.is_empty() {
                eprintln!("altodisc: watch:   (no interface to run on)");
            }
        }
        previous = now;
        let updated = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let state = json!({
            "generation": generation,
            "updated": updated,
            "reason": reason,
            "next_run_in_s": wait.as_secs(),
            "pairs": pairs,
        });
        let mut text = state.to_string();
        text.push('\n');
        if let Err(e) =
            altodisc_resolver::alto_conf::write_atomically(&watch.state_file, text.as_bytes(), None)
        {
            return Err(format!(
                "--state-file {}: {e}; the directory must exist and be writable",
                watch.state_file.display()
            ));
        }
        // Wait for the next reason to run.
        reason = tokio::select! {
            r = next_change(&mut nl) => {
                r.map_err(|e| format!("netlink: {e}"))?;
                // Let the burst of messages of one change (link, addresses, routes) end.
                let settle = tokio::time::sleep(watch.settle);
                tokio::pin!(settle);
                loop {
                    tokio::select! {
                        () = &mut settle => break,
                        r = next_change(&mut nl) => { r.map_err(|e| format!("netlink: {e}"))?; }
                    }
                }
                "network change"
            }
            // RFC 7286 §3.2 answers come from DNS: when the smallest TTL runs out the answer
            // may have changed.
            () = tokio::time::sleep(wait) => if ttl_bound { "TTL expired" } else { "interval" },
            _ = hup.recv() => "SIGHUP",
            _ = term.recv() => { eprintln!("altodisc: watch: SIGTERM, stopping"); return Ok(()); }
            _ = int.recv() => { eprintln!("altodisc: watch: SIGINT, stopping"); return Ok(()); }
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_names_pair_status_domain_and_uris() {
        let v = json!({"interface": "eth0", "family": "ipv4", "status": "found",
            "domain": "isp.example.", "candidates": [{"uri": "https://a/"}, {"uri": "https://b/"}]});
        assert_eq!(
            summary(&v),
            "eth0 ipv4: found domain=isp.example. [https://a/ https://b/]"
        );
    }

    #[test]
    fn best_verified_is_the_first_verified_in_pair_then_candidate_order() {
        let ok = |u: &str| {
            Verification::new(
                u,
                &Err(altodisc_resolver::verify::VerifyError::Client("x".into())),
            )
        };
        let mut good = ok("https://good/");
        good.verified = true;
        let tried = vec![None, Some(vec![ok("https://bad/"), good]), None];
        assert_eq!(best_verified(&tried), Some("https://good/"));
        assert_eq!(best_verified(&[None]), None);
    }
}
