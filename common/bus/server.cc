#include "common/bus/server.h"

#include <zmq.h>

#include <cstring>
#include <limits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/bus/message_memory.h"
#include "common/bus/wire.h"
#include "common/log/log.h"
#include "common/status/proto_status.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"

namespace asb::bus {
namespace {

absl::Status FromZmq(const zmq::error_t& e, const std::string& what) {
  if (e.num() == EADDRINUSE) {
    return absl::UnavailableError(what + ": address in use (is another hub running?)");
  }
  if (e.num() == EINVAL || e.num() == EPROTONOSUPPORT) {
    return absl::InvalidArgumentError(what + ": " + e.what());
  }
  return absl::UnavailableError(what + ": " + e.what());
}

void ApplyCurveServer(zmq::socket_t& socket, const ServerOptions& options) {
  if (options.plaintext_for_test) {
    return;
  }
  socket.set(zmq::sockopt::curve_server, 1);
  socket.set(zmq::sockopt::curve_secretkey, options.keys.secret_key);
  // Enforce ZAP: without a handler, handshakes fail instead of being let through.
  socket.set(zmq::sockopt::zap_domain, "asbhub");
}

}  // namespace

uint64_t ReadableRequestId(const uint8_t* data, std::size_t size) {
  using google::protobuf::internal::WireFormatLite;
  if (size > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
    return 0;
  }
  google::protobuf::io::CodedInputStream in(data, static_cast<int>(size));
  const uint32_t id_tag = WireFormatLite::MakeTag(asb::v1::Request::kRequestIdFieldNumber,
                                                  WireFormatLite::WIRETYPE_VARINT);
  uint64_t id = 0;  // as protobuf parses: the last occurrence wins
  while (true) {
    const uint32_t tag = in.ReadTag();
    if (tag == 0) {
      return id;
    }
    if (tag == id_tag) {
      uint64_t value = 0;
      if (!in.ReadVarint64(&value)) {
        return id;
      }
      id = value;
    } else if (!WireFormatLite::SkipField(&in, tag)) {
      return id;
    }
  }
}

Server::Server(zmq::context_t* context, Loop* loop, Authenticator* auth, ServerOptions options)
    : context_(context),
      loop_(loop),
      auth_(auth),
      options_(std::move(options)),
      router_(*context, zmq::socket_type::router),
      pub_(*context, zmq::socket_type::pub) {}

Server::~Server() {
  loop_->RemoveSocket(&router_);
  if (report_timer_ != 0) {
    loop_->CancelTimer(report_timer_);
  }
  if (monitor_.handle() != nullptr) {
    loop_->RemoveSocket(&monitor_);
    zmq_socket_monitor(router_.handle(), nullptr, 0);
    monitor_.set(zmq::sockopt::linger, 0);
  }
  router_.set(zmq::sockopt::linger, 0);
  pub_.set(zmq::sockopt::linger, 0);
}

absl::Status Server::Start(Handler handler) {
  static auto* lg = log::Get("bus");
  KeepLargeMessagesInHeap();
  handler_ = std::move(handler);
  if (!options_.plaintext_for_test && !IsValidZ85Key(options_.keys.secret_key)) {
    return absl::InvalidArgumentError("server key: a valid secret key is required");
  }
  try {
    ApplyCurveServer(router_, options_);
    router_.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(options_.max_message_bytes));
    router_.set(zmq::sockopt::router_mandatory, 1);
    router_.set(zmq::sockopt::linger, 0);
    router_.bind(options_.api_bind);
    api_endpoint_ = router_.get(zmq::sockopt::last_endpoint);
  } catch (const zmq::error_t& e) {
    return FromZmq(e, "bind " + options_.api_bind);
  }
  if (!options_.hints_bind.empty()) {
    try {
      ApplyCurveServer(pub_, options_);
      pub_.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(4096));
      pub_.set(zmq::sockopt::linger, 0);
      pub_.bind(options_.hints_bind);
      hints_endpoint_ = pub_.get(zmq::sockopt::last_endpoint);
    } catch (const zmq::error_t& e) {
      return FromZmq(e, "bind " + options_.hints_bind);
    }
  }
  loop_->AddSocket(&router_, [this] { HandleReadable(); });
  if (!options_.plaintext_for_test) {
    // Handshakes that fail before ZAP is asked (a plaintext client, a client encrypting to
    // another server key or holding a mismatched key pair, replayed or corrupt bytes) are
    // otherwise invisible to the daemon; ZAP refusals are audited by the Authenticator.
    const std::string address =
        "inproc://asb-server-monitor-" + std::to_string(reinterpret_cast<uintptr_t>(this));
    if (zmq_socket_monitor(
            router_.handle(), address.c_str(),
            ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) == 0) {
      monitor_ = zmq::socket_t(*context_, zmq::socket_type::pair);
      monitor_.set(zmq::sockopt::linger, 0);
      monitor_.connect(address);
      loop_->AddSocket(&monitor_, [this] { HandleMonitor(); });
    }
  }
  SPDLOG_LOGGER_INFO(lg, "serving requests on {} and hints on {}", api_endpoint_,
                     hints_endpoint_.empty() ? "(none)" : hints_endpoint_);
  return absl::OkStatus();
}

void Server::HandleReadable() {
  DrainRequests();
  if (on_drained_) {
    on_drained_();
  }
}

void Server::DrainRequests() {
  static auto* lg = log::Get("bus");
  // Bounded per wake-up so one busy client cannot starve the rest of the loop.
  for (int n = 0; n < 1000; ++n) {
    std::vector<zmq::message_t> frames;
    try {
      zmq::message_t frame;
      if (!router_.recv(frame, zmq::recv_flags::dontwait)) {
        return;
      }
      frames.push_back(std::move(frame));
      while (frames.back().more()) {
        zmq::message_t next;
        (void)router_.recv(next, zmq::recv_flags::none);
        frames.push_back(std::move(next));
      }
    } catch (const zmq::error_t& e) {
      SPDLOG_LOGGER_WARN(lg, "receive failed: {}", e.what());
      return;
    }
    Caller caller;
    caller.routing_id = frames[0].to_string();
    // Expected shape: [routing id][empty][Request]. The request id is read first, from the last
    // frame, so that every error reply below echoes it whenever it is readable at all.
    asb::v1::Request request;
    bool parsed = false;
    if (frames.size() >= 2) {
      const zmq::message_t& body = frames.back();
      parsed = request.ParseFromArray(body.data(), static_cast<int>(body.size()));
      caller.request_id =
          parsed ? request.request_id()
                 : ReadableRequestId(static_cast<const uint8_t*>(body.data()), body.size());
    }
    if (options_.plaintext_for_test) {
      caller.principal = Principal{"plaintext-test", "hub", asb::v1::ROLE_DAEMON, ""};
    } else if (frames.size() >= 2) {
      const char* user = nullptr;
      try {
        user = frames.back().gets("User-Id");
      } catch (const zmq::error_t&) {
        user = nullptr;
      }
      auto table = auth_->principals();
      const Principal* p = user != nullptr ? table->ByName(user) : nullptr;
      if (p == nullptr) {
        // Authenticated at handshake but removed since (reload): cut off now.
        ++bad_messages_;
        ReplyError(caller,
                   absl::UnauthenticatedError("this key is no longer authorised by this hub"));
        if (on_bad_) {
          on_bad_(Principal{user != nullptr ? user : "", "", asb::v1::ROLE_UNSPECIFIED, ""},
                  "request from a principal no longer in the ISP");
        }
        continue;
      }
      caller.principal = *p;
    }
    std::string reason;
    if (frames.size() != 3 || frames[1].size() != 0) {
      reason = "malformed message: expected [empty][Request] frames";
    } else if (!parsed) {
      reason = "malformed message: not an asb.v1.Request";
    } else if (request.body_case() == asb::v1::Request::BODY_NOT_SET) {
      reason = "malformed request: no body";
    }
    if (!reason.empty()) {
      ++bad_messages_;
      SPDLOG_LOGGER_WARN(lg, "[{}] {}", caller.principal.name, reason);
      // Recorded before the reply, so whoever sees the reply can count on the record.
      if (on_bad_) {
        on_bad_(caller.principal, reason);
      }
      ReplyError(caller, absl::InvalidArgumentError(reason));
      continue;
    }
    handler_(caller, request);
  }
}

void Server::HandleMonitor() {
  while (true) {
    zmq::message_t event;
    zmq::message_t endpoint;
    try {
      if (!monitor_.recv(event, zmq::recv_flags::dontwait)) {
        break;
      }
      if (event.more()) {
        (void)monitor_.recv(endpoint, zmq::recv_flags::none);
      }
    } catch (const zmq::error_t&) {
      break;
    }
    // libzmq 4.3 event frame: uint16 event id, uint32 value (a ZMQ_PROTOCOL_ERROR_* here).
    uint16_t id = 0;
    uint32_t value = 0;
    if (event.size() >= 6) {
      std::memcpy(&id, event.data(), sizeof(id));
      std::memcpy(&value, static_cast<const char*>(event.data()) + sizeof(id), sizeof(value));
    }
    ++failed_handshakes_;
    if (id == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) {
      ++unreported_.abandoned;
    } else if (value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH) {
      ++unreported_.plaintext;
    } else if (value == ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC) {
      ++unreported_.undecryptable;
    } else {
      ++unreported_.malformed;
    }
  }
  ReportHandshakes();
}

void Server::ReportHandshakes() {
  static auto* lg = log::Get("bus");
  const uint64_t total = unreported_.total();
  if (total == 0) {
    return;
  }
  const auto now = std::chrono::steady_clock::now();
  if (now - last_handshake_report_ < std::chrono::seconds(1)) {
    if (report_timer_ == 0) {  // report the count a second after the last report
      report_timer_ = loop_->RunAt(last_handshake_report_ + std::chrono::seconds(1), [this] {
        report_timer_ = 0;
        ReportHandshakes();
      });
    }
    return;
  }
  // Says what the monitor saw, so whoever reads the log or the access log knows where to look
  // (the client's keys, or a client that does not use CurveZMQ at all).
  std::vector<std::string> what;
  auto add = [&what](uint64_t n, const char* text) {
    if (n > 0) {
      what.push_back(absl::StrCat(n, " ", text));
    }
  };
  add(unreported_.plaintext,
      "without CurveZMQ (a plaintext client connected to this CURVE-only socket)");
  add(unreported_.undecryptable,
      "that did not decrypt (the client encrypts to another server public key than this "
      "daemon's, or its own public and secret keys do not belong together, or the bytes were "
      "replayed or corrupted)");
  add(unreported_.malformed, "malformed (not a ZeroMQ 4 client, or corrupt bytes)");
  // A client without CurveZMQ that sees the CURVE greeting first closes so, before this side
  // can tell the mechanisms differ (on ipc:// it usually does).
  add(unreported_.abandoned,
      "closed by the client during the handshake (as a client without CurveZMQ, e.g. a "
      "plaintext one, does on meeting this CURVE-only socket; or a port check)");
  const std::string reason =
      absl::StrCat("CurveZMQ handshake failed (", total,
                   total == 1 ? " connection" : " connections", "): ", absl::StrJoin(what, "; "));
  SPDLOG_LOGGER_WARN(lg, "{}", reason);
  ++bad_messages_;
  unreported_ = HandshakeFailures{};
  last_handshake_report_ = now;
  if (on_bad_) {
    on_bad_(Principal{}, reason);
  }
}

void Server::Reply(const Caller& caller, asb::v1::Response response) {
  Reply(caller, std::move(response), 0, {});
}

void Server::Reply(const Caller& caller, asb::v1::Response response, int body_field,
                   std::string_view encoded_fields) {
  static auto* lg = log::Get("bus");
  response.set_request_id(caller.request_id);
  // Serialised straight into the frame: no zero-filled string and no copy of it (an audit page
  // is megabytes).
  const std::size_t size = response.ByteSizeLong();
  std::string header;
  if (body_field > 0) {
    AppendTagAndLength(body_field, encoded_fields.size(), &header);
  }
  const std::size_t tail = body_field > 0 ? encoded_fields.size() : 0;
  zmq::message_t body(size + header.size() + tail);
  auto* out = static_cast<uint8_t*>(body.data());
  out = response.SerializeWithCachedSizesToArray(out);
  if (body_field > 0) {
    std::memcpy(out, header.data(), header.size());
    if (tail > 0) {
      std::memcpy(out + header.size(), encoded_fields.data(), tail);
    }
  }
  try {
    if (!router_.send(zmq::buffer(caller.routing_id),
                      zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
      SPDLOG_LOGGER_DEBUG(lg, "reply dropped: peer's queue is full");
      return;
    }
    router_.send(zmq::message_t(), zmq::send_flags::sndmore);
    router_.send(body, zmq::send_flags::none);
  } catch (const zmq::error_t& e) {
    SPDLOG_LOGGER_DEBUG(lg, "reply dropped: {}", e.what());  // peer gone (EHOSTUNREACH)
  }
}

void Server::ReplyError(const Caller& caller, const absl::Status& status) {
  asb::v1::Response response;
  *response.mutable_status() = ToProto(status);
  Reply(caller, std::move(response));
}

void Server::PublishHead(const std::string& stream, uint64_t head) {
  if (hints_endpoint_.empty()) {
    return;
  }
  asb::v1::HeadHint hint;
  hint.set_stream(stream);
  hint.set_head(head);
  try {
    pub_.send(zmq::buffer(stream), zmq::send_flags::sndmore | zmq::send_flags::dontwait);
    pub_.send(zmq::buffer(hint.SerializeAsString()), zmq::send_flags::dontwait);
  } catch (const zmq::error_t&) {
    // A hint is only a hint; consumers poll too.
  }
}

}  // namespace asb::bus
