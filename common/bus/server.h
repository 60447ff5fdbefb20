#pragma once

// A daemon's external face: a CURVE-server ROUTER for requests (asb.v1.Request/Response) and a
// PUB for stream head hints. The Server parses and bounds every incoming message; a message
// that is not a well-formed Request gets an INVALID_ARGUMENT reply and is reported through
// OnBadMessage (counted and audited by the daemon) — it never reaches the handler. Every reply,
// errors included, carries the request's request_id whenever its bytes let it be read.

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
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

// The request_id of a message that is not (quite) a well-formed asb.v1.Request: the value of
// its field 1 as far as the bytes can be read (0 if none), so an error reply can still echo it.
uint64_t ReadableRequestId(const uint8_t* data, std::size_t size);

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
  // The same, with `encoded_fields` (serialised fields of the message in the response's field
  // `body_field`, e.g. a fetch's records as they are stored) merged into that field on the wire,
  // without being parsed or copied into the message first.
  void Reply(const Caller& caller, asb::v1::Response response, int body_field,
             std::string_view encoded_fields);
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
  // CurveZMQ handshakes that failed before the ZAP handler was asked (it audits the keys it
  // refuses): a plaintext client on this CURVE socket, a handshake that did not decrypt (the
  // client encrypts to another server key, its key pair's halves do not match, or bytes were
  // replayed), a malformed one, or a peer that left mid-handshake (which a plaintext client
  // that notices the mismatch first does, too). The server's socket monitor
  // counts them and reports them through OnBadMessage (principal empty) saying which of these
  // happened — at most one report a second, the rest counted in the next one.
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
  // Failed handshakes since the last report, by what happened.
  struct HandshakeFailures {
    uint64_t plaintext = 0;      // ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH
    uint64_t undecryptable = 0;  // ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC
    uint64_t malformed = 0;      // any other protocol error
    uint64_t abandoned = 0;      // ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL
    uint64_t total() const { return plaintext + undecryptable + malformed + abandoned; }
  };
  HandshakeFailures unreported_;
  std::chrono::steady_clock::time_point last_handshake_report_{};
  uint64_t report_timer_ = 0;  // Loop timer id of a pending report; 0 if none
};

}  // namespace asb::bus
