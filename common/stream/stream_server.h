#pragma once

// Serves the daemon's logs to consumers: answers FetchRequest (ROLE_DAEMON principals only) and
// publishes a head hint whenever a log's head advances.

#include <map>
#include <string>

#include "asb/v1/api.pb.h"
#include "common/bus/server.h"
#include "common/stream/log.h"

namespace asb::stream {

class StreamServer {
 public:
  static constexpr uint32_t kDefaultBatch = 500;
  static constexpr uint32_t kMaxBatch = 5000;

  explicit StreamServer(bus::Server* server) : server_(server) {}

  // Serves `log` under its name and publishes its head hints. `log` must outlive this.
  void Register(Log* log);

  // Answers a fetch request: the records, or kNotFound (no such stream), kOutOfRange (below
  // retention), kPermissionDenied (caller is not a hub daemon).
  void HandleFetch(const bus::Caller& caller, const asb::v1::FetchRequest& request);

 private:
  bus::Server* server_;
  std::map<std::string, Log*> logs_;
};

}  // namespace asb::stream
