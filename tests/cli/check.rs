//! `altodisc check`: exit codes, the three output formats (SARIF validated against the SARIF 2.1.0
//! schema shipped under tests/sarif/), `--explain`, directories, intent replay, and the real
//! `pre-commit` running the hook from `.pre-commit-hooks.yaml`.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::altodisc;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn corpus(name: &str) -> String {
    root()
        .join("tests/checker")
        .join(name)
        .display()
        .to_string()
}

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn clean_zone_exits_0_and_broken_zone_exits_1() {
    let o = altodisc(&["check", &corpus("01-valid-rfc7286.zone")]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("0 errors, 0 warnings, 0 infos in 1 file"),
        "{}",
        stdout(&o)
    );

    let o = altodisc(&["check", &corpus("07-z1-order-70000.zone")]);
    assert_eq!(o.status.code(), Some(1));
    let text = stdout(&o);
    // rustc-like: header, arrow with file:line:col, the source line, a caret under ORDER, help.
    assert!(
        text.contains("error[Z1]: NAPTR ORDER 70000 is out of range 0-65535"),
        "{text}"
    );
    assert!(text.contains("07-z1-order-70000.zone:6:9"), "{text}");
    assert!(text.contains("6 | @ NAPTR 70000 10"), "{text}");
    assert!(text.contains("  |         ^"), "{text}");
    assert!(text.contains("= help:"), "{text}");
    assert!(
        !text.contains('\x1b'),
        "no colour when stdout is not a terminal"
    );
}

#[test]
fn warnings_fail_only_with_deny_warnings() {
    let f = corpus("02-z20-unsigned-rfc8686.zone");
    assert_eq!(altodisc(&["check", &f]).status.code(), Some(0));
    assert_eq!(
        altodisc(&["check", "--deny-warnings", &f]).status.code(),
        Some(1)
    );
}

#[test]
fn usage_and_unreadable_input_exit_2() {
    assert_eq!(
        altodisc(&["check", "/nonexistent/zone.zone"]).status.code(),
        Some(2)
    );
    assert_eq!(altodisc(&["check"]).status.code(), Some(2));
    let f = corpus("01-valid-rfc7286.zone");
    assert_eq!(
        altodisc(&["check", "--origin", "a..b", &f]).status.code(),
        Some(2)
    );
    assert_eq!(
        altodisc(&["check", "--explain", "Z99"]).status.code(),
        Some(2)
    );
    assert_eq!(
        altodisc(&["check", "--intent", "/nonexistent.toml", &f])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn explain_prints_rationale_with_rfc_section() {
    let o = altodisc(&["check", "--explain", "Z6"]);
    assert_eq!(o.status.code(), Some(0));
    let text = stdout(&o);
    assert!(text.starts_with("Z6 (error)"), "{text}");
    assert!(text.contains("RFC 4848 §2.2"), "{text}");
    let o = altodisc(&["check", "--explain", "z20b"]);
    assert!(stdout(&o).contains("RFC 4035"), "{}", stdout(&o));
}

#[test]
fn json_output_has_diagnostics_and_summary() {
    let o = altodisc(&[
        "check",
        "--format",
        "json",
        &corpus("16-z4-bad-services.zone"),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let d = &v["diagnostics"];
    assert_eq!(d.as_array().unwrap().len(), 2);
    assert_eq!(d[0]["rule"], "Z4");
    assert_eq!(d[0]["severity"], "error");
    assert_eq!(d[0]["line"], 6);
    assert_eq!(d[0]["column"], 20);
    assert!(
        d[0]["file"]
            .as_str()
            .unwrap()
            .ends_with("16-z4-bad-services.zone")
    );
    assert!(d[0]["message"].as_str().unwrap().contains("ALTO:"));
    assert!(d[0]["hint"].is_string());
    assert_eq!(v["summary"]["error"], 2);
    assert_eq!(v["summary"]["warning"], 0);
    assert_eq!(v["summary"]["files"], 1);
}

#[test]
fn directory_input_checks_every_zone_file() {
    let o = altodisc(&[
        "check",
        "--format",
        "json",
        &root().join("tests/checker").display().to_string(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let files = v["summary"]["files"].as_u64().unwrap();
    assert!(files >= 40, "{files}");
}

#[test]
fn sarif_output_validates_against_the_sarif_2_1_0_schema() {
    let schema_text =
        std::fs::read_to_string(root().join("tests/sarif/sarif-schema-2.1.0.json")).unwrap();
    let mut schema: Value = serde_json::from_str(&schema_text).unwrap();
    // Erratum of the 2.1.0 schema: the `language` patterns (run, toolComponent) have a stray `]`,
    // which the draft-04 meta-schema's "regex" format rejects; SARIF 2.1.0 Errata 01 writes them
    // as below. altodisc emits no `language`, so this changes nothing the test relies on.
    fn fix(v: &mut Value) -> usize {
        match v {
            Value::String(s) if s == "^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$" => {
                *s = "^[a-zA-Z]{2}(-[a-zA-Z]{2})?$".to_owned();
                1
            }
            Value::Array(a) => a.iter_mut().map(fix).sum(),
            Value::Object(o) => o.values_mut().map(fix).sum(),
            _ => 0,
        }
    }
    assert_eq!(fix(&mut schema), 2);
    let validator = jsonschema::validator_for(&schema).unwrap();

    // The whole corpus: every rule, positions in included files, findings without a position.
    let dir = root().join("tests/checker").display().to_string();
    let o = altodisc(&["check", "--format", "sarif", &dir]);
    assert_eq!(o.status.code(), Some(1));
    let log: Value = serde_json::from_slice(&o.stdout).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&log)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "SARIF invalid:\n{}", errors.join("\n"));

    let run = &log["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 33, "every rule's metadata is in the log");
    let results = run["results"].as_array().unwrap();
    assert!(results.len() > 40);
    for r in results {
        let i = usize::try_from(r["ruleIndex"].as_u64().unwrap()).unwrap();
        assert_eq!(rules[i]["id"], r["ruleId"]);
    }
    // A negative control: the validator does reject a broken log.
    let mut broken = log.clone();
    broken["runs"][0]["results"][0]["level"] = Value::from("fatal");
    assert!(!validator.is_valid(&broken));
}

#[test]
fn intent_replay_reports_mismatches_with_walked_names() {
    let zone = corpus("53-intent-mismatch.zone");
    let intent = corpus("53-intent-mismatch.intent.toml");
    let o = altodisc(&["check", "--format", "json", "--intent", &intent, &zone]);
    assert_eq!(o.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let z24: Vec<&Value> = v["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["rule"] == "Z24")
        .collect();
    assert!(!z24.is_empty());
    let msg = z24[0]["message"].as_str().unwrap();
    assert!(msg.contains("198.51.103."), "{msg}");
    assert!(
        msg.contains("R24 103.51.198.in-addr.arpa.: NXDOMAIN"),
        "{msg}"
    );

    let zone = corpus("52-intent-ok.zone");
    let intent = corpus("52-intent-ok.intent.toml");
    let o = altodisc(&["check", "--intent", &intent, &zone]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
}

fn run_ok(cmd: &mut Command) -> std::process::Output {
    let o = cmd.output().unwrap();
    assert!(
        o.status.success(),
        "{cmd:?}: {}{}",
        stdout(&o),
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn git(dir: &Path, args: &[&str]) {
    run_ok(
        Command::new("git")
            .current_dir(dir)
            .args(args)
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.net")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.net"),
    );
}

/// The real `pre-commit` (PyPI) runs the hook defined in the repository's
/// `.pre-commit-hooks.yaml` against a sample repository: a broken zone fails with its rule ID,
/// the fixed zone passes.
#[test]
fn pre_commit_hook_fails_on_a_broken_zone() {
    let in_ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let have = Command::new("pre-commit")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !have {
        assert!(!in_ci, "pre-commit missing (pip install pre-commit)");
        eprintln!("skipped: pre-commit not installed (pip install pre-commit)");
        return;
    }
    let tmp = std::env::temp_dir().join(format!("altodisc-precommit-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let hooks = tmp.join("hooks");
    let sample = tmp.join("sample");
    std::fs::create_dir_all(&hooks).unwrap();
    std::fs::create_dir_all(&sample).unwrap();

    // A hook repository holding exactly our .pre-commit-hooks.yaml (pre-commit clones hook
    // repositories at a revision, so it must be a git repository with a commit).
    std::fs::copy(
        root().join(".pre-commit-hooks.yaml"),
        hooks.join(".pre-commit-hooks.yaml"),
    )
    .unwrap();
    git(&hooks, &["init", "-q"]);
    git(&hooks, &["add", "."]);
    git(&hooks, &["commit", "-q", "-m", "hooks"]);
    let rev = run_ok(
        Command::new("git")
            .current_dir(&hooks)
            .args(["rev-parse", "HEAD"]),
    );
    let rev = stdout(&rev).trim().to_owned();

    std::fs::write(
        sample.join(".pre-commit-config.yaml"),
        format!(
            "repos:\n  - repo: {}\n    rev: {rev}\n    hooks:\n      - id: altodisc-check\n",
            hooks.display()
        ),
    )
    .unwrap();
    let broken =
        std::fs::read_to_string(root().join("tests/checker/19-z6-anchored-regexp.zone")).unwrap();
    std::fs::write(sample.join("example.net.zone"), &broken).unwrap();
    git(&sample, &["init", "-q"]);
    git(&sample, &["add", "."]);

    let bin_dir = Path::new(env!("CARGO_BIN_EXE_altodisc"))
        .parent()
        .unwrap()
        .to_path_buf();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let pre_commit = |dir: &Path| {
        Command::new("pre-commit")
            .current_dir(dir)
            .args(["run", "--all-files", "--color", "never"])
            .env("PATH", &path)
            .env("PRE_COMMIT_HOME", tmp.join("cache"))
            .output()
            .unwrap()
    };
    let o = pre_commit(&sample);
    let text = stdout(&o);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{text}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(text.contains("error[Z6]"), "{text}");
    assert!(text.contains("example.net.zone:6:33"), "{text}");

    let fixed = broken.replace("!^.*$!", "!.*!");
    std::fs::write(sample.join("example.net.zone"), fixed).unwrap();
    git(&sample, &["add", "."]);
    let o = pre_commit(&sample);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let _ = std::fs::remove_dir_all(&tmp);
}

/// The GitHub composite action's check step, run locally with bash: it writes the SARIF file,
/// reports the exit code as a step output and leaves failing to the last step. (PyYAML, which
/// pre-commit depends on, reads the action file.)
#[test]
fn github_action_check_step_writes_sarif_and_exit_code() {
    let in_ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let script = r#"
import json, sys, yaml
a = yaml.safe_load(open(sys.argv[1]))
assert a["runs"]["using"] == "composite", a["runs"]
steps = {s.get("id") or s["name"]: s for s in a["runs"]["steps"]}
assert steps["Upload SARIF"]["uses"].startswith("github/codeql-action/upload-sarif@")
print(json.dumps({"run": steps["check"]["run"], "env": steps["check"]["env"]}))
"#;
    let action = root().join("deploy/ci/action.yml");
    let Ok(o) = Command::new("python3")
        .args(["-c", script])
        .arg(&action)
        .output()
    else {
        assert!(!in_ci, "python3 missing");
        eprintln!("skipped: python3 not installed");
        return;
    };
    if !o.status.success() && String::from_utf8_lossy(&o.stderr).contains("No module named 'yaml'")
    {
        assert!(
            !in_ci,
            "PyYAML missing (it comes with pip install pre-commit)"
        );
        eprintln!("skipped: PyYAML not installed");
        return;
    }
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let step: Value = serde_json::from_slice(&o.stdout).unwrap();
    let run = step["run"].as_str().unwrap();

    let tmp = std::env::temp_dir().join(format!("altodisc-action-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let output = tmp.join("github_output");
    let sarif = tmp.join("out.sarif");
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_altodisc"))
        .parent()
        .unwrap()
        .to_path_buf();
    let o = Command::new("bash")
        .args(["-c", run])
        .env(
            "PATH",
            format!(
                "{}:{}",
                bin_dir.display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .env("GITHUB_OUTPUT", &output)
        .env(
            "ALTODISC_PATHS",
            format!(
                "{} {}",
                corpus("01-valid-rfc7286.zone"),
                corpus("24-z9-empty-uri.zone")
            ),
        )
        .env("ALTODISC_ORIGIN", "")
        .env("ALTODISC_INTENT", "")
        .env("ALTODISC_DENY_WARNINGS", "false")
        .env("ALTODISC_SARIF", &sarif)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "the step itself succeeds; the last step fails the job"
    );
    assert!(stdout(&o).contains("error[Z9]"), "{}", stdout(&o));
    assert_eq!(
        std::fs::read_to_string(&output).unwrap(),
        "exit-code=1\nsarif-valid=true\n"
    );
    let log: Value = serde_json::from_str(&std::fs::read_to_string(&sarif).unwrap()).unwrap();
    let results = log["runs"][0]["results"].as_array().unwrap();
    assert!(
        results
            .iter()
            .any(|r| r["ruleId"] == "Z9" && r["level"] == "error"),
        "{results:?}"
    );
    let _ = std::fs::remove_dir_all(&tmp);
}

/// `--live`: the same expectations replayed against real authoritative servers (NSD, Knot, BIND)
/// serving the corpus zones, through the resolver crate.
#[test]
fn live_mode_replays_intent_against_real_servers() {
    use altodisc_testpeers::{Peer, PeerKind, Zone, require_or_skip};
    for kind in PeerKind::ALL {
        if !require_or_skip(kind) {
            continue;
        }
        // Good zone, good intent: clean.
        let zone = Zone::file("100.51.198.in-addr.arpa.", corpus("52-intent-ok.zone"));
        let peer = Peer::start(kind, &[zone]).expect("peer starts");
        let server = peer.addr().to_string();
        let o = altodisc(&[
            "check",
            "--live",
            &server,
            "--intent",
            &corpus("52-intent-ok.intent.toml"),
        ]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}: {}{}",
            kind.name(),
            stdout(&o),
            String::from_utf8_lossy(&o.stderr)
        );
        drop(peer);

        // The /22 published at three of its four /24 names: Z24 for the missing one, Z21 for the
        // prefix-form query, with the names walked on the wire.
        let zone = Zone::file("51.198.in-addr.arpa.", corpus("53-intent-mismatch.zone"));
        let peer = Peer::start(kind, &[zone]).expect("peer starts");
        let server = peer.addr().to_string();
        let o = altodisc(&[
            "check",
            "--format",
            "json",
            "--live",
            &server,
            "--intent",
            &corpus("53-intent-mismatch.intent.toml"),
        ]);
        assert_eq!(o.status.code(), Some(1), "{}: {}", kind.name(), stdout(&o));
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        let d = v["diagnostics"].as_array().unwrap();
        let z24: Vec<&Value> = d.iter().filter(|x| x["rule"] == "Z24").collect();
        assert_eq!(z24.len(), 4, "{}: {d:?}", kind.name());
        for x in &z24 {
            let m = x["message"].as_str().unwrap();
            assert!(m.contains("198.51.103."), "{m}");
            assert!(m.contains("R24 103.51.198.in-addr.arpa."), "{m}");
        }
        assert_eq!(
            d.iter().filter(|x| x["rule"] == "Z21").count(),
            1,
            "{}: {d:?}",
            kind.name()
        );
    }
}

/// `--intent CONFIG` without zone files checks the zones the publishing config generates (what
/// the responder would serve): every address of every declared prefix reaches its URIs.
#[test]
fn publishing_config_alone_is_checked_through_its_generated_zones() {
    let config = root().join("zones/publish.toml").display().to_string();
    let o = altodisc(&["check", "--format", "json", "--intent", &config]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let d = v["diagnostics"].as_array().unwrap();
    assert!(!d.iter().any(|x| x["severity"] == "error"), "{d:?}");
    assert!(v["summary"]["files"].as_u64().unwrap() >= 1);
    // An expectations file needs zone files.
    let o = altodisc(&["check", "--intent", &corpus("52-intent-ok.intent.toml")]);
    assert_eq!(o.status.code(), Some(2));
}

/// `--live` against an address where nothing listens stops at once with one error naming the
/// server, instead of one mismatch per expectation after every timeout.
#[test]
fn live_check_against_a_dead_server_stops_with_one_clear_error() {
    let closed = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let config = root().join("zones/publish.toml");
    let started = std::time::Instant::now();
    let o = altodisc(&[
        "check",
        "--live",
        &closed.to_string(),
        "--intent",
        config.to_str().unwrap(),
    ]);
    let took = started.elapsed();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!("connection refused by {closed}")),
        "{err}"
    );
    assert_eq!(
        err.matches("error").count(),
        1,
        "one error, not one per entry: {err}"
    );
    // The resolver's default timeout is 2 s per try; a refusal must not wait for it.
    assert!(took < std::time::Duration::from_secs(2), "took {took:?}");
    assert!(stdout(&o).is_empty(), "{}", stdout(&o));
}

/// `docs/checker-rules.md` is what `--explain` prints, rule by rule, for every rule there is: the
/// page every message points to cannot fall behind the catalogue.
#[test]
fn rule_catalogue_page_matches_explain_for_every_rule() {
    let page = std::fs::read_to_string(root().join("docs/checker-rules.md")).unwrap();
    let sections = page.matches("\n## ").count();
    assert_eq!(
        sections,
        altodisc_zone::Rule::ALL.len(),
        "one section per rule"
    );
    for rule in altodisc_zone::Rule::ALL {
        let o = altodisc(&["check", "--explain", rule.id()]);
        assert_eq!(o.status.code(), Some(0));
        let text = stdout(&o);
        let (head, body) = text.split_once("\n\n").unwrap();
        assert!(
            page.contains(&format!("\n## {}\n\n{}\n", head.trim(), body.trim())),
            "docs/checker-rules.md is out of date for {}: regenerate its section from `altodisc check --explain {}`",
            rule.id(),
            rule.id()
        );
    }
}
