//! `altodisc render`: every rendered zone file passes `named-checkzone`, `kzonecheck` and
//! `nsd-checkzone`; the DHCP snippets pass `kea-dhcp4 -t`, `kea-dhcp6 -t`, `dnsmasq --test` (inside
//! a minimal config) and `dhcpd -t`; the dnsmasq hex is altodisc-proto's RFC 5986 encoding.
//!
//! Kea: the snippets listen on `"*"` (all interfaces), which `kea -t` validates without a network
//! namespace; a named interface must exist on the checking host (DHCP-LAB-NOTES §2.2).

use std::path::{Path, PathBuf};
use std::process::Command;

use altodisc_proto::DomainName;
use altodisc_proto::access_domain::encode_access_domain;
use altodisc_testpeers::{find_binary, require_tool_or_skip};

use crate::ops::temp_dir;

const CONFIG: &str = r#"
[defaults]
ns = ["ns1.example.net."]
rname = "hostmaster.example.net."
[[zone]]
origin = "example.org."
[[zone]]
origin = "51.198.in-addr.arpa."
negative_ttl = 600
[[zone]]
origin = "8.b.d.0.1.0.0.2.ip6.arpa."
[[access_domain]]
domain = "example.org."
records = [
  { order = 100, preference = 10, uri = "https://alto.example.org/ird" },
  { order = 200, preference = 10, delegate = "example.net." },
]
[[access_domain]]
domain = "branch.example.org."
records = [{ order = 100, preference = 10, uri = "https://alto.example.org/branch-ird" }]
[[prefix]]
prefix = "198.51.100.0/22"
records = [{ order = 100, preference = 10, uri = "https://alto.example.org/ird" }]
[[prefix]]
prefix = "2001:db8:1::/48"
records = [{ order = 100, preference = 10, uri = "https://alto.example.org/v6" }]
"#;

fn run_ok(tool: &str, args: &[&str], env: &[(&str, &Path)]) {
    let mut cmd = Command::new(find_binary(tool).unwrap());
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{tool} {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn rendered() -> (PathBuf, Vec<(String, PathBuf)>) {
    let dir = temp_dir("render");
    let config = dir.join("publish.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let out = dir.join("out");
    let o = crate::altodisc(&[
        "render",
        "--config",
        config.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut zones: Vec<(String, PathBuf)> = std::fs::read_dir(out.join("zones"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            let stem = p.file_stem().unwrap().to_str().unwrap().to_owned();
            (format!("{stem}."), p)
        })
        .collect();
    zones.sort();
    assert_eq!(zones.len(), 3, "{zones:?}");
    (dir, zones)
}

#[test]
fn rendered_zones_load_in_bind_knot_and_nsd() {
    let (dir, zones) = rendered();
    for (origin, path) in &zones {
        let p = path.to_str().unwrap();
        let text = std::fs::read_to_string(path).unwrap();
        assert!(
            text.contains(" IN SOA ") && text.contains(" IN NAPTR "),
            "{text}"
        );
        if require_tool_or_skip("named-checkzone", "bind9-utils") {
            run_ok(
                "named-checkzone",
                &["-k", "fail", "-i", "full", origin, p],
                &[],
            );
        }
        if require_tool_or_skip("kzonecheck", "knot-dnssecutils") {
            run_ok("kzonecheck", &["-o", origin, p], &[]);
        }
        if require_tool_or_skip("nsd-checkzone", "nsd") {
            run_ok("nsd-checkzone", &[origin, p], &[]);
        }
    }
    // altodisc's own checker agrees (no errors) and the zones serve.
    let zdir = zones[0].1.parent().unwrap();
    let o = crate::altodisc(&["check", zdir.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn rendered_dhcp_snippets_pass_the_servers_checks() {
    let (dir, _) = rendered();
    for domain in ["example.org", "branch.example.org"] {
        let d = dir.join("out/dhcp").join(domain);
        let wire = encode_access_domain(&DomainName::parse(domain).unwrap());
        let hex: Vec<String> = wire.iter().map(|b| format!("{b:02x}")).collect();
        let hex = hex.join(":");
        let dnsmasq = std::fs::read_to_string(d.join("dnsmasq.conf")).unwrap();
        assert!(
            dnsmasq.contains(&format!("\ndhcp-option=213,{hex}\n")),
            "{dnsmasq}"
        );
        assert!(dnsmasq.contains(&format!("\ndhcp-option=option6:57,{hex}\n")));
        let kea4 = std::fs::read_to_string(d.join("kea-dhcp4.json")).unwrap();
        assert!(kea4.contains(&format!(
            "{{ \"name\": \"v4-access-domain\", \"data\": \"{domain}\" }}"
        )));
        if require_tool_or_skip("dnsmasq", "dnsmasq") {
            // The snippet inside a minimal configuration (no DNS, a DHCP range so the options
            // apply).
            let wrapper = d.join("dnsmasq-test.conf");
            std::fs::write(
                &wrapper,
                format!(
                    "port=0\ndhcp-range=198.51.100.100,198.51.100.150,1h\nconf-file={}\n",
                    d.join("dnsmasq.conf").display()
                ),
            )
            .unwrap();
            run_ok("dnsmasq", &["--test", "-C", wrapper.to_str().unwrap()], &[]);
        }
        for (tool, file) in [
            ("kea-dhcp4", "kea-dhcp4.json"),
            ("kea-dhcp6", "kea-dhcp6.json"),
        ] {
            let package = format!("{tool}-server");
            if require_tool_or_skip(tool, &package) {
                let env = [
                    ("KEA_PIDFILE_DIR", d.as_path()),
                    ("KEA_LOCKFILE_DIR", d.as_path()),
                ];
                run_ok(tool, &["-t", d.join(file).to_str().unwrap()], &env);
            }
        }
        if require_tool_or_skip("dhcpd", "isc-dhcp-server") {
            run_ok(
                "dhcpd",
                &["-4", "-t", "-cf", d.join("dhcpd.conf").to_str().unwrap()],
                &[],
            );
            run_ok(
                "dhcpd",
                &["-6", "-t", "-cf", d.join("dhcpd6.conf").to_str().unwrap()],
                &[],
            );
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A forward zone whose name server is inside it: `records` supplies the address that
/// named-checkzone and kzonecheck require, and without it `render` refuses the config, as
/// those tools refuse the zone.
#[test]
fn an_in_zone_name_server_gets_its_address_from_records() {
    let dir = temp_dir("render-glue");
    let config = dir.join("publish.toml");
    let body = "[defaults]\nns = [\"ns1.isp.example.\"]\nrname = \"hostmaster.isp.example.\"\n\
                [[zone]]\norigin = \"isp.example.\"\n\
                records = [\"ns1 3600 IN A 192.0.2.53\", \"ns1 3600 IN AAAA 2001:db8::53\"]\n\
                [[access_domain]]\ndomain = \"isp.example.\"\n\
                records = [{ order = 100, preference = 10, uri = \"https://alto.isp.example/ird\" }]\n";
    std::fs::write(&config, body).unwrap();
    let out = dir.join("out");
    let render = |out: &Path| {
        crate::altodisc(&[
            "render",
            "--config",
            config.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
    };
    let o = render(&out);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let zone = out.join("zones/isp.example.zone");
    let p = zone.to_str().unwrap();
    let text = std::fs::read_to_string(&zone).unwrap();
    assert!(
        text.contains("192.0.2.53") && text.contains("2001:db8::53"),
        "{text}"
    );
    // The same zone without the address lines: what the config without `records` would give.
    let bare = dir.join("bare.zone");
    std::fs::write(
        &bare,
        text.lines()
            .filter(|l| !l.contains(" IN A ") && !l.contains(" IN AAAA "))
            .map(|l| format!("{l}\n"))
            .collect::<String>(),
    )
    .unwrap();
    let b = bare.to_str().unwrap();
    if require_tool_or_skip("named-checkzone", "bind9-utils") {
        run_ok(
            "named-checkzone",
            &["-k", "fail", "-i", "full", "isp.example.", p],
            &[],
        );
        let rejected = Command::new(find_binary("named-checkzone").unwrap())
            .args(["-k", "fail", "-i", "full", "isp.example.", b])
            .output()
            .unwrap();
        assert!(!rejected.status.success(), "named-checkzone accepted {b}");
    }
    if require_tool_or_skip("kzonecheck", "knot-dnssecutils") {
        run_ok("kzonecheck", &["-o", "isp.example.", p], &[]);
        let rejected = Command::new(find_binary("kzonecheck").unwrap())
            .args(["-o", "isp.example.", b])
            .output()
            .unwrap();
        assert!(!rejected.status.success(), "kzonecheck accepted {b}");
    }
    // altodisc refuses the config without `records`, saying what to add.
    let without: String = body
        .lines()
        .filter(|l| !l.starts_with("records = [\"ns1"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&config, without).unwrap();
    let out2 = dir.join("out2");
    let o = render(&out2);
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("name server ns1.isp.example.") && err.contains("records = [\"ns1 3600 IN A"),
        "{err}"
    );
}

#[test]
fn render_refuses_a_config_with_checker_errors() {
    let dir = temp_dir("render-bad");
    let config = dir.join("publish.toml");
    // A delegation to a name that has no NAPTR in the rendered zones (Z12).
    std::fs::write(
        &config,
        "[defaults]\nns = [\"ns1.example.net.\"]\n[[zone]]\norigin = \"example.org.\"\n\
         [[access_domain]]\ndomain = \"example.org.\"\n\
         records = [{ order = 100, preference = 10, delegate = \"x.example.org.\" }]\n",
    )
    .unwrap();
    let out = dir.join("out");
    let o = crate::altodisc(&[
        "render",
        "--config",
        config.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("zone checker found"), "{err}");
    assert!(!out.join("zones").exists());
}
