//! RDATA presentation parsing (RFC 1035 §5, RFC 3597 §5 and each type's RFC): the tokens of one
//! record's RDATA to uncompressed wire octets, every error at the field it concerns.
//!
//! The layout of each type ([`Field`] lists) lives in [`crate::rdata`], shared with the wire
//! validator and the writer; this module only turns text fields into octets. A child of the reader
//! so that it uses the reader's tokens and name/string decoders without widening their visibility.

use std::net::{Ipv4Addr, Ipv6Addr};

use altodisc_proto::DomainName;

use super::{
    Note, Problem, Token, decode_string, decode_string_into, lone_backslash, parse_name, parse_ttl,
};
use crate::rdata::{
    self, Field, algorithm_number, cert_type_number, check_semantics, decode_base32hex,
    decode_base64, decode_hex, digest_number, encode_type_bitmap, type_name, type_number,
};
use crate::record::rtype;

/// Cursor over the RDATA tokens of one record.
pub(super) struct Fields<'a> {
    pub(super) buf: &'a [u8],
    pub(super) toks: &'a [Token],
    pub(super) next: usize,
    /// The token before the RDATA (the type), for "missing field" positions.
    pub(super) after: Token,
    pub(super) origin: Option<&'a DomainName>,
}

impl Fields<'_> {
    fn take(&mut self, what: &str) -> Result<Token, Problem> {
        match self.toks.get(self.next) {
            Some(t) => {
                self.next += 1;
                Ok(*t)
            }
            None => {
                let last = self.toks.last().unwrap_or(&self.after);
                Err(Problem::at(last, format!("missing {what}")))
            }
        }
    }

    fn more(&self) -> bool {
        self.next < self.toks.len()
    }

    pub(super) fn end(&self) -> Result<(), Problem> {
        match self.toks.get(self.next) {
            None => Ok(()),
            Some(t) => Err(Problem::at(
                t,
                format!(
                    "unexpected field {:?} after the RDATA",
                    String::from_utf8_lossy(&self.buf[t.start..t.end])
                ),
            )
            .hint("quote strings that contain spaces; check the field count of the type")),
        }
    }

    fn text(&self, t: &Token) -> &[u8] {
        &self.buf[t.start..t.end]
    }

    fn number(&mut self, what: &str, max: u32) -> Result<u32, Problem> {
        let t = self.take(what)?;
        let raw = self.text(&t);
        if t.quoted || raw.is_empty() || !raw.iter().all(u8::is_ascii_digit) {
            return Err(Problem::at(
                &t,
                format!(
                    "{what} {:?} is not a decimal number",
                    String::from_utf8_lossy(raw)
                ),
            ));
        }
        let mut v: u64 = 0;
        for d in raw {
            v = v * 10 + u64::from(d - b'0');
            if v > u64::from(u32::MAX) {
                break;
            }
        }
        if v > u64::from(max) {
            return Err(Problem::at(
                &t,
                format!(
                    "{what} {} is out of range 0-{max}",
                    String::from_utf8_lossy(raw)
                ),
            )
            .hint("the value is never truncated; use a value in range"));
        }
        // Checked: v ≤ max ≤ u32::MAX.
        Ok(u32::try_from(v).unwrap_or(u32::MAX))
    }

    fn u8(&mut self, what: &str) -> Result<u8, Problem> {
        self.number(what, u32::from(u8::MAX))
            .map(|v| u8::try_from(v).unwrap_or(u8::MAX))
    }

    fn u16(&mut self, what: &str) -> Result<u16, Problem> {
        self.number(what, u32::from(u16::MAX))
            .map(|v| u16::try_from(v).unwrap_or(u16::MAX))
    }

    fn ttl(&mut self, what: &str) -> Result<u32, Problem> {
        let t = self.take(what)?;
        parse_ttl(self.buf, &t)
    }

    fn name(&mut self, what: &str) -> Result<DomainName, Problem> {
        let t = self.take(what)?;
        parse_name(self.buf, &t, self.origin)
    }

    /// A character-string field (at most 255 octets) written to `out` (length octet, then the
    /// octets), without a buffer of its own.
    fn string_into(&mut self, what: &str, out: &mut Vec<u8>) -> Result<(), Problem> {
        let t = self.take(what)?;
        let at = out.len();
        out.push(0);
        decode_string_into(self.buf, &t, 255, out)?;
        // At most 255 octets: decode_string_into enforced it.
        out[at] = u8::try_from(out.len() - at - 1).unwrap_or(u8::MAX);
        Ok(())
    }

    /// The remaining tokens concatenated (for hex / base64 fields that may contain spaces).
    fn rest(&mut self, what: &str) -> Result<(Token, Vec<u8>), Problem> {
        let first = self.take(what)?;
        let mut out = self.text(&first).to_vec();
        while let Some(t) = self.toks.get(self.next) {
            out.extend_from_slice(self.text(t));
            self.next += 1;
        }
        Ok((first, out))
    }

    /// RFC 3597 §5: `\# <length> <hex>...`.
    pub(super) fn generic(&mut self) -> Result<Vec<u8>, Problem> {
        self.take("\\#")?;
        let len_tok = *self
            .toks
            .get(self.next)
            .ok_or_else(|| Problem::at(&self.after, "missing RDATA length after \\#"))?;
        let len = self.u16("generic RDATA length")?;
        let data = if self.more() {
            let (t, text) = self.rest("hex RDATA")?;
            decode_hex(&text)
                .ok_or_else(|| Problem::at(&t, "generic RDATA is not valid hex (RFC 3597 §5)"))?
        } else {
            Vec::new()
        };
        if data.len() != usize::from(len) {
            return Err(Problem::at(
                &len_tok,
                format!(
                    "\\# length {len} but {} octets of hex follow (RFC 3597 §5)",
                    data.len()
                ),
            ));
        }
        Ok(data)
    }
}

fn push_string(out: &mut Vec<u8>, s: &[u8]) {
    // Callers have enforced ≤ 255.
    out.push(u8::try_from(s.len()).unwrap_or(u8::MAX));
    out.extend_from_slice(s);
}

fn word_str<'b>(f: &'b Fields<'_>, t: &Token) -> &'b str {
    std::str::from_utf8(f.text(t)).unwrap_or("")
}

/// Parses the RDATA tokens of a record of type `rrtype` into wire octets: the type's own form, or
/// the RFC 3597 §5 generic form `\# <len> <hex>`, which for a known type must be that type's wire
/// RDATA (§5: "the RDATA MUST be a valid" encoding; BIND, NSD and Knot all refuse otherwise).
pub(super) fn parse_rdata(
    rrtype: u16,
    class: u16,
    f: &mut Fields<'_>,
    notes: &mut Vec<(usize, Note)>,
) -> Result<Vec<u8>, Problem> {
    // In TXT, `\#` not followed by a length is the string "#" (BIND reads it so; RFC 3597 §5
    // only defines `\# <length>`).
    let txt_string = |f: &Fields<'_>| {
        rrtype == rtype::TXT
            && !f
                .toks
                .get(1)
                .is_some_and(|t| !t.quoted && f.text(t).iter().all(u8::is_ascii_digit))
    };
    if let Some(first) = f.toks.first()
        && !first.quoted
        && f.text(first) == b"\\#"
        && !txt_string(f)
    {
        let at = f.toks.get(2).copied().unwrap_or(*first);
        let data = f.generic()?;
        // The layouts are those of class IN; some types mean other things in other classes
        // (CHAOS A is a name and a 16-bit address), so other classes take any octets.
        if class != crate::record::CLASS_IN {
            return Ok(data);
        }
        if let Err(e) = rdata::validate_wire(rrtype, &data) {
            return Err(Problem::at(
                &at,
                format!(
                    "generic RDATA is not valid {} data: {e} (RFC 3597 §5)",
                    type_name(rrtype)
                ),
            )
            .hint(format!(
                "fix the octets, or write the record in the {} presentation form",
                type_name(rrtype)
            )));
        }
        return Ok(data);
    }
    let mut out = Vec::with_capacity(64);
    if rrtype == rtype::NAPTR {
        naptr(f, notes, &mut out)?;
        return Ok(out);
    }
    let Some(layout) = rdata::fields_of(rrtype) else {
        let t = f.toks.first().copied().unwrap_or(f.after);
        let msg = if rdata::is_known(rrtype) {
            format!(
                "type {} has no presentation format; the record is not read",
                type_name(rrtype)
            )
        } else {
            format!(
                "{} is not a known type, so its RDATA must be in the generic form",
                type_name(rrtype)
            )
        };
        return Err(Problem::at(&t, msg)
            .hint("write the RDATA in the RFC 3597 generic form: \\# <length> <hex>"));
    };
    // Where each field starts in the wire data and which token it came from, to point a
    // type-level error (a digest of the wrong length) at its field.
    let mut starts: Vec<(usize, Token)> = Vec::with_capacity(layout.len());
    for &field in layout {
        let tok = f.toks.get(f.next).copied().unwrap_or(f.after);
        starts.push((out.len(), tok));
        parse_field(field, f, &mut out)?;
    }
    if let Err((offset, message)) = check_semantics(rrtype, &out) {
        let tok = starts
            .iter()
            .rev()
            .find(|(s, _)| *s <= offset)
            .map_or(f.after, |(_, t)| *t);
        return Err(Problem::at(&tok, message));
    }
    Ok(out)
}

/// RFC 3403 §4.1 / §4.3, with the two findings the reader reports on accepted NAPTR records.
fn naptr(
    f: &mut Fields<'_>,
    notes: &mut Vec<(usize, Note)>,
    out: &mut Vec<u8>,
) -> Result<(), Problem> {
    out.extend_from_slice(&f.u16("NAPTR ORDER")?.to_be_bytes());
    out.extend_from_slice(&f.u16("NAPTR PREFERENCE")?.to_be_bytes());
    f.string_into("NAPTR FLAGS", out)?;
    f.string_into("NAPTR SERVICES", out)?;
    let regexp_index = f.next;
    f.string_into("NAPTR REGEXP", out)?;
    if let Some(t) = f.toks.get(regexp_index)
        && lone_backslash(f.text(t))
    {
        notes.push((regexp_index, Note::VanishingBackslash));
    }
    let index = f.next;
    let t = f.take("NAPTR REPLACEMENT")?;
    if t.quoted && t.start == t.end {
        notes.push((index, Note::EmptyQuotedReplacement));
        out.push(0);
    } else {
        out.extend_from_slice(parse_name(f.buf, &t, f.origin)?.as_wire());
    }
    Ok(())
}

/// A number or a mnemonic from `table`.
fn number_or<T>(
    f: &mut Fields<'_>,
    what: &str,
    max: u32,
    lookup: fn(&[u8]) -> Option<T>,
) -> Result<u32, Problem>
where
    u32: From<T>,
{
    let t = f.toks.get(f.next).copied();
    if let Some(t) = t
        && !f.text(&t).first().is_some_and(u8::is_ascii_digit)
    {
        f.next += 1;
        return lookup(f.text(&t)).map(u32::from).ok_or_else(|| {
            Problem::at(
                &t,
                format!(
                    "{what} {:?} is not a number or a known mnemonic",
                    word_str(f, &t)
                ),
            )
            .hint("write the number (IANA DNSSEC registries)")
        });
    }
    f.number(what, max)
}

/// The gateway of IPSECKEY (RFC 4025 §2.5) and the relay of AMTRELAY (RFC 8777 §4.2.3), both
/// typed by the field before them: 0 none (written `.`), 1 an IPv4 address, 2 an IPv6 address,
/// 3 a domain name. `tok` is the field, already taken; `kind` is at most 3 (the caller checks).
fn gateway(
    f: &mut Fields<'_>,
    out: &mut Vec<u8>,
    kind: u8,
    tok: &Token,
    noun: &str,
    cite: &str,
) -> Result<(), Problem> {
    let address = match kind {
        0 if f.text(tok) == b"." => return Ok(()),
        0 => {
            return Err(Problem::at(
                tok,
                format!("{noun} type 0 needs the {noun} '.' ({cite})"),
            ));
        }
        1 => Field::Ipv4,
        2 => Field::Ipv6,
        _ => {
            out.extend_from_slice(parse_name(f.buf, tok, f.origin)?.as_wire());
            return Ok(());
        }
    };
    // Read the taken token again as an address.
    f.next = f.next.saturating_sub(1);
    parse_field(address, f, out)
}

fn parse_field(field: Field, f: &mut Fields<'_>, out: &mut Vec<u8>) -> Result<(), Problem> {
    match field {
        Field::U8 => out.push(f.u8("8-bit field")?),
        Field::U16 => out.extend_from_slice(&f.u16("16-bit field")?.to_be_bytes()),
        Field::U32 => out.extend_from_slice(&f.number("32-bit field", u32::MAX)?.to_be_bytes()),
        Field::Period => out.extend_from_slice(&f.ttl("time field")?.to_be_bytes()),
        Field::Alg => {
            let v = number_or(f, "algorithm", 255, algorithm_number)?;
            out.push(u8::try_from(v).unwrap_or(u8::MAX));
        }
        Field::Digest => {
            let v = number_or(f, "digest type", 255, digest_number)?;
            out.push(u8::try_from(v).unwrap_or(u8::MAX));
        }
        Field::CertType => {
            let v = number_or(f, "certificate type", 65_535, cert_type_number)?;
            out.extend_from_slice(&u16::try_from(v).unwrap_or(u16::MAX).to_be_bytes());
        }
        Field::Name => out.extend_from_slice(f.name("domain name")?.as_wire()),
        Field::Str => f.string_into("character-string", out)?,
        Field::Strs => {
            f.string_into("character-string", out)?;
            while f.more() {
                f.string_into("character-string", out)?;
            }
        }
        Field::OptStr => {
            if f.more() {
                f.string_into("character-string", out)?;
            }
        }
        Field::Ipv4 => {
            let t = f.take("IPv4 address")?;
            let a: Ipv4Addr = word_str(f, &t)
                .parse()
                .map_err(|_| Problem::at(&t, "invalid IPv4 address"))?;
            out.extend_from_slice(&a.octets());
        }
        Field::Ipv6 => {
            let t = f.take("IPv6 address")?;
            let a: Ipv6Addr = word_str(f, &t)
                .parse()
                .map_err(|_| Problem::at(&t, "invalid IPv6 address"))?;
            out.extend_from_slice(&a.octets());
        }
        Field::Hex => {
            let (t, text) = f.rest("hex data")?;
            let v = decode_hex(&text)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| Problem::at(&t, "not valid hex (an even number of 0-9a-f)"))?;
            out.extend_from_slice(&v);
        }
        Field::Base64 => out.extend_from_slice(&base64_rest(f)?),
        Field::Base64Opt => {
            if f.more() {
                out.extend_from_slice(&base64_rest(f)?);
            }
        }
        Field::Bitmap => out.extend_from_slice(&encode_type_bitmap(type_list(f, u16::MAX)?)),
        Field::NxtBitmap => {
            let types = type_list(f, 127)?;
            let mut bits = [0u8; 16];
            let mut len = 0usize;
            for ty in types {
                let ty = usize::from(ty);
                bits[ty / 8] |= 0x80 >> (ty % 8);
                len = len.max(ty / 8 + 1);
            }
            out.extend_from_slice(&bits[..len]);
        }
        Field::Covered => {
            let t = f.take("type covered")?;
            let n = type_number(f.text(&t)).ok_or_else(|| {
                Problem::at(
                    &t,
                    format!("unknown type {} in TYPE COVERED", word_str(f, &t)),
                )
                .hint("use a type mnemonic or TYPEnnn")
            })?;
            out.extend_from_slice(&n.to_be_bytes());
        }
        Field::Time => {
            let t = f.take("signature time")?;
            let v = parse_sig_time(f.text(&t)).ok_or_else(|| {
                Problem::at(
                    &t,
                    format!(
                        "signature time {:?} is not YYYYMMDDHHmmSS or 0-4294967295 seconds (RFC 4034 §3.2)",
                        word_str(f, &t)
                    ),
                )
            })?;
            out.extend_from_slice(&v.to_be_bytes());
        }
        Field::Salt => {
            let t = f.take("NSEC3 SALT")?;
            let salt = if f.text(&t) == b"-" {
                Vec::new()
            } else {
                decode_hex(f.text(&t))
                    .filter(|v| !v.is_empty())
                    .ok_or_else(|| {
                        Problem::at(&t, "NSEC3 SALT is not hex or '-' (RFC 5155 §3.3)")
                    })?
            };
            if salt.len() > 255 {
                return Err(Problem::at(&t, "NSEC3 SALT longer than 255 octets"));
            }
            push_string(out, &salt);
        }
        Field::NextHash => {
            let t = f.take("NSEC3 NEXT HASHED OWNER")?;
            let next = decode_base32hex(f.text(&t))
                .filter(|v| !v.is_empty() && v.len() <= 255)
                .ok_or_else(|| {
                    Problem::at(
                        &t,
                        "NSEC3 NEXT HASHED OWNER is not base32hex (RFC 5155 §3.3)",
                    )
                })?;
            push_string(out, &next);
        }
        Field::CaaTag => {
            let t = f.take("CAA TAG")?;
            let tag = f.text(&t);
            if tag.is_empty() || tag.len() > 255 || !tag.iter().all(u8::is_ascii_alphanumeric) {
                return Err(Problem::at(
                    &t,
                    "CAA tag must be 1-255 letters and digits (RFC 8659 §4.1)",
                ));
            }
            push_string(out, tag);
        }
        Field::Rest => {
            let t = f.take("value")?;
            out.extend_from_slice(&decode_string(f.buf, &t, usize::from(u16::MAX))?);
        }
        Field::Eui48 => out.extend_from_slice(&dashed(f, 6, "EUI-48 (RFC 7043 §3.2)")?),
        Field::Eui64 => out.extend_from_slice(&dashed(f, 8, "EUI-64 (RFC 7043 §4.2)")?),
        Field::L64 => {
            let t = f.take("64-bit locator")?;
            let groups: Vec<&[u8]> = f.text(&t).split(|&b| b == b':').collect();
            let bad = || {
                Problem::at(
                    &t,
                    "not a 64-bit locator xxxx:xxxx:xxxx:xxxx (RFC 6742 §2.1)",
                )
            };
            if groups.len() != 4 {
                return Err(bad());
            }
            for g in groups {
                if g.is_empty() || g.len() > 4 {
                    return Err(bad());
                }
                let mut padded = vec![b'0'; 4 - g.len()];
                padded.extend_from_slice(g);
                out.extend_from_slice(&decode_hex(&padded).ok_or_else(bad)?);
            }
        }
        Field::Nsap => {
            let t = f.take("NSAP address")?;
            let raw = f.text(&t);
            let bad = || Problem::at(&t, "NSAP address must be 0x followed by hex (RFC 1706 §5)");
            let hex = raw
                .strip_prefix(b"0x")
                .or_else(|| raw.strip_prefix(b"0X"))
                .ok_or_else(bad)?;
            let digits: Vec<u8> = hex.iter().copied().filter(|&b| b != b'.').collect();
            let v = decode_hex(&digits)
                .filter(|v| !v.is_empty())
                .ok_or_else(bad)?;
            out.extend_from_slice(&v);
        }
        Field::Apl => {
            while f.more() {
                let t = f.take("APL item")?;
                apl_item(f.text(&t), out).map_err(|m| {
                    Problem::at(&t, m).hint("an APL item is [!]1:IPv4/prefix or [!]2:IPv6/prefix")
                })?;
            }
        }
        Field::SvcParams => svc_params(f, out)?,
        Field::Wks => wks(f, out)?,
        Field::Loc => loc(f, out)?,
        Field::IpsecKey => {
            let gt = f.toks.get(f.next).copied().unwrap_or(f.after);
            let gw_type = f.u8("IPSECKEY gateway type")?;
            out.push(gw_type);
            out.push(f.u8("IPSECKEY algorithm")?);
            let gw = f.take("IPSECKEY gateway")?;
            if gw_type > 3 {
                return Err(Problem::at(
                    &gt,
                    format!("IPSECKEY gateway type {gw_type} is not 0-3 (RFC 4025 §2.3)"),
                ));
            }
            gateway(f, out, gw_type, &gw, "gateway", "RFC 4025 §2.5")?;
            if f.more() {
                out.extend_from_slice(&base64_rest(f)?);
            }
        }
        Field::DsyncScheme => {
            let v = number_or(f, "DSYNC scheme", 255, |w: &[u8]| {
                w.eq_ignore_ascii_case(b"NOTIFY").then_some(1u8)
            })?;
            out.push(u8::try_from(v).unwrap_or(u8::MAX));
        }
        Field::DoaData => {
            let t = f.take("DOA data")?;
            if f.text(&t) != b"-" {
                f.next -= 1;
                out.extend_from_slice(&base64_rest(f)?);
            }
        }
        Field::AmtRelay => {
            let d = f.u8("AMTRELAY discovery-optional bit")?;
            let dt = f.toks.get(f.next).copied().unwrap_or(f.after);
            let ty = f.u8("AMTRELAY type")?;
            if d > 1 || ty > 3 {
                return Err(Problem::at(
                    &dt,
                    "AMTRELAY D is 0 or 1 and type 0-3 (RFC 8777 §4.2)",
                ));
            }
            out.push((d << 7) | ty);
            let relay = f.take("AMTRELAY relay")?;
            gateway(f, out, ty, &relay, "relay", "RFC 8777 §4.2.3")?;
        }
        Field::Atma => {
            let t = f.take("ATMA address")?;
            let raw: Vec<u8> = f.text(&t).iter().copied().filter(|&b| b != b'.').collect();
            if let Some(digits) = raw.strip_prefix(b"+") {
                if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
                    return Err(Problem::at(&t, "ATMA E.164 address is '+' and digits"));
                }
                out.push(1);
                out.extend_from_slice(digits);
            } else {
                let v = decode_hex(&raw)
                    .filter(|v| !v.is_empty())
                    .ok_or_else(|| Problem::at(&t, "ATMA address is not +E.164 or NSAP hex"))?;
                out.push(0);
                out.extend_from_slice(&v);
            }
        }
        Field::A6 => {
            let pt = f.toks.get(f.next).copied().unwrap_or(f.after);
            let plen = f.u8("A6 prefix length")?;
            if plen > 128 {
                return Err(Problem::at(
                    &pt,
                    "A6 prefix length over 128 (RFC 2874 §3.1)",
                ));
            }
            out.push(plen);
            let at = f.take("A6 address suffix")?;
            let a: Ipv6Addr = word_str(f, &at)
                .parse()
                .map_err(|_| Problem::at(&at, "invalid IPv6 address"))?;
            let n = 16 - usize::from(plen) / 8;
            out.extend_from_slice(&a.octets()[16 - n..]);
            if plen > 0 {
                out.extend_from_slice(f.name("A6 prefix name")?.as_wire());
            }
        }
        Field::Hip => {
            let alg = f.u8("HIP PK algorithm")?;
            let ht = f.take("HIP HIT")?;
            let hit = decode_hex(f.text(&ht))
                .filter(|v| !v.is_empty() && v.len() <= 255)
                .ok_or_else(|| {
                    Problem::at(&ht, "HIP HIT is not 1-255 octets of hex (RFC 8005 §5)")
                })?;
            let pt = f.take("HIP public key")?;
            let pk = decode_base64(f.text(&pt))
                .filter(|v| !v.is_empty() && v.len() <= usize::from(u16::MAX))
                .ok_or_else(|| Problem::at(&pt, "HIP public key is not base64 (RFC 8005 §5)"))?;
            out.push(u8::try_from(hit.len()).unwrap_or(u8::MAX));
            out.push(alg);
            out.extend_from_slice(&u16::try_from(pk.len()).unwrap_or(u16::MAX).to_be_bytes());
            out.extend_from_slice(&hit);
            out.extend_from_slice(&pk);
            while f.more() {
                out.extend_from_slice(f.name("HIP rendezvous server")?.as_wire());
            }
        }
    }
    Ok(())
}

fn base64_rest(f: &mut Fields<'_>) -> Result<Vec<u8>, Problem> {
    let (t, text) = f.rest("base64 data")?;
    decode_base64(&text)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| Problem::at(&t, "not valid base64 (RFC 4648 §4)"))
}

/// Type mnemonics to the end of the RDATA (type bitmaps), each at most `max`.
fn type_list(f: &mut Fields<'_>, max: u16) -> Result<Vec<u16>, Problem> {
    let mut types = Vec::new();
    while let Some(t) = f.toks.get(f.next).copied() {
        f.next += 1;
        let word = f.text(&t);
        // BIND reads bare type numbers in type lists too (`NSEC . ( 127 )`).
        let bare = std::str::from_utf8(word)
            .ok()
            .filter(|w| w.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|w| w.parse::<u16>().ok());
        let n = bare
            .or_else(|| type_number(word))
            .filter(|&n| n <= max)
            .ok_or_else(|| {
                Problem::at(
                    &t,
                    format!("unknown type {} in the type list", word_str(f, &t)),
                )
                .hint("use a type mnemonic or TYPEnnn")
            })?;
        types.push(n);
    }
    Ok(types)
}

/// `xx-xx-…` with `n` groups of two hex digits.
fn dashed(f: &mut Fields<'_>, n: usize, what: &str) -> Result<Vec<u8>, Problem> {
    let t = f.take(what)?;
    let raw = f.text(&t);
    let groups: Vec<&[u8]> = raw.split(|&b| b == b'-').collect();
    let v: Option<Vec<u8>> = (groups.len() == n && groups.iter().all(|g| g.len() == 2))
        .then(|| groups.iter().map(|g| decode_hex(g).map(|b| b[0])).collect())
        .flatten();
    v.ok_or_else(|| Problem::at(&t, format!("not an {what}: {n} dash-separated hex pairs")))
}

/// One APL item (RFC 3123 §5): `[!]afi:address/prefix`, the address without trailing zero
/// octets on the wire (§4.1).
fn apl_item(raw: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
    let (neg, rest) = match raw.strip_prefix(b"!") {
        Some(r) => (true, r),
        None => (false, raw),
    };
    let text = std::str::from_utf8(rest).map_err(|_| "not ASCII".to_owned())?;
    let (afi, rest) = text.split_once(':').ok_or("missing ':' after the family")?;
    let (addr, prefix) = rest.split_once('/').ok_or("missing '/prefix'")?;
    let prefix: u8 = prefix.parse().map_err(|_| "prefix is not a number")?;
    let (afi, bytes): (u16, Vec<u8>) = match afi {
        "1" => {
            let a: Ipv4Addr = addr.parse().map_err(|_| "invalid IPv4 address")?;
            if prefix > 32 {
                return Err("IPv4 prefix over 32".into());
            }
            (1, a.octets().to_vec())
        }
        "2" => {
            let a: Ipv6Addr = addr.parse().map_err(|_| "invalid IPv6 address")?;
            if prefix > 128 {
                return Err("IPv6 prefix over 128".into());
            }
            (2, a.octets().to_vec())
        }
        _ => return Err(format!("address family {afi} is not 1 or 2")),
    };
    let len = bytes.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1);
    out.extend_from_slice(&afi.to_be_bytes());
    out.push(prefix);
    // len ≤ 16.
    out.push(u8::try_from(len).unwrap_or(0) | if neg { 0x80 } else { 0 });
    out.extend_from_slice(&bytes[..len]);
    Ok(())
}

/// SvcParams (RFC 9460 §2.1): `key`, `key=value` or `key="value"`; written in any order, stored
/// sorted by key, each key once.
fn svc_params(f: &mut Fields<'_>, out: &mut Vec<u8>) -> Result<(), Problem> {
    let mut params: Vec<(u16, Vec<u8>, Token)> = Vec::new();
    while let Some(t) = f.toks.get(f.next).copied() {
        f.next += 1;
        let raw = f.text(&t).to_vec();
        let (key_text, value): (&[u8], Option<Vec<u8>>) = match raw.iter().position(|&b| b == b'=')
        {
            None => (&raw[..], None),
            Some(eq) => {
                let (k, v) = (&raw[..eq], &raw[eq + 1..]);
                if v.is_empty() {
                    // `key="value"`: the tokenizer split the quoted value off.
                    match f.toks.get(f.next).copied() {
                        Some(q) if q.quoted => {
                            f.next += 1;
                            (k, Some(decode_string(f.buf, &q, usize::from(u16::MAX))?))
                        }
                        _ => (k, Some(Vec::new())),
                    }
                } else {
                    let vt = Token {
                        start: t.start + eq + 1,
                        ..t
                    };
                    (k, Some(decode_string(f.buf, &vt, usize::from(u16::MAX))?))
                }
            }
        };
        let key = rdata::svc_key_number(key_text).ok_or_else(|| {
            Problem::at(
                &t,
                format!("unknown SvcParamKey {:?}", String::from_utf8_lossy(key_text)),
            )
            .hint("use mandatory, alpn, no-default-alpn, port, ipv4hint, ech, ipv6hint, dohpath, ohttp or keyNNNN (RFC 9460 §14.3.2)")
        })?;
        let wire = svc_value(key, value.as_deref()).map_err(|m| Problem::at(&t, m))?;
        rdata::check_svc_value(key, &wire).map_err(|m| Problem::at(&t, m))?;
        if params.iter().any(|(k, _, _)| *k == key) {
            return Err(Problem::at(&t, "SvcParamKey given twice (RFC 9460 §2.2)"));
        }
        params.push((key, wire, t));
    }
    params.sort_by_key(|(k, _, _)| *k);
    if let Some((_, m, t)) = params.iter().find(|(k, _, _)| *k == 0) {
        let keys: Vec<u16> = params.iter().map(|(k, _, _)| *k).collect();
        rdata::check_mandatory_present(m, &keys).map_err(|msg| Problem::at(t, msg))?;
    }
    for (key, v, t) in params {
        let len = u16::try_from(v.len())
            .map_err(|_| Problem::at(&t, "SvcParamValue longer than 65535 octets"))?;
        out.extend_from_slice(&key.to_be_bytes());
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&v);
    }
    Ok(())
}

/// One SvcParamValue from text to wire (RFC 9460 §7, RFC 9461 §5).
fn svc_value(key: u16, value: Option<&[u8]>) -> Result<Vec<u8>, String> {
    let v = value.unwrap_or(b"");
    let need = |ok: bool| {
        if ok {
            Ok(())
        } else {
            Err(format!(
                "SvcParam {} needs a value",
                rdata::svc_key_name(key)
            ))
        }
    };
    let mut out = Vec::new();
    match key {
        0 => {
            need(!v.is_empty())?;
            let mut keys = Vec::new();
            for k in v.split(|&b| b == b',') {
                keys.push(rdata::svc_key_number(k).ok_or_else(|| {
                    format!("unknown key {:?} in mandatory", String::from_utf8_lossy(k))
                })?);
            }
            keys.sort_unstable();
            for k in keys {
                out.extend_from_slice(&k.to_be_bytes());
            }
        }
        1 => {
            need(!v.is_empty())?;
            for id in rdata::split_value_list(v) {
                let l = u8::try_from(id.len())
                    .ok()
                    .filter(|&l| l > 0)
                    .ok_or("alpn ids are 1-255 octets")?;
                out.push(l);
                out.extend_from_slice(&id);
            }
        }
        2 | 8 => {
            if value.is_some_and(|v| !v.is_empty()) {
                return Err("no-default-alpn and ohttp take no value".into());
            }
        }
        3 => {
            let p: u16 = std::str::from_utf8(v)
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or("port must be 0-65535")?;
            out.extend_from_slice(&p.to_be_bytes());
        }
        4 | 6 => {
            need(!v.is_empty())?;
            for a in v.split(|&b| b == b',') {
                let s = std::str::from_utf8(a).map_err(|_| "invalid address")?;
                if key == 4 {
                    let ip: Ipv4Addr = s
                        .parse()
                        .map_err(|_| format!("invalid IPv4 address {s:?}"))?;
                    out.extend_from_slice(&ip.octets());
                } else {
                    let ip: Ipv6Addr = s
                        .parse()
                        .map_err(|_| format!("invalid IPv6 address {s:?}"))?;
                    out.extend_from_slice(&ip.octets());
                }
            }
        }
        5 => {
            need(!v.is_empty())?;
            out = decode_base64(v).ok_or("ech is not base64")?;
        }
        _ => out.extend_from_slice(v),
    }
    Ok(out)
}

/// WKS (RFC 1035 §3.4.2): protocol (number, `tcp` or `udp`), then services by number or by a few
/// well-known names (BIND looks names up in the system's services database; numbers are portable).
fn wks(f: &mut Fields<'_>, out: &mut Vec<u8>) -> Result<(), Problem> {
    let t = f.take("WKS protocol")?;
    let proto = match f.text(&t).to_ascii_lowercase().as_slice() {
        b"tcp" => 6,
        b"udp" => 17,
        _ => {
            f.next -= 1;
            f.u8("WKS protocol")?
        }
    };
    out.push(proto);
    const SERVICES: &[(&str, u16)] = &[
        ("tcpmux", 1),
        ("echo", 7),
        ("discard", 9),
        ("daytime", 13),
        ("ftp-data", 20),
        ("ftp", 21),
        ("ssh", 22),
        ("telnet", 23),
        ("smtp", 25),
        ("domain", 53),
        ("http", 80),
        ("pop3", 110),
        ("ntp", 123),
        ("imap", 143),
        ("https", 443),
    ];
    let mut bits: Vec<u8> = Vec::new();
    while let Some(t) = f.toks.get(f.next).copied() {
        let word = f.text(&t);
        let port = match SERVICES
            .iter()
            .find(|(n, _)| word.eq_ignore_ascii_case(n.as_bytes()))
        {
            Some((_, p)) => {
                f.next += 1;
                *p
            }
            None => f.u16("WKS service port")?,
        };
        let p = usize::from(port);
        if bits.len() <= p / 8 {
            bits.resize(p / 8 + 1, 0);
        }
        bits[p / 8] |= 0x80 >> (p % 8);
    }
    out.extend_from_slice(&bits);
    Ok(())
}

/// LOC (RFC 1876 §3): `d1 [m1 [s1]] N|S d2 [m2 [s2]] E|W alt[m] [siz[m] [hp[m] [vp[m]]]]`.
fn loc(f: &mut Fields<'_>, out: &mut Vec<u8>) -> Result<(), Problem> {
    let lat = loc_coord(f, 90, (b'N', b'S'))?;
    let lon = loc_coord(f, 180, (b'E', b'W'))?;
    let at = f.take("LOC altitude")?;
    let alt = meters(f.text(&at), true)
        .filter(|&cm| (-10_000_000..=4_284_967_295).contains(&cm))
        .ok_or_else(|| Problem::at(&at, "LOC altitude is not -100000.00 to 42849672.95 m"))?;
    let mut prec = [100i64, 1_000_000, 1_000];
    for (i, what) in [
        "LOC size",
        "LOC horizontal precision",
        "LOC vertical precision",
    ]
    .into_iter()
    .enumerate()
    {
        if !f.more() {
            break;
        }
        let t = f.take(what)?;
        prec[i] = meters(f.text(&t), false)
            .filter(|&cm| cm <= 9_000_000_000)
            .ok_or_else(|| Problem::at(&t, format!("{what} is not 0 to 90000000.00 m")))?;
    }
    out.push(0);
    for cm in prec {
        out.push(rdata::loc_encode_prec(u64::try_from(cm).unwrap_or(0)).unwrap_or(0x99));
    }
    for v in [lat, lon] {
        out.extend_from_slice(&v.to_be_bytes());
    }
    // Checked range above: 0 ≤ alt + base ≤ u32::MAX.
    let alt = u32::try_from(alt + rdata::LOC_ALT_BASE).unwrap_or(0);
    out.extend_from_slice(&alt.to_be_bytes());
    Ok(())
}

fn loc_coord(f: &mut Fields<'_>, max_deg: i64, hemis: (u8, u8)) -> Result<u32, Problem> {
    let what = if max_deg == 90 {
        "LOC latitude"
    } else {
        "LOC longitude"
    };
    let first = f.take(what)?;
    let bad = |t: &Token| {
        Problem::at(
            t,
            format!(
                "{what}: expected degrees [minutes [seconds]] then {}/{}",
                char::from(hemis.0),
                char::from(hemis.1)
            ),
        )
    };
    let mut parts: Vec<i64> = Vec::with_capacity(3);
    let mut t = first;
    loop {
        let word = f.text(&t).to_ascii_uppercase();
        if word.len() == 1 && (word[0] == hemis.0 || word[0] == hemis.1) && !parts.is_empty() {
            let neg = word[0] == hemis.1;
            let deg = parts[0];
            let min = parts.get(1).copied().unwrap_or(0);
            let ms = parts.get(2).copied().unwrap_or(0);
            if deg > max_deg || min > 59 || ms > 59_999 {
                return Err(bad(&first));
            }
            let total = deg * 3_600_000 + min * 60_000 + ms;
            if total > max_deg * 3_600_000 {
                return Err(bad(&first));
            }
            let v = if neg {
                rdata::LOC_EQUATOR - total
            } else {
                rdata::LOC_EQUATOR + total
            };
            return u32::try_from(v).map_err(|_| bad(&first));
        }
        let v = if parts.len() == 2 {
            // Seconds, up to three decimals, as milliseconds.
            meters_like(&word, 3)
        } else {
            std::str::from_utf8(&word)
                .ok()
                .filter(|s| s.bytes().all(|b| b.is_ascii_digit()) && !s.is_empty() && s.len() <= 3)
                .and_then(|s| s.parse().ok())
        };
        match v {
            Some(v) if parts.len() < 3 => parts.push(v),
            _ => return Err(bad(&t)),
        }
        t = f.take(what)?;
    }
}

/// Decimal with up to `places` fraction digits, scaled by 10^places; `None` if malformed.
fn meters_like(raw: &[u8], places: u32) -> Option<i64> {
    let s = std::str::from_utf8(raw).ok()?;
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.is_empty() && frac.is_empty()
        || int.len() > 10
        || frac.len() > usize::try_from(places).ok()?
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let i: i64 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let mut f: i64 = if frac.is_empty() {
        0
    } else {
        frac.parse().ok()?
    };
    for _ in frac.len()..usize::try_from(places).ok()? {
        f *= 10;
    }
    i.checked_mul(10i64.pow(places))?.checked_add(f)
}

/// LOC metres (`12.34m`, the `m` optional) as centimetres.
fn meters(raw: &[u8], signed: bool) -> Option<i64> {
    let raw = raw
        .strip_suffix(b"m")
        .or_else(|| raw.strip_suffix(b"M"))
        .unwrap_or(raw);
    match raw.strip_prefix(b"-") {
        Some(r) if signed => meters_like(r, 2).map(|v| -v),
        Some(_) => None,
        None => meters_like(raw, 2),
    }
}

/// RRSIG times: `YYYYMMDDHHmmSS` (UTC) or plain seconds (RFC 4034 §3.2), as serial-number
/// seconds. Checked arithmetic throughout: any digit string is input.
pub(super) fn parse_sig_time(raw: &[u8]) -> Option<u32> {
    if !raw.iter().all(u8::is_ascii_digit) || raw.is_empty() {
        return None;
    }
    let num = |s: &[u8]| {
        s.iter().try_fold(0i64, |a, d| {
            a.checked_mul(10)?.checked_add(i64::from(d - b'0'))
        })
    };
    if raw.len() == 14 {
        let (y, mo, d) = (num(&raw[0..4])?, num(&raw[4..6])?, num(&raw[6..8])?);
        let (h, mi, s) = (num(&raw[8..10])?, num(&raw[10..12])?, num(&raw[12..14])?);
        if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
            return None;
        }
        // y ≤ 9999, so the day count and the seconds stay far inside i64.
        let secs = rdata::days_from_civil(y, mo, d)
            .checked_mul(86_400)?
            .checked_add(h * 3600 + mi * 60 + s)?;
        // Serial-number arithmetic (RFC 1982): the value is taken modulo 2^32.
        return u32::try_from(secs.rem_euclid(1 << 32)).ok();
    }
    if raw.len() > 10 {
        return None;
    }
    u32::try_from(num(raw)?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Severity;
    use crate::rdata::{encode_hex, presentation, validate_wire};
    use crate::reader::read_zone_str;

    /// Reads one `@ 60 <TYPE> <rdata>` record: the wire RDATA, or the first error's column and
    /// message.
    fn one(rr: &str) -> Result<(u16, Vec<u8>), (u32, String)> {
        let origin = DomainName::parse("example.net.").unwrap();
        let o = read_zone_str(&format!("@ 60 {rr}\n"), "t.zone", Some(&origin));
        if let Some(d) = o.diagnostics.iter().find(|d| d.severity == Severity::Error) {
            return Err((d.position.as_ref().unwrap().column, d.message.clone()));
        }
        let r = &o.zone.records[0];
        Ok((r.rtype, r.rdata.clone()))
    }

    /// (type and RDATA text, expected wire hex) for every type the peers read natively and the
    /// reader did not read before (plus mnemonics in the DNSSEC types).
    const VALID: &[(&str, &str)] = &[
        (
            "ZONEMD 2018031900 1 1 ( 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f )",
            "7848b91c0101000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f",
        ),
        (
            "SVCB 1 . alpn=\"h2,h3\" port=8443 ipv4hint=192.0.2.1",
            "000100000100060268320268330003000220fb00040004c0000201",
        ),
        (
            "HTTPS 1 . port=\"8443\" alpn=h2 mandatory=port,alpn no-default-alpn",
            "000100000000040001000300010003026832000200000003000220fb",
        ),
        (
            "HTTPS 0 svc.example.net.",
            "000003737663076578616d706c65036e657400",
        ),
        (
            "SVCB 2 t key65000=\"a b\" ipv6hint=2001:db8::1 ech=AQID",
            "00020174076578616d706c65036e65740000050003010203000600102001\
0db8000000000000000000000001fde80003612062",
        ),
        ("TLSA 3 1 1 0a0B", "0301010a0b"),
        ("SMIMEA 3 1 1 0a0b", "0301010a0b"),
        (
            "LOC 42 21 54 N 71 06 18 W -24m 30m",
            "0033161389172dd070be15f000988d20",
        ),
        (
            "SSHFP 1 1 ( 123456789abcdef67890 123456789abcdef67890 )",
            "0101123456789abcdef67890123456789abcdef67890",
        ),
        ("IPSECKEY 10 1 2 192.0.2.38 AQID", "0a0102c0000226010203"),
        ("IPSECKEY 10 0 2 . AQID", "0a0002010203"),
        (
            "IPSECKEY 10 3 2 gw.example.net.",
            "0a0302026777076578616d706c65036e657400",
        ),
        (
            "DHCID AAIBY2/AuCccgoJbsaxcQc9TUapptP69lOjxfNuVAA2kjEA=",
            "000201636fc0b8271c82825bb1ac5c41cf5351aa69b4febd94e8f17cdb95000da48c40",
        ),
        (
            "URI 10 1 \"ftp://ftp1.example.com/public\"",
            "000a00016674703a2f2f667470312e6578616d706c652e636f6d2f7075626c6963",
        ),
        (
            "RP mbox txt",
            "046d626f78076578616d706c65036e657400037478740765\
78616d706c65036e657400",
        ),
        (
            "AFSDB 1 afs",
            "0001036166730765\
78616d706c65036e657400",
        ),
        ("KX 10 kx.", "000a026b7800"),
        ("CERT PGP 0 0 AQID", "0003000000010203"),
        ("CERT 1 2 RSASHA256 AQID", "0001000208010203"),
        (
            "HIP 2 200100107B1A74DF365639CC39F1D578 AQID rvs.example.com.",
            "100200032001\
00107b1a74df365639cc39f1d578010203037276730765\
78616d706c6503636f6d00",
        ),
        ("CSYNC 66 3 A NS AAAA", "000000420003000460000008"),
        ("OPENPGPKEY AQID", "010203"),
        (
            "APL 1:192.168.32.0/21 !1:192.168.38.0/28 2:ff00::/8",
            "00011503c0a82000011c83c0a82600020801ff",
        ),
        ("APL", ""),
        ("RT 0 relay.", "00000572656c617900"),
        ("EUI48 00-00-5e-00-53-2a", "00005e00532a"),
        ("EUI64 00-00-5e-ef-10-00-00-2a", "00005eef1000002a"),
        ("L32 10 10.1.2.0", "000a0a010200"),
        ("L64 10 2001:0DB8:1140:1000", "000a20010db811401000"),
        ("NID 10 0014:4fff:ff20:ee64", "000a00144fffff20ee64"),
        ("LP 10 l64.", "000a036c363400"),
        ("KEY 256 3 RSASHA1 AQID", "01000305010203"),
        ("KEY 49152 3 5", "c0000305"),
        ("WKS 192.0.2.1 6 25 80", "c0000201060000004000000000000080"),
        ("WKS 192.0.2.1 tcp smtp", "c00002010600000040"),
        (
            "NSAP 0x47.0005.80.005a00.0000.0001.e133.ffffff000162.00",
            "47000580005a0000000001e133ffffff00016200",
        ),
        (
            "NXT medium.example. A MX SIG NXT",
            "066d656469756d076578616d706c65004001\
0082",
        ),
        (
            "SIG A 5 2 3600 20300101000000 20200101000000 1234 example.net. AQID",
            "0001050200000e1070dbd8805e0be10004d2076578616d706c65036e657400010203",
        ),
        (
            "RRSIG KEY RSASHA1 2 3600 20300101000000 20200101000000 1234 example.net. AQID",
            "0019050200000e1070dbd8805e0be10004d2076578616d706c65036e657400010203",
        ),
        (
            "DS 1 ECDSAP256SHA256 SHA-256 ( 000102030405060708090a0b0c0d0e0f \
101112131415161718191a1b1c1d1e1f )",
            "00010d02000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
        ),
        ("CDS 0 0 0 00", "0000000000"),
        ("CDNSKEY 0 3 0 AA==", "0000030000"),
        (
            "CAA 128 tbs \"Unknown\"",
            "80037462735\
56e6b6e6f776e",
        ),
        ("NSEC3PARAM 1 0 10 -", "0100000a00"),
        ("TYPE65280 \\# 2 abcd", "abcd"),
        ("EID 3141 5926 5358 9793", "3141592653589793"),
        ("ATMA +358.400.1234567", "0133353834303031323334353637"),
        (
            "ATMA 39.246f.00.0e7c9c.0312.0001.0001.000012345678.00",
            "0039246f000e7c9c0312000100010000123456780 0",
        ),
        ("A6 0 ::1", "0000000000000000000000000000000001"),
        ("A6 64 ::1 pfx.", "400000000000000001037066780 0"),
        (
            "DSYNC CDS NOTIFY 5360 scanner.",
            "003b0114f0077363616e6e657200",
        ),
        ("DOA 0 1 2 \"\" bWFpbA==", "0000000000000001020 06d61696c"),
        (
            "DOA 0 100000 200 example/nothing -",
            "00000000000186a0c80f6578616d706c652f6e6f7468696e67",
        ),
        ("AMTRELAY 10 0 1 203.0.113.15", "0a01cb00710f"),
        (
            "AMTRELAY 128 1 3 amtrelays.example.com.",
            "808309616d7472656c61797307 6578616d706c6503636f6d00",
        ),
        ("WALLET BCH 1Pd", "0342434803315064"),
        ("NXT . ( 127 )", "0000000000000000000000000000000001"),
        ("NSEC . ( 127 A )", "00001040000000000000000000000000000001"),
        ("TXT \\# text", "01230474657874"),
        ("WKS 10.0.0.1 tcp 0 tcpmux 2 ftp", "0a00000106e00004"),
        ("HHIT AQID", "010203"),
        ("UID 5", "00000005"),
    ];

    #[test]
    fn every_type_reads_to_its_wire_form_and_back() {
        let mut wrong = Vec::new();
        for (rr, want) in VALID {
            let want: String = want.chars().filter(|c| !c.is_whitespace()).collect();
            match one(rr) {
                Ok((_, wire)) if encode_hex(&wire) == want => {}
                other => wrong.push(format!(
                    "{rr}: {other:?} = {:?}",
                    other.as_ref().map(|w| encode_hex(&w.1))
                )),
            }
        }
        assert!(wrong.is_empty(), "{wrong:#?}");
        for (rr, _) in VALID {
            let (t, wire) = one(rr).unwrap();
            assert_eq!(validate_wire(t, &wire), Ok(()), "{rr}");
            // RFC 3597 §5 form of the same data, under the mnemonic: same octets.
            let name = rr.split(' ').next().unwrap();
            let generic = format!("{name} \\# {} {}", wire.len(), encode_hex(&wire));
            let generic = generic.trim_end();
            assert_eq!(one(generic).map(|r| r.1), Ok(wire.clone()), "{generic}");
            // Text → wire → our text → wire.
            let (ty, text) = presentation(t, &wire);
            let again = format!("{ty} {text}");
            assert_eq!(
                one(&again).map(|r| r.1),
                Ok(wire.clone()),
                "{rr} -> {again}"
            );
            // The native form too, where the writer would use generic (types Knot lacks).
            if let Some(native) = rdata::native_text(t, &wire) {
                let again = format!("{} {native}", type_name(t));
                assert_eq!(one(&again).map(|r| r.1), Ok(wire), "{rr} -> {again}");
            } else {
                assert!(!rdata::is_known(t), "{rr}");
            }
        }
    }

    /// Outside class IN the layouts do not apply (CHAOS A is a name and a 16-bit address): any
    /// generic data is kept, and the writer keeps it generic.
    #[test]
    fn other_classes_take_any_generic_data() {
        let origin = DomainName::parse("example.net.").unwrap();
        let o = read_zone_str("@ 60 CH A \\# 5 0161000001\n", "t.zone", Some(&origin));
        assert!(!o.has_errors(), "{:?}", o.diagnostics);
        let line = crate::master::record_line(&o.zone.records[0]);
        assert_eq!(line, "example.net. 60 CLASS3 TYPE1 \\# 5 0161000001");
        let o = read_zone_str("@ 60 CH A \\# 4 01020304\n", "t.zone", Some(&origin));
        let line = crate::master::record_line(&o.zone.records[0]);
        assert_eq!(line, "example.net. 60 CLASS3 TYPE1 \\# 4 01020304");
    }

    /// (record, column of the error, part of the message).
    const INVALID: &[(&str, u32, &str)] = &[
        ("EUI48 00-00-5e-00-53", 12, "EUI-48"),
        ("TLSA 3 1 1 xyz", 17, "hex"),
        ("SVCB 1 . alpn", 15, "alpn"),
        ("SVCB 1 . port=1 port=2", 22, "twice"),
        ("SVCB 1 . foo=1", 15, "unknown SvcParamKey"),
        ("SVCB 0 . mandatory=alpn", 15, "mandatory lists alpn"),
        ("SVCB \\# 7 0001 00 0005 0000", 16, "not valid SVCB"),
        ("SVCB \\# 9 0000000000000200 01", 16, "mandatory lists alpn"),
        ("LOC 91 0 0 N 0 E 0m", 10, "latitude"),
        ("DS 1 13 2 0a0b", 16, "digest of 2 octets"),
        ("DS 1 13 SHA-999 0a0b", 14, "digest type"),
        (
            "RRSIG A NOSUCHALG 2 60 20300101000000 20200101000000 1 . AQID",
            14,
            "algorithm",
        ),
        ("SSHFP 1 1 0a0b", 16, "digest of 2 octets"),
        ("APL 3:1.2.3.4/8", 10, "family"),
        ("L64 10 2001:db8", 13, "locator"),
        ("NSAP 47.0005", 11, "NSAP"),
        ("IPSECKEY 10 4 2 . AQID", 18, "gateway type"),
        ("URI 10 1", 13, "missing"),
        ("CSYNC 1 0 NOSUCHTYPE", 16, "unknown type"),
        ("NXT a. CAA", 13, "unknown type"),
        ("NULL 1", 11, "no presentation format"),
        ("TYPE65280 1", 16, "generic form"),
        // RFC 3597 §5: generic data of a known type must be that type's RDATA.
        ("A \\# 3 c00002", 13, "not valid A data"),
        ("MX \\# 3 000a05", 14, "not valid MX data"),
        ("NSEC3PARAM \\# 3 010000", 22, "not valid NSEC3PARAM"),
        ("TXT \\# 0", 10, "not valid TXT"),
        ("SVCB \\# 7 0001000003000a", 16, "not valid SVCB"),
        ("CAA \\# 3 000100", 15, "not valid CAA"),
        ("IN A \\# 2 0102", 16, "not valid A"),
    ];

    #[test]
    fn invalid_rdata_is_an_error_at_its_field() {
        let mut wrong = Vec::new();
        for (rr, col, msg) in INVALID {
            match one(rr) {
                Err((c, m)) if c == *col && m.contains(msg) => {}
                other => wrong.push(format!("{rr}: {other:?}")),
            }
        }
        assert!(wrong.is_empty(), "{wrong:#?}");
    }

    /// A fuzzer found that a long digit string as RRSIG time overflowed the i64 accumulator
    /// (a panic in debug builds, a wrong time in release): now `None`, and the record an error.
    #[test]
    fn parse_sig_time_i64_overflow_on_long_digit_strings() {
        let long = "9".repeat(30);
        assert_eq!(parse_sig_time(long.as_bytes()), None);
        assert_eq!(parse_sig_time(b"4294967295"), Some(u32::MAX));
        assert_eq!(parse_sig_time(b"4294967296"), None);
        assert_eq!(parse_sig_time(b"99999999999999"), None);
        // 9999-12-31 23:59:59 is 253,402,300,799 s; RFC 1982 serial arithmetic keeps it mod 2^32.
        assert_eq!(parse_sig_time(b"99991231235959"), Some(4_294_197_631));
        let rr = format!("RRSIG A 13 2 60 {long} 20200101000000 1 . AQID");
        let (col, msg) = one(&rr).unwrap_err();
        assert_eq!(col, 22, "{msg}");
        assert!(msg.contains("signature time"), "{msg}");
    }
}
