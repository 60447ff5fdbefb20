#include "common/bus/client.h"

#include <zmq.h>

#include <atomic>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/bus/message_memory.h"
#include "common/log/log.h"

namespace asb::bus {
namespace {

std::atomic<uint64_t> g_monitor_seq{0};

absl::Status ConfigureCurveClient(zmq::socket_t& socket, const ClientOptions& options) {
  if (options.plaintext_for_test) {
    return absl::OkStatus();
  }
  if (!IsValidZ85Key(options.server_public_key)) {
    return absl::InvalidArgumentError("server public key for " + options.endpoint +
                                      " is not a 40-character Z85 key");
  }
  if (!IsValidZ85Key(options.keys.public_key) || !IsValidZ85Key(options.keys.secret_key)) {
    return absl::InvalidArgumentError("client key pair '" + options.keys.name +
                                      "' is missing or not valid Z85");
  }
  socket.set(zmq::sockopt::curve_serverkey, options.server_public_key);
  socket.set(zmq::sockopt::curve_publickey, options.keys.public_key);
  socket.set(zmq::sockopt::curve_secretkey, options.keys.secret_key);
  return absl::OkStatus();
}

// Starts a monitor on `socket` and connects `monitor` (a PAIR) to it.
void StartMonitor(zmq::context_t* context, zmq::socket_t& socket, zmq::socket_t* monitor) {
  std::string address = "inproc://asb-monitor-" + std::to_string(g_monitor_seq.fetch_add(1));
  int events = ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
               ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_SUCCEEDED |
               ZMQ_EVENT_CONNECTED | ZMQ_EVENT_CONNECT_RETRIED;
  zmq_socket_monitor(socket.handle(), address.c_str(), events);
  *monitor = zmq::socket_t(*context, zmq::socket_type::pair);
  monitor->set(zmq::sockopt::linger, 0);
  monitor->connect(address);
}

// Where the server key came from, for messages: " (from FILE)" or "".
std::string ServerKeySource(const ClientOptions& options) {
  return options.server_key_file.empty() ? "" : " (from " + options.server_key_file + ")";
}

// What the handshake came to, in words a person can act on; "" while nothing went wrong.
std::string DescribeFailure(uint16_t id, uint32_t value, const ClientOptions& options) {
  if (id == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
    // The ZAP status code (RFC 27): 400 is a refusal; 300 and 500 are the hub's own trouble.
    if (value == 300 || value == 500) {
      return absl::StrCat("the hub at ", options.endpoint, " could not check key ",
                          KeyPrefix(options.keys.public_key), " (authenticator status ", value,
                          "): retry later");
    }
    return absl::StrCat("key ", KeyPrefix(options.keys.public_key), " (", options.keys.name,
                        ") is not authorised by this hub (", options.endpoint,
                        "): its public key is not a principal of the hub's ISP (never listed, "
                        "or removed); send the public key to the hub's administrator");
  }
  if (id == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL &&
      value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH) {
    return absl::StrCat(options.endpoint,
                        " does not speak CurveZMQ: it is not an asbhub daemon's API endpoint");
  }
  // The server closes a connection whose hello does not decrypt with its secret key, which
  // the client sees as a failure without detail (its own key pair is checked when loaded).
  return absl::StrCat("the secure handshake with ", options.endpoint,
                      " failed: the server closed the connection, so it is not the owner of the "
                      "server public key used for it, ",
                      KeyPrefix(options.server_public_key), ServerKeySource(options),
                      ": check that this is the daemon's own .pub key");
}

// Drains monitor events into `state`.
void ReadMonitor(zmq::socket_t& monitor, const ClientOptions& options, MonitorState* state) {
  while (true) {
    zmq::message_t event;
    try {
      if (!monitor.recv(event, zmq::recv_flags::dontwait)) {
        return;
      }
      zmq::message_t endpoint;
      if (event.more()) {
        (void)monitor.recv(endpoint, zmq::recv_flags::none);
      }
    } catch (const zmq::error_t&) {
      return;
    }
    if (event.size() < 6) {
      continue;
    }
    uint16_t id;
    uint32_t value;
    std::memcpy(&id, event.data(), sizeof(id));
    std::memcpy(&value, static_cast<const char*>(event.data()) + sizeof(id), sizeof(value));
    switch (id) {
      case ZMQ_EVENT_CONNECTED:
        state->connected = true;
        break;
      case ZMQ_EVENT_CONNECT_RETRIED:
        ++state->connect_retries;
        break;
      case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
        state->authenticated = true;
        state->error.clear();
        break;
      case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
        state->error = DescribeFailure(id, value, options);
        state->code = (value == 300 || value == 500) ? absl::StatusCode::kUnavailable
                                                     : absl::StatusCode::kPermissionDenied;
        break;
      default:  // the other handshake failures
        state->error = DescribeFailure(id, value, options);
        state->code = absl::StatusCode::kUnauthenticated;
    }
  }
}

// The answer to a call that got none within `timeout`, saying how far the connection got.
absl::Status NoAnswer(const MonitorState& state, const ClientOptions& options,
                      std::chrono::milliseconds timeout) {
  const std::string within =
      absl::StrCat(" within ", static_cast<double>(timeout.count()) / 1000.0, " s");
  if (!state.connected) {
    return absl::DeadlineExceededError(absl::StrCat(
        "no answer from ", options.endpoint, within, ": nothing accepted the connection",
        state.connect_retries > 0 ? absl::StrCat(" (", state.connect_retries, " attempts refused)")
                                  : "",
        ": is the daemon running, and is the endpoint right?"));
  }
  if (!state.authenticated) {
    return absl::DeadlineExceededError(absl::StrCat(
        "no answer from ", options.endpoint, within,
        ": connected, but the CurveZMQ handshake did not complete: is this an asbhub daemon's "
        "API endpoint?"));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("no answer from ", options.endpoint, within,
                   " (connected and authenticated): the daemon is busy or stuck; see its log"));
}

absl::Status Connect(zmq::socket_t& socket, const ClientOptions& options) {
  try {
    socket.set(zmq::sockopt::linger, 0);
    socket.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(options.max_message_bytes));
    if (absl::Status s = ConfigureCurveClient(socket, options); !s.ok()) {
      return s;
    }
    socket.connect(options.endpoint);
  } catch (const zmq::error_t& e) {
    return absl::InvalidArgumentError("connect " + options.endpoint + ": " + e.what());
  }
  return absl::OkStatus();
}

bool SendRequest(zmq::socket_t& socket, const asb::v1::Request& request) {
  std::string body = request.SerializeAsString();
  try {
    if (!socket.send(zmq::message_t(), zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
      return false;
    }
    socket.send(zmq::buffer(body), zmq::send_flags::none);
  } catch (const zmq::error_t&) {
    return false;
  }
  return true;
}

// Receives one [empty][Response] message; nullopt if none is waiting.
std::optional<absl::StatusOr<asb::v1::Response>> ReceiveResponse(zmq::socket_t& socket) {
  std::vector<zmq::message_t> frames;
  try {
    zmq::message_t frame;
    if (!socket.recv(frame, zmq::recv_flags::dontwait)) {
      return std::nullopt;
    }
    frames.push_back(std::move(frame));
    while (frames.back().more()) {
      zmq::message_t next;
      (void)socket.recv(next, zmq::recv_flags::none);
      frames.push_back(std::move(next));
    }
  } catch (const zmq::error_t& e) {
    return absl::StatusOr<asb::v1::Response>(absl::UnavailableError(e.what()));
  }
  asb::v1::Response response;
  if (frames.size() != 2 ||
      !response.ParseFromArray(frames[1].data(), static_cast<int>(frames[1].size()))) {
    return absl::StatusOr<asb::v1::Response>(
        absl::InvalidArgumentError("malformed reply from the hub"));
  }
  return absl::StatusOr<asb::v1::Response>(std::move(response));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Client>> Client::Connect(zmq::context_t* context,
                                                        ClientOptions options) {
  KeepLargeMessagesInHeap();
  std::unique_ptr<Client> client(new Client());
  client->options_ = std::move(options);
  client->socket_ = zmq::socket_t(*context, zmq::socket_type::dealer);
  if (!client->options_.plaintext_for_test) {
    StartMonitor(context, client->socket_, &client->monitor_);
  }
  if (absl::Status s = bus::Connect(client->socket_, client->options_); !s.ok()) {
    return s;
  }
  return client;
}

Client::~Client() {
  if (monitor_.handle() != nullptr) {
    zmq_socket_monitor(socket_.handle(), nullptr, 0);
  }
}

absl::StatusOr<asb::v1::Response> Client::Call(asb::v1::Request request,
                                               std::chrono::milliseconds timeout) {
  const uint64_t id = next_request_id_++;
  request.set_request_id(id);
  auto deadline = Clock::now() + timeout;
  if (!SendRequest(socket_, request)) {
    return absl::UnavailableError("cannot send to " + options_.endpoint);
  }
  while (true) {
    auto now = Clock::now();
    if (now >= deadline) {
      if (!monitor_state_.error.empty()) {
        return absl::Status(monitor_state_.code, monitor_state_.error);
      }
      return NoAnswer(monitor_state_, options_, timeout);
    }
    auto wait = std::min(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now),
                         std::chrono::milliseconds(100));
    zmq::pollitem_t items[2] = {{socket_.handle(), 0, ZMQ_POLLIN, 0},
                                {monitor_.handle(), 0, ZMQ_POLLIN, 0}};
    int n = monitor_.handle() != nullptr ? 2 : 1;
    try {
      zmq::poll(items, n, wait);
    } catch (const zmq::error_t& e) {
      if (e.num() == EINTR) {
        return absl::CancelledError("interrupted");
      }
      return absl::UnavailableError(e.what());
    }
    if (n == 2 && (items[1].revents & ZMQ_POLLIN)) {
      ReadMonitor(monitor_, options_, &monitor_state_);
      if (!monitor_state_.error.empty()) {
        return absl::Status(monitor_state_.code, monitor_state_.error);
      }
    }
    if (items[0].revents & ZMQ_POLLIN) {
      while (auto response = ReceiveResponse(socket_)) {
        if (!response->ok()) {
          return response->status();
        }
        if ((*response)->request_id() == id || (*response)->request_id() == 0) {
          return std::move(**response);
        }
        // A late answer to an earlier, timed-out call: ignore.
      }
    }
  }
}

AsyncClient::AsyncClient(zmq::context_t* context, Loop* loop, ClientOptions options)
    : context_(context), loop_(loop), options_(std::move(options)) {}

AsyncClient::~AsyncClient() {
  loop_->RemoveSocket(&socket_);
  loop_->RemoveSocket(&monitor_);
  for (auto& [id, p] : pending_) {
    loop_->CancelTimer(p.timer);
  }
  if (monitor_.handle() != nullptr) {
    zmq_socket_monitor(socket_.handle(), nullptr, 0);
  }
}

absl::Status AsyncClient::Start() {
  KeepLargeMessagesInHeap();
  socket_ = zmq::socket_t(*context_, zmq::socket_type::dealer);
  if (!options_.plaintext_for_test) {
    StartMonitor(context_, socket_, &monitor_);
    loop_->AddSocket(&monitor_, [this] { HandleMonitor(); });
  }
  if (absl::Status s = Connect(socket_, options_); !s.ok()) {
    return s;
  }
  loop_->AddSocket(&socket_, [this] { HandleReadable(); });
  return absl::OkStatus();
}

uint64_t AsyncClient::Send(asb::v1::Request request, std::chrono::milliseconds timeout,
                           Callback done) {
  const uint64_t id = next_request_id_++;
  request.set_request_id(id);
  if (!SendRequest(socket_, request)) {
    // Report through the loop like any other outcome, tracked in pending_ so that destroying
    // the client cancels it.
    uint64_t timer = loop_->RunAfter(std::chrono::milliseconds(0), [this, id] {
      auto it = pending_.find(id);
      if (it != pending_.end()) {
        Callback cb = std::move(it->second.done);
        pending_.erase(it);
        cb(absl::UnavailableError("cannot send to " + options_.endpoint));
      }
    });
    pending_[id] = Pending{std::move(done), timer};
    return id;
  }
  uint64_t timer = loop_->RunAfter(timeout, [this, id] { Expire(id); });
  pending_[id] = Pending{std::move(done), timer};
  return id;
}

void AsyncClient::Expire(uint64_t id) {
  auto it = pending_.find(id);
  if (it == pending_.end()) {
    return;
  }
  Callback done = std::move(it->second.done);
  pending_.erase(it);
  if (!monitor_state_.error.empty()) {
    done(absl::Status(monitor_state_.code, monitor_state_.error));
  } else {
    done(absl::DeadlineExceededError("no answer from " + options_.endpoint));
  }
}

void AsyncClient::HandleMonitor() {
  static auto* lg = log::Get("bus");
  const std::string before = monitor_state_.error;
  ReadMonitor(monitor_, options_, &monitor_state_);
  if (!monitor_state_.error.empty() && monitor_state_.error != before) {
    SPDLOG_LOGGER_ERROR(lg, "{}", monitor_state_.error);
  }
}

void AsyncClient::HandleReadable() {
  static auto* lg = log::Get("bus");
  while (auto response = ReceiveResponse(socket_)) {
    if (!response->ok()) {
      SPDLOG_LOGGER_WARN(lg, "bad reply from {}: {}", options_.endpoint,
                         std::string(response->status().message()));
      continue;
    }
    auto it = pending_.find((*response)->request_id());
    if (it == pending_.end()) {
      continue;  // late answer to an expired request
    }
    Callback done = std::move(it->second.done);
    loop_->CancelTimer(it->second.timer);
    pending_.erase(it);
    done(std::move(**response));
  }
}

HintSubscriber::HintSubscriber(zmq::context_t* context, Loop* loop, ClientOptions options)
    : context_(context), loop_(loop), options_(std::move(options)) {}

HintSubscriber::~HintSubscriber() { loop_->RemoveSocket(&socket_); }

absl::Status HintSubscriber::Start(const std::string& stream, HintFn fn) {
  fn_ = std::move(fn);
  socket_ = zmq::socket_t(*context_, zmq::socket_type::sub);
  if (absl::Status s = Connect(socket_, options_); !s.ok()) {
    return s;
  }
  socket_.set(zmq::sockopt::subscribe, stream);
  loop_->AddSocket(&socket_, [this] {
    while (true) {
      zmq::message_t topic, body;
      try {
        if (!socket_.recv(topic, zmq::recv_flags::dontwait)) {
          return;
        }
        if (!topic.more()) {
          continue;
        }
        (void)socket_.recv(body, zmq::recv_flags::none);
        while (body.more()) {  // tolerate extra frames
          (void)socket_.recv(body, zmq::recv_flags::none);
        }
      } catch (const zmq::error_t&) {
        return;
      }
      asb::v1::HeadHint hint;
      if (hint.ParseFromArray(body.data(), static_cast<int>(body.size()))) {
        fn_(hint.stream(), hint.head());
      }
    }
  });
  return absl::OkStatus();
}

}  // namespace asb::bus
