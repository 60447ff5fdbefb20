#include "common/bus/client.h"

#include <zmq.h>

#include <atomic>
#include <cstring>

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
               ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_SUCCEEDED;
  zmq_socket_monitor(socket.handle(), address.c_str(), events);
  *monitor = zmq::socket_t(*context, zmq::socket_type::pair);
  monitor->set(zmq::sockopt::linger, 0);
  monitor->connect(address);
}

// Drains monitor events; returns a non-empty error text if the handshake was refused.
std::string ReadMonitor(zmq::socket_t& monitor, const ClientOptions& options) {
  std::string error;
  while (true) {
    zmq::message_t event;
    try {
      if (!monitor.recv(event, zmq::recv_flags::dontwait)) {
        return error;
      }
      zmq::message_t endpoint;
      if (event.more()) {
        (void)monitor.recv(endpoint, zmq::recv_flags::none);
      }
    } catch (const zmq::error_t&) {
      return error;
    }
    if (event.size() < 6) {
      continue;
    }
    uint16_t id;
    std::memcpy(&id, event.data(), sizeof(id));
    if (id == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
      error = "key " + KeyPrefix(options.keys.public_key) + " (" + options.keys.name +
              ") is not authorised by this hub (" + options.endpoint + ")";
    } else if (id == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ||
               id == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) {
      error =
          "secure handshake with " + options.endpoint + " failed: is the server public key right?";
    } else if (id == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
      error.clear();
    }
  }
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
      if (!auth_error_.empty()) {
        return absl::PermissionDeniedError(auth_error_);
      }
      return absl::DeadlineExceededError("no answer from " + options_.endpoint + " within " +
                                         std::to_string(timeout.count() / 1000.0) +
                                         " s: is the hub running?");
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
      auth_error_ = ReadMonitor(monitor_, options_);
      if (!auth_error_.empty()) {
        return absl::PermissionDeniedError(auth_error_);
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
  if (!auth_error_.empty()) {
    done(absl::PermissionDeniedError(auth_error_));
  } else {
    done(absl::DeadlineExceededError("no answer from " + options_.endpoint));
  }
}

void AsyncClient::HandleMonitor() {
  static auto* lg = log::Get("bus");
  std::string error = ReadMonitor(monitor_, options_);
  if (!error.empty() && error != auth_error_) {
    SPDLOG_LOGGER_ERROR(lg, "{}", error);
  }
  auth_error_ = error;
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
