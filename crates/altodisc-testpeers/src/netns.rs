//! A two-namespace lab for DHCP tests: a server namespace and a client namespace joined by one
//! veth pair whose ends are both inside the test namespaces (nothing is configured in the root
//! namespace). Addresses come only from 192.0.2.0/24 and 2001:db8::/64 (DHCP-LAB-NOTES §1).
//!
//! Shared by the resolver's integration tests (`dhcp_lab.rs`) and the CLI's end-to-end tests
//! (`tests/cli/discover.rs`), together with the server configurations both use ([`kea4_config`],
//! [`kea6_config`], [`dnsmasq_access_domain`], [`naptr_zone`]). Daemons are started in the
//! foreground with `ip netns exec` (which execs, so the child's PID is the daemon's) and stopped
//! by that PID on drop; the namespaces this lab created are deleted with `ip netns del`. Library
//! code runs inside a namespace through [`Lab::in_ns`]: a thread that `setns(2)`s into it
//! (network namespaces are per thread) with its own runtime.
//!
//! Test harness: setup failures panic with what went wrong.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Server-side addresses.
pub const SRV_V4: &str = "192.0.2.1";
/// Client-side IPv4 address.
pub const CLI_V4: &str = "192.0.2.10";
/// Server-side IPv6 global address.
pub const SRV_V6: &str = "2001:db8::1";
/// Client-side IPv6 global address.
pub const CLI_V6: &str = "2001:db8::10";

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// True when tests that need root and namespaces can run. Locally without root: prints
/// `skipped: needs root` and returns false; under `CI=true` a missing prerequisite panics.
pub fn can_run(test: &str, binaries: &[&str]) -> bool {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let root = nix::unistd::geteuid().is_root();
    if !root {
        assert!(!ci, "{test}: needs root (CI=true)");
        eprintln!("skipped: {test}: needs root (network namespaces)");
        return false;
    }
    for b in ["ip"].iter().chain(binaries) {
        if which(b).is_none() {
            assert!(
                !ci,
                "{test}: `{b}` is missing (CI=true); see APT_PACKAGES in scripts/test"
            );
            eprintln!("skipped: {test}: `{b}` not installed");
            return false;
        }
    }
    true
}

/// The path of an executable on PATH (plus the sbin directories).
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    path.split(':')
        .chain(["/usr/sbin", "/sbin", "/usr/local/sbin"])
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

/// The lab. Drop stops every process it started and deletes its namespaces and directory.
pub struct Lab {
    /// Server namespace name.
    pub srv: String,
    /// Client namespace name.
    pub cli: String,
    /// Server-side veth.
    pub srv_if: String,
    /// Client-side veth.
    pub cli_if: String,
    /// Scratch directory (configs, logs, leases).
    pub dir: PathBuf,
    children: Vec<(String, Child)>,
    namespaces: Vec<String>,
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Lab {
    /// Creates the two namespaces and the veth. `client_dad`: leave IPv6 DAD on in the client
    /// namespace (its link-local address starts tentative).
    pub fn new(client_dad: bool) -> Self {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let pid = std::process::id();
        let tag = format!("{pid}x{n}");
        let dir = std::env::temp_dir().join(format!("altodisc-dhcplab-{tag}"));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("lab dir");
        let mut lab = Self {
            srv: format!("adlab-{tag}-s"),
            cli: format!("adlab-{tag}-c"),
            // Interface names: at most 15 octets.
            srv_if: format!("ds{}", short(pid, n)),
            cli_if: format!("dc{}", short(pid, n)),
            dir,
            children: Vec::new(),
            namespaces: Vec::new(),
        };
        for ns in [lab.srv.clone(), lab.cli.clone()] {
            ip(&["netns", "add", &ns]);
            lab.namespaces.push(ns.clone());
            ip(&["-n", &ns, "link", "set", "lo", "up"]);
        }
        lab.sysctl(
            &lab.srv.clone(),
            &[
                "net.ipv6.conf.all.accept_dad=0",
                "net.ipv6.conf.default.accept_dad=0",
            ],
        );
        if client_dad {
            // Long DAD (4 probes, ~4 s) so that tests can observe the tentative phase.
            lab.sysctl(&lab.cli.clone(), &["net.ipv6.conf.default.dad_transmits=4"]);
        } else {
            lab.sysctl(
                &lab.cli.clone(),
                &[
                    "net.ipv6.conf.all.accept_dad=0",
                    "net.ipv6.conf.default.accept_dad=0",
                ],
            );
        }
        ip(&[
            "link",
            "add",
            &lab.srv_if,
            "netns",
            &lab.srv,
            "type",
            "veth",
            "peer",
            "name",
            &lab.cli_if,
            "netns",
            &lab.cli,
        ]);
        ip(&[
            "-n",
            &lab.srv,
            "addr",
            "add",
            &format!("{SRV_V4}/24"),
            "dev",
            &lab.srv_if,
        ]);
        ip(&[
            "-n",
            &lab.srv,
            "addr",
            "add",
            &format!("{SRV_V6}/64"),
            "dev",
            &lab.srv_if,
            "nodad",
        ]);
        ip(&[
            "-n",
            &lab.cli,
            "addr",
            "add",
            &format!("{CLI_V4}/24"),
            "dev",
            &lab.cli_if,
        ]);
        ip(&[
            "-n",
            &lab.cli,
            "addr",
            "add",
            &format!("{CLI_V6}/64"),
            "dev",
            &lab.cli_if,
            "nodad",
        ]);
        ip(&["-n", &lab.srv, "link", "set", &lab.srv_if, "up"]);
        lab
    }

    /// Brings the client end up and waits until the server's link-local address is usable (it
    /// appears only with carrier); with `wait`, the client's too. Start servers after this.
    pub fn client_up(&self, wait: bool) {
        ip(&["-n", &self.cli, "link", "set", &self.cli_if, "up"]);
        self.wait_link_local(&self.srv, &self.srv_if, true);
        if wait {
            self.wait_link_local(&self.cli, &self.cli_if, true);
        }
    }

    fn sysctl(&self, ns: &str, settings: &[&str]) {
        let mut args = vec!["netns", "exec", ns, "sysctl", "-qw"];
        args.extend_from_slice(settings);
        ip(&args);
    }

    /// Whether the link-local address of `dev` in `ns` is still tentative (DAD running).
    pub fn link_local_tentative(&self, ns: &str, dev: &str) -> bool {
        let out = Command::new("ip")
            .args(["-n", ns, "-6", "addr", "show", "dev", dev, "scope", "link"])
            .output()
            .expect("ip addr");
        String::from_utf8_lossy(&out.stdout).contains("tentative")
    }

    /// Waits (up to 10 s) for a link-local address, non-tentative if `usable`.
    pub fn wait_link_local(&self, ns: &str, dev: &str, usable: bool) {
        let start = Instant::now();
        loop {
            let out = Command::new("ip")
                .args(["-n", ns, "-6", "addr", "show", "dev", dev, "scope", "link"])
                .output()
                .expect("ip addr");
            let text = String::from_utf8_lossy(&out.stdout);
            if text.contains("inet6 fe80")
                && (!usable || !text.contains("tentative"))
                && !text.contains("state DOWN")
            {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "no link-local on {dev}: {text}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Writes a file into the lab directory.
    pub fn write(&self, name: &str, content: &str) -> PathBuf {
        let p = self.dir.join(name);
        fs::write(&p, content).expect("write lab file");
        p
    }

    /// Starts `argv` in the foreground inside `ns` (stdout/stderr to `<label>.out` in the lab
    /// dir) and remembers its PID. Returns the PID.
    pub fn spawn(&mut self, label: &str, ns: &str, argv: &[&str], env: &[(&str, &str)]) -> u32 {
        let out = fs::File::create(self.dir.join(format!("{label}.out"))).expect("log file");
        let err = out.try_clone().expect("log file");
        let child = Command::new("ip")
            .args(["netns", "exec", ns])
            .args(argv)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {argv:?}: {e}"));
        let pid = child.id();
        self.children.push((label.to_owned(), child));
        pid
    }

    /// Runs `argv` inside `ns` to completion.
    pub fn run(&self, ns: &str, argv: &[&str]) -> std::process::Output {
        Command::new("ip")
            .args(["netns", "exec", ns])
            .args(argv)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("run {argv:?}: {e}"))
    }

    /// Waits until `file` (relative to the lab dir, or absolute) contains `needle`, or panics with
    /// the file after 15 s.
    /// Also fails early if the process `label` exited.
    pub fn wait_for_log(&mut self, label: &str, file: &str, needle: &str) {
        let start = Instant::now();
        let path = self.dir.join(file);
        loop {
            let text = String::from_utf8_lossy(&fs::read(&path).unwrap_or_default()).into_owned();
            if text.contains(needle) {
                return;
            }
            if let Some((_, c)) = self.children.iter_mut().find(|(l, _)| l == label)
                && let Ok(Some(status)) = c.try_wait()
            {
                let out =
                    fs::read_to_string(self.dir.join(format!("{label}.out"))).unwrap_or_default();
                panic!("{label} exited ({status}) before {needle:?}:\n{out}\n{text}");
            }
            assert!(
                start.elapsed() < Duration::from_secs(15),
                "{label}: no {needle:?} in {} after 15 s:\n{text}",
                path.display()
            );
            std::thread::sleep(Duration::from_millis(30));
        }
    }

    /// Stops the process started under `label` by its PID: SIGTERM (daemons such as NSD stop
    /// their children then), SIGKILL after 3 s, then wait.
    pub fn stop(&mut self, label: &str) {
        if let Some(i) = self.children.iter().position(|(l, _)| l == label) {
            let (_, mut c) = self.children.remove(i);
            terminate(&mut c);
        }
    }

    /// Runs `f` on a thread that has joined the network namespace `ns`.
    pub fn in_ns<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
        let path = format!("/run/netns/{ns}");
        std::thread::spawn(move || {
            let fd = fs::File::open(&path).unwrap_or_else(|e| panic!("open {path}: {e}"));
            nix::sched::setns(&fd, nix::sched::CloneFlags::CLONE_NEWNET)
                .unwrap_or_else(|e| panic!("setns {path}: {e}"));
            f()
        })
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e))
    }

    /// Writes and starts dnsmasq (DHCP only, DNS off) on the server side with extra lines.
    /// Waits until it logs that it started. Even with `-k` dnsmasq writes a pid file, by default
    /// the shared /var/run/dnsmasq.pid: it goes to the lab directory instead.
    pub fn start_dnsmasq<S: AsRef<str>>(&mut self, label: &str, extra: &[S]) {
        let dir = self.dir.display().to_string();
        let mut conf = format!(
            "port=0\ninterface={}\nbind-interfaces\nno-resolv\nno-hosts\ndhcp-authoritative\n\
             dhcp-leasefile={dir}/{label}.leases\npid-file={dir}/{label}.pid\nlog-dhcp\nlog-facility={dir}/{label}.log\n\
             user=root\ngroup=root\n",
            self.srv_if
        );
        for l in extra {
            conf.push_str(l.as_ref());
            conf.push('\n');
        }
        let path = self.write(&format!("{label}.conf"), &conf);
        let path = path.display().to_string();
        let srv = self.srv.clone();
        self.spawn(label, &srv, &["dnsmasq", "-k", "-C", &path], &[]);
        self.wait_for_log(label, &format!("{label}.log"), "started, version");
        // The DHCP sockets are bound before the "started" line is written, but give it a beat.
        std::thread::sleep(Duration::from_millis(100));
    }

    /// Writes and starts kea-dhcp4 or kea-dhcp6 (`v6`) with `config` (a JSON document, RUNDIR
    /// replaced by the lab dir). Waits for its "started" log message.
    pub fn start_kea(&mut self, label: &str, v6: bool, config: &str) {
        let dir = self.dir.display().to_string();
        let conf = config
            .replace("RUNDIR", &dir)
            .replace("IFACE", &self.srv_if);
        let path = self
            .write(&format!("{label}.json"), &conf)
            .display()
            .to_string();
        let srv = self.srv.clone();
        let bin = if v6 { "kea-dhcp6" } else { "kea-dhcp4" };
        self.spawn(
            label,
            &srv,
            &[bin, "-c", &path],
            &[("KEA_PIDFILE_DIR", &dir), ("KEA_LOCKFILE_DIR", &dir)],
        );
        let started = if v6 { "DHCP6_STARTED" } else { "DHCP4_STARTED" };
        self.wait_for_log(label, &format!("{label}.log"), started);
        std::thread::sleep(Duration::from_millis(100));
    }
}

impl Lab {
    /// Starts NSD in the foreground in the server namespace, authoritative for `origin` with
    /// `zone` (master-file text), on 192.0.2.1 and 2001:db8::1 port 53 (DHCP-LAB-NOTES §6).
    pub fn start_nsd(&mut self, origin: &str, zone: &str) {
        let dir = self.dir.display().to_string();
        self.write("zone.db", zone);
        let conf = format!(
            "server:\n  ip-address: {SRV_V4}\n  ip-address: {SRV_V6}\n  port: 53\n  \
             username: \"\"\n  chroot: \"\"\n  database: \"\"\n  zonesdir: \"{dir}\"\n  \
             zonelistfile: \"{dir}/zone.list\"\n  xfrdfile: \"{dir}/xfrd.state\"\n  \
             pidfile: \"{dir}/nsd.pid\"\n  logfile: \"{dir}/nsd.log\"\n  server-count: 1\n  \
             rrl-ratelimit: 0\n  verbosity: 1\nremote-control:\n  control-enable: no\n\
             zone:\n  name: \"{origin}\"\n  zonefile: \"{dir}/zone.db\"\n"
        );
        let path = self.write("nsd.conf", &conf).display().to_string();
        let srv = self.srv.clone();
        self.spawn("nsd", &srv, &["nsd", "-d", "-c", &path], &[]);
        self.wait_for_log("nsd", "nsd.log", "nsd started");
    }
}

/// The NAPTR zone of DHCP-LAB-NOTES §6 for `origin` (e.g. `example.net.`): `ALTO:https` and
/// `ALTO:http` terminal records at the apex.
pub fn naptr_zone(origin: &str, https_uri: &str) -> String {
    let host = origin.trim_end_matches('.');
    format!(
        "$ORIGIN {origin}\n$TTL 300\n@ IN SOA ns hostmaster 1 3600 900 604800 60\n@ IN NS ns\n\
         ns IN A {SRV_V4}\n\
         @ IN NAPTR 100 10 \"u\" \"ALTO:https\" \"!.*!{https_uri}!\" .\n\
         @ IN NAPTR 200 10 \"u\" \"ALTO:http\" \"!.*!http://alto.{host}/directory!\" .\n\
         other IN NAPTR 100 10 \"u\" \"LIS:HELD\" \"!.*!https://lis.{host}/!\" .\n"
    )
}

/// `example.net` in RFC 1035 wire form, as dnsmasq takes a raw option value (hex;
/// DHCP-LAB-NOTES §2.1).
pub const EXAMPLE_NET_HEX: &str = "07:65:78:61:6d:70:6c:65:03:6e:65:74:00";

/// dnsmasq line: the lab's DHCPv4 address pool.
pub const DNSMASQ_RANGE_V4: &str = "dhcp-range=192.0.2.100,192.0.2.150,255.255.255.0,1h";
/// dnsmasq line: the lab's DHCPv6 address pool.
pub const DNSMASQ_RANGE_V6: &str = "dhcp-range=2001:db8::100,2001:db8::1ff,64,1h";

/// dnsmasq lines for [`Lab::start_dnsmasq`]: address ranges for both families and the access
/// domain `hex` (wire form, e.g. [`EXAMPLE_NET_HEX`]) in DHCPv4 option 213 and DHCPv6 option 57
/// (RFC 5986).
#[must_use]
pub fn dnsmasq_access_domain(hex: &str) -> Vec<String> {
    vec![
        DNSMASQ_RANGE_V4.to_owned(),
        DNSMASQ_RANGE_V6.to_owned(),
        format!("dhcp-option=213,{hex}"),
        format!("dhcp-option=option6:57,{hex}"),
    ]
}

/// A kea-dhcp4 configuration for [`Lab::start_kea`] handing out `domain` in option 213
/// (`v4-access-domain`, RFC 5986) on the lab subnet.
#[must_use]
pub fn kea4_config(domain: &str) -> String {
    r#"{ "Dhcp4": {
    "interfaces-config": { "interfaces": [ "IFACE" ], "dhcp-socket-type": "raw" },
    "lease-database": { "type": "memfile", "persist": false },
    "subnet4": [ { "id": 1, "subnet": "192.0.2.0/24",
        "pools": [ { "pool": "192.0.2.100 - 192.0.2.150" } ],
        "option-data": [ { "name": "v4-access-domain", "data": "DOMAIN" } ] } ],
    "loggers": [ { "name": "kea-dhcp4", "severity": "INFO",
        "output_options": [ { "output": "RUNDIR/kea4.log" } ] } ] } }"#
        .replace("DOMAIN", domain)
}

/// A kea-dhcp6 configuration for [`Lab::start_kea`] handing out `domain` in option 57
/// (`v6-access-domain`, RFC 5986) on the lab subnet.
#[must_use]
pub fn kea6_config(domain: &str) -> String {
    r#"{ "Dhcp6": {
    "interfaces-config": { "interfaces": [ "IFACE" ] },
    "lease-database": { "type": "memfile", "persist": false },
    "server-id": { "type": "LL", "persist": false },
    "subnet6": [ { "id": 1, "subnet": "2001:db8::/64", "interface": "IFACE",
        "pools": [ { "pool": "2001:db8::100 - 2001:db8::1ff" } ],
        "option-data": [ { "name": "v6-access-domain", "data": "DOMAIN" } ] } ],
    "loggers": [ { "name": "kea-dhcp6", "severity": "INFO",
        "output_options": [ { "output": "RUNDIR/kea6.log" } ] } ] } }"#
        .replace("DOMAIN", domain)
}

fn short(pid: u32, n: u32) -> String {
    format!("{}x{n}", pid % 1_000_000)
}

/// SIGTERM, up to 3 s for the exit, then SIGKILL; always reaped.
fn terminate(c: &mut Child) {
    if let Ok(Some(_)) = c.try_wait() {
        return;
    }
    if let Ok(pid) = i32::try_from(c.id()) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGTERM,
        );
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(3) {
            if let Ok(Some(_)) = c.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let _ = c.kill();
    let _ = c.wait();
}

impl Drop for Lab {
    fn drop(&mut self) {
        for (_, c) in &mut self.children {
            terminate(c);
        }
        for ns in &self.namespaces {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
        if std::env::var_os("ALTODISC_KEEP_LAB").is_none() {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}
