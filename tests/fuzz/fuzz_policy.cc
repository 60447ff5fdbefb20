// Fuzzes an ISP file: YAML → asb.config.v1.Isp, Policy::Compile (schema checks of every field
// path, conditions, notification rules), and then applying the compiled policy to a small case
// for every agency it names (Apply, ApplyEncoded, Explain, NotificationsFor) — a policy that
// compiles must never crash when used (nor its data sharing agreement's review, judged on a few
// days).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "asb/config/v1/isp.pb.h"
#include "asb/v1/case.pb.h"
#include "asb/v1/disclosure.pb.h"
#include "common/agreement/agreement.h"
#include "common/config/config.h"
#include "common/policy/policy.h"

namespace {

// A case touching every part of the schema the ISP can name.
constexpr char kCaseJson[] = R"json({
  "caseId": "CBC-2026-0142", "status": "CASE_STATUS_OPEN",
  "nsirCategory": "NSIR_CATEGORY_PERSONAL", "title": "Noise", "summary": "Shouting at night",
  "leadAgency": "community-safety", "leadOfficer": "A. Officer", "sourceAgency": "community-safety",
  "location": {"latitude": 53.25, "longitude": -1.42, "description": "Near the shops",
               "lsoaCode": "E01019400", "ward": "Brimington North"},
  "flags": {"fireRisk": true, "councilTenancy": true, "licensedPremises": true},
  "victimRisk": "RISK_LEVEL_HIGH", "riskNotes": "Lives alone",
  "openedAt": "2026-07-01T10:00:00Z", "updatedAt": "2026-09-01T10:00:00Z",
  "people": [
    {"personId": "p1", "role": "PERSON_ROLE_VICTIM", "givenName": "Ann", "familyName": "Smith",
     "dateOfBirth": "1950-02-03", "address": {"line1": "1 High St", "town": "Chesterfield",
     "postcode": "S40 1LP", "uprn": "100030000001"}, "vulnerability": "mobility",
     "vulnerable": true, "phone": "01246 000000"},
    {"personId": "p2", "role": "PERSON_ROLE_PERPETRATOR", "givenName": "Bo", "familyName": "Jones",
     "dateOfBirth": "2010-05-06", "address": {"postcode": "S41 7AB"}, "sourceAgency": "police"},
    {"personId": "p3", "role": "PERSON_ROLE_PERPETRATOR", "givenName": "Cy", "child": true},
    {"personId": "p4", "role": "PERSON_ROLE_PARENT_CARER", "givenName": "Di"},
    {"personId": "p5", "role": "PERSON_ROLE_REPORTER", "givenName": "Ed", "confidential": true}],
  "incidents": [{"incidentId": "i1", "occurredAt": "2026-08-01T22:00:00Z",
                 "description": "Door banging", "sourceAgency": "police"}],
  "orders": [{"orderId": "o1", "type": "ORDER_TYPE_CRIMINAL_BEHAVIOUR_ORDER", "status": "ORDER_STATUS_ACTIVE",
              "subjectPersonId": "p2", "issuedBy": "police",
              "issuedAt": "2026-08-15T09:00:00Z", "expiresAt": "2028-08-15T09:00:00Z",
              "conditions": "Not to enter Hollingwood Crescent", "court": "Chesterfield",
              "sourceAgency": "hub",
              "breaches": [{"description": "entered", "occurredAt": "2026-08-20T21:00:00Z",
                            "sourceAgency": "police"}]}]
})json";

const asb::v1::Case& TestCase() {
  static const asb::v1::Case* c = [] {
    auto* out = new asb::v1::Case;
    if (!asb::config::ParseJson(kCaseJson, out).ok()) {
      __builtin_trap();  // the fixture itself must parse
    }
    return out;
  }();
  return *c;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  asb::config::v1::Isp isp;
  asb::config::SourceMap lines;
  if (!asb::config::ParseYaml(text, "isp.yaml", &isp, &lines).ok()) {
    return 0;
  }
  static const std::string kKey(32, 'k');
  auto policy = asb::policy::Policy::Compile(isp, kKey, "isp.yaml", &lines);
  if (!policy.ok()) {
    return 0;
  }
  const asb::v1::Case& c = TestCase();
  const asb::policy::EventContext contexts[] = {
      {},
      {asb::v1::EVENT_TYPE_ORDER_ISSUED, asb::v1::ORDER_TYPE_CRIMINAL_BEHAVIOUR_ORDER},
  };
  asb::v1::Disclosure disclosure;
  std::string bytes;
  for (const std::string& agency : (*policy)->agencies()) {
    for (const auto& context : contexts) {
      (void)(*policy)->Apply(agency, c, context, &disclosure);
      bytes.clear();
      (void)(*policy)->ApplyEncoded(agency, c, context, &bytes);
      (void)(*policy)->Explain(agency, c, context);
      (void)(*policy)->NotificationsFor(context);
    }
  }
  (void)(*policy)->SubjectKey("p1");
  (void)(*policy)->version();
  // The agreement of a policy that compiled: its review stage on a few days, in words.
  for (int64_t day : {0, 20000, 40000}) {
    (void)asb::agreement::AssessReview((*policy)->isp(), absl::FromUnixSeconds(day * 86400))
        .Describe();
  }
  (void)(*policy)->warnings();
  return 0;
}
