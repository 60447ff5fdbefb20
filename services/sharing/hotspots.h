#pragma once

// The statistics of emerging hot spots, without storage: an exact test of whether an area's
// count this month exceeds its own trailing baseline, and the Benjamini–Hochberg adjustment
// across the areas tested. The rule, in words, is kHotspotRule (also in the README).

#include <cstdint>
#include <vector>

namespace asb::sharing {

// The rule as printed with every answer.
extern const char kHotspotRule[];

// The exact one-sided p-value that an area's rate rose: with x incidents in the month and s in
// the b baseline months before it, under "no change" (a Poisson process with one rate over the
// b + 1 months) x is, given n = x + s, Binomial(n, 1/(b + 1)) — the conditional test for the
// ratio of two Poisson rates. Returns P(X >= x). 1 when x is 0 or b is 0.
double RateIncreasePValue(uint64_t x, uint64_t s, uint32_t b);

// Benjamini–Hochberg adjusted p-values (q-values), in the order of `p`: with the m p-values
// sorted ascending, q(i) = min over j >= i of p(j) * m / j, at most 1.
std::vector<double> BenjaminiHochberg(const std::vector<double>& p);

// The upper end of the band a p-value falls in (0.001, 0.01, 0.05 or 1): what is shown when the
// exact value would let a suppressed count be recovered.
double PValueBand(double p);

}  // namespace asb::sharing
