// Fault injection: realistic load (tools/loadgen's EventMix) through the four real daemons while
// a seeded RNG kill -9s them at random moments and restarts them, a partner client stops for a
// while holding alerts it never acknowledged, partner clients "crash" (drop what they pulled),
// and the feed outruns the partners' acknowledgements. At the end it checks that nothing was
// lost and nothing applied twice:
//  - intake: every event the feed got acknowledged (accepted, or duplicate of a stored copy on a
//    retry) is in intake's "events" stream exactly once, under the hub_seq it was given;
//  - sharing: its "disclosures" stream equals a REFERENCE computed from scratch, after the run,
//    by folding intake's accepted events in one uninterrupted pass through sharing's own
//    CaseFolder + SharingHandler and common/policy (the shipped ISP) on a fresh store — the same
//    logic, but none of the daemon's crash/restart history: no (agency, event) missing or twice,
//    and each view equal;
//  - notify: each agency's outbox is dense (agency_seq 1..head) and holds exactly the reference
//    disclosures that Policy::NotificationsFor makes alert-worthy for that agency, in order; no
//    dead letters; and each partner client processed every one of them (1..head, no gap);
//  - audit: one COLLECTION entry per accepted event and one DISCLOSURE entry per alert, none twice;
//  - the hub's clock: every deadline that fell due during the run (every few orders is a "short
//    fuse" that ends and falls due for review seconds after it is made; closure notices and
//    dispersal directions arrive already past their end and their hearing's deadline) was raised
//    exactly once — one expiry per ended order, one notice per deadline — however the daemons
//    (asb-intake, which keeps the timers, above all) were killed.
// It prints the figures (seed, events, kills, restarts, redeliveries, lost, duplicated effects).
//
// Profiles: the short one (default, < 20 s) runs in the test command. The long one runs by hand:
//   ASB_FAULT_PROFILE=long ./build/tests/fault/fault_injection_test
// ASB_FAULT_SEED=N replays a run's kill schedule; ASB_FAULT_SECONDS=N sets the feeding time.

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "asb/v1/api.pb.h"
#include "common/auditlog/verifier.h"
#include "common/auditlog/witness.h"
#include "common/bus/client.h"
#include "common/bus/keys.h"
#include "common/policy/policy.h"
#include "common/status/macros.h"
#include "common/store/store.h"
#include "common/stream/log.h"
#include "services/sharing/case_folder.h"
#include "services/sharing/sharing_handler.h"
#include "services/sharing/victim_matching.h"
#include "tests/support/daemon_harness.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"
#include "tools/loadgen/event_mix.h"

namespace asb::testing {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

struct Profile {
  std::string name;
  double feed_seconds;
  double rate;        // events/s over all feeds
  int feeds;          // feed connections
  uint32_t batch;     // events per submission
  double kill_min_s;  // between kills
  double kill_max_s;
  int max_downtime_ms;  // a killed daemon stays down up to this long
  double pause_s;       // one partner stops this long, holding unacknowledged alerts
  uint32_t slow_pull;   // alerts per pull while feeding (partners lag behind)
  int slow_sleep_ms;    // pause between a partner's pulls while feeding
  double crash_p;       // a partner drops a pulled batch (client crash) with this probability
  absl::Duration drain_timeout;
};

Profile ChooseProfile() {
  const char* p = std::getenv("ASB_FAULT_PROFILE");
  Profile profile;
  if (p != nullptr && std::string(p) == "long") {
    profile = {"long", 120, 1500, 4, 100, 0.5, 3.0, 800, 15, 50, 20, 0.02, absl::Seconds(300)};
  } else {
    profile = {"short", 6, 350, 2, 20, 0.7, 1.6, 300, 3, 10, 40, 0.05, absl::Seconds(40)};
  }
  if (const char* s = std::getenv("ASB_FAULT_SECONDS"); s != nullptr) {
    profile.feed_seconds = std::atof(s);
  }
  return profile;
}

uint32_t ChooseSeed() {
  if (const char* s = std::getenv("ASB_FAULT_SEED"); s != nullptr) {
    return static_cast<uint32_t>(std::strtoul(s, nullptr, 10));
  }
  return std::random_device{}();
}

HubOptions Options(const std::string& notify_config) {
  HubOptions o = BuiltHubOptions();
  o.config_files = {{"notify", notify_config}};
  // The load is made from the real time, and the hub's clock must keep it.
  o.env["ASBHUB_CLOCK_OFFSET_SECONDS"] = "0";
  return o;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A synchronous client of one daemon in a thread of its own (bus::Client is not thread-safe).
class ThreadClient {
 public:
  ThreadClient(const Hub& hub, std::string daemon, std::string principal)
      : keys_dir_(hub.KeysDir()),
        endpoint_(hub.ApiEndpoint(daemon)),
        daemon_(std::move(daemon)),
        principal_(std::move(principal)) {}

  // One call; on any transport error the connection is dropped and remade on the next call.
  absl::StatusOr<asb::v1::Response> Call(asb::v1::Request request, milliseconds timeout) {
    if (client_ == nullptr) {
      auto keys = bus::LoadKeyFile(keys_dir_ + "/" + principal_ + ".key", true);
      auto server = bus::LoadKeyFile(keys_dir_ + "/" + daemon_ + ".pub", false);
      if (!keys.ok() || !server.ok()) {
        return keys.ok() ? server.status() : keys.status();
      }
      bus::ClientOptions o;
      o.endpoint = endpoint_;
      o.server_public_key = server->public_key;
      o.keys = *keys;
      auto client = bus::Client::Connect(&context_, o);
      if (!client.ok()) {
        return client.status();
      }
      client_ = std::move(*client);
    }
    auto response = client_->Call(std::move(request), timeout);
    if (!response.ok()) {
      client_.reset();
      return response.status();
    }
    if (response->status().code() != asb::v1::STATUS_CODE_OK) {
      return absl::Status(static_cast<absl::StatusCode>(response->status().code()),
                          response->status().message());
    }
    return response;
  }
  void Reset() { client_.reset(); }

 private:
  zmq::context_t context_;
  std::string keys_dir_, endpoint_, daemon_, principal_;
  std::unique_ptr<bus::Client> client_;
};

// What the feeds were told, shared by the feed threads.
struct FeedRecord {
  std::mutex mu;
  std::map<std::string, uint64_t> hub_seq;  // source_event_id → hub_seq acknowledged
  uint64_t accepted = 0, duplicates_on_retry = 0, refused = 0, retries = 0;
  uint64_t conflicting = 0;  // a retry answered with another hub_seq than before
  std::vector<std::string> errors;
};

// What one partner client processed.
struct PartnerRecord {
  std::string agency;
  std::map<uint64_t, uint64_t> processed;  // agency_seq → event_seq
  uint64_t redelivered = 0;                // alerts handed out with delivery_count > 1
  uint64_t seen_again = 0;  // alerts this client had already processed (acks lost in a crash)
  uint64_t crashes = 0, pauses = 0, gap_replays = 0, mismatches = 0, errors = 0;
  uint64_t max_backlog = 0;  // head - acked_through, largest seen
};

struct Shared {
  std::atomic<int> submits_in_flight{0};  // intake is killed while a submission is in flight
  std::atomic<bool> feeding_done{false};
  std::atomic<bool> drained{false};   // the pipeline drained: heads are final
  std::atomic<int> pause_agency{-1};  // index of the partner told to stop
  std::atomic<uint64_t> pause_until_ms{0};
};

uint64_t NowMs() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<milliseconds>(Clock::now().time_since_epoch()).count());
}

void RunFeed(const Hub& hub, const Profile& p, int stream, uint64_t count,
             const std::vector<loadgen::Place>& places, const std::string& run_id,
             Clock::time_point start, Shared* shared, FeedRecord* record) {
  ThreadClient client(hub, "intake", "council-feed");
  loadgen::EventMix mix(places, run_id, stream, 77u + static_cast<uint32_t>(stream),
                        loadgen::EventMixOptions{.short_fuse_every = 3});
  const double per_feed_rate = p.rate / p.feeds;
  uint64_t sent = 0;
  while (sent < count) {
    asb::v1::Request request;
    const uint64_t n = std::min<uint64_t>(p.batch, count - sent);
    const absl::Time now = absl::Now();
    for (uint64_t i = 0; i < n; ++i) {
      *request.mutable_submit()->add_events() = mix.Next(now);
    }
    std::this_thread::sleep_until(start + std::chrono::duration_cast<Clock::duration>(
                                              std::chrono::duration<double>(sent / per_feed_rate)));
    bool first_attempt = true;
    const Clock::time_point give_up = Clock::now() + std::chrono::seconds(60);
    while (true) {
      ++shared->submits_in_flight;
      auto response = client.Call(request, milliseconds(1500));
      --shared->submits_in_flight;
      if (!response.ok()) {
        // The daemon is down or restarting, or its store refused (UNAVAILABLE): the same batch
        // again; intake's de-duplication makes the retry safe.
        std::lock_guard<std::mutex> lock(record->mu);
        ++record->retries;
        if (Clock::now() > give_up) {
          record->errors.push_back(
              absl::StrCat("feed ", stream, ": gave up: ", response.status().ToString()));
          return;
        }
        first_attempt = false;
        std::this_thread::sleep_for(milliseconds(50));
        continue;
      }
      std::lock_guard<std::mutex> lock(record->mu);
      for (const auto& r : response->submit().results()) {
        if (r.outcome() == asb::v1::SubmitResult::OUTCOME_REFUSED) {
          ++record->refused;
          record->errors.push_back(absl::StrCat("refused: ", r.status().message()));
          continue;
        }
        const bool accepted = r.outcome() == asb::v1::SubmitResult::OUTCOME_ACCEPTED;
        if (accepted) {
          ++record->accepted;
        } else if (!first_attempt) {
          ++record->duplicates_on_retry;  // stored by an attempt whose answer was lost
        } else {
          record->errors.push_back("first submission of a fresh event answered DUPLICATE");
        }
        auto [it, fresh] = record->hub_seq.emplace(r.source_event_id(), r.hub_seq());
        if (!fresh && it->second != r.hub_seq()) {
          ++record->conflicting;
        }
      }
      break;
    }
    sent += n;
  }
}

void RunPartner(const Hub& hub, const Profile& p, int index, uint32_t seed, Shared* shared,
                PartnerRecord* record) {
  ThreadClient client(hub, "notify", record->agency + "-partner");
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> coin(0, 1);
  std::map<uint64_t, std::string> content;  // agency_seq → disclosure bytes, for consistency
  uint64_t next = 0;                        // 0: unknown (fresh start, or after a crash)
  auto process = [&](const asb::v1::Alert& a) {
    if (a.delivery_count() > 1) {
      ++record->redelivered;
    }
    const std::string bytes = a.disclosure().SerializeAsString();
    auto [it, fresh] = content.emplace(a.agency_seq(), bytes);
    if (!fresh && it->second != bytes) {
      ++record->mismatches;
    }
    if (record->processed.count(a.agency_seq()) > 0) {
      ++record->seen_again;
    }
    record->processed.emplace(a.agency_seq(), a.disclosure().event_seq());
  };
  while (true) {
    const bool feeding = !shared->feeding_done.load();
    if (shared->pause_agency.load() == index && NowMs() < shared->pause_until_ms.load()) {
      std::this_thread::sleep_for(milliseconds(20));
      continue;
    }
    asb::v1::Request request;
    auto* pull = request.mutable_pull_alerts();
    pull->set_max(feeding ? p.slow_pull : 1000);
    pull->set_wait_ms(feeding ? 100 : 50);
    auto response = client.Call(request, milliseconds(2000));
    if (!response.ok()) {
      ++record->errors;  // notify down or restarting
      next = 0;
      std::this_thread::sleep_for(milliseconds(30));
      continue;
    }
    const auto& alerts = response->alerts();
    record->max_backlog = std::max(record->max_backlog,
                                   alerts.head() - std::min(alerts.head(), alerts.acked_through()));
    if (next == 0 || next <= alerts.acked_through()) {
      next = alerts.acked_through() + 1;
    }
    if (alerts.alerts().empty()) {
      if (shared->drained.load() && alerts.acked_through() == alerts.head() &&
          next == alerts.head() + 1) {
        return;  // everything meant for this agency was processed and acknowledged
      }
      continue;
    }
    // The partner stops for a while with this batch unacknowledged (it comes back after the
    // ack timeout), or "crashes" and loses it.
    if (shared->pause_agency.load() == index && NowMs() < shared->pause_until_ms.load()) {
      ++record->pauses;
      next = 0;
      continue;
    }
    if (feeding && coin(rng) < p.crash_p) {
      ++record->crashes;
      client.Reset();
      next = 0;
      continue;
    }
    std::vector<asb::v1::Alert> batch(alerts.alerts().begin(), alerts.alerts().end());
    if (batch.front().agency_seq() > next) {
      // A gap: alerts below are in flight with a crashed incarnation of this client. Replay.
      ++record->gap_replays;
      asb::v1::Request replay;
      replay.mutable_pull_alerts()->set_max(1000);
      replay.mutable_pull_alerts()->set_from_seq(next);
      auto replayed = client.Call(replay, milliseconds(2000));
      if (!replayed.ok()) {
        ++record->errors;
        next = 0;
        continue;
      }
      batch.assign(replayed->alerts().alerts().begin(), replayed->alerts().alerts().end());
    }
    uint64_t through = next - 1;
    for (const auto& a : batch) {
      if (a.agency_seq() < next) {
        process(a);  // seen again (not acked before a crash): idempotent by agency_seq
        continue;
      }
      if (a.agency_seq() != next) {
        break;  // processes only a contiguous prefix
      }
      process(a);
      through = next++;
    }
    if (through > alerts.acked_through()) {
      asb::v1::Request ack;
      ack.mutable_ack_alerts()->set_through_seq(through);
      if (!client.Call(ack, milliseconds(2000)).ok()) {
        ++record->errors;
        next = 0;
        continue;
      }
    }
    if (feeding) {
      std::this_thread::sleep_for(milliseconds(p.slow_sleep_ms));
    }
  }
}

// Intake's "events" stream folded from scratch through sharing's own logic on a fresh store:
// the disclosures the ISP requires for these accepted events.
absl::StatusOr<std::vector<asb::v1::Disclosure>> ReferenceDisclosures(
    const std::vector<asb::v1::Envelope>& events, std::shared_ptr<const policy::Policy> policy) {
  TempDir dir;
  store::StoreOptions so;
  so.path = dir.path() + "/db";
  so.sync = false;
  so.column_families = sharing::SharingColumnFamilies();
  ASB_ASSIGN_OR_RETURN(auto store, store::Store::Open(so));
  ASB_ASSIGN_OR_RETURN(auto disclosures, stream::Log::Open(store.get(), "disclosures", "ref"));
  ASB_ASSIGN_OR_RETURN(auto audit, stream::Log::Open(store.get(), "audit", "ref"));
  sharing::CaseFolder folder(store.get());
  sharing::SharingHandler handler(&folder, disclosures.get(), audit.get(),
                                  [] { return absl::Now(); });
  // Configured as the shipped config/sharing.yaml configures asb-sharing: the victim index, the
  // risk matrix and the case review procedure (link suggestions, repeat-victim flags).
  ASB_ASSIGN_OR_RETURN(
      std::shared_ptr<const victims::RiskMatrix> risk,
      victims::RiskMatrix::LoadFile(std::string(ASB_SOURCE_DIR) + "/config/risk/matrix.yaml",
                                    policy->agencies()));
  ASB_ASSIGN_OR_RETURN(
      std::shared_ptr<const victims::CaseReviewProcedure> procedure,
      victims::CaseReviewProcedure::LoadFile(
          std::string(ASB_SOURCE_DIR) + "/config/casereview/derbyshire.yaml", policy->agencies()));
  folder.SetRiskMatrix(risk);
  folder.SetCaseReviewProcedure(procedure);
  sharing::VictimIndex index(store.get());
  handler.SetVictimIndex(&index);
  handler.SetPolicy(std::move(policy));
  for (std::size_t i = 0; i < events.size(); i += 500) {
    store::Batch batch = store->NewBatch();
    for (std::size_t j = i; j < std::min(events.size(), i + 500); ++j) {
      absl::Status s = handler.ApplyEvent(events[j], &batch);
      if (!s.ok() && !absl::IsInvalidArgument(s) && !absl::IsFailedPrecondition(s)) {
        return s;  // the daemon's consumer skips only those two, as here
      }
    }
    ASB_RETURN_IF_ERROR(store->Write(&batch));
  }
  std::vector<asb::v1::Disclosure> out;
  std::vector<asb::v1::Envelope> page;
  for (uint64_t from = 1; from <= disclosures->head(); from += page.size()) {
    ASB_RETURN_IF_ERROR(disclosures->Read(from, 5000, &page));
    for (auto& e : page) {
      out.push_back(std::move(*e.mutable_disclosure()));
    }
  }
  return out;
}

// The order an event of the log concerns ("case/order"), or "" for other events.
std::string OrderKey(const asb::v1::CaseEvent& e) {
  std::string id;
  if (e.has_order_issued()) {
    id = e.order_issued().order().order_id();
  } else if (e.has_order_discharged()) {
    id = e.order_discharged().order_id();
  } else if (e.has_order_expired()) {
    id = e.order_expired().order_id();
  } else if (e.has_statutory_notice()) {
    id = e.statutory_notice().order_id();
  } else if (e.has_order_varied()) {
    id = e.order_varied().order_id();
  }
  return id.empty() ? id : e.case_id() + "/" + id;
}

// The latest end or review date of a feed's order that falls due within a minute of now (the
// short fuses), or the infinite past.
absl::Time LastShortFuse(const std::vector<asb::v1::Envelope>& events) {
  absl::Time last = absl::InfinitePast();
  const absl::Time soon = absl::Now() + absl::Minutes(1);
  for (const auto& env : events) {
    const asb::v1::CaseEvent& e = env.accepted_event().event();
    if (!e.has_order_issued()) {
      continue;
    }
    for (const auto* ts :
         {&e.order_issued().order().expires_at(), &e.order_issued().order().review_at()}) {
      const absl::Time t = absl::FromUnixSeconds(ts->seconds());
      if (ts->seconds() != 0 && t <= soon) {
        last = std::max(last, t);
      }
    }
  }
  return last;
}

// The disclosure without the time it was decided (the only field that depends on when).
std::string Comparable(asb::v1::Disclosure d) {
  d.clear_decided_at();
  return d.SerializeAsString();
}

TEST(FaultInjectionTest, NothingLostNothingAppliedTwiceUnderKillsAndSlowPartners) {
  const Profile p = ChooseProfile();
  const uint32_t seed = ChooseSeed();
  std::printf("fault injection: profile %s, seed %u (ASB_FAULT_SEED=%u replays the schedule)\n",
              p.name.c_str(), seed, seed);
  std::fflush(stdout);
  std::mt19937 rng(seed);

  // notify with a short ack timeout, so unacknowledged alerts come back within the run.
  TempDir config_dir;
  const std::string notify_config = config_dir.path() + "/notify.yaml";
  {
    std::string yaml = ReadFile(std::string(ASB_SOURCE_DIR) + "/config/notify.yaml");
    ASSERT_NE(yaml.find("ack_timeout_ms: 30000"), std::string::npos);
    ASSERT_NE(yaml.find("max_deliveries: 10"), std::string::npos);
    yaml = absl::StrReplaceAll(yaml, {{"ack_timeout_ms: 30000", "ack_timeout_ms: 1000"},
                                      {"max_deliveries: 10", "max_deliveries: 1000"}});
    std::ofstream(notify_config) << yaml;
  }
  Hub hub(Options(notify_config));
  ASB_ASSERT_OK(hub.StartAll());

  auto policy =
      policy::Policy::LoadFile(std::string(ASB_SOURCE_DIR) + "/config/isp/chesterfield.yaml");
  ASSERT_TRUE(policy.ok()) << policy.status();
  const std::vector<std::string> agencies = (*policy)->agencies();

  Shared shared;
  FeedRecord feed;
  std::vector<PartnerRecord> partners(agencies.size());
  std::vector<std::thread> partner_threads;
  for (std::size_t i = 0; i < agencies.size(); ++i) {
    partners[i].agency = agencies[i];
    partner_threads.emplace_back(RunPartner, std::cref(hub), std::cref(p), static_cast<int>(i),
                                 seed + 1 + static_cast<uint32_t>(i), &shared, &partners[i]);
  }
  const std::vector<loadgen::Place> places =
      loadgen::LoadPlaces(std::string(ASB_SOURCE_DIR) + "/../shared/data/policeuk", 2000);
  const uint64_t total = static_cast<uint64_t>(p.rate * p.feed_seconds);
  const std::string run_id = absl::StrCat("fault", seed);
  const Clock::time_point start = Clock::now();
  std::vector<std::thread> feed_threads;
  for (int f = 0; f < p.feeds; ++f) {
    const uint64_t count = total / p.feeds + (static_cast<uint64_t>(f) < total % p.feeds);
    feed_threads.emplace_back(RunFeed, std::cref(hub), std::cref(p), f, count, std::cref(places),
                              run_id, start, &shared, &feed);
  }

  // The faults, from this thread (the Hub is not thread-safe): every daemon in turn, in a
  // seeded random order, at seeded random moments; and one partner stopped for a while.
  std::map<std::string, int> kills;
  int restarts = 0;
  std::vector<asb::v1::SignedTreeHead> witnesses;
  std::vector<std::string> order = Hub::Daemons();
  std::size_t next_victim = order.size();
  // One kill per slot, at a seeded random point of it: every daemon at least once.
  const double mean_gap = (p.kill_min_s + p.kill_max_s) / 2;
  const int planned = std::max(4, static_cast<int>(p.feed_seconds / mean_gap + 0.5));
  const double slot = p.feed_seconds / planned;
  std::uniform_real_distribution<double> within(0.05, 0.7);
  std::uniform_int_distribution<int> downtime(0, p.max_downtime_ms);
  auto at = [&start](double seconds) {
    return start +
           std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  };
  const Clock::time_point feed_end = at(p.feed_seconds);
  const Clock::time_point pause_at = at(p.feed_seconds * 0.3);
  bool paused = false;
  int done = 0;
  Clock::time_point next_kill = at(within(rng) * slot);
  while (done < planned || Clock::now() < feed_end) {
    if (!paused && Clock::now() >= pause_at) {
      paused = true;
      shared.pause_agency.store(static_cast<int>(rng() % agencies.size()));
      // police (when present) is the agency with the most alerts: stop it rather than fire.
      for (std::size_t i = 0; i < agencies.size(); ++i) {
        if (agencies[i] == "police") {
          shared.pause_agency.store(static_cast<int>(i));
        }
      }
      shared.pause_until_ms.store(NowMs() + static_cast<uint64_t>(p.pause_s * 1000));
    }
    if (done == planned || Clock::now() < next_kill) {
      std::this_thread::sleep_for(milliseconds(10));
      continue;
    }
    if (next_victim == order.size()) {
      std::shuffle(order.begin(), order.end(), rng);
      next_victim = 0;
    }
    const std::string victim = order[next_victim++];
    const int down_ms = downtime(rng);
    if (victim == "intake") {
      // The interesting moment for intake: a submission in flight (stored or not, unanswered).
      const Clock::time_point until = Clock::now() + milliseconds(500);
      while (shared.submits_in_flight.load() == 0 && Clock::now() < until) {
        std::this_thread::yield();
      }
    }
    ASB_ASSERT_OK(hub.Kill(victim));
    ++kills[victim];
    std::this_thread::sleep_for(milliseconds(down_ms));
    absl::Status restarted = hub.StartAndWait(victim);
    ASSERT_TRUE(restarted.ok()) << restarted;
    ++restarts;
    ++done;
    // A witness of the access log after every restart: the DPO's saved head, checked at the end.
    if (auto head = hub.TreeHead("dpo-auditor", /*fresh=*/true);
        head.ok() && head->has_tree_head()) {
      witnesses.push_back(head->tree_head());
    }
    std::printf("  t=%5.2f s  kill -9 %-7s down %3d ms, restarted\n",
                std::chrono::duration<double>(Clock::now() - start).count(), victim.c_str(),
                down_ms);
    std::fflush(stdout);
    next_kill = at((done + within(rng)) * slot);
  }
  for (auto& t : feed_threads) {
    t.join();
  }
  // The short fuses fall due a few seconds after their orders were made: let the hub's clock
  // reach the last of them before the pipeline is drained (and the partners stop).
  {
    auto fed = hub.FetchAll("intake", "events");
    ASSERT_TRUE(fed.ok()) << fed.status();
    const absl::Time last = LastShortFuse(*fed);
    while (absl::Now() < last + absl::Seconds(2)) {
      std::this_thread::sleep_for(milliseconds(100));
    }
  }
  const double fed_s = std::chrono::duration<double>(Clock::now() - start).count();
  shared.feeding_done.store(true);
  absl::Status drained = hub.WaitDrained(p.drain_timeout);
  shared.drained.store(true);
  for (auto& t : partner_threads) {
    t.join();
  }
  const double total_s = std::chrono::duration<double>(Clock::now() - start).count();
  ASSERT_TRUE(drained.ok()) << drained;
  ASB_ASSERT_OK(hub.WaitDrained(absl::Seconds(10)));
  for (const std::string& e : feed.errors) {
    ADD_FAILURE() << e;
  }

  uint64_t lost = 0, duplicated = 0;
  const Clock::time_point check_start = Clock::now();

  // 1. intake: every acknowledged event is stored once, under the number it was given.
  auto events = hub.FetchAll("intake", "events");
  ASSERT_TRUE(events.ok()) << events.status();
  std::map<std::string, uint64_t> stored;  // source_event_id → seq (the feeds' events)
  std::map<std::string, uint64_t> made;    // source_event_id → seq (the hub's own)
  for (const auto& e : *events) {
    auto& by = e.accepted_event().made_by_hub() ? made : stored;
    auto [it, fresh] = by.emplace(e.accepted_event().event().source_event_id(), e.seq());
    if (!fresh) {
      ++duplicated;
      ADD_FAILURE() << "event " << it->first << " stored twice: " << it->second << ", " << e.seq();
    }
  }
  for (const auto& [id, seq] : feed.hub_seq) {
    auto it = stored.find(id);
    if (it == stored.end() || it->second != seq) {
      ++lost;
      ADD_FAILURE() << "acknowledged event " << id << " (hub_seq " << seq << ") not stored there";
    }
  }
  EXPECT_EQ(stored.size(), feed.hub_seq.size()) << "stored events the feed never had acknowledged";
  EXPECT_EQ(feed.hub_seq.size(), total);
  EXPECT_EQ(feed.conflicting, 0u);

  std::printf("  checked intake at %.1f s\n",
              std::chrono::duration<double>(Clock::now() - check_start).count());
  // 2. sharing: exactly the reference disclosures.
  auto reference = ReferenceDisclosures(*events, *policy);
  ASSERT_TRUE(reference.ok()) << reference.status();
  auto disclosed = hub.FetchAll("sharing", "disclosures");
  ASSERT_TRUE(disclosed.ok()) << disclosed.status();
  std::map<std::pair<std::string, uint64_t>, std::string> expected_disclosures, actual_disclosures;
  for (const auto& d : *reference) {
    expected_disclosures[{d.agency(), d.event_seq()}] = Comparable(d);
  }
  for (const auto& env : *disclosed) {
    const auto& d = env.disclosure();
    if (!actual_disclosures.emplace(std::make_pair(d.agency(), d.event_seq()), Comparable(d))
             .second) {
      ++duplicated;
      ADD_FAILURE() << "event " << d.event_seq() << " disclosed to " << d.agency() << " twice";
    }
  }
  uint64_t view_mismatches = 0;
  for (const auto& [key, bytes] : expected_disclosures) {
    auto it = actual_disclosures.find(key);
    if (it == actual_disclosures.end()) {
      ++lost;
      ADD_FAILURE() << "disclosure of event " << key.second << " to " << key.first << " missing";
    } else if (it->second != bytes) {
      ++view_mismatches;
    }
  }
  for (const auto& [key, bytes] : actual_disclosures) {
    if (expected_disclosures.count(key) == 0) {
      ADD_FAILURE() << "disclosure of event " << key.second << " to " << key.first
                    << " that the ISP does not require";
    }
  }
  EXPECT_EQ(view_mismatches, 0u) << "disclosures whose view differs from the reference";

  std::printf("  checked sharing at %.1f s\n",
              std::chrono::duration<double>(Clock::now() - check_start).count());
  // 3. notify: each outbox holds exactly the alert-worthy reference disclosures, densely; every
  // partner processed all of them; nothing dead-lettered.
  std::set<std::pair<std::string, uint64_t>> all_alerts;  // (agency, agency_seq)
  uint64_t alerts_total = 0, redeliveries = 0, seen_again = 0, crashes = 0, gap_replays = 0;
  uint64_t max_backlog = 0;
  for (std::size_t i = 0; i < agencies.size(); ++i) {
    const std::string& agency = agencies[i];
    std::vector<uint64_t> expected;
    for (const auto& d : *reference) {
      if (d.agency() != agency) {
        continue;
      }
      bool alert = !d.notification_rules().empty();  // the hub's notices name their recipients
      for (const auto& n : (*policy)->NotificationsFor({d.event_type(), d.order_type()})) {
        alert = alert || n.agency == agency;
      }
      if (alert) {
        expected.push_back(d.event_seq());
      }
    }
    std::vector<uint64_t> outbox;
    for (uint64_t from = 1;;) {
      auto page = hub.PullAlerts(agency + "-partner", 1000, 0, from);
      ASSERT_TRUE(page.ok()) << page.status();
      for (const auto& a : page->alerts()) {
        EXPECT_EQ(a.agency_seq(), outbox.size() + 1) << agency << ": agency_seq not dense";
        outbox.push_back(a.disclosure().event_seq());
        all_alerts.insert({agency, a.agency_seq()});
      }
      if (page->alerts().empty() || outbox.size() >= page->head()) {
        EXPECT_EQ(outbox.size(), page->head()) << agency;
        break;
      }
      from = outbox.size() + 1;
    }
    std::set<uint64_t> unique(outbox.begin(), outbox.end());
    duplicated += outbox.size() - unique.size();
    for (uint64_t e : expected) {
      lost += unique.count(e) == 0 ? 1 : 0;
    }
    EXPECT_EQ(outbox, expected) << agency << ": outbox differs from the ISP's alerts";
    // The partner client processed every alert: 1..head with the outbox's events.
    const PartnerRecord& r = partners[i];
    std::vector<uint64_t> processed;
    for (const auto& [seq, event] : r.processed) {
      EXPECT_EQ(seq, processed.size() + 1)
          << agency << ": partner missed alert " << processed.size() + 1;
      processed.push_back(event);
    }
    EXPECT_EQ(processed, outbox) << agency << ": partner did not process every alert";
    EXPECT_EQ(r.mismatches, 0u) << agency << ": an alert changed content between deliveries";
    alerts_total += outbox.size();
    redeliveries += r.redelivered;
    seen_again += r.seen_again;
    crashes += r.crashes;
    gap_replays += r.gap_replays;
    max_backlog = std::max(max_backlog, r.max_backlog);
  }
  {
    asb::v1::Request request;
    request.mutable_list_dead_letters()->set_limit(100);
    auto dead = hub.Call("notify", "hub-admin", request);
    ASSERT_TRUE(dead.ok()) << dead.status();
    EXPECT_EQ(dead->dead_letters().dead_letters_size(), 0) << "alerts were dead-lettered";
    lost += dead->dead_letters().dead_letters_size();
  }

  std::printf("  checked notify at %.1f s\n",
              std::chrono::duration<double>(Clock::now() - check_start).count());
  // 4. audit: one COLLECTION per accepted event, one DISCLOSURE per alert, none twice.
  ASB_ASSERT_OK(hub.WaitDrained(absl::Seconds(10)));
  asb::v1::AuditQueryRequest q;
  q.add_kinds(asb::v1::AUDIT_KIND_DISCLOSURE);
  q.add_kinds(asb::v1::AUDIT_KIND_COLLECTION);
  auto audited = hub.AuditQueryAll("dpo-auditor", q);
  ASSERT_TRUE(audited.ok()) << audited.status();
  std::set<std::pair<std::string, uint64_t>> audited_alerts;
  std::set<uint64_t> audited_events;
  for (const auto& e : *audited) {
    const auto& r = e.record();
    const bool fresh = r.kind() == asb::v1::AUDIT_KIND_DISCLOSURE
                           ? audited_alerts.insert({r.recipient_agency(), r.ref_seq()}).second
                           : audited_events.insert(r.ref_seq()).second;
    if (!fresh) {
      ++duplicated;
      ADD_FAILURE() << "audit entry " << e.index() << " records " << r.recipient_agency() << "/"
                    << r.ref_seq() << " again";
    }
  }
  for (const auto& a : all_alerts) {
    if (audited_alerts.count(a) == 0) {
      ++lost;
      ADD_FAILURE() << "alert " << a.first << "/" << a.second << " has no DISCLOSURE audit entry";
    }
  }
  EXPECT_EQ(audited_alerts.size(), all_alerts.size());
  for (const auto& e : *events) {
    if (audited_events.count(e.seq()) == 0) {
      ++lost;
      ADD_FAILURE() << "event " << e.seq() << " has no COLLECTION audit entry";
    }
  }

  // 5. The access log verifies against every head signed during the run, and contains every
  // head saved as a witness after a kill (a consistency proof from each to the last).
  auto heads = hub.TreeHead("dpo-auditor", /*fresh=*/true, /*with_history=*/true);
  ASSERT_TRUE(heads.ok()) << heads.status();
  EXPECT_TRUE(heads->damage().empty());
  const asb::v1::SignedTreeHead& last = heads->tree_head();
  std::vector<asb::v1::SignedTreeHead> history(heads->history().begin(), heads->history().end());
  history.insert(history.end(), witnesses.begin(), witnesses.end());
  const audit::VerifyReport verified =
      audit::VerifyLog(last, history, audit::VerifyRange{}, hub.AuditSource("dpo-auditor"));
  EXPECT_TRUE(verified.status.ok()) << verified.status;
  int witnessed = 0;
  for (const auto& w : witnesses) {
    std::vector<std::string> proof;
    if (w.tree_size() < last.tree_size()) {
      auto p = hub.AuditSource("dpo-auditor").consistency(w.tree_size(), last.tree_size());
      ASSERT_TRUE(p.ok()) << p.status();
      proof = *p;
    }
    absl::Status s = audit::CheckWitness(w, last, proof).status();
    EXPECT_TRUE(s.ok()) << s;
    witnessed += s.ok();
  }
  std::printf(
      "  audit verify: %s: entries %llu..%llu against %zu signed tree heads%s\n"
      "  witnesses:    %d of %zu heads saved after the kills are in the final log\n",
      verified.status.ok() ? "OK" : std::string(verified.status.message()).c_str(),
      static_cast<unsigned long long>(verified.first),
      static_cast<unsigned long long>(verified.last), history.size() + 1,
      verified.damaged.empty() ? "" : " (damaged stretches listed above)", witnessed,
      witnesses.size());

  // 6. The hub's clock: each deadline that fell due was raised once, whatever was killed.
  struct OrderSeen {
    asb::v1::OrderType type = asb::v1::ORDER_TYPE_UNSPECIFIED;
    std::optional<absl::Time> expires, review;
    bool ended_by_feed = false;
  };
  std::map<std::string, OrderSeen> orders_seen;
  std::map<std::string, int> hub_expiries;                 // order → hub expiry records
  std::map<std::pair<std::string, int>, int> hub_notices;  // (order, kind) → notices
  for (const auto& env : *events) {
    const asb::v1::AcceptedEvent& a = env.accepted_event();
    const std::string key = OrderKey(a.event());
    if (key.empty()) {
      continue;
    }
    if (!a.made_by_hub()) {
      if (a.event().has_order_issued()) {
        const asb::v1::Order& o = a.event().order_issued().order();
        OrderSeen& seen = orders_seen[key];
        seen.type = o.type();
        if (o.has_expires_at()) {
          seen.expires = absl::FromUnixSeconds(o.expires_at().seconds());
        }
        if (o.has_review_at()) {
          seen.review = absl::FromUnixSeconds(o.review_at().seconds());
        }
      } else if (a.event().has_order_discharged() || a.event().has_order_expired()) {
        orders_seen[key].ended_by_feed = true;
      }
    } else if (a.event().has_order_expired()) {
      ++hub_expiries[key];
      const auto& o = orders_seen[key];
      EXPECT_TRUE(o.expires.has_value() &&
                  absl::FromUnixSeconds(a.event().occurred_at().seconds()) == *o.expires)
          << key << ": expired by the hub at another time than its end";
    } else if (a.event().has_statutory_notice()) {
      ++hub_notices[{key, a.event().statutory_notice().kind()}];
    }
  }
  const absl::Time clock_checked = absl::Now() - absl::Seconds(1);
  uint64_t expiries_due = 0, notices_due = 0;
  auto expect_once = [&](int n, const std::string& what) {
    if (n == 0) {
      ++lost;
      ADD_FAILURE() << what << " never raised";
    } else if (n > 1) {
      duplicated += n - 1;
      ADD_FAILURE() << what << " raised " << n << " times";
    }
  };
  for (const auto& [key, o] : orders_seen) {
    const bool expired = o.expires.has_value() && *o.expires <= clock_checked && !o.ended_by_feed;
    if (expired) {
      ++expiries_due;
      expect_once(hub_expiries[key], key + "'s expiry");
    } else {
      EXPECT_EQ(hub_expiries[key], 0) << key << " expired by the hub before its end";
    }
    if (o.review.has_value() && *o.review <= clock_checked && !o.ended_by_feed &&
        (!o.expires.has_value() || *o.review < *o.expires)) {
      ++notices_due;
      expect_once(hub_notices[{key, asb::v1::NOTICE_KIND_REVIEW_OVERDUE}],
                  key + "'s review overdue");
    }
    if (o.type == asb::v1::ORDER_TYPE_CLOSURE_NOTICE) {
      // Served weeks ago with no hearing: the hearing's deadline and, a week on, its escalation.
      notices_due += 2;
      expect_once(hub_notices[{key, asb::v1::NOTICE_KIND_HEARING_OVERDUE}],
                  key + "'s hearing overdue");
      expect_once(hub_notices[{key, asb::v1::NOTICE_KIND_ESCALATION}], key + "'s escalation");
    }
  }
  EXPECT_GT(expiries_due, 0u) << "no order fell due during the run: the clock went untested";

  const double check_s = std::chrono::duration<double>(Clock::now() - check_start).count();
  int total_kills = 0;
  std::string per_daemon;
  for (const auto& [d, n] : kills) {
    total_kills += n;
    absl::StrAppend(&per_daemon, per_daemon.empty() ? "" : ", ", d, " ", n);
  }
  std::printf(
      "fault injection (%s, seed %u): fed %.1f s, drained at %.1f s, checked in %.1f s\n"
      "  events        %llu accepted (%llu acknowledged only on a retry, %llu retried "
      "submissions)\n"
      "  disclosures   %zu (reference %zu)\n"
      "  alerts        %llu, partner backlog up to %llu, redeliveries %llu (seen again by a "
      "partner %llu), partner crashes %llu, gap replays %llu\n"
      "  kills         %d (%s), restarts %d\n"
      "  hub's clock   %zu events made by the hub; %llu expiries and %llu deadlines due, each "
      "raised once\n"
      "  lost = %llu, duplicated effects = %llu\n",
      p.name.c_str(), seed, fed_s, total_s, check_s, static_cast<unsigned long long>(stored.size()),
      static_cast<unsigned long long>(feed.duplicates_on_retry),
      static_cast<unsigned long long>(feed.retries), actual_disclosures.size(),
      expected_disclosures.size(), static_cast<unsigned long long>(alerts_total),
      static_cast<unsigned long long>(max_backlog), static_cast<unsigned long long>(redeliveries),
      static_cast<unsigned long long>(seen_again), static_cast<unsigned long long>(crashes),
      static_cast<unsigned long long>(gap_replays), total_kills, per_daemon.c_str(), restarts,
      made.size(), static_cast<unsigned long long>(expiries_due),
      static_cast<unsigned long long>(notices_due), static_cast<unsigned long long>(lost),
      static_cast<unsigned long long>(duplicated));
  EXPECT_EQ(lost, 0u);
  EXPECT_EQ(duplicated, 0u);
  EXPECT_GE(total_kills, 4) << "every daemon is killed at least once";
  EXPECT_GT(alerts_total, 0u);
}

}  // namespace
}  // namespace asb::testing
