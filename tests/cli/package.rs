//! The Debian package (`scripts/package`, cargo-deb): built from the binary under test, installed
//! with `dpkg -i`, run from the installed paths, then purged without leaving a file behind.
//!
//! It installs into the machine's /usr and /etc, so it runs only when asked: under `CI=true`
//! (where it must pass, as root) or with `ALTODISC_PACKAGE_TEST=1`; otherwise it prints
//! `skipped:`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::deploy::{TempDir, require};

const PACKAGE: &str = "altodisc";

fn run(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e}"))
}

fn ok(cmd: &mut Command) -> String {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{cmd:?}: {:?}\n{}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Purges the package if the test stops half-way, so a failed run leaves the machine clean.
struct Installed;

impl Drop for Installed {
    fn drop(&mut self) {
        let _ = Command::new("dpkg")
            .args(["-P", PACKAGE])
            .stdin(Stdio::null())
            .output();
    }
}

fn wanted() -> bool {
    let ci = std::env::var("CI").as_deref() == Ok("true");
    let asked = std::env::var("ALTODISC_PACKAGE_TEST").as_deref() == Ok("1");
    if !ci && !asked {
        eprintln!(
            "skipped: the Debian package test installs into /usr and /etc; it runs under CI=true \
             or with ALTODISC_PACKAGE_TEST=1"
        );
        return false;
    }
    if !nix::unistd::geteuid().is_root() {
        assert!(!ci, "the Debian package test needs root (dpkg -i) under CI");
        eprintln!("skipped: dpkg -i needs root");
        return false;
    }
    true
}

#[test]
fn debian_package_installs_runs_and_purges_cleanly() {
    if !wanted() {
        return;
    }
    if require("dpkg", "Debian package test").is_none() {
        return;
    }
    // Package the binary under test rather than a second (release) build of the workspace: the
    // profile and target directory follow from where cargo put it.
    let binary = PathBuf::from(env!("CARGO_BIN_EXE_altodisc"));
    let profile_dir = binary.parent().unwrap();
    let profile = match profile_dir.file_name().unwrap().to_str().unwrap() {
        "debug" => "dev",
        other => other,
    };
    let target_dir = profile_dir.parent().unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out_dir = TempDir::new("deb");
    ok(Command::new(repo.join("scripts/package"))
        .args(["--profile", profile, "--no-build", "--output"])
        .arg(&out_dir.0)
        .env("CARGO_TARGET_DIR", target_dir)
        .current_dir(repo));
    let deb = std::fs::read_dir(&out_dir.0)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "deb"))
        .expect("a .deb");

    let guard = Installed;
    ok(Command::new("dpkg").arg("-i").arg(&deb));
    let files: Vec<PathBuf> = ok(Command::new("dpkg").args(["-L", PACKAGE]))
        .lines()
        .map(PathBuf::from)
        .filter(|p| p.is_file())
        .collect();
    for expected in [
        "/usr/bin/altodisc",
        "/usr/lib/systemd/system/altodisc.service",
        "/etc/altodisc/altodisc.toml",
        "/usr/share/man/man1/altodisc.1.gz",
        "/usr/share/man/man1/altodisc-serve.1.gz",
        "/usr/share/man/man1/altodisc-check.1.gz",
        "/usr/share/bash-completion/completions/altodisc",
        "/usr/share/zsh/vendor-completions/_altodisc",
        "/usr/share/fish/vendor_completions.d/altodisc.fish",
        "/usr/share/doc/altodisc/examples/dhcp/dnsmasq.conf",
    ] {
        assert!(
            files.iter().any(|f| f == Path::new(expected)),
            "{expected} not installed: {files:?}"
        );
    }
    // The example config is a conffile: local edits survive upgrades.
    let conffiles = ok(Command::new("dpkg-query").args(["-W", "-f=${Conffiles}", PACKAGE]));
    assert!(
        conffiles.contains("/etc/altodisc/altodisc.toml"),
        "{conffiles}"
    );

    // Run from the installed paths.
    let version = ok(Command::new("/usr/bin/altodisc").arg("--version"));
    assert_eq!(
        version.trim(),
        format!("altodisc {}", env!("CARGO_PKG_VERSION"))
    );
    ok(Command::new("/usr/bin/altodisc")
        .args(["check", "--intent", "/etc/altodisc/altodisc.toml"])
        .current_dir("/"));
    let unit = std::fs::read_to_string("/usr/lib/systemd/system/altodisc.service").unwrap();
    assert!(
        unit.contains("ExecStart=/usr/bin/altodisc serve --config /etc/altodisc/altodisc.toml")
    );

    // Purge: no file of the package, and not its /etc directory, is left.
    ok(Command::new("dpkg").args(["-P", PACKAGE]));
    std::mem::forget(guard);
    for f in &files {
        assert!(!f.exists(), "{} is left after dpkg -P", f.display());
    }
    assert!(!Path::new("/etc/altodisc").exists());
    let status = run(Command::new("dpkg-query").args(["-W", "-f=${Status}", PACKAGE]));
    let status = String::from_utf8_lossy(&status.stdout);
    assert!(
        status.is_empty() || status.contains("not-installed"),
        "{status}"
    );
}
