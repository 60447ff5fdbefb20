// What one event costs asb-intake as its case's history grows (issue 18: "an event on a case that
// already holds 1,000 incidents costs at most 2x one on a new case"), the companion of
// sharing_bench.cc. Each run opens a case with a victim assessed MEDIUM (so every new incident
// runs the victim ledger: the ASB case review's complaint count, the reassessment follow-up) and
// submits N incidents into a fresh store, then times IntakeHandler::Submit (validation,
// de-duplication, the ledgers, the events log, the audit record, the batch's write; sync off) of
// one more event on that case, under the shipped statutory rules, case review procedure and
// risk matrix:
//   BM_IncidentOnCaseWith/N      another incident, reported by the police
//   BM_IncidentOnLongCaseWith/N  the same on a case whose N incidents were reported one every two
//                                days (1,000: five and a half years; the window holds ~110)
//   BM_BreachOnCaseWith/N        a breach of the case's CBO (the order ledger; no victim work)
// Each runs 50 events ("0" is a case of 0-50). In the first and the last every incident is
// reported the same day, within the case review's six-month window, so each is a complaint the
// count keeps: the worst case for the ledger, whose count must read every complaint in the window
// (s.104); the behaviour they report is three hours apart (one a minute would make every pair
// "the same incident" candidates, which no case's history looks like).

#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "asb/config/v1/isp.pb.h"
#include "asb/v1/api.pb.h"
#include "bench/bench_support.h"
#include "common/config/config.h"
#include "common/orders/rules.h"
#include "common/victims/case_review.h"
#include "common/victims/risk_matrix.h"
#include "services/intake/intake_handler.h"

namespace {

using asb::bench::Check;

std::string Config(const char* path) { return std::string(ASB_SOURCE_DIR) + "/" + path; }

std::string Rfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

// The day every event of a dense case is reported (the events' occurredAt).
constexpr char kReported[] = "2026-11-02T22:10:00Z";

// Incident n about behaviour at `occurred`; by default three hours after the one before (from
// 1 June 2026: 1,050 of them reach October).
std::string Incident(uint64_t n, std::string occurred = "") {
  if (occurred.empty()) {
    occurred = Rfc3339(absl::FromUnixSeconds(1780272000 + static_cast<int64_t>(n) * 3 * 3600));
  }
  return R"("incidentReported":{"incident":{"incidentId":"DP-)" + std::to_string(n) +
         R"(","occurredAt":")" + occurred + R"(","category":"NSIR_CATEGORY_PERSONAL",
         "description":"Caller reports the neighbour kicking her door and shouting threats after 10pm.",
         "location":{"description":"On or near Hollingwood Crescent, Brimington",
         "lsoaCode":"E01019381","ward":"Brimington North"},"reportedBy":"police"}})";
}

// A store, intake's logs and handler under the shipped rules, with the case and `n` incidents:
// reported the same day, or (`long_history`) one every two days from 1 January 2021.
class Intake {
 public:
  explicit Intake(int64_t n, bool long_history = false)
      : long_history_(long_history), scratch_("intake", asb::intake::IntakeColumnFamilies()) {
    handler_ = std::make_unique<asb::intake::IntakeHandler>(
        scratch_.store(), scratch_.OpenLog("events", "intake"), scratch_.OpenLog("audit", "intake"),
        [] { return absl::Now(); });
    asb::config::v1::Isp isp;
    Check(asb::config::LoadConfigFile(Config("config/isp/chesterfield.yaml"), &isp), "isp");
    std::vector<std::string> agencies;
    for (const auto& a : isp.agencies()) {
      agencies.push_back(a.id());
    }
    auto rules =
        asb::orders::StatutoryRules::LoadFile(Config("config/statutory/rules.yaml"), agencies);
    Check(rules.status(), "rules");
    auto procedure = asb::victims::CaseReviewProcedure::LoadFile(
        Config("config/casereview/derbyshire.yaml"), agencies);
    Check(procedure.status(), "procedure");
    auto risk = asb::victims::RiskMatrix::LoadFile(Config("config/risk/matrix.yaml"), agencies);
    Check(risk.status(), "risk");
    handler_->SetAgencies(agencies);
    handler_->SetRules(*rules);
    handler_->SetCaseReviewProcedure(*procedure);
    handler_->SetRiskMatrix(*risk);

    Submit(R"("caseOpened":{"nsirCategory":"NSIR_CATEGORY_PERSONAL",
        "title":"Intimidation and late-night noise, Brimington North",
        "leadAgency":"community-safety","leadOfficer":"J. Hartley"})");
    Submit(R"("personLinked":{"person":{"personId":"P-1","role":"PERSON_ROLE_VICTIM",
        "givenName":"Margaret","familyName":"Ollerby","dateOfBirth":"1951-04-17"}})");
    Submit(R"("personLinked":{"person":{"personId":"P-2","role":"PERSON_ROLE_PERPETRATOR",
        "givenName":"Dean","familyName":"Marsh","dateOfBirth":"1994-02-03"}})");
    Submit(R"("riskAssessed":{"personId":"P-1","level":"RISK_LEVEL_MEDIUM","assessedBy":"JH"})");
    Submit(R"("orderIssued":{"order":{"orderId":"CBO-1",
        "type":"ORDER_TYPE_CRIMINAL_BEHAVIOUR_ORDER","subjectPersonId":"P-2","issuedBy":"police",
        "issuedAt":"2026-10-14T11:00:00Z","expiresAt":"2028-10-14T00:00:00Z"}})");
    for (int64_t i = 0; i < n; ++i) {
      SubmitNextIncident();
    }
  }

  // The case's next incident.
  void SubmitNextIncident() {
    const uint64_t n = ++incidents_;
    if (!long_history_) {
      Submit(Incident(n));
      return;
    }
    // Reported at 10:00, about behaviour an hour before.
    const absl::Time reported =
        absl::FromUnixSeconds(1609495200) + absl::Hours(48) * static_cast<int64_t>(n);
    Submit(Incident(n, Rfc3339(reported - absl::Hours(1))), Rfc3339(reported));
  }

  // Submits one event from the police feed; aborts unless it is accepted.
  void Submit(const std::string& body, const std::string& reported = kReported) {
    asb::v1::SubmitRequest request;
    Check(asb::config::ParseJson(R"({"sourceEventId":"e)" + std::to_string(++seq_) +
                                     R"(","caseId":"CBC-1","occurredAt":")" + reported + R"(",)" +
                                     body + "}",
                                 request.add_events()),
          "event");
    auto response = handler_->Submit(asb::intake::Source{"police-feed", "police"}, request);
    Check(response.status(), "submit");
    if (response->results(0).outcome() != asb::v1::SubmitResult::OUTCOME_ACCEPTED) {
      std::fprintf(stderr, "not accepted: %s\n", response->results(0).status().message().c_str());
      std::abort();
    }
  }

 private:
  const bool long_history_;
  asb::bench::ScratchStore scratch_;  // first: the handler goes before it
  std::unique_ptr<asb::intake::IntakeHandler> handler_;
  uint64_t seq_ = 0;
  uint64_t incidents_ = 0;
};

void BM_IncidentOnCaseWith(benchmark::State& state) {
  Intake intake(state.range(0));
  for (auto _ : state) {
    intake.SubmitNextIncident();
  }
}
BENCHMARK(BM_IncidentOnCaseWith)
    ->Arg(0)
    ->Arg(100)
    ->Arg(1000)
    ->Iterations(50)
    ->Unit(benchmark::kMicrosecond);

void BM_IncidentOnLongCaseWith(benchmark::State& state) {
  Intake intake(state.range(0), /*long_history=*/true);
  for (auto _ : state) {
    intake.SubmitNextIncident();
  }
}
BENCHMARK(BM_IncidentOnLongCaseWith)
    ->Arg(0)
    ->Arg(100)
    ->Arg(1000)
    ->Iterations(50)
    ->Unit(benchmark::kMicrosecond);

void BM_BreachOnCaseWith(benchmark::State& state) {
  Intake intake(state.range(0));
  for (auto _ : state) {
    intake.Submit(R"("orderBreached":{"orderId":"CBO-1",
        "breach":{"occurredAt":"2026-11-08T23:05:00Z","description":"Seen at the victim's door."}})");
  }
}
BENCHMARK(BM_BreachOnCaseWith)
    ->Arg(0)
    ->Arg(100)
    ->Arg(1000)
    ->Iterations(50)
    ->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
