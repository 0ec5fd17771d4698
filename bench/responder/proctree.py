#!/usr/bin/env python3
"""Prints "<cpu_ticks> <pss_kb> <rss_kb>" summed over a process and its descendants.

CPU ticks are utime+stime (clock ticks, see getconf CLK_TCK). PSS (proportional set size) is the
fair memory figure for servers that fork (NSD): shared pages are divided, not counted twice.
"""
import os
import sys


def children_map():
    m = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        rest = stat[stat.rfind(")") + 2:].split()
        m.setdefault(int(rest[1]), []).append(int(d))
    return m


def tree(pid):
    m = children_map()
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(m.get(p, []))
    return out


def stats(pid):
    ticks = pss = rss = 0
    for p in tree(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                stat = f.read()
            rest = stat[stat.rfind(")") + 2:].split()
            ticks += int(rest[11]) + int(rest[12])
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        pss += int(line.split()[1])
                    elif line.startswith("Rss:"):
                        rss += int(line.split()[1])
        except OSError:
            pass
    return ticks, pss, rss


if __name__ == "__main__":
    print(*stats(int(sys.argv[1])))
