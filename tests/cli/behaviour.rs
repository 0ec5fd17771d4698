//! What every command does alike: a closed pipe ends it quietly with exit 0; options override
//! their config keys; errors say how to fix them.

use std::io::{BufRead, BufReader};
use std::net::UdpSocket;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use crate::altodisc;
use crate::deploy::{TempDir, require};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs altodisc with stdout on a pipe whose reader is already gone, as `altodisc ... | head`
/// is once head has exited: every write fails with EPIPE.
fn into_closed_pipe(args: &[&str]) -> Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    Command::new(env!("CARGO_BIN_EXE_altodisc"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

#[test]
fn a_closed_pipe_ends_every_command_quietly_with_exit_0() {
    let config = repo().join("zones/publish.toml");
    for args in [
        vec!["check", "--explain", "Z6"],
        vec!["names", "192.0.2.1", "2001:db8::/48"],
        vec!["names", "--json", "192.0.2.1"],
        vec!["demo"],
        vec!["completions", "bash"],
        vec!["check-config", config.to_str().unwrap()],
        vec!["check", repo().join("zones").to_str().unwrap()],
        vec!["--help"],
    ] {
        let out = into_closed_pipe(&args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !err.contains("Broken pipe") && !err.contains("panicked"),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn names_answers_the_query_side_when_the_publish_side_is_over_the_cap() {
    let out = altodisc(&["names", "2001:db8:1:2:3:4:5:6/100"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The client-side ladder of a /100 starts at R64 (RFC 8686 §3.4).
    assert!(
        text.contains("R64   2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa."),
        "{text}"
    );
    assert!(
        text.contains("not publishable: /100 expands to 268435456 /128 names"),
        "{text}"
    );
    let out = altodisc(&["names", "--json", "2001:db8:1:2:3:4:5:6/100", "192.0.2.1"]);
    assert_eq!(out.status.code(), Some(0));
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["publishable"], false);
    assert!(
        lines[0]["publish_error"]
            .as_str()
            .unwrap()
            .contains("over the limit of 4096")
    );
    assert_eq!(lines[0]["query_names"].as_array().unwrap().len(), 5);
    assert_eq!(lines[1]["publishable"], true);
    assert!(lines[1].get("publish_error").is_none());
}

#[test]
fn listen_without_a_port_says_which_port_to_add() {
    for (arg, fix) in [
        ("127.0.0.1", "127.0.0.1:53"),
        ("::1", "[::1]:53"),
        ("localhost:53", "ADDR:PORT"),
    ] {
        let out = altodisc(&["serve", "--zones", "zones", "--listen", arg]);
        assert_eq!(out.status.code(), Some(2), "{arg}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(fix), "{arg}: {err}");
    }
}

/// `--listen` replaces `serve.listen` like `--metrics` replaces `serve.metrics_listen`: with the
/// config's address taken by another socket, `--listen` elsewhere still starts.
#[test]
fn listen_option_replaces_the_config_addresses() {
    let taken = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let dir = TempDir::new("listen-override");
    let config = dir.0.join("publish.toml");
    let text = std::fs::read_to_string(repo().join("zones/publish.toml"))
        .unwrap()
        .replace(
            "listen = [\"127.0.0.1:5300\"]",
            &format!("listen = [\"127.0.0.1:{port}\"]"),
        )
        .replace(
            "zones_dir = \".\"",
            &format!("zones_dir = {:?}", repo().join("zones").to_str().unwrap()),
        );
    assert!(text.contains(&format!("127.0.0.1:{port}")));
    std::fs::write(&config, text).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_altodisc"))
        .args([
            "serve",
            "--watch",
            "0",
            "--listen",
            "127.0.0.1:0",
            "--config",
        ])
        .arg(&config)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut listening = Vec::new();
    let mut ready = false;
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if let Some(rest) = line.strip_prefix("listening on ") {
            listening.push(rest.to_owned());
        }
        if line.starts_with("ready: ") {
            ready = true;
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(ready, "serve did not start: {listening:?}");
    assert_eq!(listening.len(), 1, "{listening:?}");
    assert!(
        !listening[0].contains(&format!(":{port} ")),
        "{listening:?}"
    );
}

/// Port 53 without the privilege: the error names the capability to grant.
#[test]
fn privileged_port_without_permission_names_the_capability() {
    if !nix::unistd::geteuid().is_root() {
        // Unprivileged already: the plain run below is the test.
    } else if require("setpriv", "run as an unprivileged user").is_none() {
        return;
    }
    let unprivileged = std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")
        .ok()
        .and_then(|t| t.trim().parse::<u16>().ok())
        .unwrap_or(1024);
    if unprivileged <= 53 {
        eprintln!("skipped: port 53 is not privileged here (ip_unprivileged_port_start)");
        return;
    }
    let zones = repo().join("zones");
    let mut cmd = if nix::unistd::geteuid().is_root() {
        let mut c = Command::new("setpriv");
        c.args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
            "--bounding-set=-all",
        ])
        .arg(env!("CARGO_BIN_EXE_altodisc"));
        c
    } else {
        Command::new(env!("CARGO_BIN_EXE_altodisc"))
    };
    let out = cmd
        .args([
            "serve",
            "--watch",
            "0",
            "--listen",
            "127.0.0.1:53",
            "--zones",
        ])
        .arg(&zones)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("cannot listen on 127.0.0.1:53"), "{err}");
    assert!(err.contains("CAP_NET_BIND_SERVICE"), "{err}");
    assert!(err.contains("setcap cap_net_bind_service=+ep"), "{err}");
}

/// Under systemd (`$JOURNAL_STREAM`), stdout and stderr both go to the journal: the start-up
/// lines are on stdout once, the log on stderr does not repeat them, and log lines carry no
/// timestamp of their own (journald stamps every line).
#[test]
fn serve_says_each_thing_once_and_leaves_timestamps_to_journald() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_altodisc"))
        .args([
            "serve",
            "--watch",
            "0",
            "--listen",
            "127.0.0.1:0",
            "--zones",
        ])
        .arg(repo().join("zones"))
        .env("JOURNAL_STREAM", "8:12345")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout_lines = Vec::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        let ready = line.starts_with("ready: ");
        stdout_lines.push(line);
        if ready {
            break;
        }
    }
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        stdout_lines.iter().any(|l| l.starts_with("listening on ")),
        "{stdout_lines:?}"
    );
    assert!(log.contains("shutting down"), "{log}");
    for line in log.lines() {
        assert!(
            !line.contains("listening") && !line.contains("ready"),
            "said twice: {line}"
        );
        // `INFO altodisc::...: shutting down`, not `2026-...T...Z  INFO ...`.
        let first = line.split_whitespace().next().unwrap_or_default();
        assert!(
            ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"].contains(&first),
            "timestamped or unknown line: {line}"
        );
    }
}
