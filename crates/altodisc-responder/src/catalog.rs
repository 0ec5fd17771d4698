//! A catalog zone (RFC 9432, schema version 2) listing every zone altodisc serves, so that a
//! secondary configured once with the catalog provisions new zones (a new reverse zone for a new
//! prefix) by itself.
//!
//! With `[serve] catalog_zone = "catalog.example."` every load adds that zone: an SOA, the NS
//! record `invalid.` (RFC 9432 §4.1), `version` TXT "2" (§4.2.1) and one PTR per member zone at
//! `<id>.zones` (§4.3), where `<id>` is a hash of the member's name, so it stays the same while
//! the zone is a member (§4.3: unique, stable labels). The serial changes only when the set of
//! members changes: it is kept with the automatic serials (`serial_file`) under the catalog's
//! name, with a hash of the member list. A reload that changes it NOTIFYs the catalog to the
//! `notify` targets like any zone.

use altodisc_proto::DomainName;
use altodisc_zone::publish_config::{SerialState, next_serial};
use altodisc_zone::record::{Zone, ZoneRecord};
use hickory_proto::rr::rdata::{NS, PTR, SOA, TXT};
use hickory_proto::rr::{Name, RData};
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder, NameEncoding};

use crate::ResponderError;
use crate::index::ZoneData;

/// TTL of the catalog's records (RFC 9432 §4: not used by consumers).
const TTL: u32 = 0;

fn wire(rdata: &RData) -> Result<Vec<u8>, ResponderError> {
    let mut out = Vec::new();
    let mut enc = BinEncoder::new(&mut out);
    enc.set_name_encoding(NameEncoding::Uncompressed);
    rdata
        .emit(&mut enc)
        .map_err(|e| ResponderError::Config(format!("catalog zone: {e}")))?;
    Ok(out)
}

fn record(owner: &str, rtype: u16, rdata: &RData) -> Result<ZoneRecord, ResponderError> {
    Ok(ZoneRecord {
        owner: DomainName::parse(owner)
            .map_err(|e| ResponderError::Config(format!("catalog zone name {owner:?}: {e}")))?,
        ttl: TTL,
        class: altodisc_zone::record::CLASS_IN,
        rtype,
        rdata: wire(rdata)?,
        position: None,
        rdata_positions: Vec::new(),
    })
}

/// The member label of `zone` (RFC 9432 §4.3): 16 hex digits of SHA-256 of its lowercase name.
#[must_use]
pub fn member_id(zone: &Name) -> String {
    let digest = ring::digest::digest(
        &ring::digest::SHA256,
        zone.to_lowercase().to_ascii().as_bytes(),
    );
    digest
        .as_ref()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn members_hash(members: &[String]) -> u64 {
    let digest = ring::digest::digest(&ring::digest::SHA256, members.join("\n").as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(digest.as_ref().get(..8).unwrap_or(&[0; 8]));
    u64::from_be_bytes(first)
}

/// Adds the catalog zone `catalog` listing `zones` to them, with its serial from `serials`
/// (updated; kept when the member list is unchanged, else the next automatic serial at `now`).
///
/// # Errors
/// A catalog name that is not a domain name or is also a served zone.
pub fn add_catalog(
    catalog: &str,
    zones: &mut Vec<ZoneData>,
    previous: Option<&SerialState>,
    serials: &mut SerialState,
    now: u64,
) -> Result<(), ResponderError> {
    let members: Vec<Name> = zones.iter().map(|z| z.origin().clone()).collect();
    zones.push(catalog_zone(catalog, &members, previous, serials, now)?);
    Ok(())
}

/// The catalog zone `catalog` listing `members` (the served zones), with its serial from
/// `serials` as in [`add_catalog`].
///
/// # Errors
/// A catalog name that is not a domain name or is also a served zone.
pub fn catalog_zone(
    catalog: &str,
    members: &[Name],
    previous: Option<&SerialState>,
    serials: &mut SerialState,
    now: u64,
) -> Result<ZoneData, ResponderError> {
    let bad =
        |why: &str| ResponderError::Config(format!("[serve] catalog_zone {catalog:?}: {why}"));
    let mut apex = Name::from_ascii(catalog).map_err(|_| bad("not a domain name"))?;
    apex.set_fqdn(true);
    let apex = apex.to_lowercase();
    if members.iter().any(|z| z == &apex) {
        return Err(bad(
            "is also a served zone; pick a name of its own, e.g. catalog.invalid.",
        ));
    }
    let mut members: Vec<String> = members
        .iter()
        .map(|z| z.to_lowercase().to_ascii())
        .collect();
    members.sort();
    let key = apex.to_ascii();
    let hash = members_hash(&members);
    let serial = match previous.and_then(|p| p.zones.get(&key)) {
        Some(&(h, s)) if h == hash => s,
        Some(&(_, s)) => next_serial(Some(s), now),
        None => next_serial(None, now),
    };
    serials.zones.insert(key.clone(), (hash, serial));
    let invalid = Name::from_ascii("invalid.").map_err(|_| bad("internal name"))?;
    let soa = SOA::new(
        invalid.clone(),
        invalid.clone(),
        serial,
        3600,
        600,
        2_419_200,
        0,
    );
    let mut records = vec![
        record(&key, 6, &RData::SOA(soa))?,
        record(&key, 2, &RData::NS(NS(invalid)))?,
        record(
            &format!("version.{key}"),
            16,
            &RData::TXT(TXT::new(vec!["2".to_owned()])),
        )?,
    ];
    for m in &members {
        let name = Name::from_ascii(m).map_err(|_| bad("member name"))?;
        records.push(record(
            &format!("{}.zones.{key}", member_id(&name)),
            12,
            &RData::PTR(PTR(name)),
        )?);
    }
    let origin = DomainName::parse(&key).map_err(|_| bad("not a domain name"))?;
    let zone = Zone { origin, records };
    ZoneData::build(&zone).map_err(|e| bad(&e.to_string()))
}

#[cfg(test)]
mod tests {
    use hickory_proto::rr::RecordType;

    use super::*;
    use crate::index::ZoneIndex;
    use crate::index::tests::zone_from_text;

    fn zones(origins: &[&str]) -> Vec<ZoneData> {
        origins
            .iter()
            .map(|o| {
                ZoneData::build(&zone_from_text(
                    o,
                    "@ 300 SOA ns hm 1 3600 600 86400 300\n@ 300 NS ns\n",
                ))
                .unwrap()
            })
            .collect()
    }

    #[test]
    fn catalog_lists_members_and_its_serial_follows_membership() {
        let mut serials = SerialState::default();
        let mut z = zones(&["a.test.", "2.0.192.in-addr.arpa."]);
        add_catalog("cat.invalid.", &mut z, None, &mut serials, 1000).unwrap();
        let index = ZoneIndex::from_zones(z).unwrap();
        let cat = index
            .zone(&Name::from_ascii("cat.invalid.").unwrap())
            .unwrap();
        assert_eq!(cat.serial(), 1000);
        let ptrs: Vec<String> = cat
            .transfer_records()
            .filter(|r| r.record_type() == RecordType::PTR)
            .map(|r| r.data.to_string())
            .collect();
        assert_eq!(ptrs.len(), 2, "{ptrs:?}");
        let answer = index.lookup(
            &Name::from_ascii("version.cat.invalid.").unwrap(),
            RecordType::TXT,
        );
        assert_eq!(answer.answers.len(), 1);
        // Same members later: same serial. One more: a higher one.
        let previous = serials.clone();
        let mut z = zones(&["2.0.192.in-addr.arpa.", "a.test."]);
        add_catalog("cat.invalid.", &mut z, Some(&previous), &mut serials, 2000).unwrap();
        assert_eq!(z.last().unwrap().serial(), 1000);
        let mut z = zones(&["a.test.", "2.0.192.in-addr.arpa.", "3.0.192.in-addr.arpa."]);
        add_catalog("cat.invalid.", &mut z, Some(&previous), &mut serials, 2000).unwrap();
        assert_eq!(z.last().unwrap().serial(), 2000);
        // Stable, distinct member labels.
        let a = Name::from_ascii("a.test.").unwrap();
        assert_eq!(
            member_id(&a),
            member_id(&Name::from_ascii("A.TEST.").unwrap())
        );
        assert_ne!(
            member_id(&a),
            member_id(&Name::from_ascii("b.test.").unwrap())
        );
        // A catalog that is also a served zone, or not a name: refused.
        let mut z = zones(&["a.test."]);
        assert!(add_catalog("a.test.", &mut z, None, &mut serials, 1).is_err());
        assert!(add_catalog("a..b", &mut z, None, &mut serials, 1).is_err());
    }
}
