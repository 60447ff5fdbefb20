#pragma once

// Durable webhook delivery of asb-notify: the pure logic (no sockets, no threads, no HTTP —
// services/notify/webhook_sender.h makes the POSTs). Per agency with a webhook, alerts go out
// one at a time in agency_seq order: the first alert in the outbox after the agency's acked
// cursor is the one in delivery. Its state (services/notify's "webhooks" column family:
// agency → asb.v1.WebhookState) is written in the same batch as the outbox change and the audit
// record of each step:
//   start an attempt  state: attempts + 1, in flight, result due by now + the attempt's
//                     deadline; the alert's delivery_count + 1; a DELIVERY record — all durable
//                     before the POST is handed to the sender;
//   2xx               the agency's cursor acknowledges through the alert (ACKNOWLEDGEMENT by
//                     "webhook"); the next alert is taken up;
//   failure           a DELIVERY_FAILED record with the cause; the next attempt after an
//                     exponential backoff with jitter; after max_attempts, or at once for a 4xx
//                     other than 408/429, the alert is dead-lettered (DEAD_LETTER) and the next
//                     one is taken up.
// A crash between the start of an attempt and its result (kill -9) leaves it in flight on
// disk: once its deadline passes it counts as a failed attempt and the alert is sent again —
// at-least-once delivery, at most one duplicate per crash per agency, which receivers
// de-duplicate by X-Asbhub-Alert-Id.
//
// Thread-compatible: asb-notify's loop thread uses it.

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "asb/v1/webhook.pb.h"
#include "common/store/store.h"
#include "services/notify/outbox.h"
#include "services/notify/webhook_sender.h"

namespace asb::notify {

// Column family of the delivery states (plaintext: sequence numbers, times, error causes).
inline constexpr char kWebhooksColumnFamily[] = "webhooks";

// One agency's delivery settings (from asb.config.v1.WebhookConfig, defaults applied).
struct WebhookPolicy {
  std::string agency;
  std::string url;  // for audit records and logs
  // The sender gives up on an attempt after this (connect, send and answer each bounded by it).
  absl::Duration timeout = absl::Seconds(10);
  uint32_t max_attempts = 10;
  absl::Duration initial_backoff = absl::Seconds(1);
  absl::Duration max_backoff = absl::Minutes(5);
};

class Webhooks {
 public:
  // `random` returns a number in [0, 1) (the jitter; tests pass a fixed one). The store (with
  // kWebhooksColumnFamily) and the outbox must outlive this.
  Webhooks(store::Store* store, Outbox* outbox, std::function<absl::Time()> clock,
           std::function<double()> random, std::vector<WebhookPolicy> policies);

  // Reads every agency's state. kDataLoss for an unparsable one.
  absl::Status Load();

  // Starts an attempt for every agency that has an alert to deliver, none in flight in this
  // process and whose backoff has passed; dead-letters first an alert whose attempts are used
  // up. Everything goes into `batch`; the returned attempts may be handed to the sender only
  // once it has committed. Storage errors: kUnavailable/kDataLoss.
  absl::StatusOr<std::vector<WebhookAttempt>> StartDue(store::Batch* batch);

  // Records what came of an attempt, in `batch`. A result of an attempt that is no longer the
  // current one (the alert was acknowledged by a pull meanwhile, or a later attempt started) is
  // ignored. Also when the sender could not take the attempt (http_status 0 and an error).
  absl::Status OnResult(const WebhookResult& result, store::Batch* batch);

  // When StartDue next has something to do for an agency waiting out a backoff or a lost
  // attempt's deadline (InfiniteFuture if none); new alerts are the caller's cue too.
  absl::Time NextWakeup() const;

  // Per agency: attempts made and their outcomes since start (metrics).
  struct Counts {
    uint64_t attempts = 0;
    uint64_t acknowledged = 0;
    uint64_t failed = 0;
    uint64_t dead_lettered = 0;
  };
  const std::map<std::string, Counts>& counts() const { return counts_; }
  // Attempts started and not yet answered in this process.
  std::size_t outstanding() const;
  // The committed state of `agency` (tests).
  asb::v1::WebhookState state(const std::string& agency) const;

  // The backoff before attempt `attempts + 1`, without jitter: initial * 2^(attempts - 1),
  // capped at max.
  static absl::Duration Backoff(const WebhookPolicy& policy, uint32_t attempts);

 private:
  struct Agency {
    WebhookPolicy policy;
    asb::v1::WebhookState state;  // as of the last built batch (rolled back on abort)
    bool outstanding = false;     // handed to the sender in this process, no result yet
  };
  void Put(Agency& a, store::Batch* batch);
  // Dead-letters the alert in delivery with `reason` and clears the state, in `batch`.
  absl::Status GiveUp(Agency& a, const std::string& reason, store::Batch* batch);

  store::Store* store_;
  Outbox* outbox_;
  std::function<absl::Time()> clock_;
  std::function<double()> random_;
  std::map<std::string, Agency> agencies_;
  std::map<std::string, Counts> counts_;
  bool wake_now_ = false;  // an alert was taken off delivery: the next one is due at once
};

}  // namespace asb::notify
