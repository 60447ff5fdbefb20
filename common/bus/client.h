#pragma once

// Clients of a daemon's Server: a CURVE-client DEALER. Two flavours over one connection type:
// - Client: blocking calls (asbctl, tests);
// - AsyncClient: non-blocking, driven by a Loop (a daemon consuming another daemon's stream).
// Both watch the socket monitor, so a failed handshake is an error that says what happened
// instead of a silent hang: a key the server's ZAP handler refuses is kPermissionDenied "key
// ABCDEFGH… (name) is not authorised by this hub"; a server that closes the connection during
// the handshake (it cannot decrypt the hello: the server public key is not its own) or an
// endpoint without CurveZMQ is kUnauthenticated, naming the server key used.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <zmq.hpp>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "asb/v1/api.pb.h"
#include "common/bus/keys.h"
#include "common/bus/loop.h"

namespace asb::bus {

// What a client's socket monitor has seen of its connection.
struct MonitorState {
  bool connected = false;      // a transport connection was made at least once
  bool authenticated = false;  // the CurveZMQ handshake succeeded at least once
  int connect_retries = 0;     // connection attempts that failed
  std::string error;           // the last handshake failure, in words ("" after a success)
  absl::StatusCode code = absl::StatusCode::kOk;  // and its code
};

struct ClientOptions {
  std::string endpoint;           // the server's ROUTER endpoint
  std::string server_public_key;  // Z85
  std::string server_key_file;    // where server_public_key came from (for messages); optional
  KeyPair keys;                   // the client's own key pair (secret required)
  uint64_t max_message_bytes = 64 << 20;
  bool plaintext_for_test = false;
};

class Client {
 public:
  // Connects (asynchronously; the first Call waits for the handshake).
  static absl::StatusOr<std::unique_ptr<Client>> Connect(zmq::context_t* context,
                                                         ClientOptions options);
  ~Client();

  // Sends `request` (request_id assigned here) and waits for its response. Errors:
  // kPermissionDenied (key refused), kUnauthenticated (the handshake failed: wrong server key,
  // or not a CurveZMQ endpoint), kDeadlineExceeded (no answer; the message says whether
  // nothing accepted the connection, the handshake never completed, or the daemon is silent),
  // kInvalidArgument (unparseable reply). A Response whose status is not OK is returned as is.
  absl::StatusOr<asb::v1::Response> Call(asb::v1::Request request,
                                         std::chrono::milliseconds timeout);

 private:
  Client() = default;
  absl::Status CheckMonitor();

  zmq::socket_t socket_;
  zmq::socket_t monitor_;
  ClientOptions options_;
  uint64_t next_request_id_ = 1;
  MonitorState monitor_state_;
};

class AsyncClient {
 public:
  using Callback = std::function<void(absl::StatusOr<asb::v1::Response>)>;

  AsyncClient(zmq::context_t* context, Loop* loop, ClientOptions options);
  ~AsyncClient();

  // Connects and registers with the loop.
  absl::Status Start();

  // Sends `request`; `done` runs in the loop with the response, or kDeadlineExceeded after
  // `timeout`, or (then) the handshake failure as Client::Call reports it. Returns the
  // request id.
  uint64_t Send(asb::v1::Request request, std::chrono::milliseconds timeout, Callback done);

  // Requests in flight.
  std::size_t pending() const { return pending_.size(); }

 private:
  void HandleReadable();
  void HandleMonitor();
  void Expire(uint64_t request_id);

  zmq::context_t* context_;
  Loop* loop_;
  ClientOptions options_;
  zmq::socket_t socket_;
  zmq::socket_t monitor_;
  uint64_t next_request_id_ = 1;
  struct Pending {
    Callback done;
    uint64_t timer;
  };
  absl::flat_hash_map<uint64_t, Pending> pending_;
  MonitorState monitor_state_;
};

// Subscribes to a producer's head hints.
class HintSubscriber {
 public:
  using HintFn = std::function<void(const std::string& stream, uint64_t head)>;
  HintSubscriber(zmq::context_t* context, Loop* loop, ClientOptions options);
  ~HintSubscriber();
  // Connects a CURVE-client SUB to options.endpoint (the producer's hints endpoint),
  // subscribes to `stream` and calls fn for each hint.
  absl::Status Start(const std::string& stream, HintFn fn);

 private:
  zmq::context_t* context_;
  Loop* loop_;
  ClientOptions options_;
  zmq::socket_t socket_;
  HintFn fn_;
};

}  // namespace asb::bus
