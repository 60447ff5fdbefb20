#include "tools/asbctl/pipeline_status.h"

#include <chrono>

#include "tools/asbctl/hub_client.h"

namespace asb::ctl {

PipelineSnapshot TakePipelineSnapshot(const std::string& hub_config, const std::string& as) {
  PipelineSnapshot snap;
  for (const auto& [name, daemon] : kDaemons) {
    auto hub = HubClient::Open(hub_config, daemon, as, "admin");
    if (!hub.ok()) {
      snap.down.push_back(std::string(name) + ": " + std::string(hub.status().message()));
      continue;
    }
    asb::v1::Request request;
    request.mutable_ping();
    auto response = (*hub)->Call(request, std::chrono::seconds(3));
    if (!response.ok()) {
      snap.down.push_back(std::string(name) + ": " + std::string(response.status().message()));
      continue;
    }
    for (const auto& st : response->ping().streams()) {
      snap.heads[std::string(name) + "/" + st.name()] = st.head();
    }
    for (const auto& c : response->ping().consumers()) {
      snap.consumers.emplace_back(name, c);
    }
    for (const auto& c : response->ping().counters()) {
      snap.counters.emplace_back(name, c);
    }
  }
  return snap;
}

bool Drained(const PipelineSnapshot& snap) {
  if (!snap.down.empty()) {
    return false;
  }
  for (const auto& [daemon, c] : snap.consumers) {
    auto it = snap.heads.find(c.upstream() + "/" + c.stream());
    if (it == snap.heads.end() || c.offset() < it->second) {
      return false;
    }
  }
  return true;
}

}  // namespace asb::ctl
