#!/usr/bin/env bash
# Checker benchmark: three zones of 1,000,000 records each (bench/checker/gen_zone.py), checked by
# altodisc (all rules), kzonecheck (Knot), named-checkzone (BIND) and nsd-checkzone (NSD), all in
# one run. Prints one Markdown table: wall time and CPU (median of RUNS runs), peak RSS (maximum
# over the runs, /usr/bin/time -v) and both as a ratio to kzonecheck on the same zone.
#
#   bench/checker/run.sh [RECORDS]        # default 1000000; RUNS=3 by default
#
# Zones: "distinct" NAPTR (every RDATA distinct: 80 % "u" records with their own URI, 20 %
# non-terminal records with their own replacement), "repeated" NAPTR (97 URIs over and over),
# "ordinary" forward zone (A, AAAA, TXT, MX, NS, CNAME).
#
# Needs: python3, /usr/bin/time (package time), kzonecheck (knot-dnssecutils), named-checkzone
# (bind9-utils), nsd-checkzone (nsd). Builds altodisc in release mode.
set -euo pipefail
cd "$(dirname "$0")/../.."
N="${1:-1000000}"
RUNS="${RUNS:-3}"
WORK="$(mktemp -d /tmp/altodisc-checker-bench.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT

cargo build --release --locked --bin altodisc >/dev/null
ALTODISC="$PWD/target/release/altodisc"

# measure NAME CMD... -> "exit wall cpu rss_kib" (median wall and CPU of RUNS runs, max RSS).
measure() {
  local name="$1"; shift
  if ! command -v "$1" >/dev/null 2>&1 && [ ! -x "$1" ]; then
    echo "- - - -"
    return
  fi
  local log="$WORK/$name.time" code=0 walls=() cpus=() rss=0 i w r
  for ((i = 0; i < RUNS; i++)); do
    code=0
    /usr/bin/time -v "$@" >"$WORK/$name.out" 2>"$log" || code=$?
    w=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$log" \
      | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
    r=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$log")
    walls+=("$w")
    cpus+=("$(awk -F': ' '/User time|System time/ {s += $2} END {printf "%.2f", s}' "$log")")
    [ "$r" -gt "$rss" ] && rss="$r"
  done
  local median cpu
  median=$(printf '%s\n' "${walls[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  cpu=$(printf '%s\n' "${cpus[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  echo "$code $median $cpu $rss"
}

ROWS="$WORK/rows"
: >"$ROWS"
for kind in distinct repeated ordinary; do
  case "$kind" in
    ordinary) ORIGIN="example.net." ;;
    *) ORIGIN="10.in-addr.arpa." ;;
  esac
  # Named <origin>.zone, the name `altodisc check` takes the origin from (as --origin would).
  mkdir -p "$WORK/$kind"
  ZONE="$WORK/$kind/$ORIGIN""zone"
  python3 bench/checker/gen_zone.py "$kind" "$N" "$ZONE" "$ORIGIN"
  echo "zone $kind: $(wc -l <"$ZONE") lines, $(du -m "$ZONE" | cut -f1) MB" >&2
  kz=$(measure kzonecheck kzonecheck -o "$ORIGIN" "$ZONE")
  echo "$kind kzonecheck $kz $kz" >>"$ROWS"
  echo "$kind altodisc $(measure altodisc "$ALTODISC" check --format json "$ZONE") $kz" >>"$ROWS"
  echo "  altodisc summary: $(grep -A5 '"summary"' "$WORK/altodisc.out" | tr -d ' \n')" >&2
  echo "$kind named-checkzone $(measure named-checkzone named-checkzone -q "$ORIGIN" "$ZONE") $kz" >>"$ROWS"
  echo "$kind nsd-checkzone $(measure nsd-checkzone nsd-checkzone "$ORIGIN" "$ZONE") $kz" >>"$ROWS"
  rm -f "$ZONE"
done

echo
echo "| zone ($N records) | tool | exit | wall (s) | CPU (s) | max RSS (MiB) | wall / kzonecheck | RSS / kzonecheck |"
echo "|---|---|---:|---:|---:|---:|---:|---:|"
awk '{
  if ($4 == "-") { printf "| %s | %s | - | - | - | - | - | - |  (not installed)\n", $1, $2; next }
  printf "| %s | %s | %s | %.2f | %.2f | %.1f | %.2f | %.2f |\n", $1, $2, $3, $4, $5, $6/1024, \
    ($8 > 0 ? $4/$8 : 0), ($10 > 0 ? $6/$10 : 0)
}' "$ROWS"
echo
echo "wall and CPU: median of $RUNS runs (CPU = user + system; altodisc reads and checks on two threads);"
echo "max RSS: the largest of the runs (/usr/bin/time -v). altodisc runs with all rules and --format json."
