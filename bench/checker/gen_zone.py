#!/usr/bin/env python3
"""Zones for the checker benchmark (bench/checker/run.sh).

    gen_zone.py KIND N PATH ORIGIN

KIND:
  distinct   N NAPTR records whose RDATA are all distinct: 80 % terminal "u" records, each with
             its own URI, 20 % non-terminal records, each with its own replacement (outside the
             zone, so the checker reports them as info: not verifiable offline).
  repeated   N terminal NAPTR records cycling over 97 URIs (RDATA repeat).
  ordinary   N records of ordinary types in a forward zone: A 30 %, AAAA 20 %, TXT 20 %,
             MX 10 %, NS 10 % (delegations), CNAME 10 %.
Deterministic: the same arguments give the same file.
"""
import sys


def header(f, origin):
    f.write(f"$ORIGIN {origin}\n$TTL 3600\n")
    f.write("@ SOA ns1.example.net. hostmaster.example.net. 1 7200 900 1209600 300\n")
    f.write("@ NS ns1.example.net.\n")
    if origin == "example.net.":
        f.write("ns1 A 192.0.2.53\n")


def reverse_owner(i):
    b, c, d = (i >> 16) & 255, (i >> 8) & 255, i & 255
    return f"{d}.{c}.{b}"


def distinct(f, n):
    for i in range(n):
        o = reverse_owner(i)
        if i % 5 == 4:
            f.write(f'{o} NAPTR 100 10 "" "ALTO:https" "" n{i}.alto.example.org.\n')
        else:
            f.write(f'{o} NAPTR 100 10 "u" "ALTO:https" "!.*!https://alto{i}.example.net/ird!" .\n')


def repeated(f, n):
    for i in range(n):
        o = reverse_owner(i)
        f.write(f'{o} NAPTR 100 10 "u" "ALTO:https" "!.*!https://alto{i % 97}.example.net/ird!" .\n')


def ordinary(f, n):
    for i in range(n):
        k = i % 10
        if k < 3:
            f.write(f"h{i} A 192.0.{(i >> 8) & 255}.{i & 255}\n")
        elif k < 5:
            f.write(f"h{i} AAAA 2001:db8::{(i >> 16) & 0xffff:x}:{i & 0xffff:x}\n")
        elif k < 7:
            f.write(f'h{i} TXT "record {i}"\n')
        elif k == 7:
            f.write(f"h{i} MX 10 h{i - 7}\n")
        elif k == 8:
            f.write(f"d{i} NS ns1.example.net.\n")
        else:
            f.write(f"h{i} CNAME h{i - 9}\n")


def main():
    kind, n, path, origin = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    gen = {"distinct": distinct, "repeated": repeated, "ordinary": ordinary}[kind]
    with open(path, "w") as f:
        header(f, origin)
        gen(f, n)


if __name__ == "__main__":
    main()
