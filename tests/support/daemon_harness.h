#pragma once

// A harness that runs the real asbhub daemons (asb-intake, asb-sharing, asb-notify, asb-audit)
// as child processes for integration tests, and talks to them as the demo principals do.
//
// Each Hub owns a fresh, short temporary data directory (ASBHUB_DATA for the children, so the
// shipped config/{intake,sharing,notify,audit}.yaml put their stores and ipc:// sockets there)
// and runs the daemons with the working directory set to the source tree, exactly as an
// operator runs them by hand. Readiness is the daemon's own --ready-file (written atomically once
// it serves); waits poll against a deadline, never a fixed sleep. A daemon that exits early is
// reported with the tail of its log (DATA/<name>.log, its stdout and stderr).
//
// Children get PR_SET_PDEATHSIG(SIGKILL), so a test that dies leaves no daemon behind; the
// destructor stops (SIGTERM, then SIGKILL after a grace period) whatever still runs.
//
// Clients: Call() connects a CurveZMQ client with the demo key config/keys/demo/<principal>.key
// to a daemon (server key config/keys/demo/<daemon>.pub), caching one connection per
// (daemon, principal) until that daemon is stopped, killed or restarted.
//
// Not thread-safe: use a Hub from the test's thread.

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>
#include <zmq.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "asb/v1/api.pb.h"
#include "asb/v1/events.pb.h"
#include "common/auditlog/verifier.h"
#include "common/bus/client.h"
#include "common/bus/keys.h"
#include "tests/support/temp_dir.h"

namespace asb::testing {

// Polls `done` every `interval` until it returns true or `deadline` passes. A non-OK result of
// `done` counts as "not yet"; on timeout returns kDeadlineExceeded with `what` and the last
// error (if any), so a failed wait says what it was waiting for.
absl::Status WaitUntil(const std::function<absl::StatusOr<bool>()>& done, absl::Time deadline,
                       const std::string& what, absl::Duration interval = absl::Milliseconds(10));

// Reads a .jsonl file of asb.v1.CaseEvent (protobuf JSON mapping), skipping blank lines and
// '#' comments, as `asbctl submit` does. kInvalidArgument names the line that does not parse.
absl::StatusOr<std::vector<asb::v1::CaseEvent>> LoadEventsFile(const std::string& path);

// The officer the tests' case lookups are made on behalf of (a lookup needs one: api.proto).
asb::v1::OnBehalfOf TestOfficer();

struct HubOptions {
  // The source tree: the daemons' working directory, holding config/.
  std::string source_dir;
  // Daemon name ("intake", "sharing", "notify", "audit") → path of its executable.
  std::map<std::string, std::string> binaries;
  // Extra flags for every daemon, e.g. {"--log-level", "debug"}.
  std::vector<std::string> extra_args;
  // How long one request may take before Call gives up.
  std::chrono::milliseconds call_timeout{10000};
  // Daemon name → config file to run it with instead of config/<name>.yaml (absolute, or
  // relative to source_dir), e.g. a copy with a shorter ack timeout written by the test.
  std::map<std::string, std::string> config_files;
  // Extra environment for every daemon (replacing an inherited variable of the same name), e.g.
  // ASBHUB_CLOCK_OFFSET_SECONDS, which the shipped intake.yaml reads into clock.offset_seconds,
  // or {"ASBHUB_NOTIFY_METRICS", "127.0.0.1:9743"}. The shipped configs' metrics ports
  // (ASBHUB_<DAEMON>_METRICS) default to 127.0.0.1:0 here (a free port each, named in the ready
  // file) so tests running side by side never collide.
  std::map<std::string, std::string> env;
};

// The ASBHUB_CLOCK_OFFSET_SECONDS value that makes the hub's clock (asb-intake) read `as_of` now
// and run on from there: tests that replay the shipped samples judge them at one fixed date
// (HubOptions.env).
std::string ClockOffsetFor(absl::Time as_of);

// The date the shipped samples (config/samples/*.jsonl) are judged at: their orders' deadlines
// (ends, reviews, hearings) fall before or after it as the samples describe, whatever the date
// the tests run on.
inline absl::Time SamplesAsOf() { return absl::FromUnixSeconds(1796083200); }  // 2026-12-01

#if defined(ASB_SOURCE_DIR) && defined(ASB_INTAKE_BIN) && defined(ASB_SHARING_BIN) && \
    defined(ASB_NOTIFY_BIN) && defined(ASB_AUDIT_BIN)
// The four daemons of this build on the shipped configs, for a test built with asb_hub_test()
// (tests/support/CMakeLists.txt), which defines where they are. The hub's clock reads
// SamplesAsOf() when the hub is set up and runs on from there (a test that makes its events
// from the real time sets env["ASBHUB_CLOCK_OFFSET_SECONDS"] = "0").
inline HubOptions BuiltHubOptions() {
  HubOptions o;
  o.source_dir = ASB_SOURCE_DIR;
  o.binaries = {{"intake", ASB_INTAKE_BIN},
                {"sharing", ASB_SHARING_BIN},
                {"notify", ASB_NOTIFY_BIN},
                {"audit", ASB_AUDIT_BIN}};
  o.env["ASBHUB_CLOCK_OFFSET_SECONDS"] = ClockOffsetFor(SamplesAsOf());
  return o;
}
#endif

class Hub {
 public:
  // The daemons in pipeline order (each one's upstreams come before it).
  static const std::vector<std::string>& Daemons();

  // Creates the data directory and makes the demo secret keys mode 0600 (a git checkout leaves
  // them 0644, which the daemons refuse). Starts nothing.
  explicit Hub(HubOptions options);
  // Stops every daemon still running.
  ~Hub();
  Hub(const Hub&) = delete;
  Hub& operator=(const Hub&) = delete;

  // Spawns daemon `name` with --config config/<name>.yaml (or options.config_files[name])
  // --ready-file DATA/<name>.ready, its
  // output appended to DATA/<name>.log. Does not wait. kFailedPrecondition if it is running;
  // kNotFound for a daemon without a binary.
  absl::Status Start(const std::string& name);
  // Waits until `name` has written its ready file. If the daemon exits first, or the deadline
  // passes, returns an error with the tail of its log.
  absl::Status WaitReady(const std::string& name, absl::Time deadline);
  // Start + WaitReady.
  absl::Status StartAndWait(const std::string& name, absl::Duration timeout = absl::Seconds(30));
  // Starts all four daemons, then waits for each.
  absl::Status StartAll(absl::Duration timeout = absl::Seconds(30));

  // SIGTERM and wait up to `grace`; then SIGKILL. kInternal if a daemon that was ready did
  // not exit 0 on SIGTERM (the log tail is in the message); one still starting may die of the
  // signal. OK if it was not running.
  absl::Status Stop(const std::string& name, absl::Duration grace = absl::Seconds(15));
  // SIGKILL (a crash) and reap. OK if it was not running.
  absl::Status Kill(const std::string& name);
  // Sends signal `signo` to daemon `name` (e.g. SIGHUP: reload the ISP) without waiting.
  // kFailedPrecondition if it is not running.
  absl::Status Signal(const std::string& name, int signo);
  // Stop, then StartAndWait (same data directory).
  absl::Status Restart(const std::string& name);
  // Stops every running daemon (reverse pipeline order); returns the first error.
  absl::Status StopAll();

  // True while the child runs (reaps it if it has exited).
  bool Running(const std::string& name);
  // The last `max_bytes` of DATA/<name>.log.
  std::string LogTail(const std::string& name, size_t max_bytes = 4000) const;

  // A value of `name`'s ready file (written once it serves), e.g. "metrics" → "127.0.0.1:PORT".
  // kNotFound if the file or the key is missing.
  absl::StatusOr<std::string> ReadyValue(const std::string& name, const std::string& key) const;

  const std::string& data_dir() const { return data_.path(); }
  const std::string& source_dir() const { return options_.source_dir; }
  // config/keys/demo under the source tree.
  std::string KeysDir() const;
  // "ipc://DATA/run/<daemon>.api", the endpoint the shipped configs bind.
  std::string ApiEndpoint(const std::string& daemon) const;

  // One request to `daemon` as demo principal `principal` (its key in KeysDir()). A response
  // whose status is not OK is returned as that status (code and message from the hub).
  // Transport errors as bus::Client::Call: kPermissionDenied for a refused key,
  // kDeadlineExceeded when nothing answers.
  absl::StatusOr<asb::v1::Response> Call(const std::string& daemon, const std::string& principal,
                                         asb::v1::Request request);
  // The same with an explicit key pair (e.g. a freshly generated, unknown one). Not cached.
  absl::StatusOr<asb::v1::Response> CallWithKeys(const std::string& daemon,
                                                 const bus::KeyPair& keys,
                                                 asb::v1::Request request);

  // Typed helpers over Call.
  absl::StatusOr<asb::v1::SubmitResponse> Submit(const std::string& feed,
                                                 const std::vector<asb::v1::CaseEvent>& events);
  absl::StatusOr<asb::v1::PullAlertsResponse> PullAlerts(
      const std::string& partner, uint32_t max = 1000, uint32_t wait_ms = 0,
      std::optional<uint64_t> from_seq = std::nullopt);
  absl::StatusOr<asb::v1::AckAlertsResponse> Ack(const std::string& partner, uint64_t through_seq);
  // A case lookup on behalf of `on_behalf_of`'s officer (TestOfficer() unless given).
  absl::StatusOr<asb::v1::Disclosure> GetCase(
      const std::string& partner, const std::string& case_id,
      const asb::v1::OnBehalfOf& on_behalf_of = TestOfficer());
  absl::StatusOr<asb::v1::AuditQueryResponse> AuditQuery(const std::string& auditor,
                                                         asb::v1::AuditQueryRequest query);
  // Every entry matching `query`, following next_after_index.
  absl::StatusOr<std::vector<asb::v1::AuditEntry>> AuditQueryAll(const std::string& auditor,
                                                                 asb::v1::AuditQueryRequest query);
  absl::StatusOr<asb::v1::PingResponse> Ping(const std::string& daemon,
                                             const std::string& principal = "hub-admin");
  // asb-audit's tree head answer as `principal` (`fresh`: sign one now if the log grew — for
  // auditors), with the stored heads' history if asked.
  absl::StatusOr<asb::v1::AuditTreeHeadResponse> TreeHead(const std::string& principal, bool fresh,
                                                          bool with_history = false);
  // The hub's access log as a verifier reads it (stored pages, consistency proofs, compact
  // ranges), asked as `auditor`. The Hub must outlive it.
  audit::LogSource AuditSource(const std::string& auditor);
  // Records [from_seq, head] of `stream` served by `daemon`, fetched with that daemon's
  // consumer's key (fetch is for hub daemons only): "sharing"/"disclosures" is read as notify.
  absl::StatusOr<std::vector<asb::v1::Envelope>> FetchAll(const std::string& daemon,
                                                          const std::string& stream,
                                                          uint64_t from_seq = 1);

  // OK when, over two rounds of pings of the running daemons, no stream's head moved and every
  // consumer's committed offset equals the head of the stream it consumes (a consumer of a
  // stopped daemon later in the pipeline is not waited for); kFailedPrecondition says which one
  // lags.
  absl::Status CheckDrained();
  // Polls CheckDrained until OK or the deadline.
  absl::Status WaitDrained(absl::Duration timeout = absl::Seconds(30));

 private:
  struct Child {
    pid_t pid = -1;
    int exit_status = 0;  // waitpid status of the last exit
    bool ready = false;   // it wrote its ready file (and so handles SIGTERM)
  };

  std::string ReadyFile(const std::string& name) const;
  std::string LogFile(const std::string& name) const;
  // Reaps `name` if it has exited; true if it is still running.
  bool Poll(const std::string& name);
  // Waits for the child to exit until `deadline`; true if it exited (and is reaped).
  bool WaitExit(const std::string& name, absl::Time deadline);
  void DropClients(const std::string& daemon);
  absl::StatusOr<bus::Client*> ClientFor(const std::string& daemon, const std::string& principal);

  HubOptions options_;
  TempDir data_;
  zmq::context_t context_;
  std::map<std::string, Child> children_;
  std::map<std::pair<std::string, std::string>, std::unique_ptr<bus::Client>> clients_;
};

// Starts a program of this build (asbctl, asb-loadgen) as an operator runs it against `hub`: in
// the source tree, with ASBHUB_DATA set to the hub's data directory and `env` on top, its stdout
// and stderr written to `out_file`. Does not wait: returns its pid (reap it with waitpid), or -1
// if it could not fork. The child dies with the test.
pid_t SpawnTool(const Hub& hub, const std::vector<std::string>& argv, const std::string& out_file,
                const std::map<std::string, std::string>& env = {});

}  // namespace asb::testing
