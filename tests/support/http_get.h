#pragma once

// Plain HTTP GETs of a daemon's operator endpoints (/metrics, /healthz, /readyz) in integration
// tests, and reading one sample out of the Prometheus text.

#include <optional>
#include <string>

#include "tests/support/daemon_harness.h"

namespace asb::testing {

struct HttpAnswer {
  int status = 0;  // 0: no answer
  std::string body;
};

// GET `path` from `daemon`'s metrics address (the "metrics" of its ready file).
HttpAnswer GetFromDaemon(const Hub& hub, const std::string& daemon, const std::string& path);

// The value of the sample `series` (its name and labels exactly as rendered, e.g.
// asb_outbox_depth{agency="police"}) in Prometheus text, or nullopt if absent.
std::optional<double> MetricValue(const std::string& text, const std::string& series);

}  // namespace asb::testing
