// What one event costs asb-sharing as its case's history grows (issue 18: "an event on a case
// that already holds 1,000 incidents costs at most 2x one on a new case"). Each run folds a case
// (opened, a victim and a perpetrator linked, a CBO issued on the perpetrator) and N incidents
// into a fresh store, then times SharingHandler::ApplyEvent plus the batch's write (sync off:
// the fsync is per batch, not per case) for one more event on that case, under the shipped
// Chesterfield ISP:
//   BM_IncidentOnCaseWith/N  another incident: alerts no agency under the shipped ISP, so the
//                            cost is the fold (read the case's head, write it and the incident)
//   BM_BreachOnCaseWith/N    a breach of the CBO: alerts community safety, the police and the
//                            safeguarding partners, each with its view of the case as it stands
//                            (of the incidents, only an incident event's own)
// Each runs 50 events (the case grows by 50 incidents, or the order by 50 breaches, during the
// run: "0" is a case of 0-50). Counters: bytes = the disclosures' bytes written per event. Not
// encrypted at rest (the store's cipher costs per byte, so it scales the same way).

#include <benchmark/benchmark.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "asb/v1/envelope.pb.h"
#include "bench/bench_support.h"
#include "common/config/config.h"
#include "common/policy/policy.h"
#include "services/sharing/case_folder.h"
#include "services/sharing/sharing_handler.h"

namespace {

using asb::bench::Check;
using asb::v1::Envelope;

Envelope Event(uint64_t seq, const std::string& body) {
  Envelope env;
  env.set_seq(seq);
  asb::v1::AcceptedEvent* a = env.mutable_accepted_event();
  a->set_source("cbc-cms-feed");
  a->set_source_agency("community-safety");
  Check(asb::config::ParseJson(R"({"sourceEventId":"e)" + std::to_string(seq) +
                                   R"(","caseId":"CBC-1","occurredAt":"2026-10-01T10:00:00Z",)" +
                                   body + "}",
                               a->mutable_event()),
        "event");
  return env;
}

std::string Incident(uint64_t n) {
  return R"("incidentReported":{"incident":{"incidentId":"DP-)" + std::to_string(n) +
         R"(","occurredAt":"2026-09-02T22:10:00Z","category":"NSIR_CATEGORY_PERSONAL",
         "description":"Caller reports the neighbour kicking her door and shouting threats after 10pm.",
         "location":{"description":"On or near Hollingwood Crescent, Brimington",
         "lsoaCode":"E01019381","ward":"Brimington North"},"reportedBy":"police"}})";
}

// A store, sharing's logs and handler under the shipped ISP, with the case folded and `n`
// incidents on it.
class Sharing {
 public:
  explicit Sharing(int64_t n)
      : scratch_("sharing", asb::sharing::SharingColumnFamilies()),
        disclosures_(scratch_.OpenLog("disclosures", "sharing")) {
    folder_ = std::make_unique<asb::sharing::CaseFolder>(scratch_.store());
    handler_ = std::make_unique<asb::sharing::SharingHandler>(folder_.get(), disclosures_,
                                                              scratch_.OpenLog("audit", "sharing"),
                                                              [] { return absl::Now(); });
    auto policy = asb::policy::Policy::LoadFile(std::string(ASB_SOURCE_DIR) +
                                                "/config/isp/chesterfield.yaml");
    Check(policy.status(), "policy");
    handler_->SetPolicy(*policy);
    Apply(R"("caseOpened":{"nsirCategory":"NSIR_CATEGORY_PERSONAL",
        "title":"Intimidation and late-night noise, Brimington North",
        "summary":"Repeated shouting, door-banging and threats towards an older neighbour.",
        "leadAgency":"community-safety","leadOfficer":"J. Hartley",
        "location":{"description":"On or near Hollingwood Crescent","lsoaCode":"E01019381"},
        "flags":{"councilTenancy":true}})");
    Apply(R"("personLinked":{"person":{"personId":"P-1","role":"PERSON_ROLE_VICTIM",
        "givenName":"Margaret","familyName":"Ollerby","dateOfBirth":"1951-04-17",
        "address":{"line1":"7 Hollingwood Crescent","postcode":"S43 7HE"},
        "tenure":"TENURE_COUNCIL_TENANT","phone":"07700 900142"}})");
    Apply(R"("personLinked":{"person":{"personId":"P-2","role":"PERSON_ROLE_PERPETRATOR",
        "givenName":"Dean","familyName":"Marsh","dateOfBirth":"1994-02-03",
        "address":{"line1":"9 Hollingwood Crescent","postcode":"S43 7HE"}}})");
    Apply(R"("orderIssued":{"order":{"orderId":"CBO-1",
        "type":"ORDER_TYPE_CRIMINAL_BEHAVIOUR_ORDER","subjectPersonId":"P-2","issuedBy":"police",
        "issuedAt":"2026-10-14T11:00:00Z","expiresAt":"2028-10-14T00:00:00Z",
        "conditions":"Not to enter Hollingwood Crescent except to reach his own front door."}})");
    for (int64_t i = 0; i < n; ++i) {
      Apply(Incident(++incidents_));
    }
  }

  // Applies and writes one event; returns the disclosures' bytes it wrote.
  uint64_t Apply(const std::string& body) {
    const uint64_t before = disclosures_->head();
    asb::store::Batch batch = scratch_.store()->NewBatch();
    Check(handler_->ApplyEvent(Event(++seq_, body), &batch), "apply");
    Check(scratch_.store()->Write(&batch), "write");
    uint64_t bytes = 0;
    if (disclosures_->head() > before) {
      std::vector<Envelope> out;
      Check(disclosures_->Read(before + 1, 100, &out), "read");
      for (const Envelope& e : out) {
        bytes += e.ByteSizeLong();
      }
    }
    return bytes;
  }

  uint64_t next_incident() { return ++incidents_; }

 private:
  asb::bench::ScratchStore scratch_;  // first: the folder and handler go before it
  asb::stream::Log* disclosures_;
  std::unique_ptr<asb::sharing::CaseFolder> folder_;
  std::unique_ptr<asb::sharing::SharingHandler> handler_;
  uint64_t seq_ = 0;
  uint64_t incidents_ = 0;
};

void BM_IncidentOnCaseWith(benchmark::State& state) {
  Sharing sharing(state.range(0));
  uint64_t bytes = 0;
  for (auto _ : state) {
    bytes += sharing.Apply(Incident(sharing.next_incident()));
  }
  state.counters["bytes"] =
      benchmark::Counter(static_cast<double>(bytes) / static_cast<double>(state.iterations()));
}
BENCHMARK(BM_IncidentOnCaseWith)
    ->Arg(0)
    ->Arg(100)
    ->Arg(1000)
    ->Iterations(50)
    ->Unit(benchmark::kMicrosecond);

void BM_BreachOnCaseWith(benchmark::State& state) {
  Sharing sharing(state.range(0));
  uint64_t bytes = 0;
  for (auto _ : state) {
    bytes += sharing.Apply(R"("orderBreached":{"orderId":"CBO-1",
        "breach":{"occurredAt":"2026-11-08T23:05:00Z","description":"Seen at the victim's door."}})");
  }
  state.counters["bytes"] =
      benchmark::Counter(static_cast<double>(bytes) / static_cast<double>(state.iterations()));
}
BENCHMARK(BM_BreachOnCaseWith)
    ->Arg(0)
    ->Arg(100)
    ->Arg(1000)
    ->Iterations(50)
    ->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
