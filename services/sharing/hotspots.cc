#include "services/sharing/hotspots.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace asb::sharing {

const char kHotspotRule[] =
    "For each area, the month's incidents x are compared with the area's incidents s in the b "
    "baseline months before it that the hub holds data for (expected count e = s / b). If the "
    "area's rate had not changed (incidents arriving as a Poisson process at one rate over the "
    "b + 1 months), then given n = x + s, x would be Binomial(n, 1/(b + 1)): the exact "
    "conditional test for comparing two Poisson rates. p = P(X >= x). The p-values of every "
    "area tested (each with an incident in the month or its baseline) are adjusted by the "
    "Benjamini-Hochberg step-up procedure (q = min over j >= i of p(j) * m / j). An area is an "
    "emerging hot spot when q <= the false discovery rate and x > e.";

double RateIncreasePValue(uint64_t x, uint64_t s, uint32_t b) {
  if (x == 0 || b == 0) {
    return 1.0;
  }
  const uint64_t n = x + s;
  const long double p = 1.0L / (static_cast<long double>(b) + 1.0L);
  const long double log_p = std::log(p);
  const long double log_q = std::log1p(-p);
  const long double log_n_fact = std::lgamma(static_cast<long double>(n) + 1.0L);
  // Sum the upper tail k = x..n of the binomial pmf in log space, largest term first.
  std::vector<long double> terms;
  terms.reserve(n - x + 1);
  long double top = -INFINITY;
  for (uint64_t k = x; k <= n; ++k) {
    const auto kk = static_cast<long double>(k);
    const long double t = log_n_fact - std::lgamma(kk + 1.0L) -
                          std::lgamma(static_cast<long double>(n - k) + 1.0L) + kk * log_p +
                          static_cast<long double>(n - k) * log_q;
    terms.push_back(t);
    top = std::max(top, t);
  }
  long double sum = 0;
  for (long double t : terms) {
    sum += std::exp(t - top);
  }
  const long double tail = std::exp(top) * sum;
  return static_cast<double>(std::min<long double>(1.0L, tail));
}

std::vector<double> BenjaminiHochberg(const std::vector<double>& p) {
  const std::size_t m = p.size();
  std::vector<std::size_t> order(m);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return p[a] < p[b]; });
  std::vector<double> q(m, 1.0);
  double running = 1.0;
  for (std::size_t r = m; r-- > 0;) {
    const std::size_t i = order[r];
    running = std::min(running, p[i] * static_cast<double>(m) / static_cast<double>(r + 1));
    q[i] = std::min(1.0, running);
  }
  return q;
}

double PValueBand(double p) {
  for (double band : {0.001, 0.01, 0.05}) {
    if (p <= band) {
      return band;
    }
  }
  return 1.0;
}

}  // namespace asb::sharing
