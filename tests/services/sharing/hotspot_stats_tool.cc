// Reads lines "x s b" (month count, baseline total, baseline months) on stdin and prints, per
// line, "p q" as asb-sharing computes them (q: Benjamini-Hochberg across all lines), for
// hotspot_stats_oracle_test.py to check against an independent computation.
#include <cstdio>
#include <iostream>
#include <vector>

#include "services/sharing/hotspots.h"

int main() {
  std::vector<double> p;
  unsigned long long x = 0, s = 0;
  unsigned b = 0;
  while (std::cin >> x >> s >> b) {
    p.push_back(asb::sharing::RateIncreasePValue(x, s, b));
  }
  const std::vector<double> q = asb::sharing::BenjaminiHochberg(p);
  for (std::size_t i = 0; i < p.size(); ++i) {
    std::printf("%.17g %.17g\n", p[i], q[i]);
  }
  return 0;
}
