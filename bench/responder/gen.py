#!/usr/bin/env python3
"""Generates the responder benchmark inputs (bench/responder/run calls this).

Zones (origin 10.in-addr.arpa., RFC 1918 space: these never leave loopback):
  small.zone  65,536 R32 names 10.0.C.D  (the "/24-style" zone: 256 /24s, every address published)
  large.zone  1,000,000 R32 names 10.B.C.D, B = 0.. (filled address by address)
Each name has one ALTO NAPTR record. Query files (dnsperf format "name type"):
  mixed-<size>.txt   60 % NAPTR hits, 25 % NXDOMAIN (10.200.x.x), 15 % NODATA (PTR at existing names)
  nx.txt             NXDOMAIN only (latency at 65k vs 1M names)
"""
import random
import sys

HEADER = """$ORIGIN 10.in-addr.arpa.
$TTL 3600
@ IN SOA ns1.example.net. hostmaster.example.net. 1 7200 900 1209600 300
@ IN NS ns1.example.net.
"""


def names(count):
    for i in range(count):
        b, c, d = (i >> 16) & 0xFF, (i >> 8) & 0xFF, i & 0xFF
        yield f"{d}.{c}.{b}"


def write_zone(path, count):
    with open(path, "w") as f:
        f.write(HEADER)
        for n in names(count):
            f.write(f'{n} IN NAPTR 100 10 "u" "ALTO:https" "!.*!https://alto.example.net/ird!" .\n')


def write_queries(path, count, n_queries, rng):
    with open(path, "w") as f:
        for _ in range(n_queries):
            r = rng.random()
            i = rng.randrange(count)
            b, c, d = (i >> 16) & 0xFF, (i >> 8) & 0xFF, i & 0xFF
            if r < 0.60:
                f.write(f"{d}.{c}.{b}.10.in-addr.arpa. NAPTR\n")
            elif r < 0.85:
                f.write(f"{d}.{c}.200.10.in-addr.arpa. NAPTR\n")
            else:
                f.write(f"{d}.{c}.{b}.10.in-addr.arpa. PTR\n")


def main():
    out = sys.argv[1]
    rng = random.Random(8686)
    write_zone(f"{out}/small.zone", 65536)
    write_zone(f"{out}/large.zone", 1_000_000)
    write_queries(f"{out}/mixed-small.txt", 65536, 200_000, rng)
    write_queries(f"{out}/mixed-large.txt", 1_000_000, 200_000, rng)
    with open(f"{out}/nx.txt", "w") as f:
        for _ in range(50_000):
            f.write(f"{rng.randrange(256)}.{rng.randrange(256)}.200.10.in-addr.arpa. NAPTR\n")


if __name__ == "__main__":
    main()
