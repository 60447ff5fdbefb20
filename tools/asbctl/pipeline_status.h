// The pipeline's progress as its daemons report it (PingResponse): each stream's head, each
// consumer's committed offset. `asbctl status` prints it; asb-loadgen waits on it to time events
// fully processed (alerts delivered and every record in the access log).

#ifndef ASBHUB_TOOLS_ASBCTL_PIPELINE_STATUS_H_
#define ASBHUB_TOOLS_ASBCTL_PIPELINE_STATUS_H_

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "asb/v1/api.pb.h"

namespace asb::ctl {

struct PipelineSnapshot {
  std::map<std::string, uint64_t> heads;  // "<daemon>/<stream>" → head
  std::vector<std::pair<std::string, asb::v1::ConsumerStatus>> consumers;  // (daemon, status)
  std::vector<std::pair<std::string, asb::v1::Counter>> counters;          // (daemon, counter)
  std::vector<std::string> down;  // "<daemon>: why", for each daemon that did not answer
};

// Pings the daemons in pipeline order (intake, sharing, notify, audit) as principal `as` (its
// key in the hub config's keys_dir: <as>.key or <as>-admin.key), so that with no new input
// "every consumer's offset equals its producer's head" means the pipeline has drained.
PipelineSnapshot TakePipelineSnapshot(const std::string& hub_config, const std::string& as);

// True when every daemon answered and every consumer has committed its upstream's head.
bool Drained(const PipelineSnapshot& snap);

}  // namespace asb::ctl

#endif  // ASBHUB_TOOLS_ASBCTL_PIPELINE_STATUS_H_
