// The ISP's per-person grants (Rule.people, when.any_person), the confidential marker, source
// conditions, free text and `policy check`'s warnings, and the load errors each of them can raise
// (down to file and line).

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/policy/policy.h"
#include "tests/common/policy/policy_test_support.h"
#include "tests/support/status_matchers.h"

namespace asb::policy {
namespace {

using ::asb::v1::Disclosure;
using test_support::Apply;
using test_support::Make;
using test_support::PolicyLoadTest;
using test_support::SampleCase;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

// The given names of the people in a view, in order.
std::vector<std::string> Names(const Disclosure& d) {
  std::vector<std::string> out;
  for (const auto& p : d.view().people()) {
    out.push_back(p.given_name());
  }
  return out;
}

// ------------------------------------------------------------------------------ person selectors

TEST(PolicyPeopleTest, ChildIsByDateOfBirthOrTheFlagWhenThereIsNone) {
  auto p = Make(R"(rules:
  - id: children
    agency: police
    purpose: safe
    when: { any_person: { child: true } }
    people: { child: true }
    fields:
      - { path: people.given_name, action: FIELD_ACTION_SHOW }
)");
  ASSERT_NE(p, nullptr);
  auto c = SampleCase();  // updated 2024-06-10; Alice 1980, Bob 1990, Carol no date of birth
  Disclosure d;
  EXPECT_FALSE(p->Apply("police", c, {}, &d));  // no child: the rule does not apply
  c.mutable_people(2)->set_child(true);         // a child recorded without a date of birth
  d = Apply(*p, "police", c);
  EXPECT_THAT(Names(d), ElementsAre("Carol"));
  // With a date of birth, the date decides: an adult flagged a child is an adult ...
  c.mutable_people(0)->set_child(true);
  d = Apply(*p, "police", c);
  EXPECT_THAT(Names(d), ElementsAre("Carol"));
  // ... and a child by date of birth is a child without the flag.
  c.mutable_people(1)->set_date_of_birth("2010-01-01");
  d = Apply(*p, "police", c);
  EXPECT_THAT(Names(d), ElementsAre("Bob", "Carol"));
}

TEST(PolicyPeopleTest, SubjectUnder18CountsAChildFlaggedWithoutADateOfBirth) {
  auto p = Make(R"(rules:
  - id: young-perp
    agency: police
    purpose: safe
    when: { subject_under_18: true, person_roles: [PERSON_ROLE_PERPETRATOR] }
    fields:
      - { path: case_id, action: FIELD_ACTION_SHOW }
)");
  ASSERT_NE(p, nullptr);
  auto c = SampleCase();
  Disclosure d;
  EXPECT_FALSE(p->Apply("police", c, {}, &d));
  c.mutable_people(1)->clear_date_of_birth();
  c.mutable_people(1)->set_child(true);
  EXPECT_TRUE(p->Apply("police", c, {}, &d));
}

TEST(PolicyPeopleTest, SelectorsAreAndedAndPeopleNotCoveredAreAbsentNotEvenTheirRole) {
  auto p = Make(R"(rules:
  - id: tenants
    agency: council
    purpose: csp
    people: { roles: [PERSON_ROLE_VICTIM, PERSON_ROLE_WITNESS], tenures: [TENURE_COUNCIL_TENANT] }
    fields:
      - { path: case_id, action: FIELD_ACTION_SHOW }
      - { path: people.role, action: FIELD_ACTION_SHOW }
      - { path: people.given_name, action: FIELD_ACTION_SHOW }
  - id: vulnerable
    agency: council
    purpose: csp
    people: { vulnerable: true }
    fields:
      - { path: people.person_id, action: FIELD_ACTION_PSEUDONYMISE }
)");
  ASSERT_NE(p, nullptr);
  auto c = SampleCase();  // only Alice (victim) is a council tenant; nobody is vulnerable
  Disclosure d = Apply(*p, "council", c);
  ASSERT_EQ(d.view().people_size(), 1);
  EXPECT_EQ(d.view().people(0).given_name(), "Alice");
  EXPECT_THAT(d.subject_keys(), ElementsAre(p->SubjectKey("P-1")));
  c.mutable_people(2)->set_tenure(asb::v1::TENURE_COUNCIL_TENANT);  // Carol, a witness
  c.mutable_people(1)->set_vulnerable(true);                        // Bob: only a pseudonym
  d = Apply(*p, "council", c);
  ASSERT_EQ(d.view().people_size(), 3);
  EXPECT_EQ(d.view().people(1).given_name(), "");
  EXPECT_EQ(d.view().people(1).role(), asb::v1::PERSON_ROLE_UNSPECIFIED);
  EXPECT_THAT(d.view().people(1).person_id(), ::testing::StartsWith("ps_"));
  EXPECT_EQ(d.view().people(2).given_name(), "Carol");
}

TEST(PolicyPeopleTest, ParentCarerRoleAndOrderSubjects) {
  auto p = Make(R"(rules:
  - id: parents
    agency: council
    purpose: safe
    when: { person_roles: [PERSON_ROLE_PARENT_CARER] }
    fields:
      - { path: people.given_name, action: FIELD_ACTION_SHOW }
  - id: cbo-subjects
    agency: police
    purpose: csp
    people: { order_types: [ORDER_TYPE_CRIMINAL_BEHAVIOUR_ORDER] }
    fields:
      - { path: people.given_name, action: FIELD_ACTION_SHOW }
)");
  ASSERT_NE(p, nullptr);
  auto c = SampleCase();
  Disclosure d;
  EXPECT_FALSE(p->Apply("council", c, {}, &d));
  auto* parent = c.add_people();
  parent->set_person_id("P-4");
  parent->set_role(asb::v1::PERSON_ROLE_PARENT_CARER);
  parent->set_given_name("Dawn");
  EXPECT_THAT(Names(Apply(*p, "council", c)), ElementsAre("Dawn"));
  // The police rule applies, but selects nobody until someone is the subject of a CBO.
  EXPECT_EQ(Apply(*p, "police", c).view().people_size(), 0);
  auto* o = c.add_orders();
  o->set_type(asb::v1::ORDER_TYPE_CIVIL_INJUNCTION);
  o->set_subject_person_id("P-2");
  EXPECT_EQ(Apply(*p, "police", c).view().people_size(), 0);
  o->set_type(asb::v1::ORDER_TYPE_CRIMINAL_BEHAVIOUR_ORDER);
  EXPECT_THAT(Names(Apply(*p, "police", c)), ElementsAre("Bob"));
}

TEST(PolicyPeopleTest, AnOrderFollowsItsSubject) {
  auto p = Make(R"(rules:
  - id: perpetrators
    agency: police
    purpose: csp
    people: { roles: [PERSON_ROLE_PERPETRATOR], child: true }
    fields:
      - { path: people.given_name, action: FIELD_ACTION_SHOW }
      - { path: orders.order_id, action: FIELD_ACTION_SHOW }
)");
  ASSERT_NE(p, nullptr);
  auto c = SampleCase();
  c.mutable_people(1)->set_date_of_birth("2011-01-01");  // Bob is a child
  auto* adult = c.add_people();
  adult->set_person_id("P-5");
  adult->set_role(asb::v1::PERSON_ROLE_PERPETRATOR);
  adult->set_given_name("Eric");
  adult->set_date_of_birth("1995-01-01");
  for (const char* subject : {"P-2", "P-5", ""}) {
    auto* o = c.add_orders();
    o->set_order_id(std::string("O-") + (*subject != 0 ? subject : "place"));
    o->set_subject_person_id(subject);
  }
  Disclosure d = Apply(*p, "police", c);
  EXPECT_THAT(Names(d), ElementsAre("Bob"));
  ASSERT_EQ(d.view().orders_size(), 2);  // the child's, and the place's; not the adult's
  EXPECT_EQ(d.view().orders(0).order_id(), "O-P-2");
  EXPECT_EQ(d.view().orders(1).order_id(), "O-place");
  // What asb-sharing asks before it discloses an order event.
  EXPECT_TRUE(p->ShowsOrder("police", c, {}, "O-P-2"));
  EXPECT_TRUE(p->ShowsOrder("police", c, {}, "O-place"));
  EXPECT_FALSE(p->ShowsOrder("police", c, {}, "O-P-5"));
  EXPECT_FALSE(p->ShowsOrder("police", c, {}, "O-none"));
  EXPECT_FALSE(p->ShowsOrder("council", c, {}, "O-P-2"));
}

// ------------------------------------------------------------------------------ confidential

TEST(PolicyPeopleTest, AConfidentialPersonReachesTheLeadAgencyOnly) {
  auto p = Make(R"(rules:
  - id: all
    agency: police
    purpose: csp
    fields:
      - { path: people, action: FIELD_ACTION_SHOW }
  - id: lead
    agency: council
    purpose: csp
    when: { lead_agency: true }
    fields:
      - { path: people, action: FIELD_ACTION_SHOW }
)");
  ASSERT_NE(p, nullptr);
  auto c = SampleCase();  // led by the council
  c.mutable_people(2)->set_confidential(true);
  EXPECT_THAT(Names(Apply(*p, "police", c)), ElementsAre("Alice", "Bob"));
  EXPECT_THAT(Names(Apply(*p, "council", c)), ElementsAre("Alice", "Bob", "Carol"));
  EXPECT_TRUE(Apply(*p, "council", c).view().people(2).confidential());
  // The police leading instead: the council's lead rule no longer applies; the police see Carol.
  c.set_lead_agency("police");
  Disclosure d;
  EXPECT_FALSE(p->Apply("council", c, {}, &d));
  EXPECT_THAT(Names(Apply(*p, "police", c)), ElementsAre("Alice", "Bob", "Carol"));
  c = SampleCase();
  c.mutable_people(2)->set_confidential(true);
  auto explained = p->Explain("police", c, {});
  ASB_ASSERT_OK(explained.status());
  bool noted = false;
  for (const auto& f : explained->fields) {
    if (f.path == "people[2].given_name") {
      EXPECT_EQ(f.outcome, "withheld");
      EXPECT_THAT(f.note, HasSubstr("lead agency only"));
      noted = true;
    }
  }
  EXPECT_TRUE(noted);
}

// ------------------------------------------------------------------------------ sources

TEST(PolicyPeopleTest, SourceConditionsDecideWhoseFactsARulePassesOn) {
  auto p = Make(R"(rules:
  - id: own
    agency: council
    purpose: csp
    when: { exclude_source_agencies: [police] }
    fields:
      - { path: case_id, action: FIELD_ACTION_SHOW }
      - { path: incidents.incident_id, action: FIELD_ACTION_SHOW }
      - { path: orders.order_id, action: FIELD_ACTION_SHOW }
      - { path: orders.breaches.occurred_at, action: FIELD_ACTION_SHOW }
      - { path: people.given_name, action: FIELD_ACTION_SHOW }
  - id: police-orders
    agency: council
    purpose: csp
    when: { source_agencies: [police] }
    fields:
      - { path: orders.order_id, action: FIELD_ACTION_SHOW }
)");
  ASSERT_NE(p, nullptr);
  auto c = SampleCase();
  c.set_source_agency("council");
  c.mutable_people(1)->set_source_agency("police");
  auto* police_incident = c.add_incidents();
  police_incident->set_incident_id("I-police");
  police_incident->set_source_agency("police");
  auto* o = c.add_orders();
  o->set_order_id("O-1");
  o->set_source_agency("council");
  o->add_breaches()->mutable_occurred_at()->set_seconds(1717000000);
  auto* police_breach = o->add_breaches();
  police_breach->mutable_occurred_at()->set_seconds(1717100000);
  police_breach->set_source_agency("police");
  auto* police_order = c.add_orders();
  police_order->set_order_id("O-police");
  police_order->set_source_agency("police");
  Disclosure d = Apply(*p, "council", c);
  EXPECT_EQ(d.view().case_id(), c.case_id());
  EXPECT_THAT(Names(d), ElementsAre("Alice", "Carol"));  // Bob came from the police
  ASSERT_EQ(d.view().incidents_size(), 1);
  EXPECT_EQ(d.view().incidents(0).incident_id(), "I-1");
  ASSERT_EQ(d.view().orders_size(), 2);
  ASSERT_EQ(d.view().orders(0).breaches_size(), 1);  // the police's breach is not passed on
  EXPECT_EQ(d.view().orders(0).breaches(0).occurred_at().seconds(), 1717000000);
  EXPECT_EQ(d.view().orders(1).order_id(), "O-police");  // by rule police-orders
  EXPECT_THAT(d.view().orders(1).breaches(), IsEmpty());
  // A case of police facts only: the "own" rule has nothing to cover and does not apply.
  asb::v1::Case police_only;
  police_only.set_case_id("C-2");
  police_only.set_source_agency("police");
  d = Apply(*p, "council", police_only);
  EXPECT_EQ(d.view().ByteSizeLong(), 0u);
  ASSERT_EQ(d.justifications_size(), 1);
  EXPECT_EQ(d.justifications(0).rule_id(), "police-orders");
}

// ------------------------------------------------------------------------------ free text

TEST(PolicyPeopleTest, FreeTextIsShownOnlyByAGrantNamingIt) {
  auto p = Make(R"(rules:
  - id: whole
    agency: police
    purpose: csp
    fields:
      - { path: incidents, action: FIELD_ACTION_SHOW }
      - { path: people, action: FIELD_ACTION_SHOW }
  - id: hush
    agency: police
    purpose: csp
    fields:
      - { path: incidents, action: FIELD_ACTION_REDACT }
  - id: named
    agency: council
    purpose: csp
    fields:
      - { path: incidents, action: FIELD_ACTION_SHOW }
      - { path: incidents.description, action: FIELD_ACTION_SHOW }
)");
  ASSERT_NE(p, nullptr);
  auto c = SampleCase();
  c.mutable_people(0)->set_vulnerability("Lives alone.");
  Disclosure d = Apply(*p, "police", c);
  EXPECT_EQ(d.view().incidents(0).incident_id(), "I-1");  // SHOW wins over REDACT ...
  EXPECT_EQ(d.view().incidents(0).description(), "");     // ... but "incidents" does not reach it
  EXPECT_EQ(d.view().people(0).given_name(), "Alice");
  EXPECT_EQ(d.view().people(0).vulnerability(), "");
  // An enclosing REDACT still applies to free text: the description exists, withheld.
  EXPECT_THAT(d.redacted_paths(), ElementsAre("incidents.description"));
  EXPECT_EQ(Apply(*p, "council", c).view().incidents(0).description(), "Shouting");
  auto explained = p->Explain("police", c, {});
  ASB_ASSERT_OK(explained.status());
  int checked = 0;
  for (const auto& f : explained->fields) {
    if (f.path == "incidents[0].description") {
      EXPECT_EQ(f.outcome, "redacted");
      EXPECT_EQ(f.rule_id, "hush");
      ++checked;
    } else if (f.path == "people[0].vulnerability") {
      EXPECT_EQ(f.outcome, "withheld");
      EXPECT_THAT(f.note, HasSubstr("free text"));
      ++checked;
    }
  }
  EXPECT_EQ(checked, 2);
}

TEST(PolicyPeopleTest, PolicyCheckWarnsOfFreeTextBesideWithheldPersonFields) {
  auto p = Make(R"(rules:
  - id: pseudonymous
    agency: police
    purpose: csp
    fields:
      - { path: people.person_id, action: FIELD_ACTION_PSEUDONYMISE }
      - { path: summary, action: FIELD_ACTION_SHOW }
  - id: nobody
    agency: council
    purpose: csp
    when: { fire_risk: false }
    fields:
      - { path: orders.conditions, action: FIELD_ACTION_SHOW, reason: "enforcing the terms" }
  - id: full
    agency: council
    purpose: csp
    when: { fire_risk: true }
    fields:
      - { path: people, action: FIELD_ACTION_SHOW }
      - { path: risk_notes, action: FIELD_ACTION_SHOW }
)");
  ASSERT_NE(p, nullptr);
  ASSERT_EQ(p->warnings().size(), 1u);
  EXPECT_THAT(p->warnings()[0], HasSubstr("rules[0].fields[1].path: free text 'summary' shown to "
                                          "police beside withheld person fields (rule "
                                          "pseudonymous pseudonymises people.person_id; police "
                                          "sees no one's name)"));
  // A stated reason makes it a reviewed finding, not a warning. The council's full rule shows
  // everyone, but never in the nobody rule's cases (fire_risk differs): there the council sees
  // no one's name. The full rule's own free text stands beside nothing withheld.
  ASSERT_EQ(p->reviewed().size(), 1u);
  EXPECT_THAT(p->reviewed()[0], HasSubstr("rules[1].fields[0].path: free text "
                                          "'orders.conditions' shown to council beside withheld "
                                          "person fields (council sees no one's name)"));
  EXPECT_THAT(p->reviewed()[0], HasSubstr("reviewed: enforcing the terms"));
}

// ------------------------------------------------------------------------------ load errors

TEST_F(PolicyLoadTest, PeopleSelectorEnumsAreChecked) {
  std::string t = With("      - { path: people, action: FIELD_ACTION_SHOW }",
                       "      - { path: people, action: FIELD_ACTION_SHOW }\n"
                       "    people:\n"
                       "      roles: [PERSON_ROLE_UNSPECIFIED]\n"
                       "      order_types: [ORDER_TYPE_CLOSURE_ORDER, 77]\n"
                       "      tenures: []");
  ExpectError(t, "roles: [PERSON_ROLE_UNSPECIFIED]", "rules[1].people.roles[0]",
              "the UNSPECIFIED value never matches");
  ExpectError(t, "order_types: [ORDER_TYPE_CLOSURE_ORDER, 77]", "rules[1].people.order_types[1]",
              "unknown value 77");
  ExpectError(t, "tenures: []", "rules[1].people.tenures", "empty list can never match");
}

TEST_F(PolicyLoadTest, AnyPersonEnumsAreChecked) {
  std::string t = With("nsir_categories: [NSIR_CATEGORY_PERSONAL]",
                       "any_person: { roles: [PERSON_ROLE_PARENT_CARER, 9] }");
  ExpectError(t, "any_person:", "rules[0].when.any_person.roles[1]", "unknown value 9");
}

TEST_F(PolicyLoadTest, PeopleRolesMustShareARoleWithPersonRoles) {
  std::string t = With("nsir_categories: [NSIR_CATEGORY_PERSONAL]",
                       "person_roles: [PERSON_ROLE_VICTIM]\n"
                       "    people:\n"
                       "      roles: [PERSON_ROLE_WITNESS]");
  ExpectError(t, "roles: [PERSON_ROLE_WITNESS]", "rules[0].people.roles",
              "shares no role with when.person_roles");
}

TEST_F(PolicyLoadTest, PeopleSelectorNeedsAPeopleOrOrdersGrant) {
  std::string t = With("      - { path: people.address, action: FIELD_ACTION_GENERALISE }\n",
                       "    people: { vulnerable: true }\n");
  ExpectError(t, "people: { vulnerable: true }", "rules[0].people",
              "grants no people.* or orders.* field");
}

TEST_F(PolicyLoadTest, SourceAgenciesMustBeKnown) {
  std::string t = With("nsir_categories: [NSIR_CATEGORY_PERSONAL]",
                       "source_agencies: [police, hub, polis]\n"
                       "      exclude_source_agencies: [council, fire]");
  ExpectError(t, "source_agencies: [police, hub, polis]", "rules[0].when.source_agencies[2]",
              "unknown agency 'polis'");
  ExpectError(t, "exclude_source_agencies: [council, fire]",
              "rules[0].when.exclude_source_agencies[1]", "unknown agency 'fire'");
}

TEST_F(PolicyLoadTest, ASourceBothRequiredAndExcludedNeverMatches) {
  std::string t = With("nsir_categories: [NSIR_CATEGORY_PERSONAL]",
                       "source_agencies: [police]\n"
                       "      exclude_source_agencies: [police]");
  ExpectError(t, "exclude_source_agencies: [police]", "rules[0].when.exclude_source_agencies[0]",
              "both required (source_agencies) and excluded");
}

TEST_F(PolicyLoadTest, EmptySourceListNeverMatches) {
  std::string t = With("nsir_categories: [NSIR_CATEGORY_PERSONAL]", "source_agencies: []");
  ExpectError(t, "source_agencies: []", "rules[0].when.source_agencies",
              "empty list can never match");
}

TEST_F(PolicyLoadTest, WarningsNameFileAndLine) {
  std::string t = With("      - { path: people.address, action: FIELD_ACTION_GENERALISE }\n",
                       "      - { path: people.address, action: FIELD_ACTION_GENERALISE }\n"
                       "      - { path: summary, action: FIELD_ACTION_SHOW }\n");
  auto policy = Load(t);
  ASB_ASSERT_OK(policy.status());
  ASSERT_EQ((*policy)->warnings().size(), 1u);
  EXPECT_THAT((*policy)->warnings()[0],
              HasSubstr(Where(t, "path: summary", "rules[0].fields[2].path") + "free text"));
  EXPECT_THAT((*policy)->warnings()[0], HasSubstr("generalises people.address"));
  EXPECT_THAT((*policy)->warnings(), Not(IsEmpty()));
}

}  // namespace
}  // namespace asb::policy
