//! deploy/: the systemd unit (through `systemd-analyze verify` and `security`), its example
//! config (loaded by the responder's own loader and served), the Kubernetes manifests and the
//! Containerfile (no container engine or cluster on these machines: well-formedness and the
//! fields that matter), and the DHCP snippets (through `dnsmasq --test`, `kea-dhcp4 -t`,
//! `kea-dhcp6 -t`, `dhcpd -t` and `dhcpd -6 -t`, plus the option 213 hex against altodisc-proto).

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use altodisc_proto::DomainName;
use altodisc_proto::access_domain::encode_access_domain;
use altodisc_responder::load::{ServeSection, Sources};
use altodisc_zone::publish_config::PublishConfig;
use yaml_rust2::{Yaml, YamlLoader};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(repo().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// A fresh temporary directory, removed on drop.
pub(crate) struct TempDir(pub(crate) PathBuf);

impl TempDir {
    pub(crate) fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "altodisc-{tag}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The path of `tool`, or `None` after printing `skipped:` (a failure under `CI=true`).
pub(crate) fn require(tool: &str, why: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path
        .split(':')
        .chain(["/usr/sbin", "/sbin", "/usr/bin"])
        .map(|d| Path::new(d).join(tool))
        .find(|p| p.is_file());
    if found.is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{tool} is missing ({why}); scripts/test installs it"
        );
        eprintln!("skipped: {tool} is not installed ({why})");
    }
    found
}

fn run(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e}"))
}

fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Writes the man pages of the built binary to `dir/man1` (for `man:` references).
fn man_pages(dir: &Path) {
    let out = crate::altodisc(&["man", "--out", dir.join("man1").to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    // Section 5 (altodisc.toml) belongs in man5.
    std::fs::create_dir_all(dir.join("man5")).unwrap();
    for entry in std::fs::read_dir(dir.join("man1")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "5") {
            std::fs::rename(&path, dir.join("man5").join(path.file_name().unwrap())).unwrap();
        }
    }
}

// ----- systemd -----------------------------------------------------------------------------------

/// The unit with ExecStart pointing at the binary under test (verify checks that the binary
/// exists and is executable) and MANPATH holding its man pages (verify runs `man` for every
/// `Documentation=man:` entry).
fn unit_under_test(tmp: &TempDir) -> PathBuf {
    let unit = read("deploy/systemd/altodisc.service");
    assert!(
        unit.contains("ExecStart=/usr/bin/altodisc serve --config /etc/altodisc/altodisc.toml")
    );
    let unit = unit.replace("/usr/bin/altodisc", env!("CARGO_BIN_EXE_altodisc"));
    let path = tmp.0.join("altodisc.service");
    std::fs::write(&path, unit).unwrap();
    man_pages(&tmp.0.join("man"));
    path
}

#[test]
fn systemd_unit_passes_systemd_analyze_verify() {
    let Some(analyze) = require("systemd-analyze", "systemd unit verification") else {
        return;
    };
    let tmp = TempDir::new("unit");
    let unit = unit_under_test(&tmp);
    let out = run(Command::new(&analyze)
        .arg("verify")
        .arg(&unit)
        .env("MANPATH", tmp.0.join("man")));
    // verify exits 0 on unknown keys and bad values too ("..., ignoring"): any output is a finding.
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        out.stdout.is_empty() && out.stderr.is_empty(),
        "{}",
        text(&out)
    );
}

#[test]
fn systemd_unit_is_notify_reloadable_and_hardened() {
    let unit = read("deploy/systemd/altodisc.service");
    let lines: BTreeSet<&str> = unit.lines().map(str::trim).collect();
    for required in [
        "Type=notify",
        // The whole config is checked before every start and reload.
        "ExecStartPre=/usr/bin/altodisc check-config --config-only --quiet /etc/altodisc/altodisc.toml",
        "ExecReload=/usr/bin/altodisc check-config --config-only --quiet /etc/altodisc/altodisc.toml",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "DynamicUser=yes",
        "AmbientCapabilities=CAP_NET_BIND_SERVICE",
        "CapabilityBoundingSet=CAP_NET_BIND_SERVICE",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
        "StateDirectory=altodisc",
    ] {
        assert!(lines.contains(required), "missing {required}");
    }
    // No other capability anywhere.
    for line in &lines {
        if line.starts_with("AmbientCapabilities=") || line.starts_with("CapabilityBoundingSet=") {
            assert!(line.ends_with("=CAP_NET_BIND_SERVICE"), "{line}");
        }
    }
}

#[test]
fn systemd_unit_exposure_stays_low() {
    let Some(analyze) = require("systemd-analyze", "systemd unit security score") else {
        return;
    };
    let tmp = TempDir::new("unit-sec");
    let unit = unit_under_test(&tmp);
    // 0 = fully locked down, 10 = unprotected. The unit scores 1.6 ("OK") today; 2.0 leaves room
    // for systemd's scoring to move between versions without letting a hardening line go.
    // `--threshold` counts in tenths (0-100).
    let out = run(Command::new(&analyze)
        .args(["security", "--offline=yes", "--threshold=20", "--no-pager"])
        .arg(&unit)
        .env("MANPATH", tmp.0.join("man")));
    assert!(out.status.success(), "{}", text(&out));
}

/// The example /etc/altodisc/altodisc.toml loads through the responder's own loader (the same
/// code `altodisc serve` runs), including the `[serve]` table the unit's sandbox depends on.
#[test]
fn systemd_example_config_loads() {
    let path = repo().join("deploy/systemd/altodisc.toml");
    let loaded = Sources {
        config: Some(path.clone()),
        zones_dir: None,
    }
    .load(None)
    .unwrap();
    assert_eq!(
        loaded.serve.listen,
        ["[::]:53".parse::<SocketAddr>().unwrap()]
    );
    // The only writable place under ProtectSystem=strict is the StateDirectory.
    assert_eq!(
        loaded.serve.serial_file.as_deref(),
        Some(Path::new("/var/lib/altodisc/serials"))
    );
    let origins: Vec<String> = loaded
        .loaded
        .zones
        .iter()
        .map(|z| z.origin.to_string())
        .collect();
    assert_eq!(origins, ["example.org.", "51.198.in-addr.arpa."]);
    // DNSSEC keys, like the serials, go to the StateDirectory.
    assert_eq!(
        loaded.serve.key_dir.as_deref(),
        Some(Path::new("/var/lib/altodisc/keys"))
    );
    // And the checker finds no error in it (exit 0; the unsigned-zone warning is expected).
    let out = crate::altodisc(&["check", "--intent", path.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    // Nor does the whole-config check the unit runs before every start and reload.
    let out = crate::altodisc(&["check-config", path.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
}

// ----- GitHub action -----------------------------------------------------------------------------

/// The steps of deploy/ci/action.yml.
fn action_steps() -> Vec<Yaml> {
    let docs = YamlLoader::load_from_str(&read("deploy/ci/action.yml")).unwrap();
    let runs = &docs[0]["runs"];
    assert_eq!(runs["using"].as_str(), Some("composite"));
    runs["steps"].as_vec().unwrap().clone()
}

fn step<'a>(steps: &'a [Yaml], name: &str) -> &'a Yaml {
    steps
        .iter()
        .find(|s| s["name"].as_str() == Some(name))
        .unwrap_or_else(|| panic!("no step {name:?}"))
}

/// One check run writes both reports; SARIF is uploaded only when valid and not from a fork's
/// pull request; the binary comes from a cache (or a prebuilt URL), not a build every run.
#[test]
fn ci_action_checks_once_uploads_only_valid_sarif_and_caches_the_binary() {
    let steps = action_steps();
    let runs: Vec<&str> = steps.iter().filter_map(|s| s["run"].as_str()).collect();
    let checks: usize = runs
        .iter()
        .map(|r| {
            r.lines()
                .filter(|l| l.trim_start().starts_with("altodisc check"))
                .count()
        })
        .sum();
    assert_eq!(checks, 1, "{runs:?}");
    assert!(
        step(&steps, "Check zones")["run"]
            .as_str()
            .unwrap()
            .contains("--sarif-file")
    );

    let upload = step(&steps, "Upload SARIF");
    let condition = upload["if"].as_str().unwrap();
    for needed in [
        "steps.check.outputs.sarif-valid == 'true'",
        "github.event.pull_request.head.repo.full_name == github.repository",
        "inputs.upload-sarif == 'true'",
    ] {
        assert!(condition.contains(needed), "{condition}");
    }

    let cache = step(&steps, "Restore altodisc from the cache");
    assert!(
        cache["uses"]
            .as_str()
            .unwrap()
            .starts_with("actions/cache@")
    );
    let install = step(&steps, "Install altodisc")["run"].as_str().unwrap();
    let build = install
        .lines()
        .position(|l| l.contains("cargo install"))
        .unwrap();
    let guard = install
        .lines()
        .position(|l| l.contains("\"$CACHE_HIT\" != \"true\""))
        .unwrap();
    assert!(guard < build, "cargo install must run only on a cache miss");
    assert!(
        install.contains("$ALTODISC_URL"),
        "a prebuilt binary can be used"
    );
}

/// The check step run with bash: after a usage error (a path that does not exist) there is no
/// SARIF file and `sarif-valid=false`, so nothing is uploaded; a clean run writes a valid one.
#[test]
fn ci_action_check_step_leaves_no_sarif_after_a_usage_error() {
    let steps = action_steps();
    let run_script = step(&steps, "Check zones")["run"]
        .as_str()
        .unwrap()
        .to_owned();
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_altodisc")).parent().unwrap();
    let tmp = TempDir::new("action-usage");
    let run_step = |paths: &str| {
        let output = tmp.0.join("github_output");
        let _ = std::fs::remove_file(&output);
        let sarif = tmp.0.join("out.sarif");
        let out = run(Command::new("bash")
            .args(["-c", &run_script])
            .env(
                "PATH",
                format!(
                    "{}:{}",
                    bin_dir.display(),
                    std::env::var("PATH").unwrap_or_default()
                ),
            )
            .env("GITHUB_OUTPUT", &output)
            .env("ALTODISC_PATHS", paths)
            .env("ALTODISC_ORIGIN", "")
            .env("ALTODISC_INTENT", "")
            .env("ALTODISC_DENY_WARNINGS", "false")
            .env("ALTODISC_SARIF", &sarif));
        (
            out,
            std::fs::read_to_string(&output).unwrap_or_default(),
            sarif,
        )
    };
    // A stale report from an earlier run must not be uploaded either.
    std::fs::write(tmp.0.join("out.sarif"), "").unwrap();
    let (out, outputs, sarif) = run_step("/nonexistent/zones");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert_eq!(outputs, "exit-code=2\nsarif-valid=false\n");
    assert!(!sarif.exists());

    let (out, outputs, sarif) = run_step(repo().join("zones").to_str().unwrap());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(outputs, "exit-code=0\nsarif-valid=true\n");
    let log: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&sarif).unwrap()).unwrap();
    assert_eq!(log["version"], "2.1.0");
    // Findings in the job log come from the same run.
    assert!(!out.stdout.is_empty(), "{}", text(&out));
}

// ----- Kubernetes --------------------------------------------------------------------------------

fn manifests() -> Vec<(String, Yaml)> {
    let dir = repo().join("deploy/kubernetes");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    let mut docs = Vec::new();
    for f in files {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let parsed = YamlLoader::load_from_str(&std::fs::read_to_string(&f).unwrap())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        for doc in parsed {
            docs.push((name.clone(), doc));
        }
    }
    docs
}

fn s<'a>(y: &'a Yaml, what: &str) -> &'a str {
    y.as_str()
        .unwrap_or_else(|| panic!("{what}: expected a string, got {y:?}"))
}

fn list<'a>(y: &'a Yaml, what: &str) -> &'a [Yaml] {
    y.as_vec()
        .unwrap_or_else(|| panic!("{what}: expected a list, got {y:?}"))
}

fn by_kind<'a>(docs: &'a [(String, Yaml)], kind: &str) -> &'a Yaml {
    let found: Vec<&Yaml> = docs
        .iter()
        .filter(|(_, d)| d["kind"].as_str() == Some(kind))
        .map(|(_, d)| d)
        .collect();
    assert_eq!(found.len(), 1, "exactly one {kind}");
    found[0]
}

#[test]
fn kubernetes_manifests_are_well_formed() {
    let docs = manifests();
    let mut files = BTreeSet::new();
    for (file, doc) in &docs {
        files.insert(file.clone());
        let kind = s(&doc["kind"], &format!("{file}: kind"));
        s(&doc["apiVersion"], &format!("{file}: apiVersion"));
        if kind != "Kustomization" {
            let name = s(&doc["metadata"]["name"], &format!("{file}: metadata.name"));
            // RFC 1123 label: what the API server accepts for these names.
            assert!(
                !name.is_empty()
                    && name.len() <= 63
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                "{file}: bad name {name}"
            );
        }
    }
    // The kustomization lists every manifest.
    let kustomization = by_kind(&docs, "Kustomization");
    let listed: BTreeSet<String> = list(&kustomization["resources"], "resources")
        .iter()
        .map(|r| s(r, "resource").to_owned())
        .collect();
    let mut expected = files.clone();
    expected.remove("kustomization.yaml");
    assert_eq!(listed, expected);
}

#[test]
fn kubernetes_deployment_service_and_config_fit_together() {
    let docs = manifests();
    let config_map = by_kind(&docs, "ConfigMap");
    let deployment = by_kind(&docs, "Deployment");
    let service = by_kind(&docs, "Service");

    // Pods carry the labels the selectors ask for.
    let pod = &deployment["spec"]["template"];
    let pod_labels = pod["metadata"]["labels"].as_hash().expect("pod labels");
    for (selector, what) in [
        (
            &deployment["spec"]["selector"]["matchLabels"],
            "Deployment selector",
        ),
        (&service["spec"]["selector"], "Service selector"),
    ] {
        let selector = selector.as_hash().expect(what);
        assert!(!selector.is_empty(), "{what} is empty");
        for (k, v) in selector {
            assert_eq!(pod_labels.get(k), Some(v), "{what}: {k:?}");
        }
    }

    // Non-root, no capabilities, port 53 through the namespaced sysctl.
    let spec = &pod["spec"];
    assert_eq!(
        spec["securityContext"]["runAsNonRoot"].as_bool(),
        Some(true)
    );
    assert!(spec["securityContext"]["runAsUser"].as_i64().unwrap() > 0);
    let sysctls = list(&spec["securityContext"]["sysctls"], "sysctls");
    assert!(sysctls.iter().any(|c| {
        c["name"].as_str() == Some("net.ipv4.ip_unprivileged_port_start")
            && matches!(c["value"].as_str().map(str::parse::<u16>), Some(Ok(v)) if v <= 53)
    }));
    let containers = list(&spec["containers"], "containers");
    assert_eq!(containers.len(), 1);
    let c = &containers[0];
    assert_eq!(
        c["securityContext"]["allowPrivilegeEscalation"].as_bool(),
        Some(false)
    );
    assert_eq!(
        list(&c["securityContext"]["capabilities"]["drop"], "drop")[0].as_str(),
        Some("ALL")
    );

    // DNS on 53 over UDP and TCP, plus the metrics port the readiness probe asks.
    let mut ports = std::collections::BTreeMap::new();
    for p in list(&c["ports"], "ports") {
        ports.insert(
            s(&p["name"], "port name").to_owned(),
            (
                p["containerPort"].as_i64().unwrap(),
                s(&p["protocol"], "protocol").to_owned(),
            ),
        );
    }
    assert_eq!(ports["dns-udp"], (53, "UDP".to_owned()));
    assert_eq!(ports["dns-tcp"], (53, "TCP".to_owned()));
    let probe = &c["readinessProbe"]["httpGet"];
    assert_eq!(probe["path"].as_str(), Some("/healthz"));
    assert!(ports.contains_key(s(&probe["port"], "probe port")));
    assert!(ports.contains_key(s(&c["livenessProbe"]["tcpSocket"]["port"], "liveness port")));

    // The Service exposes 53/UDP and 53/TCP onto named container ports.
    let mut service_ports = BTreeSet::new();
    for p in list(&service["spec"]["ports"], "service ports") {
        assert!(ports.contains_key(s(&p["targetPort"], "targetPort")));
        service_ports.insert((
            p["port"].as_i64().unwrap(),
            s(&p["protocol"], "protocol").to_owned(),
        ));
    }
    assert_eq!(
        service_ports,
        BTreeSet::from([(53, "UDP".to_owned()), (53, "TCP".to_owned())])
    );

    // The container reads the ConfigMap's key at the path its args name.
    let args: Vec<&str> = list(&c["args"], "args")
        .iter()
        .map(|a| s(a, "arg"))
        .collect();
    assert_eq!(args, ["serve", "--config", "/etc/altodisc/altodisc.toml"]);
    let mount = &list(&c["volumeMounts"], "volumeMounts")[0];
    assert_eq!(mount["mountPath"].as_str(), Some("/etc/altodisc"));
    let volume = list(&spec["volumes"], "volumes")
        .iter()
        .find(|v| v["name"] == mount["name"])
        .expect("the mounted volume");
    assert_eq!(volume["configMap"]["name"], config_map["metadata"]["name"]);

    // The config itself loads through the responder's loader (a copy in a directory of its own,
    // as the mount is).
    let toml = s(&config_map["data"]["altodisc.toml"], "data.altodisc.toml");
    let tmp = TempDir::new("k8s-config");
    let path = tmp.0.join("altodisc.toml");
    std::fs::write(&path, toml).unwrap();
    let loaded = Sources {
        config: Some(path),
        zones_dir: None,
    }
    .load(None)
    .unwrap();
    assert_eq!(
        loaded.serve.listen,
        ["0.0.0.0:53".parse::<SocketAddr>().unwrap()]
    );
    assert!(!loaded.loaded.zones.is_empty());
    // The readiness probe's port is where the config serves /healthz.
    let metrics_port = loaded.serve.metrics_listen.expect("metrics_listen").port();
    assert_eq!(
        i64::from(metrics_port),
        ports[s(&probe["port"], "probe port")].0
    );

    // Served (on loopback test ports), the probe's path answers 200.
    let local = toml
        .replace("\"0.0.0.0:53\"", "\"127.0.0.1:0\"")
        .replace("\"0.0.0.0:9153\"", "\"127.0.0.1:0\"");
    let path = tmp.0.join("altodisc-local.toml");
    std::fs::write(&path, local).unwrap();
    let served = Serving::start(&path, &[]);
    let metrics = served.metrics.expect("serve printed its metrics address");
    let response = http_get(metrics, s(&probe["path"], "probe path"));
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
}

/// One HTTP/1.1 GET, the whole response as text.
fn http_get(addr: SocketAddr, path: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

// ----- Containerfile -----------------------------------------------------------------------------

#[test]
fn containerfile_is_multi_stage_non_root_and_exposes_dns() {
    let file = read("deploy/container/Containerfile");
    let instructions: Vec<(String, String)> = file
        .lines()
        .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
        .filter(|l| !l.starts_with(' '))
        .map(|l| {
            let (op, rest) = l.split_once(' ').unwrap_or((l, ""));
            (op.to_owned(), rest.trim().to_owned())
        })
        .collect();
    for (op, _) in &instructions {
        assert!(
            [
                "FROM",
                "WORKDIR",
                "COPY",
                "RUN",
                "USER",
                "EXPOSE",
                "STOPSIGNAL",
                "ENTRYPOINT",
                "CMD"
            ]
            .contains(&op.as_str()),
            "unknown instruction {op}"
        );
    }
    let froms: Vec<&String> = instructions
        .iter()
        .filter(|(op, _)| op == "FROM")
        .map(|(_, r)| r)
        .collect();
    assert_eq!(froms.len(), 2, "a build stage and a runtime stage");
    assert!(froms[0].ends_with(" AS build"), "{}", froms[0]);
    let runtime_start = instructions
        .iter()
        .rposition(|(op, _)| op == "FROM")
        .unwrap();
    let runtime = &instructions[runtime_start..];
    // Non-root in the final image.
    let user = runtime
        .iter()
        .rev()
        .find(|(op, _)| op == "USER")
        .map(|(_, u)| u.clone())
        .expect("USER in the runtime stage");
    let uid = user.split(':').next().unwrap();
    assert!(uid != "0" && uid != "root", "runs as {user}");
    // DNS over UDP and TCP and the metrics port.
    let exposed: BTreeSet<&str> = runtime
        .iter()
        .filter(|(op, _)| op == "EXPOSE")
        .flat_map(|(_, r)| r.split_whitespace())
        .collect();
    for p in ["53/udp", "53/tcp", "9153/tcp"] {
        assert!(exposed.contains(p), "EXPOSE {p}");
    }
    // Everything the build stage copies from the context exists.
    for (op, rest) in &instructions[..runtime_start] {
        if op == "COPY" {
            let parts: Vec<&str> = rest.split_whitespace().collect();
            for src in &parts[..parts.len() - 1] {
                assert!(repo().join(src).exists(), "COPY source {src} is missing");
            }
        }
    }
    // The runtime copies only from the build stage and starts the binary it built.
    for (op, rest) in runtime {
        if op == "COPY" {
            assert!(rest.starts_with("--from=build"), "{rest}");
        }
    }
    assert!(file.contains("ENTRYPOINT [\"/usr/bin/altodisc\"]"));
}

// ----- DHCP snippets -----------------------------------------------------------------------------

/// Every snippet announces the access domain of the example publishing config.
const ACCESS_DOMAIN: &str = "example.org";

#[test]
fn dhcp_snippets_announce_the_example_access_domain() {
    let config = PublishConfig::load(&repo().join("deploy/systemd/altodisc.toml")).unwrap();
    assert_eq!(config.access_domains[0].domain, format!("{ACCESS_DOMAIN}."));
    // dnsmasq gets hex: it must be exactly the RFC 5986 wire form altodisc-proto encodes.
    let wire = encode_access_domain(&DomainName::parse(ACCESS_DOMAIN).unwrap());
    let hex: Vec<String> = wire.iter().map(|b| format!("{b:02x}")).collect();
    let hex = hex.join(":");
    let dnsmasq = read("deploy/dhcp/dnsmasq.conf");
    assert!(
        dnsmasq.contains(&format!("\ndhcp-option=213,{hex}\n")),
        "{hex}"
    );
    assert!(dnsmasq.contains(&format!("\ndhcp-option=option6:57,{hex}\n")));
    for (file, line) in [
        (
            "kea-dhcp4.json",
            format!("{{ \"name\": \"v4-access-domain\", \"data\": \"{ACCESS_DOMAIN}\" }}"),
        ),
        (
            "kea-dhcp6.json",
            format!("{{ \"name\": \"v6-access-domain\", \"data\": \"{ACCESS_DOMAIN}\" }}"),
        ),
        (
            "dhcpd.conf",
            format!("option v4-access-domain {ACCESS_DOMAIN};"),
        ),
        (
            "dhcpd6.conf",
            format!("option dhcp6.v6-access-domain {ACCESS_DOMAIN};"),
        ),
    ] {
        assert!(
            read(&format!("deploy/dhcp/{file}")).contains(&line),
            "{file}"
        );
    }
    // `altodisc render` writes the same option lines for the example config.
    let tmp = TempDir::new("render");
    let config = repo().join("deploy/systemd/altodisc.toml");
    let out = crate::altodisc(&[
        "render",
        "--config",
        config.to_str().unwrap(),
        "--out",
        tmp.0.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let rendered = tmp.0.join("dhcp").join(ACCESS_DOMAIN);
    for file in [
        "dnsmasq.conf",
        "kea-dhcp4.json",
        "kea-dhcp6.json",
        "dhcpd.conf",
        "dhcpd6.conf",
    ] {
        let generated = std::fs::read_to_string(rendered.join(file))
            .unwrap_or_else(|e| panic!("render wrote no {file}: {e}"));
        let options = |text: &str| -> Vec<String> {
            text.lines()
                .map(str::trim)
                .filter(|l| {
                    l.starts_with("dhcp-option=")
                        || l.starts_with("option ")
                        || l.contains("access-domain\", \"data\"")
                })
                .map(str::to_owned)
                .collect()
        };
        let shipped = options(&read(&format!("deploy/dhcp/{file}")));
        assert!(!shipped.is_empty(), "{file}");
        assert_eq!(shipped, options(&generated), "{file}");
    }
    // The operator doc shows the same lines.
    let doc = read("docs/operators/dhcp.md");
    assert!(doc.contains(&format!("dhcp-option=213,{hex}")));
    assert!(doc.contains("\"v4-access-domain\""));
}

#[test]
fn dnsmasq_accepts_the_snippet() {
    let Some(dnsmasq) = require("dnsmasq", "DHCP snippet check") else {
        return;
    };
    let out = run(Command::new(dnsmasq)
        .arg("--test")
        .arg("-C")
        .arg(repo().join("deploy/dhcp/dnsmasq.conf")));
    assert!(out.status.success(), "{}", text(&out));
}

/// `kea-dhcp4 -t` refuses interfaces that do not exist (DHCP-LAB-NOTES §2.2): the check runs on a
/// copy that names `lo` instead of the snippet's `eth0`.
fn kea_check(binary: &str, file: &str) {
    let Some(kea) = require(binary, "DHCP snippet check") else {
        return;
    };
    let tmp = TempDir::new(binary);
    let json = read(&format!("deploy/dhcp/{file}"));
    assert!(json.contains("\"eth0\""));
    let copy = tmp.0.join(file);
    std::fs::write(&copy, json.replace("\"eth0\"", "\"lo\"")).unwrap();
    let out = run(Command::new(kea)
        .arg("-t")
        .arg(&copy)
        .env("KEA_PIDFILE_DIR", &tmp.0)
        .env("KEA_LOCKFILE_DIR", &tmp.0));
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn kea_dhcp4_accepts_the_snippet() {
    kea_check("kea-dhcp4", "kea-dhcp4.json");
}

#[test]
fn kea_dhcp6_accepts_the_snippet() {
    kea_check("kea-dhcp6", "kea-dhcp6.json");
}

#[test]
fn isc_dhcpd_accepts_the_snippets() {
    let Some(dhcpd) = require("dhcpd", "DHCP snippet check") else {
        return;
    };
    for (family, file) in [("-4", "dhcpd.conf"), ("-6", "dhcpd6.conf")] {
        let out = run(Command::new(&dhcpd)
            .args([family, "-t", "-cf"])
            .arg(repo().join("deploy/dhcp").join(file)));
        assert!(out.status.success(), "{file}: {}", text(&out));
    }
}

/// The `[serve]` keys the example configs use are the ones the responder accepts (a typo would be
/// a startup error).
#[test]
fn example_serve_tables_use_known_keys() {
    for rel in ["deploy/systemd/altodisc.toml", "zones/publish.toml"] {
        let path = repo().join(rel);
        let config = PublishConfig::load(&path).unwrap();
        ServeSection::from_config(&config, rel).unwrap();
    }
}

/// A running `altodisc serve`, stopped by its PID on drop.
pub(crate) struct Serving {
    child: std::process::Child,
    /// The first address it listens on.
    pub(crate) addr: SocketAddr,
    /// The `/metrics` + `/healthz` endpoint, when configured.
    pub(crate) metrics: Option<SocketAddr>,
}

impl Serving {
    /// Starts `altodisc serve --config config` with `envs`, waits for its ready line.
    pub(crate) fn start(config: &Path, envs: &[(&str, &std::ffi::OsStr)]) -> Self {
        use std::io::{BufRead, BufReader};
        let mut child = Command::new(env!("CARGO_BIN_EXE_altodisc"))
            .arg("serve")
            .arg("--config")
            .arg(config)
            .envs(envs.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut addr = None;
        let mut metrics = None;
        loop {
            let Some(Ok(line)) = lines.next() else {
                let _ = child.kill();
                let _ = child.wait();
                panic!("serve exited before its ready line");
            };
            if let Some(rest) = line.strip_prefix("listening on ") {
                addr = addr.or_else(|| rest.split(' ').next().and_then(|a| a.parse().ok()));
            }
            if let Some(rest) = line.strip_prefix("metrics on http://") {
                metrics = rest.split('/').next().and_then(|a| a.parse().ok());
            }
            if line.starts_with("ready: ") {
                break;
            }
        }
        Self {
            child,
            addr: addr.expect("a listening line"),
            metrics,
        }
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The example config with its public listen address and state path swapped for test ones.
pub(crate) fn example_config_on_loopback(tmp: &TempDir) -> PathBuf {
    let original = read("deploy/systemd/altodisc.toml");
    let serials = tmp.0.join("serials");
    let config = original
        .replace("listen = [\"[::]:53\"]", "listen = [\"127.0.0.1:0\"]")
        .replace(
            "serial_file = \"/var/lib/altodisc/serials\"",
            &format!("serial_file = {:?}", serials.to_str().unwrap()),
        );
    assert_ne!(config, original);
    let path = tmp.0.join("altodisc.toml");
    std::fs::write(&path, config).unwrap();
    path
}

/// The example config serves what it promises: the access domain and the prefix find the URI.
#[test]
fn systemd_example_config_serves_its_records() {
    let tmp = TempDir::new("example-serve");
    let config = example_config_on_loopback(&tmp);
    let served = Serving::start(&config, &[]);
    let server = served.addr.to_string();
    for (cmd, target) in [("resolve", "example.org"), ("xdom", "198.51.100.7")] {
        // DNSSEC is not the point here (the example zones are unsigned, and a lone authoritative
        // server offers no chain of trust from the root).
        let out = crate::altodisc(&[
            cmd,
            "--server",
            &server,
            "--no-recursion",
            "--dnssec",
            "off",
            target,
        ]);
        assert!(out.status.success(), "{cmd} {target}: {}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("https://alto.example.org/ird"),
            "{cmd} {target}: {}",
            text(&out)
        );
    }
    // The serial file lands where the config says (the unit's StateDirectory in production).
    assert!(tmp.0.join("serials").is_file());
}

/// `Type=notify`: `serve` sends READY=1 over `$NOTIFY_SOCKET` once it answers, and STOPPING=1
/// on SIGTERM (sd_notify(3), the protocol systemd reads).
#[test]
fn serve_notifies_systemd_when_ready_and_stopping() {
    use std::os::unix::net::UnixDatagram;
    let tmp = TempDir::new("notify");
    let socket_path = tmp.0.join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let receive = || {
        let mut buf = [0u8; 1024];
        let n = socket.recv(&mut buf).expect("a notification");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    let config = example_config_on_loopback(&tmp);
    let served = Serving::start(&config, &[("NOTIFY_SOCKET", socket_path.as_os_str())]);
    let ready = receive();
    assert!(ready.lines().any(|l| l == "READY=1"), "{ready:?}");
    assert!(ready.contains("STATUS="), "{ready:?}");
    // READY=1 came after the sockets were bound: the server answers now.
    let out = crate::altodisc(&[
        "resolve",
        "--server",
        &served.addr.to_string(),
        "--no-recursion",
        "--dnssec",
        "off",
        "example.org",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let pid = served.child.id().to_string();
    assert!(
        run(Command::new("kill").args(["-TERM", &pid]))
            .status
            .success()
    );
    let stopping = receive();
    assert!(stopping.lines().any(|l| l == "STOPPING=1"), "{stopping:?}");
}

/// The text between the first "```toml" line of `markdown` and the closing fence.
fn first_toml_block(markdown: &str) -> String {
    let start = markdown
        .find("```toml\n")
        .expect("a ```toml block")
        .saturating_add("```toml\n".len());
    let len = markdown[start..].find("```").expect("closed block");
    markdown[start..start + len].to_owned()
}

/// deploy/secondaries: the `[serve]` table of its README is what altodisc accepts, with the
/// placeholder secret the three secondary configs carry, and those configs name the same key,
/// the addresses of that table and its catalog zone. (The configs themselves are checked by
/// nsd-checkconf, knotc conf-check and named-checkconf in ops.rs.)
#[test]
fn secondary_examples_fit_the_readme_serve_table() {
    let readme = read("deploy/secondaries/README.md");
    let nsd = read("deploy/secondaries/nsd.conf");
    let knot = read("deploy/secondaries/knot.conf");
    let bind = read("deploy/secondaries/named.conf");
    // The same placeholder secret in all three, taken from named.conf.
    let secret = bind
        .lines()
        .find_map(|l| l.trim().strip_prefix("secret \""))
        .and_then(|rest| rest.strip_suffix("\";"))
        .expect("named.conf has a key secret")
        .to_owned();
    assert!(secret.starts_with("REPLACE/ME"), "{secret}");
    assert!(nsd.contains(&format!("secret: \"{secret}\"")));
    assert!(knot.contains(&format!("secret: {secret}")));
    for (file, text) in [
        ("nsd.conf", &nsd),
        ("knot.conf", &knot),
        ("named.conf", &bind),
    ] {
        assert!(
            text.contains("PLACEHOLDER"),
            "{file} must say its secret is a placeholder"
        );
        assert!(
            text.contains("tsig-keygen"),
            "{file} must say how to generate a secret"
        );
    }

    // altodisc accepts the README's table, key file and all.
    let tmp = TempDir::new("secondaries-readme");
    let config = tmp.0.join("publish.toml");
    std::fs::write(&config, first_toml_block(&readme)).unwrap();
    std::fs::write(tmp.0.join("xfr-key.secret"), format!("{secret}\n")).unwrap();
    let parsed = PublishConfig::load(&config).unwrap();
    let serve = ServeSection::from_config(&parsed, &config.display().to_string()).unwrap();
    let mut options = altodisc_responder::ServeOptions::default();
    serve.apply(&mut options).unwrap();
    assert!(options.journal.dir.is_some());
    let key = &serve.tsig_keys[0].name;
    let algorithm = serve.tsig_keys[0]
        .algorithm
        .as_deref()
        .unwrap_or("hmac-sha256");
    let catalog = serve.catalog_zone.clone().expect("catalog_zone");

    // Each secondary: its address is allowed with the key and NOTIFYed with the key, and its
    // config uses that key, the primary's address, and (Knot, BIND) the catalog.
    let primary = serve.listen[0];
    let secondaries = [
        ("nsd.conf", &nsd, format!("ip-address: {}", "192.0.2.54")),
        ("knot.conf", &knot, format!("listen: {}@53", "192.0.2.55")),
        (
            "named.conf",
            &bind,
            format!("listen-on {{ {}; }}", "192.0.2.56"),
        ),
    ];
    for (file, text, listen) in &secondaries {
        assert!(text.contains(listen.as_str()), "{file}: {listen}");
        let addr = listen
            .split(|c: char| !(c.is_ascii_digit() || c == '.'))
            .find(|p| p.matches('.').count() == 3)
            .unwrap();
        assert!(
            serve
                .allow_transfer
                .contains(&format!("{addr}/32 key {key}")),
            "{file}: {addr} not in allow_transfer with {key}"
        );
        let target = format!("{addr}:53");
        assert!(
            serve.notify.iter().any(|n| n.to_string() == target),
            "{file}: {target} not notified"
        );
        assert_eq!(serve.notify_keys.get(&target), Some(key), "{file}");
        assert!(text.contains(algorithm), "{file}: {algorithm}");
        assert!(
            text.contains(&primary.ip().to_string()),
            "{file}: {primary}"
        );
    }
    assert!(nsd.contains(&format!("name: \"{key}\"")));
    assert!(nsd.contains(&format!(
        "request-xfr: {}@{} {key}",
        primary.ip(),
        primary.port()
    )));
    assert!(knot.contains(&format!("- id: {key}")));
    assert!(knot.contains(&format!("address: {}@{}", primary.ip(), primary.port())));
    assert!(knot.contains(&format!(
        "- domain: {catalog}\n    catalog-role: interpret\n    catalog-template: altodisc-member"
    )));
    assert!(bind.contains(&format!("key \"{key}\" {{")));
    assert!(bind.contains(&format!(
        "primaries altodisc {{ {} port {} key \"{key}\"; }};",
        primary.ip(),
        primary.port()
    )));
    assert!(bind.contains(&format!("zone \"{catalog}\" default-primaries")));
    assert!(bind.contains(&format!("zone \"{catalog}\" {{\n    type secondary;")));
    assert!(bind.contains("allow-new-zones yes;"));
}

/// A daemon started by a test from a shipped config, killed by its PID on drop.
struct Daemon {
    child: std::process::Child,
    log: PathBuf,
}

impl Daemon {
    fn start(binary: &Path, args: &[&str], dir: &Path) -> Self {
        let log = dir.join("daemon.log");
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new(binary)
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("{}: {e}", binary.display()));
        Self { child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The serial of `zone` when `addr` answers for it with authority.
fn authoritative_serial(addr: SocketAddr, zone: &str) -> Option<u32> {
    use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
    use hickory_proto::rr::{Name, RData, RecordType};
    let mut m = Message::new(7, MessageType::Query, OpCode::Query);
    m.add_query(Query::query(Name::from_ascii(zone).ok()?, RecordType::SOA));
    let s = std::net::UdpSocket::bind("127.0.0.1:0").ok()?;
    s.set_read_timeout(Some(std::time::Duration::from_millis(500)))
        .ok()?;
    s.send_to(&m.to_vec().ok()?, addr).ok()?;
    let mut buf = [0u8; 4096];
    let n = s.recv(&mut buf).ok()?;
    let r = Message::from_vec(buf.get(..n)?).ok()?;
    if r.metadata.response_code != ResponseCode::NoError || !r.metadata.authoritative {
        return None;
    }
    match r.answers.first().map(|a| &a.data) {
        Some(RData::SOA(soa)) => Some(soa.serial),
        _ => None,
    }
}

/// `text` with `from` replaced by `to`, which must occur.
fn swap(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "{from:?} not found");
    text.replace(from, to)
}

/// The shipped knot.conf and named.conf, with only their addresses, directories and placeholder
/// secret swapped for test ones, consume the catalog of `altodisc serve` run with the README's
/// `[serve]` table: a prefix added to the publishing config appears on both as a new zone, and
/// disappears when it is removed.
#[test]
fn shipped_knot_and_bind_configs_follow_the_catalog_of_altodisc_serve() {
    use altodisc_testpeers::{find_binary, free_port, require_tool_or_skip};
    if !require_tool_or_skip("knotd", "knot") || !require_tool_or_skip("named", "bind9") {
        return;
    }
    let tmp = TempDir::new("secondaries-live");
    let secret = "YWx0b2Rpc2MtZGVwbG95LXRlc3Qtc2VjcmV0LTAwMDE=";
    let placeholder = "REPLACE/ME/with/the/secret/from/tsig/keygen/xfr/key/AAAAAAAA";
    let (knot_port, bind_port) = (free_port().unwrap(), free_port().unwrap());
    assert_ne!(knot_port, bind_port);

    // altodisc: the README's [serve] table on loopback, plus a config with prefixes.
    let readme = first_toml_block(&read("deploy/secondaries/README.md"));
    let serve = swap(
        &readme,
        "listen = [\"192.0.2.53:53\"]",
        "listen = [\"127.0.0.1:0\"]",
    );
    let serve = swap(
        &serve,
        "allow_transfer = [\"192.0.2.54/32 key xfr-key\", \"192.0.2.55/32 key xfr-key\", \"192.0.2.56/32 key xfr-key\"]",
        "allow_transfer = [\"127.0.0.1/32 key xfr-key\"]\nwatch_interval = 1",
    );
    let notify = format!("notify = [\"127.0.0.1:{knot_port}\", \"127.0.0.1:{bind_port}\"]");
    let serve = swap(
        &serve,
        "notify = [\"192.0.2.54:53\", \"192.0.2.55:53\", \"192.0.2.56:53\"]",
        &notify,
    );
    let serve = swap(&serve, "/var/lib/altodisc/", "");
    let keys = format!(
        "\"127.0.0.1:{knot_port}\" = \"xfr-key\"\n\"127.0.0.1:{bind_port}\" = \"xfr-key\"\n"
    );
    let serve = swap(
        &serve,
        "\"192.0.2.54:53\" = \"xfr-key\"\n\"192.0.2.55:53\" = \"xfr-key\"\n\"192.0.2.56:53\" = \"xfr-key\"\n",
        &keys,
    );
    std::fs::write(tmp.0.join("xfr-key.secret"), format!("{secret}\n")).unwrap();
    let config = tmp.0.join("altodisc.toml");
    let write_config = |thirds: &[u8]| {
        let mut text = format!(
            "{serve}\n[defaults]\nns = [\"ns1.example.net.\"]\nrname = \"hostmaster.example.net.\"\n"
        );
        for t in thirds {
            text.push_str(&format!(
                "\n[[zone]]\norigin = \"{t}.0.192.in-addr.arpa.\"\n\n[[prefix]]\nprefix = \"192.0.{t}.0/24\"\n\
                 records = [{{ order = 100, preference = 10, uri = \"https://alto{t}.example.net/ird\" }}]\n"
            ));
        }
        // Through a rename, so the poller never reads half a file.
        let part = tmp.0.join("altodisc.toml.part");
        std::fs::write(&part, text).unwrap();
        std::fs::rename(&part, &config).unwrap();
    };
    write_config(&[2]);
    let served = Serving::start(&config, &[]);
    let alto = served.addr;

    // Knot from deploy/secondaries/knot.conf.
    let knot_dir = tmp.0.join("knot");
    std::fs::create_dir_all(&knot_dir).unwrap();
    let knot = read("deploy/secondaries/knot.conf");
    let knot = swap(
        &knot,
        "listen: 192.0.2.55@53",
        &format!("listen: 127.0.0.1@{knot_port}\n    rundir: {:?}", knot_dir),
    );
    let knot = swap(
        &knot,
        "address: 192.0.2.53@53",
        &format!("address: 127.0.0.1@{}", alto.port()),
    );
    let knot = swap(&knot, "address: 192.0.2.53\n", "address: 127.0.0.1\n");
    let knot = swap(&knot, "\"/var/lib/knot\"", &format!("{knot_dir:?}"));
    let knot = swap(&knot, placeholder, secret);
    let knot = format!("{knot}\nlog:\n  - target: stderr\n    any: info\n");
    let knot_conf = knot_dir.join("knot.conf");
    std::fs::write(&knot_conf, knot).unwrap();
    let knotd = Daemon::start(
        &find_binary("knotd").unwrap(),
        &["-c", knot_conf.to_str().unwrap()],
        &knot_dir,
    );

    // BIND from deploy/secondaries/named.conf.
    let bind_dir = tmp.0.join("bind");
    std::fs::create_dir_all(&bind_dir).unwrap();
    let bind = read("deploy/secondaries/named.conf");
    let d = |f: &str| format!("{:?}", bind_dir.join(f));
    let bind = swap(
        &bind,
        "directory \"/var/cache/bind\";",
        &format!(
            "directory {};\n    pid-file {};\n    session-keyfile {};\n    managed-keys-directory {};",
            d(""),
            d("named.pid"),
            d("session.key"),
            d("")
        ),
    );
    let bind = swap(
        &bind,
        "listen-on { 192.0.2.56; };",
        &format!("listen-on port {bind_port} {{ 127.0.0.1; }};"),
    );
    let bind = swap(
        &bind,
        "192.0.2.53 port 53",
        &format!("127.0.0.1 port {}", alto.port()),
    );
    let bind = swap(&bind, placeholder, secret);
    let bind = format!("{bind}\ncontrols {{ }};\n");
    let bind_conf = bind_dir.join("named.conf");
    std::fs::write(&bind_conf, bind).unwrap();
    let named = Daemon::start(
        &find_binary("named").unwrap(),
        &["-g", "-n", "1", "-c", bind_conf.to_str().unwrap()],
        &bind_dir,
    );

    let peers = [
        (
            "knot",
            &knotd,
            SocketAddr::from(([127, 0, 0, 1], knot_port)),
        ),
        (
            "bind",
            &named,
            SocketAddr::from(([127, 0, 0, 1], bind_port)),
        ),
    ];
    let wait = |zone: &str, present: bool| {
        for (name, daemon, addr) in &peers {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(40);
            while authoritative_serial(*addr, zone).is_some() != present {
                assert!(
                    std::time::Instant::now() < deadline,
                    "{name} did not {} {zone}; log:\n{}",
                    if present { "provision" } else { "remove" },
                    daemon.log()
                );
                std::thread::sleep(std::time::Duration::from_millis(200));
            }
        }
    };
    wait("2.0.192.in-addr.arpa.", true);
    // A new prefix: the poller reloads, the catalog gains a member, NOTIFY goes out signed.
    write_config(&[2, 3]);
    wait("3.0.192.in-addr.arpa.", true);
    for (name, _, addr) in &peers {
        assert_eq!(
            authoritative_serial(*addr, "3.0.192.in-addr.arpa."),
            authoritative_serial(alto, "3.0.192.in-addr.arpa."),
            "{name}"
        );
    }
    assert!(
        tmp.0.join("journal").is_dir(),
        "ixfr_journal_dir not created"
    );
    // Removed again: gone from both, the other member stays.
    write_config(&[2]);
    wait("3.0.192.in-addr.arpa.", false);
    wait("2.0.192.in-addr.arpa.", true);
    drop(named);
    drop(knotd);
    drop(served);
}
