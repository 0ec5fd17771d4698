#!/bin/sh
# Re-signs the signed fixtures of the checker corpus with real keys, so that rule Z20b (which
# verifies every signature and the NSEC chain, as ldns-verify-zone does) finds in them only what
# each fixture is meant to show.
#
# Each signed fixture is in two parts. Above the line
#     ; ---- DNSSEC records made by tests/checker/sign-fixtures.sh; do not edit below ----
# are the hand-written records (what the fixture tests). Below it are the DNSKEY, RRSIG and NSEC
# records that ldns-signzone makes for them: one fresh ECDSAP256SHA256 key (algorithm 13, flags
# 257) per run, signatures valid from 2026-01-01 to 2036-01-01. Edit the part above the line,
# then run this script from anywhere:  sh tests/checker/sign-fixtures.sh
# and review the diff, then ALTODISC_BLESS=1 cargo test -p altodisc-zone --test integration corpus
# if the positions moved. The keys are thrown away: nothing is ever signed with them again.
#
# Two fixtures are damaged on purpose after signing:
#   41-z20b-missing-rrsig: the RRSIG over the apex NAPTR RRset is left out;
#   42-z20b-expired-rrsig: the apex NAPTR RRset is signed for January 2020 only (expired).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
marker='; ---- DNSSEC records made by tests/checker/sign-fixtures.sh; do not edit below ----'
inception=20260101000000
expiration=20360101000000
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for f in "$here"/*.zone; do
    grep -qxF "$marker" "$f" || continue
    name=$(basename "$f" .zone)
    # The hand-written part, without the marker line and what follows.
    sed "/^; ---- DNSSEC records made by/,\$d" "$f" >"$work/top"
    origin=$(sed -n 's/^\$ORIGIN[[:space:]]*\([^[:space:];]*\).*/\1/p' "$work/top" | head -n 1)
    # ldns reads a NAPTR replacement written "" as a relative name; the checker (and RFC 3403
    # §4.1) read it as the root, which is what is signed.
    sed 's/ ""$/ ./' "$work/top" >"$work/unsigned"
    (cd "$work" && rm -f K*)
    key=$(cd "$work" && ldns-keygen -a ECDSAP256SHA256 -k "$origin")
    (cd "$work" && ldns-signzone -i "$inception" -e "$expiration" -o "$origin" -f "$work/signed" \
        "$work/unsigned" "$key")
    # Only the DNSSEC records: the others are above the marker already.
    awk -F'\t' '$4 == "DNSKEY" || $4 == "RRSIG" || $4 == "NSEC" || $4 == "NSEC3" || $4 == "NSEC3PARAM"' \
        "$work/signed" >"$work/dnssec"
    case "$name" in
    41-z20b-missing-rrsig)
        awk -F'\t' -v o="$origin" '!($1 == o && $4 == "RRSIG" && $5 ~ /^NAPTR /)' \
            "$work/dnssec" >"$work/x" && mv "$work/x" "$work/dnssec"
        ;;
    42-z20b-expired-rrsig)
        (cd "$work" && ldns-signzone -i 20200101000000 -e 20200201000000 -o "$origin" \
            -f "$work/expired" "$work/unsigned" "$key")
        old=$(awk -F'\t' -v o="$origin" '$1 == o && $4 == "RRSIG" && $5 ~ /^NAPTR /' "$work/expired")
        awk -F'\t' -v o="$origin" -v old="$old" \
            '{ if ($1 == o && $4 == "RRSIG" && $5 ~ /^NAPTR /) print old; else print }' \
            "$work/dnssec" >"$work/x" && mv "$work/x" "$work/dnssec"
        ;;
    esac
    # One space between fields (ldns writes tabs) and no trailing blanks.
    { cat "$work/top"; echo "$marker"; tr '\t' ' ' <"$work/dnssec" | sed 's/[[:space:]]*$//'; } >"$f"
    echo "signed $name ($origin, key $key)"
done
