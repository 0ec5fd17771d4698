//! `altodisc check-config FILE` and `serve --check-config`: everything `serve` refuses, found
//! without serving, each error at file:line:col with a hint; nothing written.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::altodisc;
use crate::deploy::{TempDir, require};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Writes `text` as `dir/altodisc.toml` and runs `check-config` on it.
fn check(dir: &TempDir, text: &str) -> (PathBuf, Output) {
    let path = dir.0.join("altodisc.toml");
    std::fs::write(&path, text).unwrap();
    let out = altodisc(&["check-config", path.to_str().unwrap()]);
    (path, out)
}

const ZONE: &str = r#"
[defaults]
ns = ["ns1.example.org."]

[[zone]]
origin = "example.org."
records = ["ns1 3600 IN A 192.0.2.53"]

[[access_domain]]
domain = "example.org."
records = [{ order = 100, preference = 10, uri = "https://alto.example.org/ird" }]
"#;

#[test]
fn typo_in_serve_is_an_error_at_its_line_with_the_key_it_meant() {
    let dir = TempDir::new("cc-typo");
    let text = format!(
        "[serve]\nlisten = [\"127.0.0.1:5300\"]\nmetric_listen = \"127.0.0.1:9153\"\n{ZONE}"
    );
    let (path, out) = check(&dir, &text);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("{}:3:1: error:", path.display())),
        "{err}"
    );
    assert!(err.contains("unknown field `metric_listen`"), "{err}");
    assert!(err.contains("did you mean `metrics_listen`?"), "{err}");
    assert!(stdout(&out).is_empty());
    // `serve` refuses the same config with the same position, before loading anything.
    let out = altodisc(&["serve", "--config", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains(&format!("{}:3:1: error:", path.display())),
        "{}",
        stderr(&out)
    );
    // And so does `serve --check-config`, with check-config's exit status.
    let out = altodisc(&[
        "serve",
        "--check-config",
        "--config",
        path.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("did you mean `metrics_listen`?"));
}

#[test]
fn bad_values_in_serve_are_errors_at_their_column() {
    let dir = TempDir::new("cc-values");
    // `dnssec = "signed"`: not one of the modes.
    let (path, out) = check(
        &dir,
        &format!("[serve]\nlisten = [\"127.0.0.1:5300\"]\ndnssec = \"signed\"\n{ZONE}"),
    );
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("{}:3:10: error:", path.display())),
        "{err}"
    );
    assert!(err.contains("did you mean \"sign\"?"), "{err}");
    // `listen` as a string instead of a list.
    let (path, out) = check(&dir, &format!("[serve]\nlisten = \"[::]:53\"\n{ZONE}"));
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("{}:2:10: error:", path.display())),
        "{err}"
    );
    assert!(err.contains("listen = [\"[::]:53\"]"), "{err}");
    // An address without a port.
    let (path, out) = check(&dir, &format!("[serve]\nlisten = [\"127.0.0.1\"]\n{ZONE}"));
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains(&format!("{}:2:", path.display())), "{err}");
    assert!(err.contains("give an address and a port"), "{err}");
    // A value `serve` refuses only after parsing (the bound of udp_busy_poll_us), at its key.
    let (path, out) = check(
        &dir,
        &format!("[serve]\nlisten = [\"127.0.0.1:5300\"]\nudp_busy_poll_us = 5000000\n{ZONE}"),
    );
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "{}:3:20: error: [serve] udp_busy_poll_us",
            path.display()
        )),
        "{err}"
    );
    // Durations `serve` checks against each other, at the key named in words.
    let (path, out) = check(
        &dir,
        &format!(
            "[serve]\nlisten = [\"127.0.0.1:5300\"]\nsignature_validity = \"2d\"\n\
             refresh_before = \"3d\"\n{ZONE}"
        ),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(&format!("{}:", path.display())) && stderr(&out).contains("refresh"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn missing_directories_listeners_and_zones_are_errors() {
    let dir = TempDir::new("cc-missing");
    // zones_dir that does not exist, at its key.
    let (path, out) = check(
        &dir,
        &format!("[serve]\nlisten = [\"127.0.0.1:5300\"]\nzones_dir = \"nothere\"\n{ZONE}"),
    );
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "{}:3:13: error: [serve] zones_dir = \"nothere\"",
            path.display()
        )),
        "{err}"
    );
    // No listen address at all (serve: "nothing to listen on"), at the [serve] header...
    let (path, out) = check(&dir, &format!("[serve]\ncheck = true\n{ZONE}"));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(&format!("{}:1:1: error: [serve] listen", path.display())),
        "{}",
        stderr(&out)
    );
    // ...unless --listen gives one.
    let out = altodisc(&[
        "check-config",
        "--listen",
        "127.0.0.1:5300",
        path.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // Nothing to serve at all.
    let (_, out) = check(&dir, "[serve]\nlisten = [\"127.0.0.1:5300\"]\n");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no zones to serve"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("hint: add `zones_dir = \"zones\"` to [serve]"),
        "{}",
        stderr(&out)
    );
    // An unreadable file is a usage error (2), not a finding.
    let out = altodisc(&["check-config", "/nonexistent/altodisc.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("/nonexistent/altodisc.toml"));
}

#[test]
fn entry_errors_point_at_the_entry_not_its_number() {
    let dir = TempDir::new("cc-entry");
    let text = format!(
        "[serve]\nlisten = [\"127.0.0.1:5300\"]\n{ZONE}\n[[zone]]\norigin = \"198.in-addr.arpa.\"\n\n\
         [[prefix]]\nprefix = \"198.51.100.0/24\"\n\
         records = [{{ order = 100, preference = 10, uri = \"https://alto.example.org/ird\" }}]\n\n\
         [[prefix]]\nprefix = \"203.0.113.0/24\"\n\
         records = [{{ order = 100, preference = 10, uri = \"https://alto.example.org/ird\" }}]\n"
    );
    let (path, out) = check(&dir, &text);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    // The value of the second entry's `prefix` key (203.0.113.0/24 is in no zone), once.
    let line = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.starts_with("prefix = "))
        .nth(1)
        .unwrap()
        .0
        + 1;
    assert!(
        err.contains(&format!(
            "{}:{line}:10: error: prefix 203.0.113.0/24: owner 113.0.203.in-addr.arpa. is in no [[zone]]",
            path.display()
        )),
        "{err}"
    );
    assert_eq!(err.matches(&path.display().to_string()).count(), 1, "{err}");
    assert!(err.contains("add a zone"), "{err}");
}

#[test]
fn zone_checker_errors_fail_the_check_as_they_fail_the_start() {
    let dir = TempDir::new("cc-checker");
    let zones = dir.0.join("zones");
    std::fs::create_dir(&zones).unwrap();
    // Z6: a "U" record whose REGEXP is not !.*!<URI>!.
    std::fs::write(
        zones.join("example.net.zone"),
        "$TTL 3600\n@ SOA ns1 hostmaster 1 7200 900 1209600 300\n@ NS ns1\n\
         ns1 A 192.0.2.53\n@ NAPTR 100 10 \"u\" \"ALTO:https\" \"!^foo$!https://x.example.net/!\" .\n",
    )
    .unwrap();
    let text = format!("[serve]\nlisten = [\"127.0.0.1:5300\"]\nzones_dir = \"zones\"\n{ZONE}");
    let (path, out) = check(&dir, &text);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(stderr(&out).contains("Z6"), "{}", stderr(&out));
    // --no-check (as serve --no-check) skips the gate only.
    let out = altodisc(&["check-config", "--no-check", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn shipped_configs_pass_and_nothing_is_written() {
    for config in ["zones/publish.toml", "deploy/systemd/altodisc.toml"] {
        let path = repo().join(config);
        let out = altodisc(&["check-config", path.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(0), "{config}: {}", stderr(&out));
        assert!(stdout(&out).contains(": OK: "), "{}", stdout(&out));
        let out = altodisc(&["check-config", "--quiet", path.to_str().unwrap()]);
        assert!(out.status.success() && out.stdout.is_empty());
    }
    // With a serial file and DNSSEC signing configured, checking writes neither.
    let dir = TempDir::new("cc-nowrite");
    let text = format!(
        "[serve]\nlisten = [\"127.0.0.1:5300\"]\nserial_file = \"serials\"\ndnssec = \"sign\"\n\
         key_dir = \"keys\"\n{ZONE}"
    );
    let (_, out) = check(&dir, &text);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("dnssec sign"), "{}", stdout(&out));
    assert!(!dir.0.join("serials").exists());
    assert!(!dir.0.join("keys").exists());
}

#[test]
fn key_dir_that_is_a_file_is_an_error() {
    let dir = TempDir::new("cc-keyfile");
    std::fs::write(dir.0.join("keys"), "not a directory").unwrap();
    let text = format!(
        "[serve]\nlisten = [\"127.0.0.1:5300\"]\ndnssec = \"sign\"\nkey_dir = \"keys\"\n{ZONE}"
    );
    let (path, out) = check(&dir, &text);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("{}:4:11: error: [serve] key_dir", path.display())),
        "{err}"
    );
}

/// The systemd unit's situation: the config's directory is read-only (ProtectSystem=strict), so
/// the default key directory beside it cannot be created; the error says to use the
/// StateDirectory. A read-only bind mount in a private mount namespace stands in for the sandbox.
#[test]
fn default_key_dir_on_a_read_only_config_directory_is_an_error_with_the_fix() {
    if !nix::unistd::geteuid().is_root() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "needs root (a read-only bind mount) under CI"
        );
        eprintln!("skipped: needs root for a read-only bind mount");
        return;
    }
    let Some(unshare) = require("unshare", "read-only config directory") else {
        return;
    };
    let dir = TempDir::new("cc-rokeys");
    let etc = dir.0.join("etc");
    std::fs::create_dir(&etc).unwrap();
    let config = etc.join("altodisc.toml");
    let text = format!("[serve]\nlisten = [\"127.0.0.1:5300\"]\ndnssec = \"sign\"\n{ZONE}");
    std::fs::write(&config, &text).unwrap();
    let state = dir.0.join("state");
    std::fs::create_dir(&state).unwrap();
    // `env` sets the variable or takes it away, inside a mount namespace where the config's
    // directory is read-only (as under ProtectSystem=strict).
    let read_only = |env: &str| {
        let script = format!(
            "mount --bind '{etc}' '{etc}' && mount -o remount,bind,ro '{etc}' && \
             env {env} '{bin}' check-config '{config}'",
            etc = etc.display(),
            bin = env!("CARGO_BIN_EXE_altodisc"),
            config = config.display()
        );
        Command::new(&unshare)
            .args(["--mount", "--propagation", "private", "sh", "-c", &script])
            .output()
            .unwrap()
    };
    // Outside systemd (no STATE_DIRECTORY) the default is `keys` beside the config: refused,
    // with the fix.
    let out = read_only("-u STATE_DIRECTORY");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "{}:3:10: error: [serve] key_dir",
            config.display()
        )),
        "{err}"
    );
    assert!(err.contains("(the default)"), "{err}");
    assert!(
        err.contains("key_dir = \"/var/lib/altodisc/keys\""),
        "{err}"
    );
    // Under the unit (STATE_DIRECTORY set) the default is `keys` in the state directory: the
    // same config passes although its own directory is read-only.
    let out = read_only(&format!("STATE_DIRECTORY='{}'", state.display()));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // Writable, the same config passes.
    let out = altodisc(&["check-config", config.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!Path::new(&etc.join("keys")).exists());
}

/// Two entries with the same record at one owner: the error names both, each with its place,
/// in check-config and in serve.
#[test]
fn a_conflict_names_the_other_entry_and_where_it_is() {
    let dir = TempDir::new("cc-conflict");
    let record = |uri: &str| {
        format!(
            "[[prefix]]\nprefix = \"198.51.100.0/24\"\n\
             records = [{{ order = 100, preference = 10, uri = \"{uri}\" }}]\n"
        )
    };
    let text = format!(
        "[serve]\nlisten = [\"127.0.0.1:5300\"]\n{ZONE}\n[[zone]]\norigin = \"198.in-addr.arpa.\"\n\n{}\n{}",
        record("https://alto.example.org/ird"),
        record("https://alto2.example.org/ird"),
    );
    let prefixes: Vec<usize> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.starts_with("prefix = "))
        .map(|(i, _)| i + 1)
        .collect();
    let (path, out) = check(&dir, &text);
    assert_eq!(out.status.code(), Some(1));
    let p = path.display();
    // The same prefix twice: refused, naming the other entry and where it is.
    let expected = format!(
        "{p}:{}:10: error: prefix 198.51.100.0/24: the same prefix 198.51.100.0/24 as {p}:{}:10: \
         prefix 198.51.100.0/24: merge their records into one entry",
        prefixes[1], prefixes[0]
    );
    assert!(stderr(&out).contains(&expected), "{}", stderr(&out));
    let out = altodisc(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--config",
        path.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains(&expected), "{}", stderr(&out));
}

/// What the systemd unit runs before a start or a reload: the configuration file alone. A broken
/// zone beside it does not fail it (`serve` serves the other zones), the full check does, and a
/// config error still fails it with its position.
#[test]
fn config_only_checks_the_file_and_leaves_broken_zones_to_serve() {
    let dir = TempDir::new("cc-config-only");
    std::fs::write(
        dir.0.join("broken.example.zone"),
        "$ORIGIN broken.example.\n@ 300 IN SOA ns1 host 1 3600 900 604800 60\n@ 300 IN NS ns1\n\
         ns1 300 IN A 192.0.2.1\nbad 300 IN NAPTR 70000 10 \"u\" \"ALTO:https\" \"!.*!https://a/!\" .\n",
    )
    .unwrap();
    let text = format!("[serve]\nlisten = [\"127.0.0.1:5300\"]\nzones_dir = \".\"\n{ZONE}");
    let path = dir.0.join("altodisc.toml");
    std::fs::write(&path, &text).unwrap();
    let full = altodisc(&["check-config", path.to_str().unwrap()]);
    assert_eq!(full.status.code(), Some(1), "{}", stderr(&full));
    assert!(
        stderr(&full).contains("broken.example"),
        "{}",
        stderr(&full)
    );
    let only = altodisc(&["check-config", "--config-only", path.to_str().unwrap()]);
    assert_eq!(only.status.code(), Some(0), "{}", stderr(&only));
    assert!(
        stdout(&only).contains("configuration only"),
        "{}",
        stdout(&only)
    );

    std::fs::write(&path, text.replace("zones_dir", "zone_dir")).unwrap();
    let typo = altodisc(&["check-config", "--config-only", path.to_str().unwrap()]);
    assert_eq!(typo.status.code(), Some(1), "{}", stderr(&typo));
    assert!(
        stderr(&typo).contains(&format!("{}:3:1: error:", path.display())),
        "{}",
        stderr(&typo)
    );
}
