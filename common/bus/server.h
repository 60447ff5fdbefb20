#pragma once

// A daemon's external face: a CURVE-server ROUTER for requests (asb.v1.Request/Response) and a
// PUB for stream head hints. The Server parses and bounds every incoming message; a message
// that is not a well-formed Request gets an INVALID_ARGUMENT reply and is reported through
// OnBadMessage (counted and audited by the daemon) — it never reaches the handler.

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <zmq.hpp>

#include "absl/status/status.h"
#include "asb/v1/api.pb.h"
#include "common/bus/auth.h"
#include "common/bus/keys.h"
#include "common/bus/loop.h"

namespace asb::bus {

struct ServerOptions {
  std::string api_bind;    // ROUTER endpoint
  std::string hints_bind;  // PUB endpoint; empty for none
  KeyPair keys;            // this daemon's key pair (secret required)
  uint64_t max_message_bytes = 4 << 20;
  // Disable CURVE (tests of the bus itself only; daemons always use CURVE).
  bool plaintext_for_test = false;
};

// Who sent a request and where to send the answer. Copyable; may be kept to reply later
// (long polls).
struct Caller {
  std::string routing_id;
  Principal principal;  // resolved from the connection's User-Id at receipt
  uint64_t request_id = 0;
};

class Server {
 public:
  using Handler = std::function<void(const Caller&, const asb::v1::Request&)>;
  // Reason text names the problem (never the payload); principal may be empty.
  using BadMessageFn = std::function<void(const Principal&, const std::string& reason)>;

  Server(zmq::context_t* context, Loop* loop, Authenticator* auth, ServerOptions options);
  ~Server();

  // Binds both sockets and registers with the loop. kUnavailable (address in use, bad path),
  // kInvalidArgument (bad endpoint or key).
  absl::Status Start(Handler handler);

  // Sends `response` to the caller (request_id filled from caller). Drops it with a debug log if
  // the peer is gone.
  void Reply(const Caller& caller, asb::v1::Response response);
  // Convenience: an error reply.
  void ReplyError(const Caller& caller, const absl::Status& status);

  // Publishes a hint "stream head is now head" on the PUB socket (topic = stream).
  void PublishHead(const std::string& stream, uint64_t head);

  void OnBadMessage(BadMessageFn fn) { on_bad_ = std::move(fn); }
  // Called once at the end of every wake-up of the request socket, after the handler has seen
  // every request that was waiting (at most 1000 per wake-up). Lets a daemon batch the work of
  // one drain (intake's group commit) and answer afterwards.
  void OnDrained(std::function<void()> fn) { on_drained_ = std::move(fn); }

  // The endpoints actually bound (tcp://127.0.0.1:* resolves to a port).
  const std::string& api_endpoint() const { return api_endpoint_; }
  const std::string& hints_endpoint() const { return hints_endpoint_; }
  uint64_t bad_messages() const { return bad_messages_; }
  // CurveZMQ handshakes that failed cryptographically (a forged key, replayed bytes): no ZAP
  // request is made for them, so the server's socket monitor counts them and reports them
  // through OnBadMessage (principal empty) — at most one report a second, the rest counted in
  // the next one.
  uint64_t failed_handshakes() const { return failed_handshakes_; }

 private:
  void HandleReadable();
  void DrainRequests();
  void HandleMonitor();
  void ReportHandshakes();

  zmq::context_t* context_;
  Loop* loop_;
  Authenticator* auth_;
  ServerOptions options_;
  zmq::socket_t router_;
  zmq::socket_t pub_;
  zmq::socket_t monitor_;  // PAIR connected to router_'s monitor; empty if none
  Handler handler_;
  BadMessageFn on_bad_;
  std::function<void()> on_drained_;
  std::string api_endpoint_;
  std::string hints_endpoint_;
  uint64_t bad_messages_ = 0;
  uint64_t failed_handshakes_ = 0;
  uint64_t unreported_handshakes_ = 0;
  std::chrono::steady_clock::time_point last_handshake_report_{};
  uint64_t report_timer_ = 0;  // Loop timer id of a pending report; 0 if none
};

}  // namespace asb::bus
