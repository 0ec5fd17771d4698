//! The peer corpus (`../shared/corpora/peer-zones/` beside the project root: 1,320 zone files
//! from the test suites of BIND, Knot, NSD and hickory-dns, with `origins.tsv` and a README) and
//! the verdicts of the three checkers on it, for every test that compares altodisc with them
//! (the zone checker's agreement test, the responder's loader test).
//!
//! Each file is judged as the peers' own test suites judge it, run from the file's own folder
//! (so relative `$INCLUDE`s resolve from there, the BIND/NSD working-directory rule):
//! `named-checkzone -i local ORIGIN FILE`, `kzonecheck -d off -o ORIGIN FILE`,
//! `nsd-checkzone ORIGIN FILE`. Exit 0 accepts, any other exit rejects; a timeout (30 s) or a
//! death by signal is [`Verdict::Failed`].

use std::io::{self, BufRead as _};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::{find_binary, is_ci, require_tool_or_skip};

/// The corpus folder for a crate whose manifest directory is `manifest_dir` (a crate under
/// `crates/`; the corpus lies beside the project root).
#[must_use]
pub fn root(manifest_dir: &Path) -> PathBuf {
    manifest_dir.join("../../../shared/corpora/peer-zones")
}

/// Whether the corpus is at `root`. Otherwise, under `CI=true`, panics; locally prints
/// `skipped: ...` and returns `false` (the caller returns).
///
/// # Panics
/// Under `CI=true` when the corpus is missing.
#[must_use]
pub fn present_or_skip(root: &Path) -> bool {
    if root.join("origins.tsv").exists() {
        return true;
    }
    assert!(
        !is_ci(),
        "CI=true and the peer corpus is missing at {}",
        root.display()
    );
    eprintln!("skipped: peer corpus not found at {}", root.display());
    false
}

/// One file of `origins.tsv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    /// Path inside the corpus, `repo/path`.
    pub rel: String,
    /// The zone's name, absolute (`example.com.`, `.`).
    pub origin: String,
}

impl Case {
    /// The file's path.
    #[must_use]
    pub fn path(&self, root: &Path) -> PathBuf {
        root.join(&self.rel)
    }
}

/// The files of `root/origins.tsv`, in its order.
///
/// # Errors
/// When the file cannot be read or a line has fewer than three columns.
pub fn cases(root: &Path) -> io::Result<Vec<Case>> {
    let tsv = std::fs::File::open(root.join("origins.tsv"))?;
    let mut out = Vec::new();
    for line in io::BufReader::new(tsv).lines().skip(1) {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split('\t').collect();
        let [repo, path, origin, ..] = f.as_slice() else {
            return Err(io::Error::other(format!("origins.tsv: bad line {line:?}")));
        };
        out.push(Case {
            rel: format!("{repo}/{path}"),
            origin: (*origin).to_owned(),
        });
    }
    Ok(out)
}

/// What a peer said: accepted, rejected (with its first message), or failed to run properly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Exit 0.
    Accept,
    /// Another exit code; the first non-empty line of its output.
    Reject(String),
    /// Timed out, killed by a signal, or not started.
    Failed(String),
}

impl Verdict {
    /// `accept`, `reject` or `FAILED`.
    #[must_use]
    pub fn short(&self) -> &'static str {
        match self {
            Self::Accept => "accept",
            Self::Reject(_) => "reject",
            Self::Failed(_) => "FAILED",
        }
    }
}

/// The three checkers (binary, Debian package), in the order of [`Peers::judge`]'s verdicts.
pub const PEERS: [(&str, &str); 3] = [
    ("named-checkzone", "bind9-utils"),
    ("kzonecheck", "knot-dnssecutils"),
    ("nsd-checkzone", "nsd"),
];

/// The three checkers, found.
#[derive(Debug, Clone)]
pub struct Peers {
    bins: Vec<PathBuf>,
}

/// How the three peers judge one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judgement {
    /// One verdict per entry of [`PEERS`].
    pub verdicts: Vec<Verdict>,
}

impl Judgement {
    /// All three accept.
    #[must_use]
    pub fn all_accept(&self) -> bool {
        self.verdicts.iter().all(|v| *v == Verdict::Accept)
    }

    /// All three reject.
    #[must_use]
    pub fn all_reject(&self) -> bool {
        self.verdicts
            .iter()
            .all(|v| matches!(v, Verdict::Reject(_)))
    }

    /// The first peer that failed to run, with why.
    #[must_use]
    pub fn failure(&self) -> Option<&str> {
        self.verdicts.iter().find_map(|v| match v {
            Verdict::Failed(why) => Some(why.as_str()),
            _ => None,
        })
    }

    /// `named-checkzone accept, kzonecheck reject, nsd-checkzone accept`.
    #[must_use]
    pub fn summary(&self) -> String {
        PEERS
            .iter()
            .zip(&self.verdicts)
            .map(|((p, _), v)| format!("{p} {}", v.short()))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// What the rejecting peers said, one `peer: message` each.
    #[must_use]
    pub fn rejections(&self) -> Vec<String> {
        PEERS
            .iter()
            .zip(&self.verdicts)
            .filter_map(|((p, _), v)| match v {
                Verdict::Reject(m) => Some(format!("{p}: {m}")),
                _ => None,
            })
            .collect()
    }
}

impl Peers {
    /// The three checkers, or `None` when one is missing (a failure under `CI=true`, see
    /// [`require_tool_or_skip`]).
    ///
    /// # Panics
    /// Under `CI=true` when a checker is missing.
    #[must_use]
    pub fn require_or_skip() -> Option<Self> {
        let mut bins = Vec::new();
        for (peer, package) in PEERS {
            if !require_tool_or_skip(peer, package) {
                return None;
            }
            bins.push(find_binary(peer)?);
        }
        Some(Self { bins })
    }

    /// The three verdicts on `case`, each peer run from the file's folder.
    #[must_use]
    pub fn judge(&self, root: &Path, case: &Case) -> Judgement {
        let path = case.path(root);
        let dir = path.parent().unwrap_or(root);
        let file = path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        Judgement {
            verdicts: PEERS
                .iter()
                .zip(&self.bins)
                .map(|((peer, _), bin)| run_peer(bin, peer, dir, &case.origin, &file))
                .collect(),
        }
    }
}

fn peer_args<'a>(peer: &str, origin: &'a str, file: &'a str) -> Vec<&'a str> {
    match peer {
        "named-checkzone" => vec!["-i", "local", origin, file],
        "kzonecheck" => vec!["-d", "off", "-o", origin, file],
        _ => vec![origin, file],
    }
}

fn run_peer(bin: &Path, peer: &str, dir: &Path, origin: &str, file: &str) -> Verdict {
    let out = match Command::new("timeout")
        .arg("30")
        .arg(bin)
        .args(peer_args(peer, origin, file))
        .current_dir(dir)
        .output()
    {
        Ok(o) => o,
        Err(e) => return Verdict::Failed(format!("cannot run {}: {e}", bin.display())),
    };
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

/// `work(case)` for every case on a few threads (the peers are separate processes that mostly
/// wait on start-up and I/O, so twice as many threads as cores keeps the cores busy); the
/// results in the order of `cases`.
pub fn for_each_parallel<T: Send>(cases: &[Case], work: impl Fn(&Case) -> T + Sync) -> Vec<T> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, T)>> = Mutex::new(Vec::with_capacity(cases.len()));
    let threads = std::thread::available_parallelism().map_or(2, std::num::NonZero::get) * 2;
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(case) = cases.get(i) else { break };
                    let r = work(case);
                    results
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .push((i, r));
                }
            });
        }
    });
    let mut results = results
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}
