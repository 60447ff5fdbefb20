#pragma once

#include <map>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "asb/config/v1/daemons.pb.h"
#include "common/config/violations.h"
#include "services/daemon/daemon_main.h"
#include "services/notify/outbox.h"
#include "services/notify/tree_head_relay.h"
#include "services/notify/webhook_sender.h"
#include "services/notify/webhooks.h"

namespace asb::notify {

void ValidateNotifyConfig(const asb::config::v1::NotifyConfig& config, config::Violations* v);
// The webhooks part of it (notify_webhooks.cc).
void ValidateWebhooks(const asb::config::v1::NotifyConfig& config, config::Violations* v);

// asb-notify: delivery. Consumes sharing's "disclosures", keeps a durable outbox per agency, and
// serves partners' PullAlerts (long poll), AckAlerts and ListDeadLetters (partners: their own
// agency; admins: any). Several clients of one agency share its cursor ("shared work", see
// api.proto PullAlertsRequest): a pull hands out what is neither acknowledged nor in flight.
// Memory stays bounded: alerts live in RocksDB, at most max_parked_pulls long polls are parked
// (beyond that a pull is answered at once), and an hourly retention timer deletes what was
// acknowledged more than retention_days ago. With NotifyConfig.audit it consumes asb-audit's
// "tree_heads" stream and every pull carries the latest signed tree head (Response.tree_head).
//
// Webhooks (NotifyConfig.webhooks; services/notify/webhooks.h): for an agency with one, alerts
// are also pushed, one at a time, to its HTTPS endpoint. The POSTs run on the WebhookSender's
// threads; their results come back to the loop (bus::Loop::Post), which alone writes the store.
class NotifyDaemon : public daemon::Daemon {
 public:
  static absl::StatusOr<std::unique_ptr<NotifyDaemon>> Create(
      const asb::config::v1::NotifyConfig& config);
  absl::Status Start() override;
  daemon::Runtime& runtime() override { return *runtime_; }

  static constexpr uint32_t kMaxWaitMs = 30000;
  static constexpr uint32_t kDefaultAckTimeoutMs = 30000;
  static constexpr uint32_t kDefaultMaxDeliveries = 10;
  static constexpr uint32_t kDefaultRetentionDays = 30;
  static constexpr uint32_t kDefaultMaxParkedPulls = 1000;

 private:
  NotifyDaemon() = default;
  void Handle(const bus::Caller& caller, const asb::v1::Request& request);
  // Answers a pull now; returns false if it should wait (nothing pending and wait_ms > 0).
  bool ServePull(const bus::Caller& caller, const asb::v1::PullAlertsRequest& request,
                 bool may_wait);
  void WakeParked();
  void HandleListDeadLetters(const bus::Caller& caller, const asb::v1::ListDeadLettersRequest& r);
  // Runs retention now and re-arms its timer.
  void RunRetention();
  // Webhooks (notify_webhooks.cc): sets them up from the config (Create), starts their sender
  // (Start), starts every due attempt and re-arms the timer for the next one, and records a
  // result.
  absl::Status ConfigureWebhooks();
  absl::Status StartWebhooks();
  void PumpWebhooks();
  void OnWebhookResult(const WebhookResult& result);
  // Operators' metrics of the outboxes and webhooks.
  void RegisterMetrics();

  struct Parked {
    bus::Caller caller;
    asb::v1::PullAlertsRequest request;
    uint64_t timer;
  };

  asb::config::v1::NotifyConfig config_;
  std::unique_ptr<daemon::Runtime> runtime_;
  std::unique_ptr<Outbox> outbox_;
  std::unique_ptr<TreeHeadRelay> heads_;
  std::map<uint64_t, Parked> parked_;  // by a local id
  uint64_t next_parked_ = 1;
  std::size_t max_parked_ = kDefaultMaxParkedPulls;
  std::unique_ptr<Webhooks> webhooks_;
  std::vector<WebhookEndpoint> endpoints_;
  uint64_t webhook_timer_ = 0;
  absl::Time webhook_timer_at_ = absl::InfiniteFuture();
  // Last: its threads post to the loop, so it goes before everything they touch.
  std::unique_ptr<WebhookSender> sender_;
};

daemon::DaemonSpec NotifySpec();

}  // namespace asb::notify
