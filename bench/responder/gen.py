#!/usr/bin/env python3
"""Generates the responder benchmark inputs (bench/responder/run calls this).

Zones (RFC 1918 space: these never leave loopback). Both have the same shape (R32 names three
labels below a /8 origin, NXDOMAIN names in an empty /16 of the same /8), and different origins, so
that one server can load both for the "all zones" rows:
  small.zone  origin 172.in-addr.arpa.: 65,536 R32 names 172.16.C.D (the "/24-style" zone: 256
              /24s, every address published); NXDOMAIN queries go to 172.31.x.x
  large.zone  origin 10.in-addr.arpa.: 1,000,000 R32 names 10.B.C.D, B = 0.. (filled address by
              address); NXDOMAIN queries go to 10.200.x.x
Each name has one ALTO NAPTR record. Query files (dnsperf format "name type"):
  mixed-<size>.txt   60 % NAPTR hits, 25 % NXDOMAIN, 15 % NODATA (PTR at existing names)
  mixed-all.txt      the two mixes interleaved (the "all zones" server: both zones queried)
  nx-<size>.txt      NXDOMAIN only (CPU per NXDOMAIN at 65k vs 1M names)
  origins.txt        "<size> <origin> <names>" per zone, read by run
"""
import random
import sys

# size -> (origin, first octet, octet of the published /16 (None: filled from 0), empty /16, names)
ZONES = {
    "small": ("172.in-addr.arpa.", 172, 16, 31, 65536),
    "large": ("10.in-addr.arpa.", 10, None, 200, 1_000_000),
}


def header(origin):
    return f"""$ORIGIN {origin}
$TTL 3600
@ IN SOA ns1.example.net. hostmaster.example.net. 1 7200 900 1209600 300
@ IN NS ns1.example.net.
"""


def address(size, i):
    """The (b, c, d) octets below the /8 of name number i."""
    _, _, fixed_b, _, _ = ZONES[size]
    b = fixed_b if fixed_b is not None else (i >> 16) & 0xFF
    return b, (i >> 8) & 0xFF, i & 0xFF


def write_zone(path, size):
    origin, _, _, _, count = ZONES[size]
    with open(path, "w") as f:
        f.write(header(origin))
        for i in range(count):
            b, c, d = address(size, i)
            f.write(f'{d}.{c}.{b} IN NAPTR 100 10 "u" "ALTO:https" "!.*!https://alto.example.net/ird!" .\n')


def mixed_queries(size, n_queries, rng):
    origin, _, _, empty_b, count = ZONES[size]
    out = []
    for _ in range(n_queries):
        r = rng.random()
        b, c, d = address(size, rng.randrange(count))
        if r < 0.60:
            out.append(f"{d}.{c}.{b}.{origin} NAPTR\n")
        elif r < 0.85:
            out.append(f"{d}.{c}.{empty_b}.{origin} NAPTR\n")
        else:
            out.append(f"{d}.{c}.{b}.{origin} PTR\n")
    return out


def main():
    out = sys.argv[1]
    rng = random.Random(8686)
    mixes = {}
    with open(f"{out}/origins.txt", "w") as f:
        for size, (origin, _, _, _, count) in ZONES.items():
            f.write(f"{size} {origin} {count}\n")
    for size in ZONES:
        write_zone(f"{out}/{size}.zone", size)
        mixes[size] = mixed_queries(size, 200_000, rng)
        with open(f"{out}/mixed-{size}.txt", "w") as f:
            f.writelines(mixes[size])
    with open(f"{out}/mixed-all.txt", "w") as f:
        for pair in zip(mixes["small"], mixes["large"]):
            f.writelines(pair)
    for size, (origin, _, _, empty_b, _) in ZONES.items():
        with open(f"{out}/nx-{size}.txt", "w") as f:
            for _ in range(50_000):
                f.write(f"{rng.randrange(256)}.{rng.randrange(256)}.{empty_b}.{origin} NAPTR\n")


if __name__ == "__main__":
    main()
