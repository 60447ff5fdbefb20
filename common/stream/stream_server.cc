#include "common/stream/stream_server.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/log/log.h"
#include "common/status/proto_status.h"

namespace asb::stream {
namespace {

spdlog::logger* Logger() {
  static spdlog::logger* lg = asb::log::Get("stream");
  return lg;
}

}  // namespace

void StreamServer::Register(Log* log) {
  logs_[log->name()] = log;
  std::weak_ptr<bool> alive = alive_;
  log->OnHeadAdvanced([alive, server = server_, name = log->name()](uint64_t head) {
    if (!alive.expired()) {
      server->PublishHead(name, head);
    }
  });
}

void StreamServer::HandleFetch(const bus::Caller& caller, const asb::v1::FetchRequest& request) {
  if (caller.principal.role != asb::v1::ROLE_DAEMON) {
    SPDLOG_LOGGER_WARN(Logger(), "[{}] fetch of stream refused: not a hub daemon",
                       caller.principal.name);
    server_->ReplyError(caller,
                        absl::PermissionDeniedError("streams are served to hub daemons only"));
    return;
  }
  auto it = logs_.find(request.stream());
  if (it == logs_.end()) {
    server_->ReplyError(caller, absl::NotFoundError(absl::StrCat("no stream '", request.stream(),
                                                                 "' is served here")));
    return;
  }
  if (request.from_seq() == 0) {
    server_->ReplyError(caller, absl::InvalidArgumentError("fetch.from_seq: must be >= 1"));
    return;
  }
  Log* log = it->second;
  uint32_t max = request.max_records() == 0 ? kDefaultBatch : request.max_records();
  max = std::min(max, kMaxBatch);

  asb::v1::Response response;
  asb::v1::FetchResponse* fetch = response.mutable_fetch();
  fetch->set_stream(log->name());
  fetch->set_head(log->head());
  fetch->set_first_retained(log->first_retained());
  std::vector<asb::v1::Envelope> records;
  absl::Status status = log->Read(request.from_seq(), max, &records, kMaxResponseBytes);
  if (!status.ok()) {
    if (absl::IsOutOfRange(status)) {
      SPDLOG_LOGGER_WARN(Logger(), "[{}] fetch of {} from {} is below retention (first {})",
                         caller.principal.name, log->name(), request.from_seq(),
                         log->first_retained());
    } else {
      SPDLOG_LOGGER_ERROR(Logger(), "reading stream {}: {}", log->name(), status.ToString());
    }
    *response.mutable_status() = ToProto(status);
    server_->Reply(caller, std::move(response));
    return;
  }
  fetch->mutable_records()->Reserve(static_cast<int>(records.size()));
  for (auto& record : records) {
    *fetch->add_records() = std::move(record);
  }
  *response.mutable_status() = ToProto(absl::OkStatus());
  SPDLOG_LOGGER_DEBUG(Logger(), "[{}] fetch {} from {}: {} records (head {})",
                      caller.principal.name, log->name(), request.from_seq(), fetch->records_size(),
                      log->head());
  server_->Reply(caller, std::move(response));
}

}  // namespace asb::stream
