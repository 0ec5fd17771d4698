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

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use altodisc_proto::DomainName;
use altodisc_zone::Severity;
use altodisc_zone::check::{CheckOptions, Checker};

fn corpus_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpora/peer-zones")
}

/// One file of `origins.tsv`.
struct Case {
    /// Path inside the corpus, `repo/path`.
    rel: String,
    origin: String,
}

fn cases(root: &Path) -> Vec<Case> {
    let tsv = std::fs::File::open(root.join("origins.tsv")).unwrap();
    std::io::BufReader::new(tsv)
        .lines()
        .skip(1)
        .map(Result::unwrap)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            assert!(f.len() >= 3, "origins.tsv: bad line {l:?}");
            Case {
                rel: format!("{}/{}", f[0], f[1]),
                origin: f[2].to_owned(),
            }
        })
        .collect()
}

/// What a peer said: accepted, rejected (with its first message), or failed to run properly.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Verdict {
    Accept,
    Reject(String),
    Failed(String),
}

impl Verdict {
    fn short(&self) -> &'static str {
        match self {
            Self::Accept => "accept",
            Self::Reject(_) => "reject",
            Self::Failed(_) => "FAILED",
        }
    }
}

const PEERS: [(&str, &str); 3] = [
    ("named-checkzone", "bind9-utils"),
    ("kzonecheck", "knot-dnssecutils"),
    ("nsd-checkzone", "nsd"),
];

fn peer_args(peer: &str, origin: &str, file: &str) -> Vec<String> {
    let v: Vec<&str> = match peer {
        "named-checkzone" => vec!["-i", "local", origin, file],
        "kzonecheck" => vec!["-d", "off", "-o", origin, file],
        _ => vec![origin, file],
    };
    v.into_iter().map(str::to_owned).collect()
}

fn run_peer(bin: &Path, peer: &str, dir: &Path, origin: &str, file: &str) -> Verdict {
    let out = Command::new("timeout")
        .arg("30")
        .arg(bin)
        .args(peer_args(peer, origin, file))
        .current_dir(dir)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The first line that says what is wrong (kzonecheck starts with it, BIND and NSD too).
    let first = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("")
        .to_owned();
    match out.status.code() {
        Some(0) => Verdict::Accept,
        Some(124) => Verdict::Failed(format!("timed out after 30 s: {first}")),
        Some(_) => Verdict::Reject(first),
        None => Verdict::Failed(format!("killed by a signal: {first}")),
    }
}

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
    peers: Vec<Verdict>,
    ours: Result<Option<String>, String>,
}

#[test]
fn altodisc_agrees_with_bind_knot_and_nsd_on_the_peer_corpus() {
    let root = corpus_root();
    if !root.join("origins.tsv").exists() {
        assert!(
            !altodisc_testpeers::is_ci(),
            "CI=true and the peer corpus is missing at {}",
            root.display()
        );
        eprintln!("skipped: peer corpus not found at {}", root.display());
        return;
    }
    let mut bins = Vec::new();
    for (peer, package) in PEERS {
        if !altodisc_testpeers::require_tool_or_skip(peer, package) {
            return;
        }
        bins.push(altodisc_testpeers::find_binary(peer).unwrap());
    }
    let cases = cases(&root);
    assert!(
        cases.len() >= 1000,
        "origins.tsv lists only {} files",
        cases.len()
    );
    let started = std::time::Instant::now();
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Outcome>> = Mutex::new(Vec::new());
    // The peers are separate processes that mostly wait on start-up and I/O: a few more threads
    // than cores keeps both cores busy.
    let threads = std::thread::available_parallelism().map_or(2, std::num::NonZero::get) * 2;
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(case) = cases.get(i) else { break };
                    let path = root.join(&case.rel);
                    let dir = path.parent().unwrap();
                    let file = path.file_name().unwrap().to_string_lossy().into_owned();
                    let peers = PEERS
                        .iter()
                        .zip(&bins)
                        .map(|((peer, _), bin)| run_peer(bin, peer, dir, &case.origin, &file))
                        .collect();
                    let ours = run_altodisc(&path, &case.origin);
                    results.lock().unwrap().push(Outcome {
                        rel: case.rel.clone(),
                        peers,
                        ours,
                    });
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort_by(|a, b| a.rel.cmp(&b.rel));
    let (mut false_alarms, mut misses, mut crashes, mut peer_failures) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut all_accept, mut all_reject) = (0usize, 0usize);
    for r in &results {
        let verdicts = format!(
            "named-checkzone {}, kzonecheck {}, nsd-checkzone {}, altodisc {}",
            r.peers[0].short(),
            r.peers[1].short(),
            r.peers[2].short(),
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
        if let Some(Verdict::Failed(why)) = r.peers.iter().find(|v| matches!(v, Verdict::Failed(_)))
        {
            peer_failures.push(format!("{}: a peer failed: {why} ({verdicts})", r.rel));
            continue;
        }
        let accepted = r.peers.iter().all(|v| *v == Verdict::Accept);
        let rejected = r.peers.iter().all(|v| matches!(v, Verdict::Reject(_)));
        all_accept += usize::from(accepted);
        all_reject += usize::from(rejected);
        match &r.ours {
            Ok(Some(first)) if accepted => {
                false_alarms.push(format!("{}: {first}\n    ({verdicts})", r.rel));
            }
            Ok(None) if rejected => {
                let said: Vec<String> = PEERS
                    .iter()
                    .zip(&r.peers)
                    .filter_map(|((p, _), v)| match v {
                        Verdict::Reject(m) => Some(format!("{p}: {m}")),
                        _ => None,
                    })
                    .collect();
                misses.push(format!(
                    "{}: altodisc reports no error\n    {}\n    ({verdicts})",
                    r.rel,
                    said.join("\n    ")
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
