#pragma once

// What every asb daemon is made of, built once here so the four daemons keep one shape: a ZeroMQ
// context and loop, the ZAP authenticator fed from the ISP's principals, the request server, the
// daemon's own store with its "audit" stream (served to asb-audit), the streams it serves, the
// consumers it runs, and the ISP policy, reloadable on SIGHUP. Single-threaded: everything runs
// in the loop.
//
// Encryption at rest: with store.key_ring set, the store encrypts every value with personal
// data, each case's under its own data key (the subject is the case id, found in the value or
// key by column family; see runtime.cc), so Store::EraseSubject(case id) erases a case. A
// stream record of an erased case is served as an envelope without payload, which consumers
// skip and audit.

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>
#include <zmq.hpp>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "asb/config/v1/common.pb.h"
#include "asb/v1/api.pb.h"
#include "asb/v1/audit.pb.h"
#include "common/bus/auth.h"
#include "common/bus/loop.h"
#include "common/bus/server.h"
#include "common/policy/policy.h"
#include "common/store/store.h"
#include "common/stream/consumer.h"
#include "common/stream/log.h"
#include "common/stream/stream_server.h"

namespace asb::daemon {

struct RuntimeOptions {
  std::string component;  // "intake", "sharing", "notify", "audit"
  asb::config::v1::StoreConfig store;
  asb::config::v1::ServerConfig server;
  std::string isp_file;
  // The daemon's store layout: its column families and their tuning (path, sync and
  // encryption come from `store`; LogColumnFamily(name) of each stream it serves is added).
  store::StoreOptions layout;
  // Streams it serves to other daemons ("audit" is always served).
  std::vector<std::string> streams;
};

// Sets the encryption-at-rest fields of `options` as every daemon's store has them: the key
// ring loaded from `key_ring` (StoreConfig.key_ring), the plaintext column families, the subject
// of each value (its case id) and the placeholder for an erased stream record. Errors name
// store.key_ring. (Runtime::Create calls it; tools that open a stopped daemon's store, e.g. to
// erase a case, must use it too.)
absl::Status ConfigureAtRest(const std::string& component, const std::string& key_ring,
                             store::StoreOptions* options);

class Runtime {
 public:
  using Handler = std::function<void(const bus::Caller&, const asb::v1::Request&)>;

  // Loads the ISP and the daemon's key, opens the store and its streams. Sockets are not bound
  // until Start. Errors name the file or setting at fault.
  static absl::StatusOr<std::unique_ptr<Runtime>> Create(RuntimeOptions options);
  ~Runtime();

  // Binds the server. Ping and stream fetches are answered here; everything else goes to
  // `handler`.
  absl::Status Start(Handler handler);

  // Runs until Stop() (SIGTERM) — also reloads the ISP when RequestReload() was called — and
  // then commits the last deferred batch (Store::Settle).
  void Run();
  void Stop() { loop_.Stop(); }
  // Safe from a signal handler: the reload happens in the loop.
  void RequestReload() { reload_requested_.store(true); }
  // Reloads the ISP now. A bad file is refused and the old policy stays in force.
  absl::Status Reload();
  // Reloads the at-rest key ring (store.key_ring) now, so new values use its newest key (after
  // `asbctl keys rotate`). A ring that fails to load or lacks a key of the current one is
  // refused and the current ring stays. SIGHUP does this before the ISP reload.
  absl::Status ReloadKeyRing();

  // Adds a consumer of `stream` of the upstream in `upstream` (config), started at once.
  absl::StatusOr<stream::Consumer*> AddConsumer(const asb::config::v1::UpstreamConfig& upstream,
                                                const std::string& stream,
                                                stream::Consumer::ApplyFn apply);

  // The served log `name` (one of options.streams, or "audit").
  stream::Log* log(const std::string& name) const;

  // Appends `record` (component and time filled in) to the daemon's audit stream in `batch`.
  void AuditInBatch(asb::v1::AuditRecord record, store::Batch* batch);
  // The same in its own durable write; failures are logged (and counted), never fatal.
  void Audit(asb::v1::AuditRecord record);
  // asb-audit keeps its own records in its Merkle log instead of an "audit" stream.
  using AuditSink = std::function<void(const asb::v1::AuditRecord&, store::Batch*)>;
  void SetAuditSink(AuditSink sink) { audit_sink_ = std::move(sink); }

  // A counter shown to operators in PingResponse.counters (`asbctl status`), read when asked.
  // Every daemon also reports "bad_messages" (undecodable requests) and "audit_failures"
  // (audit records that could not be written).
  void AddCounter(std::string name, std::function<uint64_t()> read) {
    counters_.emplace_back(std::move(name), std::move(read));
  }

  // Replies kPermissionDenied and audits ACCESS_REFUSED unless the caller has `role`.
  bool RequireRole(const bus::Caller& caller, asb::v1::Role role, const std::string& action);

  // Writes `batch` durably; on failure replies kUnavailable to `caller` and returns false.
  bool WriteOrReply(store::Batch* batch, const bus::Caller& caller);

  // Called with the new policy after each successful reload (and not at start).
  void OnPolicyChanged(std::function<void(std::shared_ptr<const policy::Policy>)> fn) {
    on_policy_.push_back(std::move(fn));
  }

  const std::string& component() const { return options_.component; }
  std::shared_ptr<const policy::Policy> policy() const { return policy_; }
  bus::Loop& loop() { return loop_; }
  bus::Server& server() { return *server_; }
  store::Store& store() { return *store_; }
  zmq::context_t& context() { return context_; }
  absl::Time Now() const { return absl::Now(); }

  // "api" and "hints" endpoints as bound, for the ready file.
  std::vector<std::pair<std::string, std::string>> endpoints() const;

 private:
  explicit Runtime(RuntimeOptions options);
  void EraseCase(const bus::Caller& caller, const asb::v1::EraseCaseRequest& request);
  void Dispatch(const bus::Caller& caller, const asb::v1::Request& request);

  RuntimeOptions options_;
  zmq::context_t context_;
  bus::Loop loop_;
  bus::KeyPair keys_;
  std::shared_ptr<const policy::Policy> policy_;
  std::unique_ptr<bus::Authenticator> auth_;
  std::unique_ptr<bus::Server> server_;
  std::unique_ptr<store::Store> store_;
  std::vector<std::unique_ptr<stream::Log>> logs_;
  std::unique_ptr<stream::StreamServer> stream_server_;
  std::vector<std::unique_ptr<stream::Consumer>> consumers_;
  std::vector<std::function<void(std::shared_ptr<const policy::Policy>)>> on_policy_;
  Handler handler_;
  AuditSink audit_sink_;
  struct RefusedKey {
    absl::Time last_recorded = absl::InfinitePast();
    uint64_t count = 0;
  };
  absl::flat_hash_map<std::string, RefusedKey> refused_keys_;
  std::atomic<bool> reload_requested_{false};
  uint64_t audit_failures_ = 0;
  std::vector<std::pair<std::string, std::function<uint64_t()>>> counters_;
};

}  // namespace asb::daemon
