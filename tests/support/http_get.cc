#include "tests/support/http_get.h"

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "httplib.h"

namespace asb::testing {

HttpAnswer GetFromDaemon(const Hub& hub, const std::string& daemon, const std::string& path) {
  auto endpoint = hub.ReadyValue(daemon, "metrics");
  if (!endpoint.ok()) {
    return {};
  }
  httplib::Client client("http://" + *endpoint);
  client.set_connection_timeout(5, 0);
  client.set_read_timeout(10, 0);
  auto res = client.Get(path.c_str());
  if (!res) {
    return {};
  }
  return {res->status, res->body};
}

std::optional<double> MetricValue(const std::string& text, const std::string& series) {
  const std::string prefix = series + " ";
  for (std::size_t pos = 0; pos < text.size();) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string::npos) {
      end = text.size();
    }
    const absl::string_view line(text.data() + pos, end - pos);
    double v = 0;
    if (absl::StartsWith(line, prefix) && absl::SimpleAtod(line.substr(prefix.size()), &v)) {
      return v;
    }
    pos = end + 1;
  }
  return std::nullopt;
}

}  // namespace asb::testing
