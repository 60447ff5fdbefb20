#pragma once

// Who is on the other end of a connection. The ZAP handler (RFC 27) runs inside the daemon's
// loop: it accepts a CURVE handshake only for a known public key and sets the connection's
// User-Id to the principal's name; every message then carries it, and the Server looks the
// principal up again per message, so a key removed on reload is cut off at once.

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <zmq.hpp>

#include "absl/container/flat_hash_map.h"
#include "asb/v1/types.pb.h"
#include "common/bus/loop.h"

namespace asb::bus {

struct Principal {
  std::string name;
  std::string agency;
  asb::v1::Role role = asb::v1::ROLE_UNSPECIFIED;
  std::string public_key;
};

// The table of known principals, by public key and by name. Replace wholesale on reload.
class PrincipalTable {
 public:
  void Add(Principal p);
  const Principal* ByKey(const std::string& public_key) const;
  const Principal* ByName(const std::string& name) const;
  std::size_t size() const { return by_key_.size(); }

 private:
  absl::flat_hash_map<std::string, Principal> by_key_;
  absl::flat_hash_map<std::string, std::string> key_by_name_;
};

// Serves ZAP requests for every socket of `context` that is a CURVE server. One per context.
class Authenticator {
 public:
  // Called for each refused handshake with the key's prefix (KeyPrefix) and peer address.
  using RefusedFn = std::function<void(const std::string& key_prefix, const std::string& peer)>;

  // Binds inproc://zeromq.zap.01 in `context` and registers with `loop`.
  Authenticator(zmq::context_t* context, Loop* loop);
  ~Authenticator();

  void SetPrincipals(std::shared_ptr<const PrincipalTable> table) { table_ = std::move(table); }
  std::shared_ptr<const PrincipalTable> principals() const { return table_; }
  void OnRefused(RefusedFn fn) { on_refused_ = std::move(fn); }

  uint64_t refused_count() const { return refused_; }

 private:
  void HandleRequests();

  Loop* loop_;
  zmq::socket_t socket_;
  std::shared_ptr<const PrincipalTable> table_ = std::make_shared<PrincipalTable>();
  RefusedFn on_refused_;
  uint64_t refused_ = 0;
};

}  // namespace asb::bus
