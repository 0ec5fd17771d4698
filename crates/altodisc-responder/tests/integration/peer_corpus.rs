//! The responder's loader over the peer corpus (`../shared/corpora/peer-zones/`, 1,320 zone
//! files from the test suites of BIND, Knot, NSD and hickory-dns; README and `origins.tsv`
//! there), file by file, against the verdicts of named-checkzone, kzonecheck and nsd-checkzone
//! (each run from the file's folder, see `altodisc_testpeers::peer_corpus`).
//!
//! Each file is loaded the way `serve` loads a zone named in its config: a publishing config with
//! `include_base` (the file's own folder, so relative `$INCLUDE`s resolve as they do for the peers
//! run from there) and `[serve.zone_files]` mapping the origin to the corpus file itself (never a
//! copy; the peers' configs, too, name the zone and its file apart, so a 252-octet origin such as
//! NSD's `ixfr_superlong`, whose `<origin>.zone` would be over the 255-octet file-name limit,
//! loads like any other), and [`Sources::load_index_isolated`] with the checker gate on, as
//! `serve` starts. A control zone that always loads sits beside it in `zones_dir`, so a refused
//! file shows as a [`ZoneFailure`](altodisc_responder::load::ZoneFailure) instead of ending the
//! load.
//!
//! Asserted for every file:
//! * all three peers accept it: the responder loads it, and an SOA query at the apex gets the
//!   zone's SOA (authoritative, NOERROR) from the index, the in-process look-up the server runs;
//! * all three reject it: the responder refuses it, and its first reason is, word for word, the
//!   first error `altodisc check --origin ORIGIN --include-base FOLDER FILE` reports for the same
//!   file (the library calls that command makes: `Checker::load_file_with`, then the first
//!   error diagnostic; an unreadable input is the command's `error:` line).
//!
//! Files the peers disagree on are not judged here (the checker's agreement test lists them). No
//! file is excluded; a peer that times out or dies counts as a disagreement and is printed.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use altodisc_proto::DomainName;
use altodisc_responder::AnswerKind;
use altodisc_responder::load::Sources;
use altodisc_testpeers::peer_corpus::{self, Case, Judgement, Peers};
use altodisc_zone::Severity;
use altodisc_zone::check::{CheckOptions, Checker};
use altodisc_zone::reader::{IncludeBase, ReadOptions};
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Name, RecordType};

/// The control zone loaded beside every corpus file.
const CONTROL: &str = "altodisc-control.invalid.";

/// `text` as a TOML basic string, quotes included (backslashes and quotes escaped).
fn toml_string(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// What `altodisc check --origin ORIGIN --include-base BASE FILE` reports first: `Ok(None)` when
/// it finds no error, `Ok(Some(first error))`, `Err(message)` for an unreadable input (exit 2).
fn check_first_error(
    path: &Path,
    origin: &DomainName,
    base: &Path,
) -> Result<Option<String>, String> {
    let mut read = ReadOptions::default();
    read.include_base = IncludeBase::Dir(base.to_path_buf());
    let mut checker = Checker::new(CheckOptions::default());
    checker
        .load_file_with(path, Some(origin), &read)
        .map_err(|e| e.to_string())?;
    checker.index();
    Ok(checker
        .finish()
        .iter()
        .find(|d| d.severity == Severity::Error)
        .map(ToString::to_string))
}

/// A scratch folder removed on drop.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The responder's verdict on one file: `Ok(())` loaded and served, `Err(first reason)` refused;
/// any other outcome (the control zone failed, the load ended) is a test failure message.
enum Loaded {
    Served,
    Refused(String),
}

fn load_one(scratch: &Path, root: &Path, case: &Case) -> Result<(Loaded, PathBuf), String> {
    let file = case.path(root);
    let folder = file
        .parent()
        .ok_or_else(|| format!("{}: no folder", case.rel))?
        .canonicalize()
        .map_err(|e| format!("{}: {e}", case.rel))?;
    let zones = scratch.join("zones");
    std::fs::create_dir_all(&zones).map_err(|e| e.to_string())?;
    let target = file
        .canonicalize()
        .map_err(|e| format!("{}: {e}", case.rel))?;
    std::fs::write(
        zones.join(format!("{CONTROL}zone")),
        "$TTL 60\n@ SOA ns.example. h.example. 1 2 3 4 5\n@ NS ns.example.\n",
    )
    .map_err(|e| e.to_string())?;
    // The folder and the file are absolute; the origin is in presentation form (RFC 1035 §5.1).
    let config = scratch.join("altodisc.toml");
    std::fs::write(
        &config,
        format!(
            "[serve]\nzones_dir = \"zones\"\ninclude_base = {}\n[serve.zone_files]\n{} = {}\n",
            toml_string(&folder.display().to_string()),
            toml_string(&case.origin),
            toml_string(&target.display().to_string()),
        ),
    )
    .map_err(|e| e.to_string())?;
    let sources = Sources {
        config: Some(config),
        zones_dir: None,
    };
    let loaded = sources
        .load_index_isolated(None, true)
        .map_err(|e| format!("the load ended: {e}"))?;
    match loaded.failed.as_slice() {
        [] => {
            // The zone's name as the index holds it (hickory's text parser refuses a `/`).
            let control = Name::from_ascii(CONTROL).map_err(|e| e.to_string())?;
            let origin = loaded
                .index
                .zones()
                .map(|z| z.origin().clone())
                .find(|o| *o != control)
                .ok_or("the zone is not in the index")?;
            if !origin.to_string().eq_ignore_ascii_case(&case.origin) && !case.origin.contains('/')
            {
                return Err(format!("the index holds {origin}, not {}", case.origin));
            }
            let answer = loaded.index.lookup(&origin, RecordType::SOA);
            let soa = answer
                .answers
                .iter()
                .filter(|r| r.record_type() == RecordType::SOA && r.name == origin)
                .count();
            if answer.kind != AnswerKind::Positive
                || answer.rcode != ResponseCode::NoError
                || !answer.authoritative
                || soa != 1
            {
                return Err(format!(
                    "loaded, but SOA {} gets {:?} {:?} AA={} with {} SOA record(s)",
                    case.origin, answer.kind, answer.rcode, answer.authoritative, soa
                ));
            }
            if loaded.zone_count != 2 {
                return Err(format!("{} zones loaded, not 2", loaded.zone_count));
            }
            Ok((Loaded::Served, target))
        }
        [failure] if failure.zone != CONTROL && loaded.zone_count == 1 => {
            let first = failure.errors.first().cloned().unwrap_or_default();
            Ok((Loaded::Refused(first), target))
        }
        other => Err(format!("unexpected failures: {other:?}")),
    }
}

/// Longest file name (octets) Linux file systems take (`NAME_MAX`).
const NAME_MAX: usize = 255;

struct Outcome {
    rel: String,
    /// `<origin>.zone` would be longer than a file name can be, so only `[serve.zone_files]`
    /// can name this zone's file.
    unnameable: bool,
    peers: Judgement,
    /// `None`: the peers disagree (not judged here).
    problem: Option<Result<(), String>>,
}

fn judge(root: &Path, peers: &Peers, case: &Case) -> Outcome {
    let judgement = peers.judge(root, case);
    let stem = case.origin.strip_suffix('.').unwrap_or(&case.origin);
    let outcome = |problem| Outcome {
        rel: case.rel.clone(),
        unnameable: stem.len().saturating_add(".zone".len()) > NAME_MAX,
        peers: judgement.clone(),
        problem,
    };
    let (accept, reject) = (judgement.all_accept(), judgement.all_reject());
    if !accept && !reject {
        return outcome(None);
    }
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let scratch = Scratch(
        std::env::temp_dir().join(format!("altodisc-peer-load-{}-{n}", std::process::id())),
    );
    let _ = std::fs::remove_dir_all(&scratch.0);
    let result = std::panic::catch_unwind(|| load_one(&scratch.0, root, case))
        .unwrap_or_else(|_| Err("the responder's loader panicked".to_owned()));
    let verdict = match result {
        Err(e) => Err(e),
        Ok((Loaded::Served, _)) if accept => Ok(()),
        Ok((Loaded::Served, _)) => Err("served, but all three peers reject it".to_owned()),
        Ok((Loaded::Refused(why), _)) if accept => {
            Err(format!("refused, but all three peers accept it: {why}"))
        }
        Ok((Loaded::Refused(why), file)) => {
            let base = case
                .path(root)
                .parent()
                .and_then(|p| p.canonicalize().ok())
                .unwrap_or_default();
            match DomainName::parse(&case.origin) {
                Err(e) => Err(format!("origin {}: {e}", case.origin)),
                Ok(origin) => match check_first_error(&file, &origin, &base) {
                    Ok(Some(first)) | Err(first) if first == why => Ok(()),
                    Ok(Some(first)) | Err(first) => Err(format!(
                        "refused with\n      {why}\n    but altodisc check's first error is\n      {first}"
                    )),
                    Ok(None) => Err(format!(
                        "refused with\n      {why}\n    but altodisc check reports no error"
                    )),
                },
            }
        }
    };
    outcome(Some(verdict))
}

#[test]
fn the_loader_serves_what_bind_knot_and_nsd_accept_and_refuses_what_they_reject_as_check_does() {
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
    let results = peer_corpus::for_each_parallel(&cases, |case| judge(&root, &peers, case));
    let (mut served, mut refused, mut disagree) = (0usize, 0usize, Vec::new());
    let (mut wrong, mut unnameable_served) = (Vec::new(), Vec::new());
    for r in &results {
        match &r.problem {
            None => {
                if let Some(why) = r.peers.failure() {
                    disagree.push(format!("{}: a peer failed: {why}", r.rel));
                }
            }
            Some(Ok(())) if r.peers.all_accept() => {
                served += 1;
                if r.unnameable {
                    unnameable_served.push(r.rel.as_str());
                }
            }
            Some(Ok(())) => refused += 1,
            Some(Err(e)) => wrong.push(format!("{}: {e}\n    ({})", r.rel, r.peers.summary())),
        }
    }
    eprintln!(
        "responder loader on the peer corpus: {} files in {:.0} s; served as all three peers \
         accept {served}, refused as all three reject (with check's first error) {refused}; \
         discrepancies {}; served with an origin too long for <origin>.zone: {unnameable_served:?}",
        results.len(),
        started.elapsed().as_secs_f64(),
        wrong.len()
    );
    for l in &disagree {
        eprintln!("  PEER FAILURE (not judged): {l}");
    }
    for l in &wrong {
        eprintln!("  DISCREPANCY {l}");
    }
    assert_eq!(results.len(), cases.len());
    // NSD's ixfr_superlong (a 252-octet origin), which all three peers load.
    assert!(
        unnameable_served
            .iter()
            .any(|rel| rel.ends_with("ixfr_superlong.zone")),
        "a zone whose <origin>.zone name would be over {NAME_MAX} octets was not served: \
         {unnameable_served:?}"
    );
    assert!(
        wrong.is_empty(),
        "{} files where the responder's loader disagrees (listed above)",
        wrong.len()
    );
    assert!(
        served >= 500 && refused >= 50,
        "the corpus lost its cases: {served} served and {refused} refused"
    );
}
