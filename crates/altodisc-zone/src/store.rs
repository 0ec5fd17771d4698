//! The checker's compact stores: owner names and kept RDATA in a few large arenas instead of one
//! heap allocation per owner and per record.
//!
//! A million-record zone used to cost the checker a `DomainName` and a `HashMap` entry per owner
//! and an RDATA `Vec` per NAPTR record: about 2.5 million allocations, each freed again at the
//! end, and hundreds of megabytes retained. Here names and RDATA are appended to byte arenas and
//! found again through open-addressing tables of `u64` slots (hash tag and id), so the whole set
//! is a handful of vectors whose memory returns to the system when the checker is dropped.
//!
//! ```text
//!   NameTable:  bytes  = <wire name 0><wire name 1>…        ends[id] = end offset of name id
//!               index  = [tag|id, 0, tag|id, …]             (case-insensitive hash, RFC 4343)
//!   RdataStore: bytes  = <RDATA 0><RDATA 1>…                ends[id]
//!               clean  = [tag|slot, …] → clean_ids / clean_facts  (bounded, clean NAPTR only)
//! ```

/// Entry `id` of an arena whose entries lie back to back in `bytes`, `ends[id]` being the end of
/// entry `id` (empty for an unknown id).
fn entry<'a>(bytes: &'a [u8], ends: &[usize], id: u32) -> &'a [u8] {
    let i = id as usize;
    let Some(&end) = ends.get(i) else {
        return &[];
    };
    let start = if i == 0 { 0 } else { ends[i - 1] };
    bytes.get(start..end).unwrap_or_default()
}

/// Multiplier of the word hash (the 64-bit golden-ratio constant, as in FxHash / foldhash).
const MIX: u64 = 0x9e37_79b9_7f4a_7c15;

/// The folded multiply of foldhash: full 128-bit product, high and low halves xored.
fn folded_mul(a: u64, b: u64) -> u64 {
    let full = u128::from(a) * u128::from(b);
    // Truncations on purpose: the two halves of the product.
    #[allow(clippy::cast_possible_truncation)]
    let (lo, hi) = (full as u64, (full >> 64) as u64);
    lo ^ hi
}

/// ASCII-lowercases the eight octets of `w` at once (only `A`–`Z` change, as
/// `u8::to_ascii_lowercase` does; octets with the high bit set are left alone).
fn lower_word(w: u64) -> u64 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let seven = w & LOW7;
    // High bit of each octet: its low seven bits are >= 'A' (0x41) / > 'Z' (0x5a).
    let ge_a = seven.wrapping_add(0x3f3f_3f3f_3f3f_3f3f);
    let gt_z = seven.wrapping_add(0x2525_2525_2525_2525);
    let upper = ge_a & !gt_z & !w & HIGH;
    w | (upper >> 2)
}

/// A 31-bit hash of `bytes` with bit 31 set (so a slot is never 0, the empty marker).
/// `fold` hashes the ASCII-lowercased octets: for DNS names, which compare case-insensitively
/// (RFC 4343 §3).
pub(crate) fn hash_bytes(bytes: &[u8], fold: bool) -> u32 {
    let word = |chunk: &[u8]| {
        let mut b = [0u8; 8];
        b[..chunk.len()].copy_from_slice(chunk);
        let w = u64::from_le_bytes(b);
        if fold { lower_word(w) } else { w }
    };
    let mut h = (bytes.len() as u64).wrapping_mul(MIX);
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        h = folded_mul(h ^ word(c), MIX);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        h = folded_mul(h ^ word(rest), MIX);
    }
    let h = folded_mul(h, MIX ^ 0x5851_f42d_4c95_7f2d);
    // The top 31 bits (the best mixed); truncation on purpose.
    #[allow(clippy::cast_possible_truncation)]
    let top = (h >> 33) as u32;
    top | 0x8000_0000
}

/// An open-addressing index (linear probing) from a hash to ids: each slot is `hash << 32 | id`,
/// 0 when empty. Keys live elsewhere; callers pass an equality test on ids. Keeps at most 3/4 of
/// the slots full; eight slots share a cache line, so a probe rarely touches a second one.
#[derive(Debug, Default)]
pub(crate) struct SlotIndex {
    slots: Vec<u64>,
    len: usize,
}

impl SlotIndex {
    /// Room for `additional` more ids without growing.
    pub(crate) fn reserve(&mut self, additional: usize) {
        let want = self.len.saturating_add(additional);
        if want.saturating_mul(4) > self.slots.len().saturating_mul(3) {
            self.rebuild(slots_for(want));
        }
    }

    fn mask(&self) -> usize {
        self.slots.len() - 1
    }

    /// The id whose hash is `hash` and for which `is_key` holds.
    pub(crate) fn find(&self, hash: u32, mut is_key: impl FnMut(u32) -> bool) -> Option<u32> {
        if self.slots.is_empty() {
            return None;
        }
        let mask = self.mask();
        let mut i = hash as usize & mask;
        loop {
            let s = self.slots[i];
            if s == 0 {
                return None;
            }
            // Truncations on purpose: the two halves of a slot.
            #[allow(clippy::cast_possible_truncation)]
            if (s >> 32) as u32 == hash && is_key(s as u32) {
                #[allow(clippy::cast_possible_truncation)]
                return Some(s as u32);
            }
            i = (i + 1) & mask;
        }
    }

    /// See [`NameTable::warm`].
    fn warm(&self, hashes: &[u32]) {
        if self.slots.is_empty() {
            return;
        }
        let mask = self.mask();
        let touched = hashes
            .iter()
            .filter(|&&h| h != 0)
            .fold(0u64, |acc, &h| acc ^ self.slots[h as usize & mask]);
        // Keeps the reads from being optimised away.
        std::hint::black_box(touched);
    }

    /// Adds `id` under `hash`; the caller knows the key is not present.
    pub(crate) fn insert(&mut self, hash: u32, id: u32) {
        if (self.len + 1).saturating_mul(4) > self.slots.len().saturating_mul(3) {
            self.rebuild(slots_for(self.len + 1).max(self.slots.len() * 2));
        }
        self.place((u64::from(hash) << 32) | u64::from(id));
        self.len += 1;
    }

    fn place(&mut self, slot: u64) {
        let mask = self.mask();
        #[allow(clippy::cast_possible_truncation)]
        let mut i = (slot >> 32) as usize & mask;
        while self.slots[i] != 0 {
            i = (i + 1) & mask;
        }
        self.slots[i] = slot;
    }

    /// Moves every slot into a table of `size` slots (the hash is kept in the slot: no rehash).
    fn rebuild(&mut self, size: usize) {
        let old = std::mem::replace(&mut self.slots, vec![0; size]);
        for s in old.into_iter().filter(|&s| s != 0) {
            self.place(s);
        }
    }
}

/// Slots (a power of two, at least 16) for `n` ids at a load of at most 3/4.
fn slots_for(n: usize) -> usize {
    (n.saturating_mul(4) / 3 + 1).next_power_of_two().max(16)
}

/// Owner names in wire form, numbered densely in order of first appearance; looked up
/// case-insensitively (RFC 4343). The first spelling seen is the one kept (and printed).
#[derive(Debug, Default)]
pub(crate) struct NameTable {
    bytes: Vec<u8>,
    ends: Vec<usize>,
    index: SlotIndex,
}

impl NameTable {
    /// Number of names.
    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }

    /// Room for `additional` more names in the index.
    pub(crate) fn reserve(&mut self, additional: usize) {
        self.index.reserve(additional);
        self.ends.reserve(additional);
    }

    /// The wire form of name `id` (empty for an unknown id).
    pub(crate) fn name(&self, id: u32) -> &[u8] {
        entry(&self.bytes, &self.ends, id)
    }

    /// The id of `wire` (any case).
    pub(crate) fn get(&self, wire: &[u8]) -> Option<u32> {
        let hash = hash_bytes(wire, true);
        self.index
            .find(hash, |id| self.name(id).eq_ignore_ascii_case(wire))
    }

    /// The id of `wire`, adding it when new.
    pub(crate) fn intern(&mut self, wire: &[u8]) -> u32 {
        self.intern_hashed(wire, hash_bytes(wire, true))
    }

    /// [`NameTable::intern`] with the name's hash already computed (`hash_bytes(wire, true)`).
    pub(crate) fn intern_hashed(&mut self, wire: &[u8], hash: u32) -> u32 {
        if let Some(id) = self
            .index
            .find(hash, |id| self.name(id).eq_ignore_ascii_case(wire))
        {
            return id;
        }
        let id = u32::try_from(self.ends.len()).unwrap_or(u32::MAX);
        self.bytes.extend_from_slice(wire);
        self.ends.push(self.bytes.len());
        self.index.insert(hash, id);
        id
    }

    /// Reads the first slot of each hash (0 entries are skipped), so that the cache and TLB
    /// misses of a group of lookups overlap instead of queuing one after another: a
    /// million-owner index is far larger than the caches, and names arrive in an order that
    /// the hash scatters. Only a hint; lookups are correct without it.
    pub(crate) fn warm(&self, hashes: &[u32]) {
        self.index.warm(hashes);
    }

    /// Every name with its id, in id order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u32, &[u8])> + '_ {
        (0..self.ends.len()).map(move |i| {
            let id = u32::try_from(i).unwrap_or(u32::MAX);
            (id, self.name(id))
        })
    }
}

/// Id of "no RDATA kept".
pub(crate) const NO_RDATA: u32 = u32::MAX;

/// Kept RDATA, appended; clean NAPTR RDATA (checked without findings) is also indexed, with the
/// facts the per-record rules derived from it, so that a repeated RDATA is neither checked nor
/// stored twice. Big zones repeat a few RDATA values across a million owners (one URI per
/// prefix); the index is bounded so that zones of distinct RDATA do not pay for it.
#[derive(Debug, Default)]
pub(crate) struct RdataStore {
    bytes: Vec<u8>,
    ends: Vec<usize>,
    clean: SlotIndex,
    /// RDATA id and facts of each clean entry (the index's ids point here).
    clean_ids: Vec<u32>,
    clean_facts: Vec<Option<bool>>,
}

impl RdataStore {
    /// Appends `rdata`; returns its id.
    pub(crate) fn push(&mut self, rdata: &[u8]) -> u32 {
        let id = u32::try_from(self.ends.len()).unwrap_or(NO_RDATA);
        self.bytes.extend_from_slice(rdata);
        self.ends.push(self.bytes.len());
        id
    }

    /// The RDATA of `id` (empty for [`NO_RDATA`]).
    pub(crate) fn get(&self, id: u32) -> &[u8] {
        entry(&self.bytes, &self.ends, id)
    }

    /// The id and facts of a clean RDATA equal to `rdata` (`hash` from [`hash_bytes`], exact).
    pub(crate) fn clean(&self, hash: u32, rdata: &[u8]) -> Option<(u32, Option<bool>)> {
        let slot = self
            .clean
            .find(hash, |c| self.get(self.clean_ids[c as usize]) == rdata)?;
        Some((
            self.clean_ids[slot as usize],
            self.clean_facts[slot as usize],
        ))
    }

    /// Number of clean entries.
    pub(crate) fn clean_len(&self) -> usize {
        self.clean_ids.len()
    }

    /// Records that RDATA `id` (hash `hash`) is clean, with its facts.
    pub(crate) fn mark_clean(&mut self, hash: u32, id: u32, facts: Option<bool>) {
        let slot = u32::try_from(self.clean_ids.len()).unwrap_or(u32::MAX);
        self.clean_ids.push(id);
        self.clean_facts.push(facts);
        self.clean.insert(hash, slot);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lower_word_matches_to_ascii_lowercase_on_every_octet() {
        for b in 0..=255u8 {
            let w = u64::from_le_bytes([b, b'A', b'z', b'Z', b'@', b'[', 0xc1, b]);
            let want = u64::from_le_bytes(
                [b, b'A', b'z', b'Z', b'@', b'[', 0xc1, b].map(|x| x.to_ascii_lowercase()),
            );
            assert_eq!(lower_word(w), want, "octet {b:#x}");
        }
    }

    #[test]
    fn folded_hash_ignores_ascii_case_only() {
        let a = b"\x03WwW\x07ExAmPlE\x03NeT\x00";
        let b = b"\x03www\x07example\x03net\x00";
        assert_eq!(hash_bytes(a, true), hash_bytes(b, true));
        assert_ne!(hash_bytes(a, false), hash_bytes(b, false));
        assert_ne!(hash_bytes(b"\xc1", true), hash_bytes(b"\xe1", true));
        // Lengths count: a zero octet at the end is not the same key.
        assert_ne!(hash_bytes(b"ab", false), hash_bytes(b"ab\0", false));
        assert!(hash_bytes(b"", false) & 0x8000_0000 != 0);
    }

    #[test]
    fn name_table_interns_case_insensitively_and_keeps_the_first_spelling() {
        let mut t = NameTable::default();
        let names: Vec<Vec<u8>> = (0..5000u32)
            .map(|i| {
                let label = format!("N{i}");
                let mut w = vec![u8::try_from(label.len()).unwrap()];
                w.extend_from_slice(label.as_bytes());
                w.extend_from_slice(b"\x07example\0");
                w
            })
            .collect();
        for (i, n) in names.iter().enumerate() {
            assert_eq!(t.intern(n) as usize, i);
        }
        assert_eq!(t.len(), names.len());
        for (i, n) in names.iter().enumerate() {
            assert_eq!(t.intern(&n.to_ascii_lowercase()) as usize, i);
            assert_eq!(
                t.get(&n.to_ascii_uppercase()),
                Some(u32::try_from(i).unwrap())
            );
            assert_eq!(t.name(u32::try_from(i).unwrap()), n.as_slice());
        }
        assert_eq!(t.len(), names.len());
        assert_eq!(t.get(b"\x01x\0"), None);
        assert_eq!(t.name(99_999), b"");
        let ids: Vec<u32> = t.iter().map(|(id, _)| id).collect();
        assert_eq!(ids.len(), names.len());
        assert!(ids.windows(2).all(|w| w[0] + 1 == w[1]));
    }

    #[test]
    fn reserve_keeps_entries_findable() {
        let mut t = NameTable::default();
        t.intern(b"\x01a\0");
        t.reserve(100_000);
        t.intern(b"\x01b\0");
        assert_eq!(t.get(b"\x01A\0"), Some(0));
        assert_eq!(t.get(b"\x01B\0"), Some(1));
    }

    #[test]
    fn rdata_store_dedupes_clean_entries_only() {
        let mut s = RdataStore::default();
        let a = s.push(b"first");
        let b = s.push(b"");
        let c = s.push(b"third");
        assert_eq!(
            (s.get(a), s.get(b), s.get(c)),
            (&b"first"[..], &b""[..], &b"third"[..])
        );
        assert_eq!(s.get(NO_RDATA), b"");
        let h = hash_bytes(b"third", false);
        assert_eq!(s.clean(h, b"third"), None);
        s.mark_clean(h, c, Some(true));
        assert_eq!(s.clean(h, b"third"), Some((c, Some(true))));
        assert_eq!(s.clean(hash_bytes(b"THIRD", false), b"THIRD"), None);
        assert_eq!(s.clean_len(), 1);
    }
}
