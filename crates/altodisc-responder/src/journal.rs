//! The IXFR journal (RFC 1995 §4): the differences between the accepted versions of each zone,
//! kept in memory, bounded by the number of differences and the number of records per zone.
//!
//! A reload that changes a zone's serial appends one difference (records removed, records
//! added; the SOA is not among them, RFC 1995 §4 frames each difference with the old and the new
//! SOA). The oldest differences are dropped when a zone has more than [`JournalLimits::diffs`]
//! of them or more than [`JournalLimits::records`] records in them. A change the journal cannot
//! follow (a serial that goes back or stays the same while the data changes, a difference
//! larger than the record bound) clears the zone's history: later IXFRs from older serials get
//! the whole zone (RFC 1995 §4 allows that). The journal is not kept on disk; after a restart
//! the first transfer of each secondary is a whole zone.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use hickory_proto::rr::{Name, Record};
use hickory_proto::serialize::binary::BinEncodable;

use crate::index::{ZoneData, ZoneIndex};

/// Bounds of the journal, per zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JournalLimits {
    /// Most differences kept (0: no journal, every IXFR gets the whole zone).
    pub diffs: usize,
    /// Most records (removed plus added) kept over all differences.
    pub records: usize,
}

/// Default [`JournalLimits`]: 32 versions back, 100,000 changed records.
pub const DEFAULT_JOURNAL_LIMITS: JournalLimits = JournalLimits {
    diffs: 32,
    records: 100_000,
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
        zones.retain(|origin, _| new.zone(origin).is_some());
        if self.limits.diffs == 0 {
            zones.clear();
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
            let mut total: usize = list.iter().map(Diff::size).sum();
            while list.len() > self.limits.diffs || total > self.limits.records {
                match list.pop_front() {
                    Some(d) => total = total.saturating_sub(d.size()),
                    None => break,
                }
            }
        }
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
}
