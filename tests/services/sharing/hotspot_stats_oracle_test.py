#!/usr/bin/env python3
"""Checks asb-sharing's hot-spot statistics against an independent computation.

The C++ side (hotspot_stats_tool) computes, per area, p = P(X >= x) for X ~ Binomial(x + s,
1/(b + 1)) (the exact conditional test of a Poisson rate rise: x this month, s over b baseline
months) and Benjamini-Hochberg q-values across areas. Here the same figures come from scipy
(scipy.stats.binom.sf; Debian's python3-scipy) when it is installed, and always from exact
rational arithmetic (fractions.Fraction, math.comb) — two computations that share no code with
the C++ one. Synthetic data: 60 stable Poisson areas, one with a known spike, and edge cases.
Prints "N passed, 0 failed" or the first mismatches and exits 1.
"""
import math
import random
import subprocess
import sys
from fractions import Fraction


def exact_sf(x, s, b):
    if x == 0 or b == 0:
        return Fraction(1)
    n = x + s
    p = Fraction(1, b + 1)
    q = 1 - p
    return sum(math.comb(n, k) * p**k * q ** (n - k) for k in range(x, n + 1))


def bh(ps):
    m = len(ps)
    order = sorted(range(m), key=lambda i: ps[i])
    q = [1.0] * m
    running = 1.0
    for r in range(m - 1, -1, -1):
        i = order[r]
        running = min(running, ps[i] * m / (r + 1))
        q[i] = min(1.0, running)
    return q


def main():
    tool = sys.argv[1]
    rng = random.Random(16)
    cases = []
    for _ in range(60):  # stable areas: Poisson(lam) each month for b baseline months
        lam = rng.choice([0.5, 2, 5, 12, 30])
        b = rng.choice([1, 3, 6, 12])

        def pois(l):
            # Knuth's method (small rates).
            L, k, p = math.exp(-l), 0, 1.0
            while True:
                p *= rng.random()
                if p <= L:
                    return k
                k += 1

        s = sum(pois(lam) for _ in range(b))
        cases.append((pois(lam), s, b))
    spike = len(cases)
    cases.append((40, 6 * 6, 6))  # a known spike: 40 against an average of 6
    cases += [(0, 5, 6), (3, 0, 6), (1, 0, 1), (5, 5, 0), (60, 240, 6), (7, 70, 12)]
    out = subprocess.run([tool], input="".join(f"{x} {s} {b}\n" for x, s, b in cases),
                         capture_output=True, text=True, check=True).stdout.split("\n")
    got = [tuple(float(v) for v in line.split()) for line in out if line.strip()]
    assert len(got) == len(cases), (len(got), len(cases))

    try:
        from scipy.stats import binom  # noqa: F401
        have_scipy = True
    except ImportError:
        have_scipy = False

    failures, checks = [], 0
    exact = [float(exact_sf(*c)) for c in cases]
    for i, (c, (p, _)) in enumerate(zip(cases, got)):
        checks += 1
        if not math.isclose(p, exact[i], rel_tol=1e-9, abs_tol=1e-300):
            failures.append(f"p{c}: C++ {p!r}, exact {exact[i]!r}")
        if have_scipy:
            x, s, b = c
            ref = 1.0 if x == 0 or b == 0 else float(binom.sf(x - 1, x + s, 1.0 / (b + 1)))
            checks += 1
            if not math.isclose(p, ref, rel_tol=1e-7, abs_tol=1e-15):
                failures.append(f"p{c}: C++ {p!r}, scipy {ref!r}")
    want_q = bh(exact)
    for i, (c, (_, q)) in enumerate(zip(cases, got)):
        checks += 1
        if not math.isclose(q, want_q[i], rel_tol=1e-9, abs_tol=1e-300):
            failures.append(f"q{c}: C++ {q!r}, BH {want_q[i]!r}")
    # The rule flags the spike and, at FDR 5%, none of the stable areas.
    flagged = [i for i, (c, (_, q)) in enumerate(zip(cases, got))
               if q <= 0.05 and c[2] > 0 and c[0] > c[1] / c[2]]
    checks += 1
    if spike not in flagged:
        failures.append(f"the known spike was not flagged (flagged: {flagged})")
    checks += 1
    if any(i < spike for i in flagged):
        failures.append(f"stable areas flagged: {[cases[i] for i in flagged if i < spike]}")
    print(f"oracle: {'scipy ' + __import__('scipy').__version__ + ' and ' if have_scipy else ''}"
          "exact fractions")
    for f in failures[:20]:
        print("FAIL", f)
    print(f"{checks - len(failures)} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
