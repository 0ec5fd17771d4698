//! The Debian package (`scripts/package`, cargo-deb): built from the binary under test, installed
//! with `dpkg -i`, run from the installed paths, then purged without leaving a file behind.
//!
//! The first test installs into the machine's /usr and /etc, so it runs only when asked: under
//! `CI=true` (where it must pass, as root) or with `ALTODISC_PACKAGE_TEST=1`; otherwise it prints
//! `skipped:`. The second unpacks the package with `dpkg --root` into an empty directory and runs
//! the binary chrooted there, where no source tree exists: what an operator's machine looks like.

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

/// Packages the binary under test into `out_dir` with scripts/package and returns the .deb:
/// no second (release) build of the workspace, the profile and target directory follow from
/// where cargo put the binary.
fn build_deb(out_dir: &TempDir) -> PathBuf {
    let binary = PathBuf::from(env!("CARGO_BIN_EXE_altodisc"));
    let profile_dir = binary.parent().unwrap();
    let profile = match profile_dir.file_name().unwrap().to_str().unwrap() {
        "debug" => "dev",
        other => other,
    };
    let target_dir = profile_dir.parent().unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    ok(Command::new(repo.join("scripts/package"))
        .args(["--profile", profile, "--no-build", "--output"])
        .arg(&out_dir.0)
        .env("CARGO_TARGET_DIR", target_dir)
        .current_dir(repo));
    std::fs::read_dir(&out_dir.0)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "deb"))
        .expect("a .deb")
}

#[test]
fn debian_package_installs_runs_and_purges_cleanly() {
    if !wanted() {
        return;
    }
    if require("dpkg", "Debian package test").is_none() {
        return;
    }
    let out_dir = TempDir::new("deb");
    let deb = build_deb(&out_dir);
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

/// The libraries the binary links (from `ldd`), to copy into the chroot.
fn shared_libraries(binary: &Path) -> Vec<PathBuf> {
    ok(Command::new("ldd").arg(binary))
        .lines()
        .filter_map(|l| {
            // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or "/lib64/ld-linux... (0x...)"
            let path = l.split("=>").last()?.split_whitespace().next()?;
            path.starts_with('/').then(|| PathBuf::from(path))
        })
        .collect()
}

/// `dpkg --root` into an empty directory (no source tree, no /etc of the build machine), then
/// from inside it: `altodisc demo` (its zones are built in) and `altodisc check-config` on the
/// packaged example config; `systemd-analyze verify` on the installed unit.
#[test]
fn debian_package_in_a_clean_root_runs_demo_and_check_config() {
    let ci = std::env::var("CI").as_deref() == Ok("true");
    if !nix::unistd::geteuid().is_root() {
        assert!(
            !ci,
            "the clean-root package test needs root (chroot) under CI"
        );
        eprintln!("skipped: chroot needs root");
        return;
    }
    if require("dpkg", "Debian package test").is_none() || require("ldd", "chroot").is_none() {
        return;
    }
    let Some(chroot) = require("chroot", "running the package in a clean root") else {
        return;
    };
    // scripts/package installs cargo-deb when missing; outside CI that is too slow for a test run.
    if !ci && require("cargo-deb", "building the .deb").is_none() {
        return;
    }
    let out_dir = TempDir::new("deb-root");
    let deb = build_deb(&out_dir);
    let root = TempDir::new("clean-root");
    let r = &root.0;
    for d in ["var/lib/dpkg/info", "var/lib/dpkg/updates", "tmp"] {
        std::fs::create_dir_all(r.join(d)).unwrap();
    }
    std::fs::write(r.join("var/lib/dpkg/status"), "").unwrap();
    // The maintainer scripts run chrooted in the root: they need /bin/sh (and nothing else:
    // without systemd in the root they only try deb-systemd-helper and skip the rest).
    let copy_in = |host: &Path| {
        let inside = r.join(host.strip_prefix("/").unwrap());
        std::fs::create_dir_all(inside.parent().unwrap()).unwrap();
        std::fs::copy(host, &inside).unwrap();
    };
    copy_in(Path::new("/bin/sh"));
    for lib in shared_libraries(Path::new("/bin/sh")) {
        copy_in(&lib);
    }
    // libc6 and friends are not in the empty root's database: --force-depends; the binary's
    // libraries are copied in below instead.
    ok(Command::new("dpkg")
        .arg(format!("--root={}", r.display()))
        .args(["--force-not-root", "--force-depends", "-i"])
        .arg(&deb));
    let listed = ok(Command::new("dpkg")
        .arg(format!("--root={}", r.display()))
        .args(["-L", PACKAGE]));
    for expected in [
        "/usr/bin/altodisc",
        "/usr/share/man/man5/altodisc.toml.5.gz",
        "/usr/share/man/man1/altodisc-check-config.1.gz",
        "/etc/altodisc/altodisc.toml",
    ] {
        assert!(
            listed.lines().any(|l| l == expected),
            "{expected}: {listed}"
        );
    }
    for lib in shared_libraries(&r.join("usr/bin/altodisc")) {
        copy_in(&lib);
    }
    assert!(!r.join("work").exists() && !r.join("zones").exists());

    let chrooted = |args: &[&str]| {
        run(Command::new(&chroot)
            .arg(r)
            .arg("/usr/bin/altodisc")
            .args(args)
            .env_clear()
            .env("TMPDIR", "/tmp"))
    };
    let demo = chrooted(&["demo"]);
    let text = String::from_utf8_lossy(&demo.stdout);
    assert_eq!(
        demo.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&demo.stderr)
    );
    assert!(text.contains("every lookup found an ALTO server"), "{text}");
    // The demo cleans up after itself.
    assert_eq!(std::fs::read_dir(r.join("tmp")).unwrap().count(), 0);

    let check = chrooted(&["check-config", "/etc/altodisc/altodisc.toml"]);
    assert_eq!(
        check.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(String::from_utf8_lossy(&check.stdout).contains(": OK: "));

    // The installed unit, with its commands pointed into the root (verify checks that they
    // exist) and the installed man pages for its Documentation= (verify runs man for each).
    if let Some(analyze) = require("systemd-analyze", "systemd unit verification") {
        let unit = std::fs::read_to_string(r.join("usr/lib/systemd/system/altodisc.service"))
            .unwrap()
            .replace(
                "/usr/bin/altodisc",
                r.join("usr/bin/altodisc").to_str().unwrap(),
            );
        let units = TempDir::new("installed-unit");
        let path = units.0.join("altodisc.service");
        std::fs::write(&path, unit).unwrap();
        let out = run(Command::new(analyze)
            .arg("verify")
            .arg(&path)
            .env("MANPATH", r.join("usr/share/man")));
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success() && all.trim().is_empty(), "{all}");
    }

    // Purged, the root keeps nothing of the package, not even its conffile.
    ok(Command::new("dpkg")
        .arg(format!("--root={}", r.display()))
        .args(["--force-not-root", "-P", PACKAGE]));
    assert!(!r.join("usr/bin/altodisc").exists());
    assert!(!r.join("etc/altodisc").exists());
}
