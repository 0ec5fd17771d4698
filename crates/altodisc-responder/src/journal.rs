//! The IXFR journal (RFC 1995 §4): the differences between the accepted versions of each zone,
//! kept in memory, bounded by the number of differences and the number of records per zone.
//!
//! A reload that changes a zone's serial appends one difference (records removed, records
//! added; the SOA is not among them, RFC 1995 §4 frames each difference with the old and the new
//! SOA). The oldest differences are dropped when a zone has more than [`JournalLimits::diffs`]
//! of them or more than [`JournalLimits::records`] records in them. A change the journal cannot
//! follow (a serial that goes back or stays the same while the data changes, a difference
//! larger than the record bound) clears the zone's history: later IXFRs from older serials get
//! the whole zone (RFC 1995 §4 allows that).
//!
//! With [`JournalLimits::dir`] (`[serve] ixfr_journal_dir`) each zone's differences are also kept
//! in `DIR/<zone>.ixfr`, rewritten after every change (a temporary file renamed over the old
//! one, so a crash leaves the old or the new journal, never half of one), so secondaries still
//! get differences after a restart. At start a zone's file is read back only when its newest
//! version is the serial the zone loads with, and the zone's records are those of that version
//! (a SHA-256 of them is in the file); otherwise the differences would not lead to what is
//! served, and the file is dropped with a log line. A damaged file (checked with a SHA-256
//! over its contents) is a warning and an empty journal for that zone, never a failed start.
//! Without a directory, after a restart the first transfer of each secondary is a whole zone.

use std::collections::{HashMap, HashSet, VecDeque};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use hickory_proto::rr::{Name, Record};
use hickory_proto::serialize::binary::{BinDecodable, BinEncodable, BinEncoder, NameEncoding};
use tracing::{info, warn};

use crate::index::{ZoneData, ZoneIndex};

/// Bounds of the journal, per zone, and where it is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalLimits {
    /// Most differences kept (0: no journal, every IXFR gets the whole zone).
    pub diffs: usize,
    /// Most records (removed plus added) kept over all differences.
    pub records: usize,
    /// Directory keeping the journal across restarts (`[serve] ixfr_journal_dir`); `None`: in
    /// memory only.
    pub dir: Option<PathBuf>,
}

/// Default [`JournalLimits`]: 32 versions back, 100,000 changed records, in memory only.
pub const DEFAULT_JOURNAL_LIMITS: JournalLimits = JournalLimits {
    diffs: 32,
    records: 100_000,
    dir: None,
};

impl Default for JournalLimits {
    fn default() -> Self {
        DEFAULT_JOURNAL_LIMITS
    }
}

/// One difference between two consecutive versions of a zone.
#[derive(Debug, Clone)]
pub struct Diff {
    /// SOA of the older version.
    pub old_soa: Record,
    /// SOA of the newer version.
    pub new_soa: Record,
    /// Serial of the older version.
    pub from: u32,
    /// Serial of the newer version.
    pub to: u32,
    /// Records of the older version that the newer one does not have.
    pub removed: Vec<Record>,
    /// Records of the newer version that the older one did not have.
    pub added: Vec<Record>,
}

impl Diff {
    fn size(&self) -> usize {
        self.removed.len().saturating_add(self.added.len())
    }
}

/// Drops the oldest differences of `list` until it is within `limits`.
fn trim(list: &mut VecDeque<Diff>, limits: &JournalLimits) {
    let mut total: usize = list.iter().map(Diff::size).sum();
    while list.len() > limits.diffs || total > limits.records {
        match list.pop_front() {
            Some(d) => total = total.saturating_sub(d.size()),
            None => break,
        }
    }
}

/// Differences per zone.
#[derive(Debug, Default)]
pub struct Journal {
    limits: JournalLimits,
    zones: Mutex<HashMap<Name, VecDeque<Diff>>>,
}

/// Whether `a` is before `b` in serial number arithmetic (RFC 1982 §3.2).
#[must_use]
pub fn serial_lt(a: u32, b: u32) -> bool {
    a != b && b.wrapping_sub(a) < 0x8000_0000
}

/// The records of `zone` (SOA excluded) by their wire form, which is how two versions are
/// compared: owner names are lowercase in both (see [`ZoneData::transfer_records`]).
fn by_wire(zone: &ZoneData) -> HashMap<Vec<u8>, Record> {
    zone.transfer_records()
        .filter_map(|r| r.to_bytes().ok().map(|w| (w, r)))
        .collect()
}

/// SHA-256 over the sorted wire forms of `zone`'s records (SOA excluded): what the zone holds
/// at its serial, kept with the journal on disk so that a zone changed without a new serial
/// while altodisc was down is told apart from the version the journal ends at.
fn content_digest(zone: &ZoneData) -> [u8; 32] {
    let mut wires: Vec<Vec<u8>> = zone
        .transfer_records()
        .filter_map(|r| r.to_bytes().ok())
        .collect();
    wires.sort_unstable();
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for w in &wires {
        ctx.update(&u64::try_from(w.len()).unwrap_or(u64::MAX).to_be_bytes());
        ctx.update(w);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

impl Journal {
    /// An empty journal with `limits`.
    #[must_use]
    pub fn new(limits: JournalLimits) -> Self {
        Self {
            limits,
            zones: Mutex::new(HashMap::new()),
        }
    }

    /// Records what changed from `old` to `new` (a reload). Zones that `new` no longer serves are
    /// forgotten.
    pub fn record(&self, old: &ZoneIndex, new: &ZoneIndex) {
        let Ok(mut zones) = self.zones.lock() else {
            return;
        };
        // Zones whose differences changed, for the copy on disk.
        let mut touched: HashSet<Name> = zones
            .keys()
            .filter(|origin| new.zone(origin).is_none())
            .cloned()
            .collect();
        zones.retain(|origin, _| new.zone(origin).is_some());
        let before: Vec<Name> = zones.keys().cloned().collect();
        if self.limits.diffs == 0 {
            touched.extend(zones.drain().map(|(origin, _)| origin));
            drop(zones);
            self.persist(&touched, new);
            return;
        }
        for zone in new.zones() {
            let origin = zone.origin();
            let Some(prev) = old.zone(origin) else {
                zones.remove(origin);
                continue;
            };
            if prev.serial() == zone.serial() {
                // Same serial: nothing for IXFR to tell. Data changed under the same serial
                // cannot be told either; what the journal holds is still true up to that serial,
                // but the content at it is not, so forget it.
                if prev.record_count() != zone.record_count() || by_wire(prev) != by_wire(zone) {
                    zones.remove(origin);
                }
                continue;
            }
            if !serial_lt(prev.serial(), zone.serial()) {
                zones.remove(origin);
                continue;
            }
            let old_records = by_wire(prev);
            let new_records = by_wire(zone);
            let removed: Vec<Record> = old_records
                .iter()
                .filter(|(w, _)| !new_records.contains_key(*w))
                .map(|(_, r)| r.clone())
                .collect();
            let added: Vec<Record> = new_records
                .iter()
                .filter(|(w, _)| !old_records.contains_key(*w))
                .map(|(_, r)| r.clone())
                .collect();
            let diff = Diff {
                old_soa: prev.soa().clone(),
                new_soa: zone.soa().clone(),
                from: prev.serial(),
                to: zone.serial(),
                removed,
                added,
            };
            if diff.size() > self.limits.records {
                zones.remove(origin);
                continue;
            }
            let list = zones.entry(origin.clone()).or_default();
            // A gap (the last difference does not end at the old serial): start again.
            if list.back().is_some_and(|d| d.to != diff.from) {
                list.clear();
            }
            list.push_back(diff);
            trim(list, &self.limits);
            touched.insert(origin.clone());
        }
        // A list emptied by a clear without a new difference is gone too.
        zones.retain(|_, list| !list.is_empty());
        touched.extend(before.into_iter().filter(|o| !zones.contains_key(o)));
        drop(zones);
        self.persist(&touched, new);
    }

    /// The differences that take `zone` from serial `from` to `to`, oldest first; `None` when
    /// the journal does not reach back to `from` or does not end at `to`.
    #[must_use]
    pub fn since(&self, zone: &Name, from: u32, to: u32) -> Option<Vec<Diff>> {
        let zones = self.zones.lock().ok()?;
        let list = zones.get(zone)?;
        let start = list.iter().position(|d| d.from == from)?;
        let chain: Vec<Diff> = list.iter().skip(start).cloned().collect();
        (chain.last()?.to == to).then_some(chain)
    }

    /// Number of differences kept for `zone`.
    #[must_use]
    pub fn len(&self, zone: &Name) -> usize {
        self.zones
            .lock()
            .ok()
            .and_then(|z| z.get(zone).map(VecDeque::len))
            .unwrap_or(0)
    }

    /// Whether no zone has a difference.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.zones.lock().map_or(true, |z| z.is_empty())
    }
}

/// First bytes of a journal file: the format and its version.
const MAGIC: &[u8] = b"altodisc-ixfr-journal 1\n";

/// Extension of the journal files in [`JournalLimits::dir`].
const EXTENSION: &str = "ixfr";

/// Largest record in a journal file: a record's wire form is at most a message (RFC 1035 §4.2.2
/// TCP length prefix).
const MAX_RECORD_BYTES: usize = 65_535;

/// What is wrong with a journal file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
enum FileError {
    #[error("cannot read it: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0} bytes, more than the journal bounds allow")]
    TooLarge(u64),
    #[error("not an altodisc IXFR journal (version 1)")]
    Magic,
    #[error("checksum mismatch (damaged or cut short)")]
    Checksum,
    #[error("ends early at byte {0}")]
    Truncated(usize),
    #[error("bad record at byte {at}: {why}")]
    Record { at: usize, why: String },
    #[error("holds the journal of {0}, not of this zone")]
    OtherZone(String),
    #[error("difference {0} is not framed by two SOA records of increasing serials")]
    Frame(usize),
    #[error("difference {0} does not start where the one before it ends")]
    Chain(usize),
    #[error("more differences or records than ixfr_journal_diffs / ixfr_journal_records allow")]
    OverBounds,
    #[error("{0} bytes after the last difference")]
    Trailing(usize),
}

/// The journal file of `origin` in `dir`: its labels in lowercase joined by dots, bytes other
/// than letters, digits, `-` and `_` as `%XX`, so every zone has a file of its own (the root
/// zone: `.ixfr`).
fn file_path(dir: &Path, origin: &Name) -> PathBuf {
    let labels: Vec<String> = origin
        .to_lowercase()
        .iter()
        .map(|label| {
            label
                .iter()
                .map(|&b| {
                    if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
                        char::from(b).to_string()
                    } else {
                        format!("%{b:02X}")
                    }
                })
                .collect()
        })
        .collect();
    dir.join(format!("{}.{EXTENSION}", labels.join(".")))
}

fn wire(record: &Record) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut enc = BinEncoder::new(&mut out);
    enc.set_name_encoding(NameEncoding::Uncompressed);
    record.emit(&mut enc).map_err(|e| e.to_string())?;
    Ok(out)
}

fn put_record(out: &mut Vec<u8>, record: &Record) -> Result<(), String> {
    let w = wire(record)?;
    let len = u16::try_from(w.len()).map_err(|_| "record over 65535 bytes".to_owned())?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&w);
    Ok(())
}

fn put_count(out: &mut Vec<u8>, n: usize) -> Result<(), String> {
    let n = u32::try_from(n).map_err(|_| "count over 2^32".to_owned())?;
    out.extend_from_slice(&n.to_be_bytes());
    Ok(())
}

/// The file form of `origin`'s differences: [`MAGIC`], the zone name (length, wire form), the
/// [`content_digest`] of the version the newest difference ends at, the number of differences, each as old SOA, new SOA, removed records, added records (counts
/// and records each length-prefixed, big-endian), then SHA-256 of everything before it.
fn encode(origin: &Name, digest: &[u8; 32], list: &VecDeque<Diff>) -> Result<Vec<u8>, String> {
    let mut out = MAGIC.to_vec();
    let name = origin.to_bytes().map_err(|e| e.to_string())?;
    let len = u16::try_from(name.len()).map_err(|_| "name too long".to_owned())?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&name);
    out.extend_from_slice(digest);
    put_count(&mut out, list.len())?;
    for d in list {
        put_record(&mut out, &d.old_soa)?;
        put_record(&mut out, &d.new_soa)?;
        for part in [&d.removed, &d.added] {
            put_count(&mut out, part.len())?;
            for r in part {
                put_record(&mut out, r)?;
            }
        }
    }
    let digest = ring::digest::digest(&ring::digest::SHA256, &out);
    out.extend_from_slice(digest.as_ref());
    Ok(out)
}

/// Reads a journal file's body with every length checked.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], FileError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or(FileError::Truncated(self.at))?;
        let out = self
            .bytes
            .get(self.at..end)
            .ok_or(FileError::Truncated(self.at))?;
        self.at = end;
        Ok(out)
    }

    fn u16(&mut self) -> Result<usize, FileError> {
        let b = self.take(2)?;
        Ok(usize::from(u16::from_be_bytes([b[0], b[1]])))
    }

    fn u32(&mut self) -> Result<usize, FileError> {
        let b = self.take(4)?;
        usize::try_from(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
            .map_err(|_| FileError::OverBounds)
    }

    fn record(&mut self, origin: &Name) -> Result<Record, FileError> {
        let at = self.at;
        let len = self.u16()?;
        let bytes = self.take(len)?;
        let record = Record::from_bytes(bytes).map_err(|e| FileError::Record {
            at,
            why: e.to_string(),
        })?;
        if !origin.zone_of(&record.name) {
            return Err(FileError::Record {
                at,
                why: format!("owner {} is outside the zone", record.name),
            });
        }
        Ok(record)
    }
}

fn soa_serial(record: &Record) -> Option<u32> {
    match &record.data {
        hickory_proto::rr::RData::SOA(soa) => Some(soa.serial),
        _ => None,
    }
}

/// Parses a journal file of `origin` (see [`encode`]), refusing one over `limits`.
fn decode(bytes: &[u8], origin: &Name, limits: &JournalLimits) -> Result<Stored, FileError> {
    let body_len = bytes.len().checked_sub(32).ok_or(FileError::Checksum)?;
    let (body, sum) = bytes.split_at(body_len);
    if !body.starts_with(MAGIC) {
        return Err(FileError::Magic);
    }
    if ring::digest::digest(&ring::digest::SHA256, body).as_ref() != sum {
        return Err(FileError::Checksum);
    }
    let mut c = Cursor {
        bytes: body,
        at: MAGIC.len(),
    };
    let name_len = c.u16()?;
    let name = Name::from_bytes(c.take(name_len)?).map_err(|e| FileError::Record {
        at: MAGIC.len(),
        why: e.to_string(),
    })?;
    if &name != origin {
        return Err(FileError::OtherZone(name.to_string()));
    }
    let mut digest = [0u8; 32];
    digest.copy_from_slice(c.take(32)?);
    let count = c.u32()?;
    if count > limits.diffs {
        return Err(FileError::OverBounds);
    }
    let mut list: VecDeque<Diff> = VecDeque::new();
    let mut total: usize = 0;
    for i in 0..count {
        let old_soa = c.record(origin)?;
        let new_soa = c.record(origin)?;
        let (Some(from), Some(to)) = (soa_serial(&old_soa), soa_serial(&new_soa)) else {
            return Err(FileError::Frame(i));
        };
        if !serial_lt(from, to) {
            return Err(FileError::Frame(i));
        }
        if list.back().is_some_and(|d| d.to != from) {
            return Err(FileError::Chain(i));
        }
        let mut parts = [Vec::new(), Vec::new()];
        for part in &mut parts {
            let n = c.u32()?;
            total = total.checked_add(n).ok_or(FileError::OverBounds)?;
            if total > limits.records {
                return Err(FileError::OverBounds);
            }
            for _ in 0..n {
                part.push(c.record(origin)?);
            }
        }
        let [removed, added] = parts;
        list.push_back(Diff {
            old_soa,
            new_soa,
            from,
            to,
            removed,
            added,
        });
    }
    let rest = body.len().saturating_sub(c.at);
    if rest != 0 {
        return Err(FileError::Trailing(rest));
    }
    Ok(Stored { digest, list })
}

/// What a journal file holds.
struct Stored {
    /// [`content_digest`] of the zone at the newest difference's serial.
    digest: [u8; 32],
    /// The differences, oldest first.
    list: VecDeque<Diff>,
}

/// Reads the journal file at `path`, after checking its size against `limits`.
fn read_file(path: &Path, origin: &Name, limits: &JournalLimits) -> Result<Stored, FileError> {
    // Every record is at most MAX_RECORD_BYTES plus its length; two SOAs per difference.
    let records = limits
        .records
        .saturating_add(limits.diffs.saturating_mul(2));
    let most = records
        .saturating_mul(MAX_RECORD_BYTES.saturating_add(2))
        .saturating_add(limits.diffs.saturating_mul(8))
        .saturating_add(MAGIC.len() + 2 + 255 + 32 + 4 + 32);
    let size = std::fs::metadata(path)?.len();
    if usize::try_from(size).map_or(true, |s| s > most) {
        return Err(FileError::TooLarge(size));
    }
    decode(&std::fs::read(path)?, origin, limits)
}

/// Writes `bytes` to `path` through a temporary file in the same directory, flushed to disk
/// before it is renamed over `path` (rename within a directory is atomic, POSIX rename(2)).
fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(".tmp");
    let tmp = PathBuf::from(tmp_name);
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)
}

fn remove_file(path: &Path) {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => warn!(file = %path.display(), "ixfr journal: cannot remove: {e}"),
    }
}

impl Journal {
    /// A journal with `limits`, with the differences kept in [`JournalLimits::dir`] read back for
    /// the zones of `index` whose newest difference ends at the serial they are served with.
    /// Files of other zones, files that end elsewhere and damaged files are dropped, each with a
    /// log line; a directory that cannot be created or read leaves the journal in memory.
    #[must_use]
    pub fn open(limits: JournalLimits, index: &ZoneIndex) -> Self {
        let journal = Self::new(limits);
        if let Some(dir) = journal.limits.dir.clone() {
            journal.restore(&dir, index);
        }
        journal
    }

    fn restore(&self, dir: &Path, index: &ZoneIndex) {
        if let Err(e) = std::fs::create_dir_all(dir) {
            warn!(dir = %dir.display(), "ixfr journal: cannot create the directory ({e}); the journal is kept in memory only");
            return;
        }
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) => {
                warn!(dir = %dir.display(), "ixfr journal: cannot read the directory ({e}); starting with an empty journal");
                return;
            }
        };
        let served: HashMap<PathBuf, &ZoneData> = index
            .zones()
            .map(|z| (file_path(dir, z.origin()), z))
            .collect();
        let Ok(mut zones) = self.zones.lock() else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            // By name, not `Path::extension`: the root zone's `.ixfr` has none.
            let suffix = format!(".{EXTENSION}");
            if !path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.ends_with(&suffix))
            {
                continue;
            }
            let file = path.display();
            let Some(zone) = served.get(&path) else {
                info!(%file, "ixfr journal: no such zone served any more; file removed");
                remove_file(&path);
                continue;
            };
            let origin = zone.origin();
            if self.limits.diffs == 0 {
                remove_file(&path);
                continue;
            }
            match read_file(&path, origin, &self.limits) {
                Err(e) => {
                    warn!(%file, zone = %origin, "ixfr journal damaged: {e}; starting with an empty journal for the zone (file removed)");
                    remove_file(&path);
                }
                Ok(Stored { digest, list }) => match list.back().map(|d| d.to) {
                    Some(to) if to == zone.serial() && digest == content_digest(zone) => {
                        info!(zone = %origin, differences = list.len(), from = list.front().map_or(to, |d| d.from), to, "ixfr journal restored");
                        zones.insert(origin.clone(), list);
                    }
                    Some(to) if to == zone.serial() => {
                        info!(%file, zone = %origin, serial = to, "ixfr journal: the zone's data at this serial is not what the journal ends at (changed without a new serial?); discarded");
                        remove_file(&path);
                    }
                    newest => {
                        info!(%file, zone = %origin, journal_serial = ?newest, zone_serial = zone.serial(), "ixfr journal does not end at the serial the zone loads with; discarded");
                        remove_file(&path);
                    }
                },
            }
        }
    }

    /// Writes the journal files of `touched` zones (removes those without differences).
    /// `served` is the index the differences end at (for each file's [`content_digest`]).
    fn persist(&self, touched: &HashSet<Name>, served: &ZoneIndex) {
        let Some(dir) = &self.limits.dir else {
            return;
        };
        if touched.is_empty() {
            return;
        }
        // Each file with its new contents, `None` for a zone without differences.
        type Contents = Option<Result<Vec<u8>, String>>;
        let files: Vec<(PathBuf, Contents)> = {
            let Ok(zones) = self.zones.lock() else {
                return;
            };
            touched
                .iter()
                .map(|o| {
                    let contents = zones.get(o).map(|l| match served.zone(o) {
                        Some(zone) => encode(o, &content_digest(zone), l),
                        None => Err("the zone is not served".to_owned()),
                    });
                    (file_path(dir, o), contents)
                })
                .collect()
        };
        if let Err(e) = std::fs::create_dir_all(dir) {
            warn!(dir = %dir.display(), "ixfr journal: cannot create the directory ({e}); not kept on disk");
            return;
        }
        for (path, bytes) in files {
            match bytes {
                Some(Ok(bytes)) => {
                    if let Err(e) = write_atomic(&path, &bytes) {
                        warn!(file = %path.display(), "ixfr journal: cannot write ({e}); after a restart this zone's secondaries get the whole zone");
                        remove_file(&path);
                    }
                }
                Some(Err(e)) => {
                    warn!(file = %path.display(), "ixfr journal: cannot encode ({e}); not kept on disk");
                    remove_file(&path);
                }
                None => remove_file(&path),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::tests::zone_from_text;

    fn index(serial: u32, hosts: &[u32]) -> ZoneIndex {
        let mut text =
            format!("$TTL 300\n@ SOA ns hm {serial} 3600 600 86400 300\n@ NS ns\nns A 192.0.2.1\n");
        for h in hosts {
            text.push_str(&format!("h{h} TXT \"{h}\"\n"));
        }
        ZoneIndex::build(&[zone_from_text("j.test.", &text)]).unwrap()
    }

    fn origin() -> Name {
        Name::from_ascii("j.test.").unwrap()
    }

    #[test]
    fn diffs_chain_and_are_bounded() {
        let j = Journal::new(JournalLimits {
            diffs: 2,
            records: 100,
            dir: None,
        });
        let v1 = index(1, &[1, 2]);
        let v2 = index(2, &[1, 3]);
        let v3 = index(3, &[1, 3, 4]);
        let v4 = index(4, &[4]);
        j.record(&v1, &v2);
        let d = j.since(&origin(), 1, 2).unwrap();
        assert_eq!((d.len(), d[0].removed.len(), d[0].added.len()), (1, 1, 1));
        j.record(&v2, &v3);
        assert_eq!(j.since(&origin(), 1, 3).unwrap().len(), 2);
        assert_eq!(j.since(&origin(), 2, 3).unwrap().len(), 1);
        assert!(
            j.since(&origin(), 1, 2).is_none(),
            "does not end at the current serial"
        );
        j.record(&v3, &v4);
        // Only two differences kept: serial 1 is out of reach.
        assert!(j.since(&origin(), 1, 4).is_none());
        let d = j.since(&origin(), 2, 4).unwrap();
        assert_eq!(d.len(), 2);
        assert_eq!((d[1].removed.len(), d[1].added.len()), (2, 0));
        assert!(j.since(&origin(), 99, 4).is_none());
    }

    #[test]
    fn record_bound_and_odd_serials_clear_the_history() {
        let j = Journal::new(JournalLimits {
            diffs: 10,
            records: 3,
            dir: None,
        });
        j.record(&index(1, &[1]), &index(2, &[2]));
        assert_eq!(j.len(&origin()), 1);
        // A difference of 4 records is over the bound: history gone.
        j.record(&index(2, &[2]), &index(3, &[5, 6, 7]));
        assert_eq!(j.len(&origin()), 0);
        j.record(&index(3, &[1]), &index(4, &[2]));
        assert_eq!(j.len(&origin()), 1);
        // Same serial, other data: forgotten.
        j.record(&index(4, &[2]), &index(4, &[3]));
        assert_eq!(j.len(&origin()), 0);
        j.record(&index(4, &[1]), &index(5, &[2]));
        // Serial going back: forgotten.
        j.record(&index(5, &[2]), &index(3, &[2]));
        assert!(j.is_empty());
        // Serial arithmetic wraps (RFC 1982).
        assert!(serial_lt(u32::MAX, 1));
        assert!(!serial_lt(1, u32::MAX));
        j.record(&index(u32::MAX, &[1]), &index(1, &[2]));
        assert_eq!(j.len(&origin()), 1);
    }

    fn temp_dir(tag: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("altodisc-journal-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn on_disk(dir: &Path) -> JournalLimits {
        JournalLimits {
            diffs: 4,
            records: 100,
            dir: Some(dir.to_owned()),
        }
    }

    fn files(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn journal_on_disk_survives_a_restart_at_the_same_serial() {
        let dir = temp_dir("restart");
        let j = Journal::open(on_disk(&dir), &index(1, &[1, 2]));
        assert!(j.is_empty());
        j.record(&index(1, &[1, 2]), &index(2, &[1, 3]));
        j.record(&index(2, &[1, 3]), &index(3, &[1, 3, 4]));
        // One file per zone, no temporary file left behind.
        assert_eq!(files(&dir), vec!["j.test.ixfr".to_owned()]);
        let before = j.since(&origin(), 1, 3).unwrap();
        drop(j);

        // Restart with the zone at the journal's newest serial: the same differences.
        let j = Journal::open(on_disk(&dir), &index(3, &[1, 3, 4]));
        let after = j.since(&origin(), 1, 3).unwrap();
        assert_eq!(after.len(), 2);
        for (a, b) in before.iter().zip(&after) {
            assert_eq!((a.from, a.to), (b.from, b.to));
            assert_eq!(a.old_soa, b.old_soa);
            assert_eq!(a.new_soa, b.new_soa);
            let key = |v: &[Record]| {
                let mut w: Vec<Vec<u8>> = v.iter().map(|r| r.to_bytes().unwrap()).collect();
                w.sort();
                w
            };
            assert_eq!(key(&a.removed), key(&b.removed));
            assert_eq!(key(&a.added), key(&b.added));
        }
        // It keeps growing from there, and the bounds still hold.
        j.record(&index(3, &[1, 3, 4]), &index(4, &[4]));
        drop(j);
        let j = Journal::open(on_disk(&dir), &index(4, &[4]));
        assert_eq!(j.since(&origin(), 1, 4).unwrap().len(), 3);
        drop(j);

        // Restart at the same serial with other data (edited without a new serial while
        // altodisc was down): discarded, and the file with it.
        let j = Journal::open(on_disk(&dir), &index(4, &[5]));
        assert!(j.is_empty());
        assert!(files(&dir).is_empty());
        j.record(&index(4, &[5]), &index(5, &[6]));
        drop(j);

        // Restart at another serial (the zone changed while altodisc was down): discarded,
        // and the file with it.
        let j = Journal::open(on_disk(&dir), &index(6, &[7]));
        assert!(j.is_empty());
        assert!(files(&dir).is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn damaged_or_foreign_journal_files_start_empty() {
        let dir = temp_dir("damaged");
        let j = Journal::open(on_disk(&dir), &index(1, &[1]));
        j.record(&index(1, &[1]), &index(2, &[2]));
        drop(j);
        let path = file_path(&dir, &origin());
        let good = std::fs::read(&path).unwrap();
        let mut flipped = good.clone();
        let mid = flipped.len() / 2;
        flipped[mid] ^= 0x40;
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("one bit flipped", flipped),
            ("cut short", good[..good.len() - 10].to_vec()),
            ("empty", Vec::new()),
            (
                "not a journal",
                b"hello world, this is not a journal at all!!".to_vec(),
            ),
        ];
        for (what, bytes) in cases {
            std::fs::write(&path, bytes).unwrap();
            let j = Journal::open(on_disk(&dir), &index(2, &[2]));
            assert!(j.is_empty(), "{what}");
            assert!(!path.exists(), "{what}: damaged file left in place");
        }
        // A well-formed file of another zone under this zone's name.
        let other = Name::from_ascii("k.test.").unwrap();
        let stored = decode(&good, &origin(), &on_disk(&dir)).unwrap();
        std::fs::write(&path, encode(&other, &stored.digest, &stored.list).unwrap()).unwrap();
        assert!(matches!(
            read_file(&path, &origin(), &on_disk(&dir)),
            Err(FileError::OtherZone(_))
        ));
        // Over the bounds the journal is opened with (written with larger ones).
        std::fs::write(&path, &good).unwrap();
        let small = JournalLimits {
            records: 1,
            ..on_disk(&dir)
        };
        assert!(matches!(
            read_file(&path, &origin(), &small),
            Err(FileError::OverBounds)
        ));
        let j = Journal::open(small, &index(2, &[2]));
        assert!(j.is_empty());
        // Every truncation of a good file is an error, never a panic.
        for cut in 0..good.len() {
            assert!(decode(&good[..cut], &origin(), &on_disk(&dir)).is_err());
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn zones_no_longer_served_lose_their_files() {
        let dir = temp_dir("gone");
        let j = Journal::open(on_disk(&dir), &index(1, &[1]));
        j.record(&index(1, &[1]), &index(2, &[2]));
        assert_eq!(files(&dir).len(), 1);
        let other = ZoneIndex::build(&[zone_from_text(
            "k.test.",
            "$TTL 300\n@ SOA ns hm 1 3600 600 86400 300\n@ NS ns\n",
        )])
        .unwrap();
        j.record(&index(2, &[2]), &other);
        assert!(files(&dir).is_empty());
        // Serial going back clears the history, and the file.
        j.record(&other, &index(3, &[1]));
        j.record(&index(3, &[1]), &index(4, &[2]));
        assert_eq!(files(&dir).len(), 1);
        j.record(&index(4, &[2]), &index(3, &[2]));
        assert!(files(&dir).is_empty());
        // The root zone and odd bytes get file names of their own.
        assert_eq!(file_path(&dir, &Name::root()), dir.join(".ixfr"));
        assert_eq!(
            file_path(
                &dir,
                &Name::from_labels(vec![b"A/b".to_vec(), b"test".to_vec()]).unwrap()
            ),
            dir.join("a%2Fb.test.ixfr")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
