#pragma once

// Serves the daemon's logs to consumers: answers FetchRequest (ROLE_DAEMON principals only) and
// publishes a head hint whenever a log's head advances.

#include <cstddef>
#include <map>
#include <memory>
#include <string>

#include "asb/v1/api.pb.h"
#include "common/bus/server.h"
#include "common/stream/log.h"

namespace asb::stream {

class StreamServer {
 public:
  static constexpr uint32_t kDefaultBatch = 500;
  static constexpr uint32_t kMaxBatch = 5000;
  // A response stops adding records past this many bytes (it always carries at least one).
  static constexpr std::size_t kMaxResponseBytes = 2 << 20;

  explicit StreamServer(bus::Server* server) : server_(server) {}

  // Serves `log` under its name and publishes its head hints. `log` must outlive this; once
  // this is destroyed, the log's commits no longer publish through it.
  void Register(Log* log);

  // Answers a fetch request: the records, or kNotFound (no such stream), kOutOfRange (below
  // retention; the reply still carries fetch{stream, head, first_retained} without records so
  // the consumer can tell where the stream now starts), kInvalidArgument (from_seq 0),
  // kPermissionDenied (caller is not a hub daemon).
  void HandleFetch(const bus::Caller& caller, const asb::v1::FetchRequest& request);

 private:
  bus::Server* server_;
  std::map<std::string, Log*> logs_;
  // Head listeners registered on logs check this, so they go quiet when this is destroyed.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace asb::stream
