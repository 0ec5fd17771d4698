#!/usr/bin/env bash
# Checker benchmark (issue 7): one reverse zone with 1,000,000 NAPTR records, checked by
# altodisc (all rules), kzonecheck (Knot), named-checkzone (BIND) and nsd-checkzone (NSD).
# Prints wall time and peak RSS side by side, measured with /usr/bin/time -v. Run on demand:
#
#   bench/checker/run.sh [RECORDS]        # default 1000000
#
# Needs: /usr/bin/time (package time), kzonecheck (knot-dnssecutils), named-checkzone
# (bind9-utils), nsd-checkzone (nsd). Builds altodisc in release mode.
set -euo pipefail
cd "$(dirname "$0")/../.."
N="${1:-1000000}"
ORIGIN="10.in-addr.arpa."
WORK="$(mktemp -d /tmp/altodisc-checker-bench.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
ZONE="$WORK/$ORIGIN""zone"

echo "generating $N NAPTR records in $ZONE"
python3 - "$N" "$ZONE" "$ORIGIN" <<'PY'
import sys
n, path, origin = int(sys.argv[1]), sys.argv[2], sys.argv[3]
with open(path, "w") as f:
    f.write(f"$ORIGIN {origin}\n$TTL 3600\n")
    f.write("@ SOA ns1.example.net. hostmaster.example.net. 1 7200 900 1209600 300\n")
    f.write("@ NS ns1.example.net.\n")
    for i in range(n):
        b, c, d = (i >> 16) & 255, (i >> 8) & 255, i & 255
        f.write(f'{d}.{c}.{b} NAPTR 100 10 "u" "ALTO:https" "!.*!https://alto{i % 97}.example.net/ird!" .\n')
PY
ls -l "$ZONE"

cargo build --release --locked --bin altodisc >/dev/null
ALTODISC="$PWD/target/release/altodisc"

# name, command... ; runs it RUNS times and prints "name exit median_wall_s peak_rss_mib"
# (the machine is shared: the median of three is steadier than one run).
RUNS="${RUNS:-3}"
measure() {
  local name="$1"; shift
  if ! command -v "$1" >/dev/null 2>&1 && [ ! -x "$1" ]; then
    printf '%-16s %6s %10s %8s %12s  (%s not installed)\n' "$name" "-" "-" "-" "-" "$1"
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
  printf '%-16s %6s %10s %8s %12s\n' "$name" "$code" "$median" "$cpu" "$(awk -v k="$rss" 'BEGIN {printf "%.1f", k/1024}')"
}

echo
printf '%-16s %6s %10s %8s %12s\n' "tool" "exit" "wall (s)*" "CPU (s)*" "peak RSS MiB"
measure altodisc "$ALTODISC" check --format json "$ZONE"
measure kzonecheck kzonecheck -o "$ORIGIN" "$ZONE"
measure named-checkzone named-checkzone -q "$ORIGIN" "$ZONE"
measure nsd-checkzone nsd-checkzone "$ORIGIN" "$ZONE"
echo
echo "* median of $RUNS runs (CPU = user + system; altodisc reads and checks on two threads); peak RSS is the maximum over the runs (/usr/bin/time -v)"
echo "altodisc summary: $(grep -A5 '"summary"' "$WORK/altodisc.out" | tr -d ' \n')"
