#include "services/notify/webhooks.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/config/config.h"
#include "common/log/log.h"
#include "common/model/model.h"
#include "common/status/macros.h"

namespace asb::notify {
namespace {

spdlog::logger* Logger() {
  static spdlog::logger* lg = asb::log::Get("webhook");
  return lg;
}

// Who acknowledges an alert its receiver answered 2xx (AuditRecord.actor).
constexpr char kWebhookActor[] = "webhook";

// A 4xx other than 408 (timeout) and 429 (too many requests) is the receiver refusing this
// alert for good: retrying the same bytes cannot help.
bool Permanent(int http_status) {
  return http_status >= 400 && http_status < 500 && http_status != 408 && http_status != 429;
}

}  // namespace

Webhooks::Webhooks(store::Store* store, Outbox* outbox, std::function<absl::Time()> clock,
                   std::function<double()> random, std::vector<WebhookPolicy> policies)
    : store_(store), outbox_(outbox), clock_(std::move(clock)), random_(std::move(random)) {
  for (WebhookPolicy& p : policies) {
    const std::string agency = p.agency;
    agencies_[agency].policy = std::move(p);
    counts_[agency];
  }
}

absl::Status Webhooks::Load() {
  for (auto& [agency, a] : agencies_) {
    a.state.Clear();
    a.outstanding = false;
    std::string value;
    absl::Status got = store_->Get(kWebhooksColumnFamily, agency, &value);
    if (absl::IsNotFound(got)) {
      continue;
    }
    ASB_RETURN_IF_ERROR(got);
    if (!a.state.ParseFromString(value)) {
      return absl::DataLossError(absl::StrCat("webhook state of ", agency, ": unparsable"));
    }
    if (a.state.in_flight()) {
      SPDLOG_LOGGER_WARN(Logger(),
                         "[{}] alert {} attempt {} was in flight when asb-notify stopped: it is "
                         "sent again once its deadline passes (receivers de-duplicate by "
                         "X-Asbhub-Alert-Id)",
                         agency, a.state.seq(), a.state.attempts());
    }
  }
  return absl::OkStatus();
}

void Webhooks::Put(Agency& a, store::Batch* batch) {
  const std::string& agency = a.policy.agency;
  if (a.state.seq() == 0) {
    batch->Delete(kWebhooksColumnFamily, agency);
  } else {
    batch->Put(kWebhooksColumnFamily, agency, a.state.SerializeAsString());
  }
}

absl::Duration Webhooks::Backoff(const WebhookPolicy& policy, uint32_t attempts) {
  absl::Duration d = policy.initial_backoff;
  for (uint32_t i = 1; i < attempts && d < policy.max_backoff; ++i) {
    d *= 2;
  }
  return std::min(d, policy.max_backoff);
}

absl::Status Webhooks::GiveUp(Agency& a, const std::string& reason, store::Batch* batch) {
  const std::string& agency = a.policy.agency;
  const uint64_t seq = a.state.seq();
  ASB_ASSIGN_OR_RETURN(std::optional<asb::v1::Alert> alert, outbox_->FirstAfter(agency, seq - 1));
  if (alert.has_value() && alert->agency_seq() == seq) {
    outbox_->DeadLetterWithReason(*std::move(alert), reason, batch);
    ++counts_[agency].dead_lettered;
  }
  a.state.Clear();
  Put(a, batch);
  wake_now_ = true;  // the next alert is due at once (once this batch has committed)
  return absl::OkStatus();
}

absl::StatusOr<std::vector<WebhookAttempt>> Webhooks::StartDue(store::Batch* batch) {
  std::vector<WebhookAttempt> out;
  wake_now_ = false;
  const absl::Time now = clock_();
  for (auto& [agency, a] : agencies_) {
    if (a.outstanding) {
      continue;
    }
    ASB_ASSIGN_OR_RETURN(std::optional<asb::v1::Alert> next,
                         outbox_->FirstAfter(agency, outbox_->acked(agency)));
    if (!next.has_value()) {
      if (a.state.seq() != 0) {  // acknowledged or dead-lettered through a pull meanwhile
        a.state.Clear();
        Put(a, batch);
      }
      continue;
    }
    if (a.state.seq() != next->agency_seq()) {
      a.state.Clear();
      a.state.set_seq(next->agency_seq());
    }
    if (a.state.has_next_attempt_at() && now < model::ToTime(a.state.next_attempt_at())) {
      continue;  // backing off, or a lost attempt's deadline has not passed
    }
    const asb::v1::WebhookState before = a.state;
    if (a.state.in_flight()) {
      // Started before a restart and never answered: a failed attempt (it may have arrived).
      a.state.set_in_flight(false);
      a.state.set_last_error("no result recorded (asb-notify stopped during the attempt)");
      asb::v1::AuditRecord r;
      r.set_kind(asb::v1::AUDIT_KIND_DELIVERY_FAILED);
      r.set_actor("notify");
      r.set_actor_agency("hub");
      r.set_recipient_agency(agency);
      r.set_case_id(next->disclosure().case_id());
      r.set_event_type(next->disclosure().event_type());
      r.set_ref_seq(next->agency_seq());
      r.set_detail(absl::StrCat("webhook alert ", next->agency_seq(), " attempt ",
                                a.state.attempts(), ": ", a.state.last_error()));
      outbox_->Audit(std::move(r), batch);
      ++counts_[agency].failed;
    }
    if (a.state.attempts() >= a.policy.max_attempts) {
      ASB_RETURN_IF_ERROR(
          GiveUp(a,
                 absl::StrCat("not acknowledged after ", a.state.attempts(),
                              " webhook attempts (last: ", a.state.last_error(), ")"),
                 batch));
      batch->OnAbort([this, agency = agency, before] { agencies_[agency].state = before; });
      continue;
    }
    asb::v1::Alert alert = *std::move(next);
    a.state.set_attempts(a.state.attempts() + 1);
    a.state.set_in_flight(true);
    // The sender bounds connecting, sending and reading by the timeout each.
    model::ToTimestamp(now + 3 * a.policy.timeout + absl::Seconds(1),
                       a.state.mutable_next_attempt_at());
    outbox_->RecordHandout("notify", &alert,
                           absl::StrCat("webhook alert ", alert.agency_seq(), " attempt ",
                                        a.state.attempts(), " POSTed to ", a.policy.url),
                           batch);
    Put(a, batch);
    a.outstanding = true;
    ++counts_[agency].attempts;
    batch->OnAbort([this, agency = agency, before] {
      Agency& back = agencies_[agency];
      back.state = before;
      back.outstanding = false;
    });
    WebhookAttempt attempt;
    attempt.agency = agency;
    attempt.seq = alert.agency_seq();
    attempt.attempt = a.state.attempts();
    attempt.body = config::ToJson(alert);
    out.push_back(std::move(attempt));
  }
  return out;
}

absl::Status Webhooks::OnResult(const WebhookResult& result, store::Batch* batch) {
  auto it = agencies_.find(result.agency);
  if (it == agencies_.end()) {
    return absl::OkStatus();
  }
  Agency& a = it->second;
  a.outstanding = false;  // at most one attempt per agency is ever handed to the sender
  if (a.state.seq() != result.seq || a.state.attempts() != result.attempt || !a.state.in_flight()) {
    return absl::OkStatus();  // no longer the alert or the attempt in delivery
  }
  const asb::v1::WebhookState before = a.state;
  batch->OnAbort([this, agency = result.agency, before] { agencies_[agency].state = before; });
  const std::string& agency = result.agency;
  if (result.ok()) {
    ASB_RETURN_IF_ERROR(outbox_->Ack(kWebhookActor, agency, result.seq, batch).status());
    ++counts_[agency].acknowledged;
    a.state.Clear();
    Put(a, batch);
    wake_now_ = true;
    return absl::OkStatus();
  }
  ++counts_[agency].failed;
  a.state.set_in_flight(false);
  a.state.set_last_error(result.error.empty() ? "failed" : result.error);
  ASB_ASSIGN_OR_RETURN(std::optional<asb::v1::Alert> alert,
                       outbox_->FirstAfter(agency, result.seq - 1));
  asb::v1::AuditRecord r;
  r.set_kind(asb::v1::AUDIT_KIND_DELIVERY_FAILED);
  r.set_actor("notify");
  r.set_actor_agency("hub");
  r.set_recipient_agency(agency);
  if (alert.has_value() && alert->agency_seq() == result.seq) {
    r.set_case_id(alert->disclosure().case_id());
    r.set_event_type(alert->disclosure().event_type());
  }
  r.set_ref_seq(result.seq);
  r.set_detail(absl::StrCat("webhook alert ", result.seq, " attempt ", result.attempt, " to ",
                            a.policy.url, ": ", a.state.last_error()));
  outbox_->Audit(std::move(r), batch);
  SPDLOG_LOGGER_WARN(Logger(), "[{}] alert {} attempt {} failed: {}", agency, result.seq,
                     result.attempt, a.state.last_error());
  if (Permanent(result.http_status)) {
    return GiveUp(
        a, absl::StrCat("the webhook receiver refused it (HTTP ", result.http_status, ")"), batch);
  }
  if (a.state.attempts() >= a.policy.max_attempts) {
    return GiveUp(a,
                  absl::StrCat("not acknowledged after ", a.state.attempts(),
                               " webhook attempts (last: ", a.state.last_error(), ")"),
                  batch);
  }
  // Jitter: somewhere between half and all of the backoff, so receivers coming back are not
  // hit by every agency's retry at once.
  const absl::Duration wait = Backoff(a.policy, a.state.attempts()) * (0.5 + 0.5 * random_());
  model::ToTimestamp(clock_() + wait, a.state.mutable_next_attempt_at());
  Put(a, batch);
  return absl::OkStatus();
}

absl::Time Webhooks::NextWakeup() const {
  absl::Time next = absl::InfiniteFuture();
  if (wake_now_) {
    return clock_();
  }
  for (const auto& [agency, a] : agencies_) {
    if (a.state.seq() != 0 && !a.outstanding && a.state.has_next_attempt_at()) {
      next = std::min(next, model::ToTime(a.state.next_attempt_at()));
    }
  }
  return next;
}

std::size_t Webhooks::outstanding() const {
  return std::count_if(agencies_.begin(), agencies_.end(),
                       [](const auto& entry) { return entry.second.outstanding; });
}

asb::v1::WebhookState Webhooks::state(const std::string& agency) const {
  auto it = agencies_.find(agency);
  return it == agencies_.end() ? asb::v1::WebhookState() : it->second.state;
}

}  // namespace asb::notify
