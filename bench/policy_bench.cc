// Throughput of the ISP engine for a typical case (about 30 set fields: two people, two
// incidents, one order) under the shipped Chesterfield ISP, from parsed case to serialised
// disclosure: BM_Apply* build the view as a message and serialise it (Policy::Apply, what
// queries use); BM_Encode* write the bytes directly (Policy::ApplyEncoded, what asb-sharing
// uses for every event).

#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>

#include "common/policy/policy.h"

namespace {

asb::v1::Case TypicalCase() {
  asb::v1::Case c;
  c.set_case_id("CBC-2024-0042");
  c.set_status(asb::v1::CASE_STATUS_OPEN);
  c.set_nsir_category(asb::v1::NSIR_CATEGORY_PERSONAL);
  c.set_title("Noise and intimidation, Brimington");
  c.set_summary("Repeated shouting and banging at the victim's door late at night.");
  c.set_lead_agency("community-safety");
  c.set_source_agency("community-safety");
  c.set_lead_officer("A. Officer");
  c.mutable_location()->set_description("On or near Manor Road");
  c.mutable_location()->set_lsoa_code("E01019400");
  c.mutable_location()->set_ward("Brimington South");
  c.mutable_location()->set_latitude(53.25);
  c.mutable_location()->set_longitude(-1.42);
  c.mutable_flags()->set_council_tenancy(true);
  c.set_victim_risk(asb::v1::RISK_LEVEL_MEDIUM);
  c.mutable_opened_at()->set_seconds(1717000000);
  c.mutable_updated_at()->set_seconds(1718000000);
  auto* v = c.add_people();
  v->set_person_id("P-1");
  v->set_role(asb::v1::PERSON_ROLE_VICTIM);
  v->set_given_name("Alice");
  v->set_family_name("Smith");
  v->set_date_of_birth("1980-06-11");
  v->mutable_address()->set_line1("1 Manor Road");
  v->mutable_address()->set_postcode("S40 1LP");
  v->set_tenure(asb::v1::TENURE_COUNCIL_TENANT);
  v->set_phone("07700 900001");
  auto* p = c.add_people();
  p->set_person_id("P-2");
  p->set_role(asb::v1::PERSON_ROLE_PERPETRATOR);
  p->set_given_name("Bob");
  p->set_family_name("Jones");
  p->set_date_of_birth("1990-01-01");
  p->mutable_address()->set_line1("3 Manor Road");
  p->mutable_address()->set_postcode("S40 1LP");
  for (int i = 0; i < 2; ++i) {
    auto* inc = c.add_incidents();
    inc->set_incident_id("I-" + std::to_string(i));
    inc->mutable_occurred_at()->set_seconds(1716900000 + i * 86400);
    inc->set_category(asb::v1::NSIR_CATEGORY_PERSONAL);
    inc->set_description("Shouting at the door");
  }
  auto* o = c.add_orders();
  o->set_order_id("CBO-1");
  o->set_type(asb::v1::ORDER_TYPE_CRIMINAL_BEHAVIOUR_ORDER);
  o->set_status(asb::v1::ORDER_STATUS_ACTIVE);
  o->set_subject_person_id("P-2");
  o->mutable_issued_at()->set_seconds(1718000000);
  o->set_conditions("Not to enter Manor Road.");
  return c;
}

const asb::policy::Policy& Chesterfield() {
  static std::shared_ptr<const asb::policy::Policy> policy = [] {
    auto p = asb::policy::Policy::LoadFile(std::string(ASB_SOURCE_DIR) +
                                           "/config/isp/chesterfield.yaml");
    if (!p.ok()) {
      std::fprintf(stderr, "%s\n", std::string(p.status().message()).c_str());
      std::abort();
    }
    return *p;
  }();
  return *policy;
}

void ApplyAndSerialize(benchmark::State& state, const std::string& agency) {
  const auto& policy = Chesterfield();
  const asb::v1::Case c = TypicalCase();
  const asb::policy::EventContext ctx{asb::v1::EVENT_TYPE_ORDER_ISSUED,
                                      asb::v1::ORDER_TYPE_CRIMINAL_BEHAVIOUR_ORDER};
  asb::v1::Disclosure d;
  std::string bytes;
  // One Disclosure reused per agency, as a daemon can: Apply overwrites every field it fills
  // (clearing the old view keeps its allocations), the caller overwrites the rest.
  for (auto _ : state) {
    bool shown = policy.Apply(agency, c, ctx, &d);
    if (shown) {
      d.set_agency(agency);
      d.set_case_id(c.case_id());
      d.set_event_seq(42);
      d.SerializeToString(&bytes);
    }
    benchmark::DoNotOptimize(shown);
    benchmark::DoNotOptimize(bytes.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["bytes"] = static_cast<double>(bytes.size());
}

// The daemon's way: Policy::ApplyEncoded writes the disclosure's bytes straight from the case,
// after the caller's own fields (serialised from a small Disclosure holding only those).
void EncodeShare(benchmark::State& state, const std::string& agency) {
  const auto& policy = Chesterfield();
  const asb::v1::Case c = TypicalCase();
  const asb::policy::EventContext ctx{asb::v1::EVENT_TYPE_ORDER_ISSUED,
                                      asb::v1::ORDER_TYPE_CRIMINAL_BEHAVIOUR_ORDER};
  asb::v1::Disclosure header;
  std::string bytes;
  uint64_t seq = 0;
  for (auto _ : state) {
    bytes.clear();
    header.set_agency(agency);
    header.set_case_id(c.case_id());
    header.set_event_seq(++seq);
    header.AppendToString(&bytes);
    bool shown = policy.ApplyEncoded(agency, c, ctx, &bytes);
    benchmark::DoNotOptimize(shown);
    benchmark::DoNotOptimize(bytes.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["bytes"] = static_cast<double>(bytes.size());
}

void BM_EncodePolice(benchmark::State& s) { EncodeShare(s, "police"); }
void BM_EncodeCommunitySafety(benchmark::State& s) { EncodeShare(s, "community-safety"); }
void BM_EncodeHousing(benchmark::State& s) { EncodeShare(s, "housing"); }
void BM_EncodeProbation(benchmark::State& s) { EncodeShare(s, "probation"); }
void BM_EncodeFireNoMatch(benchmark::State& s) { EncodeShare(s, "fire"); }

// Police: person selectors, field-by-field plan with redactions.
void BM_ApplyPolice(benchmark::State& s) { ApplyAndSerialize(s, "police"); }
// Community safety, the lead agency: the whole case, whole-message fast paths.
void BM_ApplyCommunitySafety(benchmark::State& s) { ApplyAndSerialize(s, "community-safety"); }
// Housing: person selectors (tenants), source conditions, three matching rules.
void BM_ApplyHousing(benchmark::State& s) { ApplyAndSerialize(s, "housing"); }
// Probation: person selectors (the CBO's subject), pseudonymisation (HMAC), generalisation.
void BM_ApplyProbation(benchmark::State& s) { ApplyAndSerialize(s, "probation"); }
// Fire: no rule matches (not a fire-risk case).
void BM_ApplyFireNoMatch(benchmark::State& s) { ApplyAndSerialize(s, "fire"); }

// Baseline: copy the whole case into a Disclosure and serialise it (no policy at all).
void BM_BaselineCopyAndSerialize(benchmark::State& state) {
  const asb::v1::Case c = TypicalCase();
  asb::v1::Disclosure d;
  std::string bytes;
  for (auto _ : state) {
    *d.mutable_view() = c;
    d.SerializeToString(&bytes);
    benchmark::DoNotOptimize(bytes.data());
  }
  state.SetItemsProcessed(state.iterations());
}

}  // namespace

// ASB_BENCH_ITERATIONS=N fixes the iteration count (for callgrind: instructions per apply).
int main(int argc, char** argv) {
  const char* fixed = std::getenv("ASB_BENCH_ITERATIONS");
  for (auto [name, fn] : {std::pair{"BM_BaselineCopyAndSerialize", &BM_BaselineCopyAndSerialize},
                          std::pair{"BM_ApplyPolice", &BM_ApplyPolice},
                          std::pair{"BM_ApplyCommunitySafety", &BM_ApplyCommunitySafety},
                          std::pair{"BM_ApplyHousing", &BM_ApplyHousing},
                          std::pair{"BM_ApplyProbation", &BM_ApplyProbation},
                          std::pair{"BM_ApplyFireNoMatch", &BM_ApplyFireNoMatch},
                          std::pair{"BM_EncodePolice", &BM_EncodePolice},
                          std::pair{"BM_EncodeCommunitySafety", &BM_EncodeCommunitySafety},
                          std::pair{"BM_EncodeHousing", &BM_EncodeHousing},
                          std::pair{"BM_EncodeProbation", &BM_EncodeProbation},
                          std::pair{"BM_EncodeFireNoMatch", &BM_EncodeFireNoMatch}}) {
    auto* b = benchmark::RegisterBenchmark(name, fn);
    if (fixed != nullptr) {
      b->Iterations(std::atoi(fixed));
    }
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
