//! Agreement with BIND, Knot and NSD on the peer corpus (`../shared/corpora/peer-zones/`, 1,320
//! zone files from the four projects' own test suites; README and `origins.tsv` there).
//!
//! Every file of `origins.tsv` is checked by altodisc (the library's check with the settings of
//! `altodisc check --origin ORIGIN FILE`: default options, the origin given, all rules) and by the
//! three peers, each run from the file's own folder as their test suites run them:
//! `named-checkzone -i local ORIGIN FILE`, `kzonecheck -d off -o ORIGIN FILE`,
//! `nsd-checkzone ORIGIN FILE`. A peer exiting 0 accepts the file, any other exit rejects it.
//!
//! Asserted: no false alarm (an altodisc error where all three peers accept), no miss (no altodisc
//! error where all three reject), and no altodisc crash or unreadable-input failure (the CLI's exit
//! 2). Files where the peers disagree with each other are judged by the rules alone and not
//! counted either way; no file is excluded. Each discrepancy is printed with the file, the line of
//! altodisc's first error (or of the first peer message for a miss) and all four verdicts.
//!
//! The peers run in parallel threads (40-60 s on a busy 2-core machine).
//! A peer that times out (30 s) or dies on a signal makes that file's peer verdict "failed"; the
//! file then counts as a disagreement among peers and is listed.

use std::path::Path;

use altodisc_proto::DomainName;
use altodisc_testpeers::peer_corpus::{self, Judgement, Peers};
use altodisc_zone::Severity;
use altodisc_zone::check::{CheckOptions, Checker};

/// altodisc's verdict: `Ok(None)` clean, `Ok(Some(first error))`, `Err` for what the CLI exits
/// 2 on (unreadable input) or a panic.
fn run_altodisc(path: &Path, origin: &str) -> Result<Option<String>, String> {
    let origin = DomainName::parse(origin).map_err(|e| format!("bad origin {origin}: {e}"))?;
    let path = path.to_owned();
    std::panic::catch_unwind(move || {
        let mut checker = Checker::new(CheckOptions::default());
        checker
            .load_file(&path, Some(&origin))
            .map_err(|e| format!("exit 2: {e}"))?;
        checker.index();
        let diags = checker.finish();
        Ok(diags
            .iter()
            .find(|d| d.severity == Severity::Error)
            .map(ToString::to_string))
    })
    .unwrap_or_else(|_| Err("panicked".to_owned()))
}

struct Outcome {
    rel: String,
    peers: Judgement,
    ours: Result<Option<String>, String>,
}

#[test]
fn altodisc_agrees_with_bind_knot_and_nsd_on_the_peer_corpus() {
    let root = peer_corpus::root(Path::new(env!("CARGO_MANIFEST_DIR")));
    if !peer_corpus::present_or_skip(&root) {
        return;
    }
    let Some(peers) = Peers::require_or_skip() else {
        return;
    };
    let cases = peer_corpus::cases(&root).unwrap();
    assert!(
        cases.len() >= 1000,
        "origins.tsv lists only {} files",
        cases.len()
    );
    let started = std::time::Instant::now();
    let results = peer_corpus::for_each_parallel(&cases, |case| Outcome {
        rel: case.rel.clone(),
        peers: peers.judge(&root, case),
        ours: run_altodisc(&case.path(&root), &case.origin),
    });
    let (mut false_alarms, mut misses, mut crashes, mut peer_failures) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut all_accept, mut all_reject) = (0usize, 0usize);
    for r in &results {
        let verdicts = format!(
            "{}, altodisc {}",
            r.peers.summary(),
            match &r.ours {
                Ok(None) => "accept",
                Ok(Some(_)) => "reject",
                Err(_) => "CRASH",
            }
        );
        if let Err(e) = &r.ours {
            crashes.push(format!("{}: {e} ({verdicts})", r.rel));
            continue;
        }
        if let Some(why) = r.peers.failure() {
            peer_failures.push(format!("{}: a peer failed: {why} ({verdicts})", r.rel));
            continue;
        }
        let accepted = r.peers.all_accept();
        let rejected = r.peers.all_reject();
        all_accept += usize::from(accepted);
        all_reject += usize::from(rejected);
        match &r.ours {
            Ok(Some(first)) if accepted => {
                false_alarms.push(format!("{}: {first}\n    ({verdicts})", r.rel));
            }
            Ok(None) if rejected => {
                misses.push(format!(
                    "{}: altodisc reports no error\n    {}\n    ({verdicts})",
                    r.rel,
                    r.peers.rejections().join("\n    ")
                ));
            }
            _ => {}
        }
    }
    eprintln!(
        "peer corpus: {} files in {:.0} s; all three peers accept {all_accept}, all three reject {all_reject}; \
         false alarms {}, misses {}, altodisc crashes {}, peer failures {}",
        results.len(),
        started.elapsed().as_secs_f64(),
        false_alarms.len(),
        misses.len(),
        crashes.len(),
        peer_failures.len()
    );
    for (title, list) in [
        (
            "FALSE ALARMS (all three peers accept, altodisc reports an error)",
            &false_alarms,
        ),
        (
            "MISSES (all three peers reject, altodisc reports no error)",
            &misses,
        ),
        ("ALTODISC CRASHES / EXIT 2", &crashes),
        ("PEER FAILURES (not counted)", &peer_failures),
    ] {
        if !list.is_empty() {
            eprintln!("\n{title}: {}", list.len());
            for l in list {
                eprintln!("  {l}");
            }
        }
    }
    assert_eq!(results.len(), cases.len());
    assert!(
        all_accept >= 500 && all_reject >= 50,
        "the corpus lost its cases: {all_accept} accepted and {all_reject} rejected by all peers"
    );
    assert!(
        false_alarms.is_empty() && misses.is_empty() && crashes.is_empty(),
        "{} false alarms, {} misses, {} crashes on the peer corpus (listed above)",
        false_alarms.len(),
        misses.len(),
        crashes.len()
    );
}
