// asb-loadgen: drives N realistic events through the running hub as a feed ("council-feed") and
// receives the alerts as partner clients (police, community safety, children's services, adult
// social care, probation) that pull and acknowledge, one thread each with its own ZeroMQ context.
// Prints accepted/s, delivered/s and p50/p99/max latency of submit→ack (intake's durable
// acknowledgement) and submit→alert (the alert's arrival at a partner, matched by the disclosure's
// event_seq = the event's hub_seq).
// Feeds and partners reconnect when a daemon restarts (kill -9 in a fault run) and carry on: a
// call without an answer within --timeout-ms (beyond a pull's long-poll wait) is said on stderr
// ("… reconnecting to asb-intake") and made again on a fresh connection; an alert seen again (its
// ack was lost) counts once, and a gap in an agency's alert numbers is reported as missed (exit 1).
// tests/fault/loadgen_reconnect_test.cc restarts intake and notify under it. A batch answered
// UNAVAILABLE (the hub's backpressure: the pipeline is behind; nothing stored) is sent again after
// a back-off of 20 ms doubling to 1 s, counted in "retried batches" and "held back"; submit→ack
// and submit→alert are timed from the attempt that was accepted.
//
//   asb-loadgen --events 20000 [--rate 2000] [--batch 200] [--feeds 4] [--hub config/asbctl.yaml]

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tools/asbctl/hub_client.h"
#include "tools/asbctl/pipeline_status.h"
#include "tools/loadgen/event_mix.h"

namespace asb::loadgen {
namespace {

using Clock = std::chrono::steady_clock;
using ctl::Daemon;
using ctl::HubClient;

struct Options {
  std::string hub = "config/asbctl.yaml";
  std::string feed = "council-feed";
  std::vector<std::string> partners = {"police", "community-safety", "childrens-services",
                                       "adult-social-care", "probation"};
  std::string places_dir = "../shared/data/policeuk";  // beside the repository
  uint64_t events = 1000;
  double rate = 0;  // events/s; 0 = flat out
  uint32_t batch = 200;
  int feeds = 4;
  int quiet_ms = 5000;  // partners stop after this long without alerts once feeding is done
  // A client that cannot reach its daemon keeps reconnecting this long before it gives up.
  int reconnect_s = 120;
  // A call unanswered this long (beyond a pull's wait) is made again on a fresh connection.
  int timeout_ms = 30000;
  // The principal that asks each daemon how far its consumers are (Ping), for the "processed"
  // figure: keys_dir/<as>.key or <as>-admin.key.
  std::string status_as = "hub";
};

// How long a partner's pull waits for alerts (long poll).
constexpr int kPullWaitMs = 500;
// A batch answered UNAVAILABLE (backpressure) is sent again after this, doubling to the maximum.
constexpr std::chrono::milliseconds kFirstBackoff{20};
constexpr std::chrono::milliseconds kMaxBackoff{1000};

// Shared by the feed and partner threads.
struct Shared {
  std::mutex mu;
  std::unordered_map<uint64_t, Clock::time_point> submitted;  // hub_seq → send time
  std::vector<double> ack_ms;                                 // per event
  std::vector<double> alert_ms;                               // per alert
  std::vector<std::pair<uint64_t, Clock::time_point>> early;  // alert before its ack arrived
  uint64_t accepted = 0, duplicates = 0, refused = 0, retries = 0;
  // Batches answered UNAVAILABLE at least once (backpressure), and the attempts so answered.
  uint64_t held_batches = 0, backpressure_waits = 0;
  std::atomic<uint64_t> alerts{0}, foreign{0}, hub_made{0}, redelivered{0}, missed{0};
  std::atomic<uint64_t> feed_reconnects{0}, partner_reconnects{0};
  std::atomic<bool> feeding_done{false}, partners_done{false};
  Clock::time_point start, feed_end, last_alert;
};

// When the hub had wholly processed the run: every daemon's consumers at their upstreams' heads
// (events folded, disclosures made, alerts queued, every disclosure, delivery and
// acknowledgement in the access log) and staying there. Polled from the end of the feeding,
// every 100 ms (the figure's resolution), until the partners are done and the hub is drained.
struct Processed {
  bool known = false;
  Clock::time_point at;
  std::string why_not;
};

Processed WatchUntilProcessed(const Options& o, const Shared& shared) {
  Processed p;
  const auto deadline_after_partners = std::chrono::seconds(60);
  Clock::time_point partners_end{};
  bool settled = false;  // drained since the last time it was seen busy
  while (true) {
    const Clock::time_point now = Clock::now();
    ctl::PipelineSnapshot snap = ctl::TakePipelineSnapshot(o.hub, o.status_as);
    if (!snap.down.empty()) {
      p.why_not = snap.down.front();
      settled = false;
    } else if (ctl::Drained(snap)) {
      if (!settled) {
        p.at = now;
        settled = true;
      }
    } else {
      settled = false;
    }
    if (shared.partners_done.load()) {
      if (partners_end == Clock::time_point{}) {
        partners_end = now;
      }
      if (settled) {
        p.known = true;
        return p;
      }
      if (now - partners_end > deadline_after_partners) {
        if (p.why_not.empty()) {
          p.why_not = "the consumers had not caught up 60 s after the partners finished";
        }
        return p;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // poll interval, not a wait
  }
}

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

absl::StatusOr<std::unique_ptr<HubClient>> Open(const Options& o, Daemon d, const std::string& as,
                                                const std::string& suffix) {
  auto hub = HubClient::Load(o.hub);
  if (!hub.ok()) {
    return hub.status();
  }
  if (absl::Status s = (*hub)->Connect(d, as, suffix); !s.ok()) {
    return s;
  }
  return hub;
}

void Feed(const Options& o, int stream, uint64_t count, const std::vector<Place>& places,
          const std::string& run_id, Shared* shared, std::atomic<int>* failures) {
  auto hub = Open(o, Daemon::kIntake, o.feed, "feed");
  if (!hub.ok()) {
    std::fprintf(stderr, "asb-loadgen: feed %d: %s\n", stream, hub.status().ToString().c_str());
    ++*failures;
    return;
  }
  EventMix mix(places, run_id, stream, 1234u + static_cast<uint32_t>(stream));
  const double per_stream_rate = o.rate > 0 ? o.rate / o.feeds : 0;
  uint64_t sent = 0;
  while (sent < count) {
    asb::v1::Request request;
    const uint64_t n = std::min<uint64_t>(o.batch, count - sent);
    const absl::Time now = absl::Now();
    for (uint64_t i = 0; i < n; ++i) {
      *request.mutable_submit()->add_events() = mix.Next(now);
    }
    if (per_stream_rate > 0) {
      const auto due = shared->start + std::chrono::duration_cast<Clock::duration>(
                                           std::chrono::duration<double>(sent / per_stream_rate));
      std::this_thread::sleep_until(due);
    }
    const Clock::time_point give_up = Clock::now() + std::chrono::seconds(o.reconnect_s);
    bool failing = false;  // said so on stderr
    bool held = false;     // this batch was held back by backpressure (counted once)
    std::chrono::milliseconds backoff = kFirstBackoff;
    while (true) {
      const Clock::time_point t0 = Clock::now();
      auto response = (*hub)->Call(request, std::chrono::milliseconds(o.timeout_ms));
      const Clock::time_point t1 = Clock::now();
      if (!response.ok()) {
        // The hub's answer UNAVAILABLE (backpressure: the pipeline is behind; or its store is
        // full): nothing was stored; wait, backing off up to kMaxBackoff, and send the same
        // batch again on the same connection.
        if (absl::IsUnavailable(response.status()) && Clock::now() < give_up) {
          {
            std::lock_guard<std::mutex> lock(shared->mu);
            ++shared->retries;
            ++shared->backpressure_waits;
            if (!held) {
              ++shared->held_batches;
              held = true;
            }
          }
          std::this_thread::sleep_for(backoff);
          backoff = std::min(backoff * 2, kMaxBackoff);
          continue;
        }
        // No answer (the daemon restarting): retry the same batch on a fresh connection;
        // dedupe makes it safe. Anything else is fatal for this feed.
        if (absl::IsDeadlineExceeded(response.status()) && Clock::now() < give_up) {
          {
            std::lock_guard<std::mutex> lock(shared->mu);
            ++shared->retries;
          }
          if (!failing) {
            std::fprintf(stderr, "asb-loadgen: feed %d: %s; reconnecting to asb-intake\n", stream,
                         response.status().ToString().c_str());
            failing = true;
          }
          std::this_thread::sleep_for(std::chrono::milliseconds(200));
          if (auto fresh = Open(o, Daemon::kIntake, o.feed, "feed"); fresh.ok()) {
            hub = std::move(fresh);
            ++shared->feed_reconnects;
          }
          continue;
        }
        std::fprintf(stderr, "asb-loadgen: feed %d: %s\n", stream,
                     response.status().ToString().c_str());
        ++*failures;
        return;
      }
      std::lock_guard<std::mutex> lock(shared->mu);
      for (const auto& r : response->submit().results()) {
        switch (r.outcome()) {
          case asb::v1::SubmitResult::OUTCOME_ACCEPTED:
            ++shared->accepted;
            shared->submitted.emplace(r.hub_seq(), t0);
            shared->ack_ms.push_back(Ms(t1 - t0));
            break;
          case asb::v1::SubmitResult::OUTCOME_DUPLICATE:
            // Accepted by an earlier attempt whose answer was lost: its alerts are ours too.
            ++shared->duplicates;
            if (shared->submitted.emplace(r.hub_seq(), t0).second) {
              ++shared->accepted;
            }
            break;
          default:
            if (shared->refused++ < 3) {
              std::fprintf(stderr, "asb-loadgen: refused: %s\n", r.status().message().c_str());
            }
        }
      }
      break;
    }
    sent += n;
  }
}

void Partner(const Options& o, const std::string& agency, Shared* shared,
             std::atomic<int>* failures) {
  auto hub = Open(o, Daemon::kNotify, agency, "partner");
  if (!hub.ok()) {
    std::fprintf(stderr, "asb-loadgen: partner %s: %s\n", agency.c_str(),
                 hub.status().ToString().c_str());
    ++*failures;
    return;
  }
  Clock::time_point last = Clock::now();
  std::set<uint64_t> seen;  // agency_seq of every alert processed
  // A failed call (asb-notify restarting) reconnects and pulls again: what was pulled and not
  // acknowledged comes back, and counts once.
  Clock::time_point failing_since{};
  auto call = [&](const asb::v1::Request& request,
                  std::chrono::milliseconds timeout) -> absl::StatusOr<asb::v1::Response> {
    while (true) {
      auto response = (*hub)->Call(request, timeout);
      if (response.ok() || absl::IsPermissionDenied(response.status()) ||
          absl::IsInvalidArgument(response.status())) {
        failing_since = Clock::time_point{};
        return response;
      }
      const Clock::time_point now = Clock::now();
      if (failing_since == Clock::time_point{}) {
        failing_since = now;
        std::fprintf(stderr, "asb-loadgen: partner %s: %s; reconnecting to asb-notify\n",
                     agency.c_str(), response.status().ToString().c_str());
      } else if (now - failing_since > std::chrono::seconds(o.reconnect_s)) {
        return response;
      }
      if (shared->feeding_done.load() && Ms(now - last) > o.quiet_ms + 1000.0 * o.reconnect_s) {
        return response;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      if (auto fresh = Open(o, Daemon::kNotify, agency, "partner"); fresh.ok()) {
        hub = std::move(fresh);
        ++shared->partner_reconnects;
      }
    }
  };
  while (true) {
    asb::v1::Request request;
    request.mutable_pull_alerts()->set_max(1000);
    request.mutable_pull_alerts()->set_wait_ms(kPullWaitMs);
    auto response = call(request, std::chrono::milliseconds(o.timeout_ms + kPullWaitMs));
    const Clock::time_point now = Clock::now();
    if (!response.ok()) {
      std::fprintf(stderr, "asb-loadgen: partner %s: %s\n", agency.c_str(),
                   response.status().ToString().c_str());
      ++*failures;
      break;
    }
    const auto& alerts = response->alerts().alerts();
    if (alerts.empty()) {
      // Done when quiet and everything is acknowledged — alerts pulled before a restart and
      // not acknowledged come back only after the ack timeout.
      const bool all_acked = response->alerts().acked_through() >= response->alerts().head();
      if (shared->feeding_done.load() && Ms(now - last) > o.quiet_ms &&
          (all_acked || Ms(now - last) > 1000.0 * o.reconnect_s)) {
        break;
      }
      continue;
    }
    last = now;
    {
      std::lock_guard<std::mutex> lock(shared->mu);
      for (const auto& a : alerts) {
        if (!seen.insert(a.agency_seq()).second) {
          ++shared->redelivered;  // pulled before, its ack lost to a restart
          continue;
        }
        if (a.delivery_count() > 1) {
          ++shared->redelivered;
        }
        if (a.disclosure().has_statutory() || a.disclosure().has_notice()) {
          ++shared->hub_made;  // the hub's own (an order's deadline, a notice): no feed event
          continue;
        }
        auto it = shared->submitted.find(a.disclosure().event_seq());
        if (it != shared->submitted.end()) {
          shared->alert_ms.push_back(Ms(now - it->second));
          ++shared->alerts;
        } else if (shared->feeding_done.load()) {
          ++shared->foreign;  // from an earlier run's backlog
        } else {
          shared->early.emplace_back(a.disclosure().event_seq(), now);
        }
      }
      shared->last_alert = std::max(shared->last_alert, now);
    }
    asb::v1::Request ack;
    ack.mutable_ack_alerts()->set_through_seq(alerts.rbegin()->agency_seq());
    if (auto r = call(ack, std::chrono::milliseconds(std::min(o.timeout_ms, 10000))); !r.ok()) {
      std::fprintf(stderr, "asb-loadgen: partner %s ack: %s\n", agency.c_str(),
                   r.status().ToString().c_str());
      ++*failures;
      break;
    }
  }
  // Alert numbers are dense per agency: a hole between the first and the last seen was missed.
  if (!seen.empty()) {
    const uint64_t span = *seen.rbegin() - *seen.begin() + 1;
    if (span > seen.size()) {
      shared->missed += span - seen.size();
      std::fprintf(stderr, "asb-loadgen: partner %s missed %llu alert(s) between %llu and %llu\n",
                   agency.c_str(), static_cast<unsigned long long>(span - seen.size()),
                   static_cast<unsigned long long>(*seen.begin()),
                   static_cast<unsigned long long>(*seen.rbegin()));
    }
  }
}

void PrintLatency(const char* what, std::vector<double> v) {
  if (v.empty()) {
    std::printf("%-16s (none)\n", what);
    return;
  }
  std::sort(v.begin(), v.end());
  auto pct = [&](double p) {
    return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
  };
  std::printf("%-16s n=%zu  p50=%.1f ms  p99=%.1f ms  max=%.1f ms\n", what, v.size(), pct(0.50),
              pct(0.99), v.back());
}

int Run(const Options& o) {
  std::vector<Place> places = LoadPlaces(o.places_dir);
  std::printf("asb-loadgen: %llu events, %s, batches of %u, %d feed connection(s), %zu places%s\n",
              static_cast<unsigned long long>(o.events),
              o.rate > 0 ? absl::StrCat("at ", o.rate, " events/s").c_str() : "flat out", o.batch,
              o.feeds, places.size(), places.empty() ? " (built-in)" : "");
  const std::string run_id = absl::StrCat(absl::ToUnixSeconds(absl::Now()));
  Shared shared;
  std::atomic<int> failures{0};
  shared.start = Clock::now();
  shared.last_alert = shared.start;

  std::vector<std::thread> partners;
  for (const std::string& agency : o.partners) {
    partners.emplace_back(Partner, std::cref(o), agency, &shared, &failures);
  }
  std::vector<std::thread> feeds;
  for (int f = 0; f < o.feeds; ++f) {
    const uint64_t count = o.events / o.feeds + (static_cast<uint64_t>(f) < o.events % o.feeds);
    feeds.emplace_back(Feed, std::cref(o), f, count, std::cref(places), run_id, &shared, &failures);
  }
  for (auto& t : feeds) {
    t.join();
  }
  shared.feed_end = Clock::now();
  {
    // Alerts that arrived before their event's acknowledgement reached the feed.
    std::lock_guard<std::mutex> lock(shared.mu);
    for (const auto& [seq, at] : shared.early) {
      auto it = shared.submitted.find(seq);
      if (it != shared.submitted.end()) {
        shared.alert_ms.push_back(Ms(at - it->second));
        ++shared.alerts;
      } else {
        ++shared.foreign;
      }
    }
    shared.early.clear();
  }
  shared.feeding_done.store(true);
  Processed processed;
  std::thread watcher([&] { processed = WatchUntilProcessed(o, shared); });
  for (auto& t : partners) {
    t.join();
  }
  shared.partners_done.store(true);
  watcher.join();

  const double feed_s = Ms(shared.feed_end - shared.start) / 1000;
  const double deliver_s = Ms(shared.last_alert - shared.start) / 1000;
  std::printf(
      "accepted      %llu (duplicates %llu, refused %llu, retried batches %llu) in %.2f s"
      " = %.0f accepted/s\n",
      static_cast<unsigned long long>(shared.accepted),
      static_cast<unsigned long long>(shared.duplicates),
      static_cast<unsigned long long>(shared.refused),
      static_cast<unsigned long long>(shared.retries), feed_s,
      feed_s > 0 ? static_cast<double>(shared.accepted) / feed_s : 0.0);
  std::printf(
      "delivered     %llu alerts to %zu partners (redelivered %llu, other runs' %llu, the hub's "
      "own %llu, missed %llu) in %.2f s = %.0f delivered/s\n",
      static_cast<unsigned long long>(shared.alerts.load()), o.partners.size(),
      static_cast<unsigned long long>(shared.redelivered.load()),
      static_cast<unsigned long long>(shared.foreign.load()),
      static_cast<unsigned long long>(shared.hub_made.load()),
      static_cast<unsigned long long>(shared.missed.load()), deliver_s,
      deliver_s > 0 ? static_cast<double>(shared.alerts.load()) / deliver_s : 0.0);
  if (processed.known) {
    const double processed_s = Ms(std::max(processed.at, shared.last_alert) - shared.start) / 1000;
    std::printf(
        "processed     %llu events (alerts delivered and acknowledged, access log written) in %.2f "
        "s"
        " = %.0f events/s\n",
        static_cast<unsigned long long>(shared.accepted), processed_s,
        processed_s > 0 ? static_cast<double>(shared.accepted) / processed_s : 0.0);
  } else {
    std::printf("processed     not known: %s\n", processed.why_not.c_str());
  }
  std::printf("held back     %llu batches answered UNAVAILABLE (backpressure), %llu waits\n",
              static_cast<unsigned long long>(shared.held_batches),
              static_cast<unsigned long long>(shared.backpressure_waits));
  std::printf("reconnects    feeds %llu, partners %llu\n",
              static_cast<unsigned long long>(shared.feed_reconnects.load()),
              static_cast<unsigned long long>(shared.partner_reconnects.load()));
  PrintLatency("submit→ack", shared.ack_ms);
  PrintLatency("submit→alert", shared.alert_ms);
  return failures.load() == 0 && shared.missed.load() == 0 ? 0 : 1;
}

}  // namespace
}  // namespace asb::loadgen

int main(int argc, char** argv) {
  asb::loadgen::Options o;
  CLI::App app{"asb-loadgen: drive realistic events through a running asbhub and measure it"};
  app.add_option("--events,-n", o.events, "events to submit")
      ->check(CLI::Range(1ull, 100000000ull));
  app.add_option("--rate", o.rate, "events per second (default: flat out)");
  app.add_option("--batch", o.batch, "events per submission (1-1000)")->check(CLI::Range(1, 1000));
  app.add_option("--feeds", o.feeds, "concurrent feed connections")->check(CLI::Range(1, 64));
  app.add_option("--hub", o.hub, "client config (endpoints and keys)");
  app.add_option("--feed", o.feed, "feed principal");
  app.add_option("--partners", o.partners, "partner agencies that pull and acknowledge");
  app.add_option("--places", o.places_dir, "directory of police.uk street CSVs");
  app.add_option("--quiet-ms", o.quiet_ms, "partners stop after this long without alerts");
  app.add_option("--reconnect-s", o.reconnect_s,
                 "a client that cannot reach its daemon keeps reconnecting this long");
  app.add_option("--timeout-ms", o.timeout_ms,
                 "a call unanswered this long (beyond a pull's wait) is made again on a fresh "
                 "connection")
      ->check(CLI::Range(100, 600000));
  app.add_option("--status-as", o.status_as,
                 "principal that asks each daemon how far its consumers are, for the "
                 "'processed' figure (keys_dir/NAME.key or NAME-admin.key)")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  return asb::loadgen::Run(o);
}
