//! Agreement with BIND: every corpus file that the real `named-checkzone` rejects must also get at
//! least one error from altodisc (the acceptance criterion). Files BIND accepts may still
//! get altodisc errors: that is the point of the ALTO rules.

use std::process::Command;

use altodisc_zone::Severity;
use altodisc_zone::reader::read_zone_file;

use crate::corpus::{check_file, corpus_dir};

fn named_checkzone() -> Option<&'static str> {
    let path = "/usr/bin/named-checkzone";
    if std::path::Path::new(path).exists() {
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

#[test]
fn altodisc_reports_an_error_wherever_named_checkzone_rejects() {
    let Some(bin) = named_checkzone() else { return };
    let dir = corpus_dir();
    let mut stems: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            let n = e.unwrap().file_name().to_string_lossy().into_owned();
            n.strip_suffix(".zone").map(str::to_owned)
        })
        .collect();
    stems.sort();
    let mut rejected = 0usize;
    let mut disagreements = Vec::new();
    for stem in &stems {
        let path = dir.join(format!("{stem}.zone"));
        let origin = read_zone_file(&path, None).unwrap().zone.origin;
        // named-checkzone resolves $INCLUDE relative to its working directory.
        let out = Command::new(bin)
            .current_dir(&dir)
            .args(["-q", &origin.to_string(), &format!("{stem}.zone")])
            .output()
            .unwrap();
        if out.status.success() {
            continue;
        }
        rejected += 1;
        let ours = check_file(stem);
        if !ours.iter().any(|d| d.severity == Severity::Error) {
            let why = Command::new(bin)
                .current_dir(&dir)
                .args([&origin.to_string(), &format!("{stem}.zone")])
                .output()
                .unwrap();
            disagreements.push(format!(
                "{stem}.zone: named-checkzone rejects it ({}) but altodisc reports no error",
                String::from_utf8_lossy(&why.stdout).trim()
            ));
        }
    }
    assert!(
        rejected >= 10,
        "only {rejected} corpus files are rejected by named-checkzone; the corpus lost its syntax traps"
    );
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}
