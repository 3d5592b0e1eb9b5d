#!/usr/bin/env python3
"""kwfilter_buckets: a model, in Python, of how many places of a text src/scan/kwfilter.c's Teddy
filter lets through with the default rules' keywords, for three ways of putting the keywords in
its 8 buckets. It is for deciding on a bucket search before writing it in C (issue #19, scan10).

    python3 bench/kwfilter_buckets.py SAMPLE TRIES TEXT...

The ways:
  current           kwfilter.c's assign_buckets before scan10's sample searches (kwfilter.c now
                    does all three ways in turn, with its own cost_sample): the keywords of a first byte share a bucket,
                    first bytes moved and swapped while a weighted count of the bytes each
                    bucket lets through goes down (space 8, lowercase 3, digit 2, other 1)
  bytegroups+sample the same groups, from there, moved and swapped while the places passed in
                    SAMPLE (a text's counts of byte triples) go down
  split+sample      from there, each keyword on its own (a first byte's keywords may split),
                    moved and swapped by the same count, at most TRIES tries
For each TEXT it prints the places each way passes (a place: any bucket has its bit in all six
nibble lookups at offsets 0-2, the text's bytes folded as kwfilter.c does). The keyword list and
the table filling follow kwfilter.c and src/scan/default-rules.toml as of scan10; if they change,
change this too. It models the filter alone, not scan.c's pair table after it.

scan10 (a 26 KB sample of ninja's progress lines and ctest's output, TRIES 20000): the build log of
`ninja -t commands` (173 KB) 944 -> 581 -> 505 places; bench/log_scan.c's generated lines (1 MiB)
968 -> 968 -> 968 (the real `token` lines are most of them); ninja's progress lines of a dev build
(23 KB) 152 -> 133 -> 52. `current` on the build log, 944 places in 173 KB (5,460 a MB), is about
what scan9's C harness counted (5,634 a MB). Starting the split from `current` instead (4,000
tries) gave 859 on the build log and 484 on the generated lines: the search finds local optima
that depend on where it starts. About 25 s in Python; a C version would need a bound (a rule set
is compiled once, but a project's own rules too)."""
import collections
import sys

KW = ["akia", "asia", "abia", "acca", "a3t", "aws", "aiza", "private_key_id", "accountkey", "q~",
      "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "glpat-", "glrt-", "glcbt-", "gldt-",
      "glptt-", "xoxb-", "xoxa-", "xoxp-", "xoxr-", "xoxs-", "hooks.slack.com", "sk_live_",
      "sk_test_", "rk_live_", "rk_test_", "private key", "eyj", "key", "secret", "token", "passw",
      "pwd", "credential"]
KW = list(dict.fromkeys(k.lower() for k in KW))
NSHARED = 7  # a 2-byte keyword (q~) has the last bucket to itself


def nibbles(words):
    lo, hi = [0, 0, 0], [0, 0, 0]
    for w in words:
        b = w.encode()
        for o in range(3):
            if o == 2 and len(b) < 3:  # any byte at offset 2
                lo[o] = hi[o] = 0xFFFF
                break
            c = b[o] | 0x20
            lo[o] |= 1 << (c & 15)
            hi[o] |= 1 << (c >> 4) | 1 << ((c >> 4) & ~2)
    return lo, hi


def passes(n, t):
    lo, hi = n
    return all(lo[o] >> (t[o] & 15) & 1 and hi[o] >> (t[o] >> 4) & 1 for o in range(3))


def triples(text):
    return collections.Counter(text[i:i + 3] for i in range(len(text) - 2))


def places(assign, groups, tri):
    buckets = collections.defaultdict(list)
    for g, b in zip(groups, assign):
        buckets[b] += g
    ns = [nibbles(ws) for ws in buckets.values()]
    return sum(c for t, c in tri.items() if any(passes(n, t) for n in ns))


def byte_weight(c):
    return 8 if c == 32 else 3 if 97 <= c <= 122 else 2 if 48 <= c <= 57 else 1 if 0x21 <= c < 0x7F else 0


def weighted_cost(words):
    lo, hi = nibbles(words)
    cost = 1
    for o in range(3):
        cost *= sum(byte_weight(c) for c in range(128) if lo[o] >> (c & 15) & 1 and hi[o] >> (c >> 4) & 1)
    return cost


def search(groups, fixed, start, cost_of, tries):
    """assign_buckets' search: a group moved to another bucket or swapped with one of it while
    the two buckets' cost goes down"""
    a = list(start)

    def bcost(b):
        ws = [w for g, x in zip(groups, a) if x == b for w in g]
        return cost_of(ws) if ws else 0

    cost = {b: bcost(b) for b in range(8)}
    t, better = 0, True
    while better and t < tries:
        better = False
        for k in range(len(groups)):
            if fixed[k]:
                continue
            for b in range(NSHARED):
                old = a[k]
                if b == old:
                    continue
                moved = False
                for h in [-1] + list(range(len(groups))):  # -1: a move
                    if h >= 0 and (fixed[h] or a[h] != b):
                        continue
                    a[k] = b
                    if h >= 0:
                        a[h] = old
                    ca, cb = bcost(old), bcost(b)
                    t += 2
                    if ca + cb < cost[old] + cost[b] - 1e-9:
                        cost[old], cost[b], better, moved = ca, cb, True, True
                        break
                    a[k] = old
                    if h >= 0:
                        a[h] = b
                if moved:
                    break
    return a


def main():
    sample, tries, texts = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    firsts = list(dict.fromkeys(k[0] for k in KW))
    g1 = [[k for k in KW if k[0] == f] for f in firsts]
    fx1 = [all(len(w) < 3 for w in g) for g in g1]
    start, nxt = [], 0
    for f in fx1:
        start.append(7 if f else nxt % NSHARED)
        nxt += not f
    a1 = search(g1, fx1, start, weighted_cost, 20000)
    stri = triples(open(sample, "rb").read())

    def sample_cost(ws):
        n = nibbles(ws)
        return sum(c for t, c in stri.items() if passes(n, t))

    a3 = search(g1, fx1, a1, sample_cost, tries)
    g2, fx2 = [[k] for k in KW], [len(k) < 3 for k in KW]
    a2 = search(g2, fx2, [a3[firsts.index(k[0])] for k in KW], sample_cost, tries)
    for name in texts:
        tri = triples(open(name, "rb").read())
        print(f"{name}: current {places(a1, g1, tri)}, bytegroups+sample {places(a3, g1, tri)}, "
              f"split+sample {places(a2, g2, tri)}")
    split = collections.defaultdict(list)
    for k, x in zip(KW, a2):
        split[x].append(k)
    print("split+sample's buckets:", dict(sorted(split.items())))


main()
