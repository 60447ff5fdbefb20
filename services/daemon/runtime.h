#pragma once

// What every asb daemon is made of, built once here so the four daemons keep one shape: a ZeroMQ
// context and loop, the ZAP authenticator fed from the ISP's principals (common/auth: agencies
// and principals only, reloadable on SIGHUP), the request server, the daemon's own store with
// its "audit" stream (served to asb-audit), the streams it serves and the consumers it runs.
// The runtime knows no daemon: each one passes its own store layout and, if it holds more of
// the ISP (asb-sharing: the policy engine), loads that part itself (RuntimeOptions.load_isp).
// Single-threaded: everything runs in the loop.
//
// Operators: the runtime owns the daemon's metrics::Registry (the counters of a Ping and the
// Prometheus /metrics are the same numbers) and, with server.metrics_bind set, the HTTP server
// of /metrics, /healthz and /readyz (services/daemon/admin_server.h). It registers what every
// daemon has (streams, consumers and their lag, refused handshakes, bad messages, fsync latency,
// free disk, the ISP version); each daemon adds its own through metrics().
//
// Encryption at rest: with store.key_ring set, the store encrypts every value with personal
// data, each case's under its own data key (the subject is the case id, found by the daemon's
// layout: StoreOptions.subject_of), so Store::EraseSubject(case id) erases a case. A stream
// record of an erased case is served as an envelope without payload, which consumers skip and
// audit. Cases deleted under the data sharing agreement's retention are shredded through the
// runtime's erasure queue (QueueErasure; asb-sharing decides, the others follow its "erasures"
// stream: ConsumeErasures).
//
// The data sharing agreement: the ISP's principals are refused at load once the agreement has
// lapsed (common/auth), and while it is due for review the runtime warns at start, on reload and
// every few hours.

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>
#include <zmq.hpp>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "asb/config/v1/common.pb.h"
#include "asb/config/v1/isp.pb.h"
#include "asb/v1/api.pb.h"
#include "asb/v1/audit.pb.h"
#include "asb/v1/disclosure.pb.h"
#include "common/auth/principals.h"
#include "common/bus/auth.h"
#include "common/bus/loop.h"
#include "common/bus/server.h"
#include "common/metrics/registry.h"
#include "common/store/store.h"
#include "common/stream/consumer.h"
#include "common/stream/log.h"
#include "common/stream/stream_server.h"
#include "services/daemon/admin_server.h"
#include "services/daemon/refusals.h"

namespace asb::daemon {

struct RuntimeOptions {
  std::string component;  // "intake", "sharing", "notify", "audit"
  asb::config::v1::StoreConfig store;
  asb::config::v1::ServerConfig server;
  // The ISP file. The runtime reads its agencies and principals (auth::Principals).
  std::string isp_file;
  // The daemon's own store layout, declared next to its column-family constants (e.g.
  // audit::AuditStoreLayout()): its column families and their tuning, the column families that
  // hold no personal data (plaintext_column_families) and the case id of a value of any other
  // (subject_of; "" or unset: sealed under the master key) — its stream logs' records included,
  // since only the daemon knows what it appends (services/daemon/store_layout.h). path, sync and
  // the key ring come from `store`; the runtime adds what it owns: LogColumnFamily(name) of each
  // stream it serves, the consumers' offsets (plaintext) and the erased-record placeholder.
  store::StoreOptions layout;
  // Streams it serves to other daemons ("audit" is always served).
  std::vector<std::string> streams;
  // The daemon's own part of the ISP, if it holds more than the principals (asb-sharing: the
  // policy engine and the pseudonymisation key). Called with isp_file at start, once the
  // principals have loaded, and on every reload before new principals take effect. It loads
  // and checks its part and, only if that succeeds, puts it in force and returns the ISP
  // version it now works under (PingResponse.isp_version). An error stops the start, or refuses
  // the reload: the old principals stay too, and the part must be left as it was. Unset: Ping
  // reports the principals' version.
  std::function<absl::StatusOr<std::string>(const std::string& isp_file)> load_isp;
};

// Sets the encryption-at-rest fields of `options`, which holds the daemon's own layout
// (RuntimeOptions.layout: its plaintext column families and subject_of stay as they are): the
// key ring loaded from `key_ring` (StoreConfig.key_ring), the consumers' offsets added to the
// plaintext column families, and the placeholder for an erased stream record. Errors name
// store.key_ring. (Runtime::Create calls it; tools and tests that open a stopped daemon's store,
// e.g. to erase a case, must start from that daemon's layout and use it too.)
absl::Status ConfigureAtRest(const std::string& component, const std::string& key_ring,
                             store::StoreOptions* options);

// The runtime's column family of cases waiting to be crypto-shredded (case id → CaseErasure,
// no personal data: plaintext).
inline constexpr char kErasureQueueColumnFamily[] = "erasure_queue";

class Runtime {
 public:
  using Handler = std::function<void(const bus::Caller&, const asb::v1::Request&)>;

  // Loads the ISP's principals (and the daemon's own part: options.load_isp) and the daemon's
  // key, opens the store and its streams. Sockets are not bound until Start. Errors name the
  // file or setting at fault.
  static absl::StatusOr<std::unique_ptr<Runtime>> Create(RuntimeOptions options);
  ~Runtime();

  // Binds the server. Ping and stream fetches are answered here; everything else goes to
  // `handler`.
  absl::Status Start(Handler handler);

  // Runs until Stop() (SIGTERM) — also reloads the key ring and the ISP when RequestReload()
  // was called — and then commits the last deferred batch (Store::Settle).
  void Run();
  void Stop() { loop_.Stop(); }
  // Safe from a signal handler: the reload happens in the loop.
  void RequestReload() { reload_requested_.store(true); }
  // Reloads the ISP now: its principals (a principal no longer listed is cut off at once) and
  // the daemon's own part (options.load_isp). A bad file is refused and everything loaded
  // before stays in force.
  absl::Status Reload();
  // Reloads the at-rest key ring (store.key_ring) now, so new values use its newest key (after
  // `asbctl keys rotate`). A ring that fails to load or lacks a key of the current one is
  // refused and the current ring stays. SIGHUP does this before the ISP reload.
  absl::Status ReloadKeyRing();

  // Adds a consumer of `stream` of the upstream in `upstream` (config), started at once.
  absl::StatusOr<stream::Consumer*> AddConsumer(const asb::config::v1::UpstreamConfig& upstream,
                                                const std::string& stream,
                                                stream::Consumer::ApplyFn apply);

  // Marks erasure.case_id for crypto-shredding in this daemon's store, in `batch`, so the
  // shredding follows exactly the decision it is part of. Once the batch commits the loop
  // destroys the data keys of every marked case (Store::EraseSubjects: one flush and compaction
  // for them all) and records an ERASURE audit record per case (its case id, erasure.reference
  // and the keys destroyed); a minute later it shreds the case once more (a record fetched
  // before the erasure but applied after it got a fresh key) and removes the mark. Marks a crash
  // left behind are done at the next start; shredding again destroys nothing more, so it is
  // done once in effect.
  void QueueErasure(const asb::v1::CaseErasure& erasure, store::Batch* batch);
  // The daemon's own part of erasing a case (`asbctl case erase`, and the erasure queue's
  // shredding under retention): deletes, in `batch`, the keys of its store that name the case or
  // its people in plaintext (asb-sharing: the victim index; asb-intake: its ledgers), which
  // destroying the data keys would leave behind. The runtime writes that batch BEFORE it
  // destroys the case's data keys, so the function may read the case's values; an error fails
  // the erasure (nothing destroyed: EraseCase answers it, the queue retries in a minute).
  using CaseKeysEraser =
      std::function<absl::Status(const std::string& case_id, store::Batch* batch)>;
  void SetCaseKeysEraser(CaseKeysEraser eraser) { case_keys_eraser_ = std::move(eraser); }
  // Consumes `upstream`'s (asb-sharing's) "erasures" stream: each record is queued as above.
  absl::StatusOr<stream::Consumer*> ConsumeErasures(
      const asb::config::v1::UpstreamConfig& upstream);
  // Cases shredded (first passes) since start.
  uint64_t erasures_shredded() const { return erasures_shredded_; }

  // The ISP's data sharing agreement as the principals were loaded with (name and agreement
  // only): for agreement::AssessReview and agreement::RetentionDays.
  const asb::config::v1::Isp& agreement_isp() const { return principals_->agreement_isp(); }
  // Warns if the daemon's own retention setting (`setting`, `days`; 0: kept for ever) is not
  // the one the agreement states for `data` (the agreement is what the parties signed).
  void WarnIfRetentionDiffers(asb::config::v1::DataSharingAgreement::RetentionData data,
                              uint32_t days, const std::string& setting) const;

  // The served log `name` (one of options.streams, or "audit").
  stream::Log* log(const std::string& name) const;

  // Appends `record` (component and time filled in) to the daemon's audit stream in `batch`.
  void AuditInBatch(asb::v1::AuditRecord record, store::Batch* batch);
  // The same in its own durable write; failures are logged (and counted), never fatal.
  void Audit(asb::v1::AuditRecord record);
  // asb-audit keeps its own records in its Merkle log instead of an "audit" stream.
  using AuditSink = std::function<void(const asb::v1::AuditRecord&, store::Batch*)>;
  void SetAuditSink(AuditSink sink) { audit_sink_ = std::move(sink); }

  // A counter shown to operators in PingResponse.counters (`asbctl status`) and on /metrics
  // (asb_<name>_total), read when asked. Every daemon also reports "bad_messages" (undecodable
  // requests), "audit_failures" (audit records that could not be written),
  // "refused_handshakes", "refusals" (every refusal) and "refusal_records" (the access-log
  // records they were folded into).
  void AddCounter(const std::string& name, std::function<uint64_t()> read,
                  const std::string& help = "") {
    metrics_.AddCounterFn(name, help.empty() ? name : help, std::move(read));
  }
  // The daemon's metrics (Ping counters and /metrics). Register from the loop thread.
  metrics::Registry& metrics() { return metrics_; }

  // OK when the daemon serves and can work: its loop runs, its store's file system has
  // store.min_free_mb free, and every upstream it consumes answered its last fetch. Otherwise
  // kUnavailable listing every reason (GET /readyz).
  absl::Status Readiness() const;
  // store.min_free_mb in bytes (its default when unset).
  uint64_t min_free_bytes() const;

  // Replies kPermissionDenied and audits ACCESS_REFUSED unless the caller has `role` (through
  // the refusal recorder: the first of a run at once, the rest folded).
  bool RequireRole(const bus::Caller& caller, asb::v1::Role role, const std::string& action);

  // Writes `batch` durably; on failure replies kUnavailable to `caller` and returns false.
  bool WriteOrReply(store::Batch* batch, const bus::Caller& caller);

  const std::string& component() const { return options_.component; }
  // The ISP version in force (see RuntimeOptions.load_isp).
  const std::string& isp_version() const { return isp_version_; }
  bus::Loop& loop() { return loop_; }
  bus::Server& server() { return *server_; }
  // The server of the daemon's streams (after Start): its consumers' lag, for backpressure.
  stream::StreamServer& stream_server() { return *stream_server_; }
  store::Store& store() { return *store_; }
  zmq::context_t& context() { return context_; }
  absl::Time Now() const { return absl::Now(); }

  // "api" and "hints" endpoints as bound (and "metrics" when served), for the ready file.
  std::vector<std::pair<std::string, std::string>> endpoints() const;

 private:
  explicit Runtime(RuntimeOptions options);
  void EraseCase(const bus::Caller& caller, const asb::v1::EraseCaseRequest& request);
  void Dispatch(const bus::Caller& caller, const asb::v1::Request& request);
  // Registers what every daemon reports (runtime_metrics.cc); called by Start.
  void RegisterMetrics();
  // Shreds the cases of the erasure queue (up to kErasuresPerDrain; re-posts itself for more).
  void DrainErasures();
  // Logs where the agreement's review stands if it needs attention (or is missing).
  void WarnAboutAgreement() const;

  RuntimeOptions options_;
  metrics::Registry metrics_;  // before the store, whose fsyncs it times
  zmq::context_t context_;
  bus::Loop loop_;
  bus::KeyPair keys_;
  std::optional<auth::Principals> principals_;
  std::string isp_version_;
  std::unique_ptr<bus::Authenticator> auth_;
  std::unique_ptr<bus::Server> server_;
  std::unique_ptr<store::Store> store_;
  std::vector<std::unique_ptr<stream::Log>> logs_;
  std::unique_ptr<stream::StreamServer> stream_server_;
  std::vector<std::unique_ptr<stream::Consumer>> consumers_;
  Handler handler_;
  AuditSink audit_sink_;
  CaseKeysEraser case_keys_eraser_;
  // Refused handshakes, malformed requests and requests without the role, audited in
  // intervals (services/daemon/refusals.h).
  std::unique_ptr<RefusalRecorder> refusals_;
  std::atomic<bool> reload_requested_{false};
  uint64_t audit_failures_ = 0;
  metrics::Counter* refused_handshakes_ = nullptr;
  std::unique_ptr<AdminServer> admin_;
  bool drain_posted_ = false;
  bool settle_posted_ = false;
  uint64_t erasures_shredded_ = 0;
};

}  // namespace asb::daemon
