// asb-notify's webhook wiring and its operators' metrics: the durable logic is Webhooks
// (webhooks.h), the HTTP side WebhookSender (webhook_sender.h).
#include <sys/stat.h>

#include <random>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/config/config.h"
#include "common/log/log.h"
#include "common/status/macros.h"
#include "services/notify/notify_daemon.h"

namespace asb::notify {
namespace {

spdlog::logger* Logger() {
  static spdlog::logger* lg = asb::log::Get("webhook");
  return lg;
}

constexpr uint32_t kDefaultTimeoutMs = 10000;
constexpr uint32_t kDefaultInitialBackoffMs = 1000;
constexpr uint32_t kDefaultMaxBackoffMs = 300000;
constexpr std::size_t kMinSecretLength = 32;

// The shared secret: the file's text without surrounding white space; the file must be private.
absl::StatusOr<std::string> LoadSecret(const std::string& path, const std::string& field) {
  std::string text;
  if (absl::Status s = config::ReadFile(path, &text); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat(field, ": ", s.message()));
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && (st.st_mode & 0077) != 0) {
    return absl::PermissionDeniedError(
        absl::StrCat(field, ": ", path, " is readable by others; chmod 600 it"));
  }
  std::string secret(absl::StripAsciiWhitespace(text));
  if (secret.size() < kMinSecretLength) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": ", path, " holds ", secret.size(),
                                                   " characters; at least 32 are needed (e.g. "
                                                   "`openssl rand -hex 32`)"));
  }
  return secret;
}

}  // namespace

void ValidateWebhooks(const asb::config::v1::NotifyConfig& config, config::Violations* v) {
  std::set<std::string> agencies;
  for (int i = 0; i < config.webhooks_size(); ++i) {
    const auto& w = config.webhooks(i);
    const std::string path = absl::StrCat("webhooks[", i, "]");
    v->Required(path + ".agency", w.agency());
    if (!w.agency().empty() && !agencies.insert(w.agency()).second) {
      v->Add(path + ".agency", "a second webhook for agency '" + w.agency() + "'");
    }
    std::string host, url_path;
    int port = 0;
    if (w.url().empty()) {
      v->Required(path + ".url", w.url());
    } else if (absl::Status s = ParseHttpsUrl(w.url(), &host, &port, &url_path); !s.ok()) {
      v->Add(path + ".url", std::string(s.message()));
    }
    v->Required(path + ".ca_file", w.ca_file());
    v->Required(path + ".secret_file", w.secret_file());
    if (w.timeout_ms() != 0 && (w.timeout_ms() < 100 || w.timeout_ms() > 120000)) {
      v->Add(path + ".timeout_ms", "between 100 and 120000 (0 means 10000)");
    }
    if (w.max_attempts() > 1000) {
      v->Add(path + ".max_attempts", "at most 1000 (0 means max_deliveries)");
    }
    if (w.initial_backoff_ms() != 0 && w.initial_backoff_ms() < 10) {
      v->Add(path + ".initial_backoff_ms", "at least 10 (0 means 1000)");
    }
    const uint32_t initial =
        w.initial_backoff_ms() != 0 ? w.initial_backoff_ms() : kDefaultInitialBackoffMs;
    if (w.max_backoff_ms() != 0 && w.max_backoff_ms() < initial) {
      v->Add(path + ".max_backoff_ms", "at least initial_backoff_ms");
    }
  }
}

absl::Status NotifyDaemon::ConfigureWebhooks() {
  std::vector<WebhookPolicy> policies;
  for (int i = 0; i < config_.webhooks_size(); ++i) {
    const auto& w = config_.webhooks(i);
    WebhookPolicy p;
    p.agency = w.agency();
    p.url = w.url();
    p.timeout = absl::Milliseconds(w.timeout_ms() != 0 ? w.timeout_ms() : kDefaultTimeoutMs);
    p.max_attempts = w.max_attempts() != 0           ? w.max_attempts()
                     : config_.max_deliveries() != 0 ? config_.max_deliveries()
                                                     : kDefaultMaxDeliveries;
    p.initial_backoff = absl::Milliseconds(w.initial_backoff_ms() != 0 ? w.initial_backoff_ms()
                                                                       : kDefaultInitialBackoffMs);
    p.max_backoff =
        absl::Milliseconds(w.max_backoff_ms() != 0 ? w.max_backoff_ms() : kDefaultMaxBackoffMs);
    WebhookEndpoint e;
    e.agency = w.agency();
    e.url = w.url();
    e.ca_file = w.ca_file();
    e.timeout = p.timeout;
    ASB_ASSIGN_OR_RETURN(
        e.secret, LoadSecret(w.secret_file(), absl::StrCat("webhooks[", i, "].secret_file")));
    policies.push_back(std::move(p));
    endpoints_.push_back(std::move(e));
  }
  daemon::Runtime* rt = runtime_.get();
  auto rng = std::make_shared<std::mt19937_64>(std::random_device{}());
  webhooks_ = std::make_unique<Webhooks>(
      &rt->store(), outbox_.get(), [rt] { return rt->Now(); },
      [rng] { return std::uniform_real_distribution<double>(0, 1)(*rng); }, std::move(policies));
  return webhooks_->Load();
}

absl::Status NotifyDaemon::StartWebhooks() {
  if (endpoints_.empty()) {
    return absl::OkStatus();
  }
  bus::Loop* loop = &runtime_->loop();
  // At most one attempt per agency is handed over at a time, so the queue never holds more than
  // the agencies; a worker per agency (up to 4) keeps one slow receiver from holding up others.
  const std::size_t threads = std::min<std::size_t>(endpoints_.size(), 4);
  ASB_ASSIGN_OR_RETURN(
      sender_, WebhookSender::Create(
                   endpoints_,
                   [this, loop](WebhookResult result) {
                     loop->Post([this, result = std::move(result)] { OnWebhookResult(result); });
                   },
                   threads, endpoints_.size() + 1));
  for (const WebhookEndpoint& e : endpoints_) {
    SPDLOG_LOGGER_INFO(Logger(), "[{}] alerts are pushed to {}", e.agency, e.url);
  }
  PumpWebhooks();
  return absl::OkStatus();
}

void NotifyDaemon::PumpWebhooks() {
  if (sender_ == nullptr) {
    return;
  }
  store::Batch batch = runtime_->store().NewBatch();
  auto attempts = webhooks_->StartDue(&batch);
  if (!attempts.ok()) {
    SPDLOG_LOGGER_WARN(Logger(), "webhook delivery paused: {}", attempts.status().ToString());
  } else if (!batch.empty()) {
    // The attempt, its delivery count and its DELIVERY record are on disk before the POST.
    if (absl::Status s = runtime_->store().Write(&batch); !s.ok()) {
      SPDLOG_LOGGER_WARN(Logger(), "webhook delivery paused: {}", s.ToString());
      attempts->clear();
    }
    for (WebhookAttempt& a : *attempts) {
      WebhookResult refused{a.agency, a.seq, a.attempt, 0, "the sender's queue was full"};
      if (!sender_->Submit(std::move(a))) {
        runtime_->loop().Post([this, refused] { OnWebhookResult(refused); });
      }
    }
  }
  // One timer, at the earliest backoff or deadline (at least every minute, to retry after a
  // failed write).
  const absl::Time now = runtime_->Now();
  const absl::Time next = std::min(webhooks_->NextWakeup(), now + absl::Minutes(1));
  if (webhook_timer_ != 0 && next >= webhook_timer_at_) {
    return;
  }
  if (webhook_timer_ != 0) {
    runtime_->loop().CancelTimer(webhook_timer_);
  }
  webhook_timer_at_ = next;
  webhook_timer_ = runtime_->loop().RunAfter(
      std::chrono::milliseconds(std::max<int64_t>(0, absl::ToInt64Milliseconds(next - now))),
      [this] {
        webhook_timer_ = 0;
        webhook_timer_at_ = absl::InfiniteFuture();
        PumpWebhooks();
      });
}

void NotifyDaemon::OnWebhookResult(const WebhookResult& result) {
  store::Batch batch = runtime_->store().NewBatch();
  if (absl::Status s = webhooks_->OnResult(result, &batch); !s.ok()) {
    SPDLOG_LOGGER_WARN(Logger(), "[{}] result of alert {} not recorded: {}", result.agency,
                       result.seq, s.ToString());
  } else if (absl::Status w = runtime_->store().Write(&batch); !w.ok()) {
    // Not recorded: the attempt stays in flight on disk and is made again after its deadline.
    SPDLOG_LOGGER_WARN(Logger(), "[{}] result of alert {} not recorded: {}", result.agency,
                       result.seq, w.ToString());
  }
  PumpWebhooks();
}

void NotifyDaemon::RegisterMetrics() {
  metrics::Registry& m = runtime_->metrics();
  auto per_agency = [this](auto value) {
    return [this, value] {
      std::vector<metrics::Sample> out;
      auto stats = outbox_->Stats();
      if (!stats.ok()) {
        return out;
      }
      const absl::Time now = runtime_->Now();
      for (const Outbox::AgencyStats& st : *stats) {
        out.push_back({{{"agency", st.agency}}, value(st, now)});
      }
      return out;
    };
  };
  m.AddGaugeFamily("outbox_depth", "Alerts queued for the agency and not yet acknowledged.",
                   per_agency([](const Outbox::AgencyStats& st, absl::Time) {
                     return static_cast<double>(st.head - st.acked);
                   }));
  m.AddGaugeFamily(
      "outbox_oldest_unacked_age_seconds",
      "Seconds since the oldest alert not yet acknowledged was queued (0: none waiting).",
      per_agency([](const Outbox::AgencyStats& st, absl::Time now) {
        return st.oldest_unacked_queued_at.has_value()
                   ? absl::ToDoubleSeconds(now - *st.oldest_unacked_queued_at)
                   : 0.0;
      }));
  m.AddGaugeFamily("dead_letters", "Dead letters held for the agency (asbctl deadletters).",
                   per_agency([](const Outbox::AgencyStats& st, absl::Time) {
                     return static_cast<double>(st.dead_letters);
                   }));
  runtime_->AddCounter(
      "alerts_dead_lettered", [this] { return outbox_->dead_lettered(); },
      "Alerts moved to the dead letters since start.");
  m.AddGaugeFn("parked_pulls", "Long-poll pulls waiting for alerts.",
               [this] { return static_cast<double>(parked_.size()); });
  for (const WebhookEndpoint& e : endpoints_) {
    const std::string agency = e.agency;
    auto count = [this, agency](uint64_t Webhooks::Counts::*field) {
      return [this, agency, field] { return webhooks_->counts().at(agency).*field; };
    };
    m.AddCounterFn("webhook_attempts", "Webhook delivery attempts started.",
                   count(&Webhooks::Counts::attempts), {{"agency", agency}});
    m.AddCounterFn("webhook_acknowledged", "Webhook attempts answered 2xx.",
                   count(&Webhooks::Counts::acknowledged), {{"agency", agency}});
    m.AddCounterFn("webhook_failed", "Webhook attempts that failed (non-2xx, timeout, TLS).",
                   count(&Webhooks::Counts::failed), {{"agency", agency}});
    m.AddCounterFn("webhook_dead_lettered", "Alerts dead-lettered by webhook delivery.",
                   count(&Webhooks::Counts::dead_lettered), {{"agency", agency}});
  }
}

}  // namespace asb::notify
