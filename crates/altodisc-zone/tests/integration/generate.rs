//! `$GENERATE` against BIND: every file of the peer corpus (`../shared/corpora/peer-zones/`)
//! that uses it is read by altodisc and by the real `named-checkzone`. Where BIND accepts the
//! file, the record sets must be equal (BIND's expansion, printed with `-D -o -`, is read back
//! with our reader); where BIND rejects it, altodisc must report an error.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use altodisc_proto::DomainName;
use altodisc_zone::reader::{IncludeBase, ReadOptions, read_zone_file_with, read_zone_str};
use altodisc_zone::{Severity, Zone};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpora/peer-zones")
}

fn named_checkzone() -> Option<&'static str> {
    let path = "/usr/bin/named-checkzone";
    if Path::new(path).exists() {
        return Some(path);
    }
    let in_ci = std::env::var("CI").is_ok_and(|v| v == "true");
    assert!(
        !in_ci,
        "named-checkzone missing (Debian package bind9-utils)"
    );
    eprintln!("skipped: named-checkzone not installed (Debian package bind9-utils)");
    None
}

/// (file, origin) of every corpus file with a `$GENERATE` line, from origins.tsv.
fn generate_files() -> Vec<(PathBuf, DomainName)> {
    let root = corpus();
    let tsv = std::fs::read_to_string(root.join("origins.tsv")).unwrap();
    let mut out = Vec::new();
    for line in tsv.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let path = root.join(cols[0]).join(cols[1]);
        let text = std::fs::read(&path).unwrap();
        let uses = String::from_utf8_lossy(&text).lines().any(|l| {
            l.trim_start()
                .get(..9)
                .is_some_and(|w| w.eq_ignore_ascii_case("$GENERATE"))
        });
        if uses {
            out.push((path, DomainName::parse(cols[2]).unwrap()));
        }
    }
    out
}

/// A comparable record: owner (lower case), TTL, class, type, RDATA.
type Rec = (String, u32, u16, u16, Vec<u8>);

fn set(zone: &Zone) -> BTreeSet<Rec> {
    zone.records
        .iter()
        .map(|r| {
            (
                r.owner.to_string().to_ascii_lowercase(),
                r.ttl,
                r.class,
                r.rtype,
                r.rdata.clone(),
            )
        })
        .collect()
}

#[test]
fn generate_matches_named_checkzone_on_the_peer_corpus() {
    let Some(bin) = named_checkzone() else { return };
    let files = generate_files();
    assert_eq!(
        files.len(),
        28,
        "the corpus changed: {} files use $GENERATE",
        files.len()
    );
    let (mut accepted, mut rejected) = (0usize, 0usize);
    let mut failures = Vec::new();
    let mut compared = 0usize;
    for (path, origin) in &files {
        let dir = path.parent().unwrap();
        let name = path.file_name().unwrap();
        // -i local: no zone-wide checks that would reject data unrelated to $GENERATE.
        let out = Command::new(bin)
            .current_dir(dir)
            .args(["-i", "local", "-D", "-o", "-", &origin.to_string()])
            .arg(name)
            .output()
            .unwrap();
        let mut options = ReadOptions::default();
        // BIND resolves includes from its working directory.
        options.include_base = IncludeBase::Dir(dir.to_path_buf());
        let ours = read_zone_file_with(path, Some(origin), &options);
        let label = path
            .strip_prefix(corpus())
            .unwrap_or(path)
            .display()
            .to_string();
        if !out.status.success() {
            rejected += 1;
            let has_error = match &ours {
                Ok(o) => o.diagnostics.iter().any(|d| d.severity == Severity::Error),
                Err(e) => {
                    eprintln!("{label}: {e}");
                    true
                }
            };
            if !has_error {
                failures.push(format!(
                    "{label}: BIND rejects it, altodisc reports no error"
                ));
            }
            continue;
        }
        accepted += 1;
        let ours = ours.unwrap();
        let errors: Vec<_> = ours
            .diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .collect();
        if !errors.is_empty() {
            failures.push(format!(
                "{label}: BIND accepts it, altodisc reports {errors:?}"
            ));
            continue;
        }
        let bind = read_zone_str(&String::from_utf8_lossy(&out.stdout), "bind", Some(origin));
        assert!(
            !bind.has_errors(),
            "{label}: BIND's output unreadable: {:?}",
            bind.diagnostics
        );
        // BIND leaves out-of-zone data out of the zone; so do we for the comparison.
        let mut ours_set = set(&ours.zone);
        ours_set.retain(|r| DomainName::parse(&r.0).unwrap().is_subdomain_of(origin));
        let bind_set = set(&bind.zone);
        compared += bind_set.len();
        if ours_set != bind_set {
            let only_ours: Vec<_> = ours_set.difference(&bind_set).take(3).collect();
            let only_bind: Vec<_> = bind_set.difference(&ours_set).take(3).collect();
            failures.push(format!(
                "{label}: record sets differ ({} vs {}); only ours: {only_ours:?}; only BIND: {only_bind:?}",
                ours_set.len(),
                bind_set.len()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!((accepted, rejected), (21, 7));
    eprintln!("{compared} records equal in {accepted} files");
    // 1-50000 child NS, 1-10000 TXT, 4 x 1-5000 TXT, ...: the expansion was really compared.
    assert!(compared > 80_000, "only {compared} records compared");
}
