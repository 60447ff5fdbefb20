// Every statutory rule of the shipped table (config/statutory/rules.yaml), on both sides of every
// limit, and the table's own checks (file and line of each mistake).
#include "common/orders/rules.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "common/config/config.h"
#include "common/model/model.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace asb::orders {
namespace {

using ::asb::testing::StatusIsWith;
using model::ToTime;
using model::ToTimestamp;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// The shipped ISP's agencies (after 13a's council and county split), and "council", the issuing
// agency these unit tests' orders name.
const std::vector<std::string> kAgencies = {"council",
                                            "community-safety",
                                            "housing",
                                            "environmental-health",
                                            "licensing",
                                            "childrens-services",
                                            "adult-social-care",
                                            "police",
                                            "fire",
                                            "yot",
                                            "probation",
                                            "nhs",
                                            "partnership"};

absl::Time At(const std::string& rfc3339) {
  absl::Time t;
  std::string err;
  EXPECT_TRUE(absl::ParseTime(absl::RFC3339_full, rfc3339, &t, &err)) << rfc3339 << ": " << err;
  return t;
}

std::shared_ptr<const StatutoryRules> Shipped() {
  static auto rules = [] {
    auto r = StatutoryRules::LoadFile(std::string(ASB_SOURCE_DIR) + "/config/statutory/rules.yaml",
                                      kAgencies);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : StatutoryRules::Empty();
  }();
  return rules;
}

// An order of `type` issued at `issued` (and ending at `expires`, if given) to subject P1.
asb::v1::Order MakeOrder(asb::v1::OrderType type, const std::string& issued,
                         const std::string& expires = "") {
  asb::v1::Order o;
  o.set_order_id("O1");
  o.set_type(type);
  o.set_status(asb::v1::ORDER_STATUS_ACTIVE);
  o.set_subject_person_id("P1");
  o.set_issued_by("police");
  *o.mutable_issued_at() = ToTimestamp(At(issued));
  if (!expires.empty()) {
    *o.mutable_expires_at() = ToTimestamp(At(expires));
  }
  return o;
}

void Authorise(asb::v1::Order* o, asb::v1::AuthorisingRank rank) {
  o->add_authorisations()->set_rank(rank);
}

void Consult(asb::v1::Order* o, const std::string& who, const std::string& at, bool given) {
  asb::v1::Consultation* c = o->add_consultations();
  c->set_consultee(who);
  *(given ? c->mutable_given_at() : c->mutable_requested_at()) = ToTimestamp(At(at));
}

// The findings of issuing `o` to a subject born on `dob` ("" : unknown).
std::vector<Finding> Issue(const asb::v1::Order& o, const std::string& dob = "1980-01-01",
                           const Orders& case_orders = {}) {
  asb::v1::CaseEvent e;
  *e.mutable_order_issued()->mutable_order() = o;
  *e.mutable_occurred_at() = o.issued_at();
  OrderFacts facts;
  facts.order = &o;
  facts.issuing_agency = "police";
  if (!dob.empty()) {
    facts.subject_dob = ParseDate(dob);
  }
  return Shipped()->Check(e, nullptr, facts, case_orders);
}

// The findings of varying `before` into `after` at `at`.
std::vector<Finding> Vary(const asb::v1::Order& before, const asb::v1::Order& after,
                          const std::string& at, const std::string& dob = "1980-01-01") {
  asb::v1::CaseEvent e;
  e.mutable_order_varied()->set_order_id(after.order_id());
  *e.mutable_occurred_at() = ToTimestamp(At(at));
  OrderFacts facts;
  facts.order = &after;
  facts.issuing_agency = "police";
  facts.subject_dob = ParseDate(dob);
  return Shipped()->Check(e, &before, facts, {});
}

std::vector<std::string> Refused(const std::vector<Finding>& findings) {
  std::vector<std::string> ids;
  for (const Finding& f : findings) {
    if (f.refuse) {
      ids.push_back(f.context.rule_id());
    }
  }
  return ids;
}

std::vector<std::string> Noticed(const std::vector<Finding>& findings) {
  std::vector<std::string> ids;
  for (const Finding& f : findings) {
    if (!f.refuse) {
      ids.push_back(f.context.rule_id());
    }
  }
  return ids;
}

const Finding* FindingOf(const std::vector<Finding>& findings, const std::string& rule) {
  for (const Finding& f : findings) {
    if (f.context.rule_id() == rule) {
      return &f;
    }
  }
  return nullptr;
}

using ::testing::ElementsAre;
using ::testing::UnorderedElementsAre;

constexpr auto kDispersal = asb::v1::ORDER_TYPE_DISPERSAL_DIRECTION;
constexpr auto kClosureNotice = asb::v1::ORDER_TYPE_CLOSURE_NOTICE;
constexpr auto kClosureOrder = asb::v1::ORDER_TYPE_CLOSURE_ORDER;
constexpr auto kPspo = asb::v1::ORDER_TYPE_PUBLIC_SPACES_PROTECTION_ORDER;
constexpr auto kInjunction = asb::v1::ORDER_TYPE_CIVIL_INJUNCTION;
constexpr auto kCbo = asb::v1::ORDER_TYPE_CRIMINAL_BEHAVIOUR_ORDER;
constexpr auto kCpn = asb::v1::ORDER_TYPE_COMMUNITY_PROTECTION_NOTICE;
constexpr auto kCpw = asb::v1::ORDER_TYPE_COMMUNITY_PROTECTION_WARNING;
constexpr auto kAbc = asb::v1::ORDER_TYPE_ACCEPTABLE_BEHAVIOUR_CONTRACT;

TEST(ShippedRulesTest, LoadsAndCitesItsVersion) {
  EXPECT_GT(Shipped()->rule_count(), 20u);
  EXPECT_THAT(Shipped()->version(), HasSubstr("2026-12-01/"));
}

// --- dispersal directions (ss.34-36) ------------------------------------------------------------

TEST(DispersalTest, ExclusionOfAtMost48HoursSection35) {
  asb::v1::Order o = MakeOrder(kDispersal, "2026-04-12T20:00:00Z", "2026-04-14T20:00:00Z");
  Authorise(&o, asb::v1::AUTHORISING_RANK_INSPECTOR);
  EXPECT_THAT(Refused(Issue(o)), IsEmpty());
  *o.mutable_expires_at() = ToTimestamp(At("2026-04-14T20:01:00Z"));
  EXPECT_THAT(Refused(Issue(o)), ElementsAre("dispersal-exclusion-max"));
  *o.mutable_expires_at() = ToTimestamp(At("2026-04-15T20:00:00Z"));  // 72 hours
  const std::vector<Finding> f = Issue(o);
  ASSERT_THAT(Refused(f), ElementsAre("dispersal-exclusion-max"));
  EXPECT_THAT(f[0].message, HasSubstr("72 hours exceeds the maximum of 48 hours"));
  EXPECT_THAT(f[0].message, HasSubstr("s.35(4)"));
  EXPECT_EQ(f[0].path, "order_issued.order.expires_at");
  // With no end date at all: refused too.
  o.clear_expires_at();
  EXPECT_THAT(Refused(Issue(o)), ElementsAre("dispersal-exclusion-max"));
}

TEST(DispersalTest, AVariationMustNotExtendBeyond48HoursFromTheFirst) {
  asb::v1::Order before = MakeOrder(kDispersal, "2026-04-12T20:00:00Z", "2026-04-13T20:00:00Z");
  Authorise(&before, asb::v1::AUTHORISING_RANK_INSPECTOR);
  asb::v1::Order after = before;
  *after.mutable_expires_at() = ToTimestamp(At("2026-04-14T20:00:00Z"));
  EXPECT_THAT(Refused(Vary(before, after, "2026-04-13T10:00:00Z")), IsEmpty());
  *after.mutable_expires_at() = ToTimestamp(At("2026-04-14T20:00:01Z"));
  EXPECT_THAT(Refused(Vary(before, after, "2026-04-13T10:00:00Z")),
              ElementsAre("dispersal-exclusion-max"));
}

TEST(DispersalTest, AuthorisedByAnInspectorOrAboveSection34) {
  asb::v1::Order o = MakeOrder(kDispersal, "2026-04-12T20:00:00Z", "2026-04-13T20:00:00Z");
  EXPECT_THAT(Refused(Issue(o)), ElementsAre("dispersal-authorised"));
  Authorise(&o, asb::v1::AUTHORISING_RANK_SERGEANT);
  EXPECT_THAT(Refused(Issue(o)), ElementsAre("dispersal-authorised"));
  Authorise(&o, asb::v1::AUTHORISING_RANK_LOCAL_AUTHORITY_CHIEF_EXECUTIVE);  // not police
  EXPECT_THAT(Refused(Issue(o)), ElementsAre("dispersal-authorised"));
  Authorise(&o, asb::v1::AUTHORISING_RANK_INSPECTOR);
  EXPECT_THAT(Refused(Issue(o)), IsEmpty());
  asb::v1::Order senior = MakeOrder(kDispersal, "2026-04-12T20:00:00Z", "2026-04-13T20:00:00Z");
  Authorise(&senior, asb::v1::AUTHORISING_RANK_CHIEF_CONSTABLE);
  EXPECT_THAT(Refused(Issue(senior)), IsEmpty());
  EXPECT_THAT(
      FindingOf(Issue(MakeOrder(kDispersal, "2026-04-12T20:00:00Z", "2026-04-13T20:00:00Z")),
                "dispersal-authorised")
          ->message,
      HasSubstr("at least the rank of inspector"));
}

TEST(DispersalTest, NotToAPersonUnder10Section36) {
  asb::v1::Order o = MakeOrder(kDispersal, "2026-04-12T20:00:00Z", "2026-04-13T20:00:00Z");
  Authorise(&o, asb::v1::AUTHORISING_RANK_INSPECTOR);
  EXPECT_THAT(Refused(Issue(o, "2016-04-13")), ElementsAre("dispersal-min-age"));  // 9
  EXPECT_THAT(Refused(Issue(o, "2016-04-12")), IsEmpty());                         // 10 today
  // Unknown age: accepted, with a notice that the rule could not be checked.
  const std::vector<Finding> unknown = Issue(o, "");
  EXPECT_THAT(Refused(unknown), IsEmpty());
  ASSERT_THAT(Noticed(unknown), ElementsAre("dispersal-min-age"));
  EXPECT_THAT(unknown[0].message, HasSubstr("could not be checked"));
}

// --- closure notices and orders (ss.76-82) -------------------------------------------------------

TEST(ClosureNoticeTest, IssuedByAnInspectorOrTheLocalAuthoritySection76) {
  asb::v1::Order o = MakeOrder(kClosureNotice, "2026-08-03T16:00:00Z", "2026-08-04T16:00:00Z");
  o.clear_subject_person_id();
  EXPECT_THAT(Refused(Issue(o)), ElementsAre("closure-notice-issuer"));
  Authorise(&o, asb::v1::AUTHORISING_RANK_SERGEANT);
  EXPECT_THAT(Refused(Issue(o)), ElementsAre("closure-notice-issuer"));
  asb::v1::Order council = o;
  Authorise(&council, asb::v1::AUTHORISING_RANK_LOCAL_AUTHORITY_OFFICER);
  EXPECT_THAT(Refused(Issue(council)), IsEmpty());
  Authorise(&o, asb::v1::AUTHORISING_RANK_INSPECTOR);
  EXPECT_THAT(Refused(Issue(o)), IsEmpty());
}

TEST(ClosureNoticeTest, TwentyFourHoursUnlessASuperintendentOrChiefExecutiveSection77) {
  asb::v1::Order o = MakeOrder(kClosureNotice, "2026-08-03T16:00:00Z", "2026-08-04T16:00:00Z");
  Authorise(&o, asb::v1::AUTHORISING_RANK_INSPECTOR);
  EXPECT_THAT(Refused(Issue(o)), IsEmpty());
  *o.mutable_expires_at() = ToTimestamp(At("2026-08-04T16:01:00Z"));
  EXPECT_THAT(Refused(Issue(o)), ElementsAre("closure-notice-24h"));
  // 48 hours signed by a superintendent, or by the council's chief executive (or designate).
  *o.mutable_expires_at() = ToTimestamp(At("2026-08-05T16:00:00Z"));
  for (auto rank : {asb::v1::AUTHORISING_RANK_SUPERINTENDENT,
                    asb::v1::AUTHORISING_RANK_LOCAL_AUTHORITY_CHIEF_EXECUTIVE,
                    asb::v1::AUTHORISING_RANK_LOCAL_AUTHORITY_CHIEF_EXECUTIVE_DESIGNATE}) {
    asb::v1::Order signed_off = o;
    Authorise(&signed_off, rank);
    EXPECT_THAT(Refused(Issue(signed_off)), IsEmpty()) << asb::v1::AuthorisingRank_Name(rank);
    *signed_off.mutable_expires_at() = ToTimestamp(At("2026-08-05T16:01:00Z"));
    EXPECT_THAT(Refused(Issue(signed_off)), ElementsAre("closure-notice-48h"));
  }
  asb::v1::Order council_officer = o;
  Authorise(&council_officer, asb::v1::AUTHORISING_RANK_LOCAL_AUTHORITY_OFFICER);
  EXPECT_THAT(Refused(Issue(council_officer)), ElementsAre("closure-notice-24h"));
}

TEST(ClosureNoticeTest, ChristmasDayIsDisregardedSection77_3) {
  asb::v1::Order o = MakeOrder(kClosureNotice, "2026-12-24T20:00:00Z", "2026-12-27T20:00:00Z");
  Authorise(&o, asb::v1::AUTHORISING_RANK_SUPERINTENDENT);
  EXPECT_THAT(Refused(Issue(o)), IsEmpty());  // 72 hours, 24 of them Christmas Day
  *o.mutable_expires_at() = ToTimestamp(At("2026-12-27T20:01:00Z"));
  EXPECT_THAT(Refused(Issue(o)), ElementsAre("closure-notice-48h"));
}

TEST(ClosureNoticeTest, ExtendedTo48HoursOnlyWithTheSeniorSignOffSection77_4) {
  asb::v1::Order before = MakeOrder(kClosureNotice, "2026-08-03T16:00:00Z", "2026-08-04T16:00:00Z");
  Authorise(&before, asb::v1::AUTHORISING_RANK_INSPECTOR);
  asb::v1::Order after = before;
  *after.mutable_expires_at() = ToTimestamp(At("2026-08-05T16:00:00Z"));
  EXPECT_THAT(Refused(Vary(before, after, "2026-08-04T10:00:00Z")),
              ElementsAre("closure-notice-24h"));
  Authorise(&after, asb::v1::AUTHORISING_RANK_SUPERINTENDENT);  // AuthorisationRecorded
  EXPECT_THAT(Refused(Vary(before, after, "2026-08-04T10:00:00Z")), IsEmpty());
}

TEST(ClosureNoticeTest, TheHearingIsDueWithin48HoursOfServiceSection80_3) {
  asb::v1::Order o = MakeOrder(kClosureNotice, "2026-08-03T16:00:00Z", "2026-08-04T16:00:00Z");
  OrderFacts facts{&o, std::nullopt, "police"};
  std::vector<Deadline> due = Shipped()->Deadlines(facts);
  const Deadline* hearing = nullptr;
  for (const Deadline& d : due) {
    if (d.kind == asb::v1::NOTICE_KIND_HEARING_OVERDUE) {
      hearing = &d;
    }
  }
  ASSERT_NE(hearing, nullptr);
  EXPECT_EQ(hearing->fire_at, At("2026-08-05T16:00:00Z"));
  EXPECT_EQ(hearing->context.section(),
            "Anti-social Behaviour, Crime and Policing Act 2014 s.80(3), (4)");
  EXPECT_THAT(hearing->recipients, ElementsAre("police"));
  // It stays due once the notice has expired; a hearing held ends it; a discharge too.
  o.set_status(asb::v1::ORDER_STATUS_EXPIRED);
  EXPECT_EQ(Shipped()->Deadlines(facts).size(), 1u);
  asb::v1::Hearing* h = o.add_hearings();
  h->set_hearing_id("H1");
  *h->mutable_held_at() = ToTimestamp(At("2026-08-05T11:00:00Z"));
  EXPECT_THAT(Shipped()->Deadlines(facts), IsEmpty());
  // Over Christmas the deadline moves by the day.
  asb::v1::Order xmas = MakeOrder(kClosureNotice, "2026-12-24T20:00:00Z", "2026-12-25T20:00:00Z");
  OrderFacts xfacts{&xmas, std::nullopt, "police"};
  bool found = false;
  for (const Deadline& d : Shipped()->Deadlines(xfacts)) {
    if (d.kind == asb::v1::NOTICE_KIND_HEARING_OVERDUE) {
      EXPECT_EQ(d.fire_at, At("2026-12-27T20:00:00Z"));
      found = true;
    }
  }
  EXPECT_TRUE(found);
}

TEST(ClosureOrderTest, AtMostThreeMonthsSixInAllSections80And82) {
  asb::v1::Order o = MakeOrder(kClosureOrder, "2026-08-05T11:30:00Z", "2026-11-05T11:30:00Z");
  EXPECT_THAT(Refused(Issue(o)), IsEmpty());
  *o.mutable_expires_at() = ToTimestamp(At("2026-11-06T00:00:00Z"));
  EXPECT_THAT(Refused(Issue(o)), ElementsAre("closure-order-max"));
  asb::v1::Order before = MakeOrder(kClosureOrder, "2026-08-05T11:30:00Z", "2026-11-05T11:30:00Z");
  asb::v1::Order after = before;
  *after.mutable_expires_at() = ToTimestamp(At("2027-02-05T11:30:00Z"));  // six months in all
  EXPECT_THAT(Refused(Vary(before, after, "2026-11-01T10:00:00Z")), IsEmpty());
  *after.mutable_expires_at() = ToTimestamp(At("2027-02-06T11:30:00Z"));
  EXPECT_THAT(Refused(Vary(before, after, "2026-11-01T10:00:00Z")),
              ElementsAre("closure-order-extended-max"));
}

TEST(ClosureOrderTest, TheLicensingAuthorityIsToldOfLicensedPremisesSection80_9) {
  asb::v1::Order o = MakeOrder(kClosureOrder, "2026-08-05T11:30:00Z", "2026-11-05T11:30:00Z");
  EXPECT_THAT(Noticed(Issue(o)), IsEmpty());
  o.set_premises_licensed(true);
  const std::vector<Finding> f = Issue(o);
  ASSERT_THAT(Noticed(f), ElementsAre("closure-order-licensing"));
  EXPECT_EQ(f[0].kind, asb::v1::NOTICE_KIND_INFORM);
  // The licensing authority (the council's licensing service, agency "licensing") and the issuer.
  EXPECT_THAT(f[0].recipients, ElementsAre("licensing", "police"));
}

// --- PSPOs (ss.59-72)
// -----------------------------------------------------------------------------

asb::v1::Order ConsultedPspo(const std::string& issued, const std::string& expires) {
  asb::v1::Order o = MakeOrder(kPspo, issued, expires);
  o.clear_subject_person_id();
  Consult(&o, "police", "2026-03-02T10:00:00Z", true);
  Consult(&o, "pcc", "2026-03-09T10:00:00Z", true);
  Consult(&o, "county-council", "2026-03-02T10:00:00Z", false);
  return o;
}

TEST(PspoTest, AtMostThreeYearsSection60) {
  asb::v1::Order o = ConsultedPspo("2026-05-01T00:00:00Z", "2029-05-01T00:00:00Z");
  EXPECT_THAT(Refused(Issue(o)), IsEmpty());
  EXPECT_THAT(Noticed(Issue(o)), IsEmpty());
  *o.mutable_expires_at() = ToTimestamp(At("2029-05-02T00:00:00Z"));
  EXPECT_THAT(Refused(Issue(o)), ElementsAre("pspo-max"));
}

TEST(PspoTest, EachExtensionAtMostThreeYearsSection60) {
  asb::v1::Order before = ConsultedPspo("2026-05-01T00:00:00Z", "2029-05-01T00:00:00Z");
  asb::v1::Order after = before;
  *after.mutable_expires_at() = ToTimestamp(At("2032-05-01T00:00:00Z"));
  EXPECT_THAT(Refused(Vary(before, after, "2029-04-01T00:00:00Z")), IsEmpty());
  *after.mutable_expires_at() = ToTimestamp(At("2032-05-02T00:00:00Z"));
  EXPECT_THAT(Refused(Vary(before, after, "2029-04-01T00:00:00Z")),
              ElementsAre("pspo-extension-max"));
}

TEST(PspoTest, ConsultationOfThePoliceAndPccSection72) {
  asb::v1::Order o = MakeOrder(kPspo, "2026-05-01T00:00:00Z", "2029-05-01T00:00:00Z");
  o.clear_subject_person_id();
  const std::vector<Finding> none = Issue(o);
  EXPECT_THAT(Refused(none), IsEmpty());  // soft: accepted
  EXPECT_THAT(Noticed(none), UnorderedElementsAre("pspo-consultation", "pspo-county-notified"));
  EXPECT_THAT(FindingOf(none, "pspo-consultation")->message, HasSubstr("police, pcc"));
  // Recorded after the order was made: still not before it.
  Consult(&o, "police", "2026-05-02T10:00:00Z", true);
  Consult(&o, "pcc", "2026-04-30T10:00:00Z", true);
  EXPECT_THAT(FindingOf(Issue(o), "pspo-consultation")->message,
              HasSubstr("no consultation of police"));
  // An extension needs its own consultation (before the variation).
  asb::v1::Order before = ConsultedPspo("2026-05-01T00:00:00Z", "2029-05-01T00:00:00Z");
  asb::v1::Order after = before;
  *after.mutable_expires_at() = ToTimestamp(At("2029-06-01T00:00:00Z"));
  EXPECT_THAT(Noticed(Vary(before, after, "2026-02-01T00:00:00Z")),
              UnorderedElementsAre("pspo-consultation", "pspo-county-notified"));
  EXPECT_THAT(Noticed(Vary(before, after, "2026-06-01T00:00:00Z")), IsEmpty());
}

// --- civil injunctions (Part 1)
// --------------------------------------------------------------------

TEST(InjunctionTest, AgainstAPersonAged10OrOverSection1_1) {
  asb::v1::Order o = MakeOrder(kInjunction, "2026-03-20T14:00:00Z", "2027-03-20T00:00:00Z");
  Consult(&o, "yot", "2026-03-01T10:00:00Z", false);
  EXPECT_THAT(Refused(Issue(o, "2016-03-21")), ElementsAre("injunction-min-age"));
  EXPECT_THAT(Refused(Issue(o, "2016-03-20")), IsEmpty());
}

TEST(InjunctionTest, UnderEighteenAtMostTwelveMonthsSection1_6) {
  asb::v1::Order o = MakeOrder(kInjunction, "2026-03-20T14:00:00Z", "2027-03-20T00:00:00Z");
  Consult(&o, "yot", "2026-03-01T10:00:00Z", false);
  EXPECT_THAT(Refused(Issue(o, "2010-01-01")), IsEmpty());
  *o.mutable_expires_at() = ToTimestamp(At("2027-03-21T00:00:00Z"));
  EXPECT_THAT(Refused(Issue(o, "2010-01-01")), ElementsAre("injunction-under-18-max"));
  // An adult's injunction may be longer, or indefinite.
  EXPECT_THAT(Refused(Issue(o, "1987-01-30")), IsEmpty());
  o.clear_expires_at();
  EXPECT_THAT(Refused(Issue(o, "1987-01-30")), IsEmpty());
  EXPECT_THAT(Refused(Issue(o, "2010-01-01")), ElementsAre("injunction-under-18-max"));
  // 18 on the day of issue: an adult.
  *o.mutable_expires_at() = ToTimestamp(At("2028-03-20T00:00:00Z"));
  EXPECT_THAT(Refused(Issue(o, "2008-03-20")), IsEmpty());
  EXPECT_THAT(Refused(Issue(o, "2008-03-21")), ElementsAre("injunction-under-18-max"));
}

TEST(InjunctionTest, YotConsultedBeforeTheApplicationSection14) {
  asb::v1::Order o = MakeOrder(kInjunction, "2026-03-20T14:00:00Z", "2027-03-20T00:00:00Z");
  *o.mutable_applied_at() = ToTimestamp(At("2026-03-10T09:00:00Z"));
  EXPECT_THAT(Noticed(Issue(o, "2010-01-01")), ElementsAre("injunction-yot-consulted"));
  EXPECT_THAT(Noticed(Issue(o, "1990-01-01")), IsEmpty());  // an adult: no YOT
  Consult(&o, "yot", "2026-03-12T09:00:00Z", false);        // after applying: too late
  EXPECT_THAT(Noticed(Issue(o, "2010-01-01")), ElementsAre("injunction-yot-consulted"));
  Consult(&o, "yot", "2026-03-09T09:00:00Z", false);  // before: consulted
  EXPECT_THAT(Noticed(Issue(o, "2010-01-01")), IsEmpty());
  asb::v1::Order without_notice =
      MakeOrder(kInjunction, "2026-03-20T14:00:00Z", "2027-03-20T00:00:00Z");
  without_notice.set_without_notice(true);
  EXPECT_THAT(Noticed(Issue(without_notice, "2010-01-01")), IsEmpty());
}

TEST(InjunctionTest, Part1AppliesFrom23March2015) {
  asb::v1::Order o = MakeOrder(kInjunction, "2015-03-22T14:00:00Z", "2018-03-22T00:00:00Z");
  EXPECT_THAT(Refused(Issue(o, "2005-01-01")), IsEmpty());
  EXPECT_THAT(Noticed(Issue(o, "2005-01-01")), IsEmpty());
  o = MakeOrder(kInjunction, "2015-03-23T14:00:00Z", "2018-03-22T00:00:00Z");
  EXPECT_THAT(Refused(Issue(o, "2005-01-01")), ElementsAre("injunction-under-18-max"));
}

// --- criminal behaviour orders (Sentencing Act 2020 ss.330-342) -------------------------------

TEST(CboTest, AnAdultsOrderAtLeastTwoYearsOrIndefiniteSection334) {
  asb::v1::Order o = MakeOrder(kCbo, "2026-10-14T11:00:00Z", "2028-10-14T00:00:00Z");
  EXPECT_THAT(Refused(Issue(o, "1998-11-02")), IsEmpty());
  *o.mutable_expires_at() = ToTimestamp(At("2028-10-13T23:59:00Z"));
  const std::vector<Finding> f = Issue(o, "1998-11-02");
  ASSERT_THAT(Refused(f), ElementsAre("cbo-adult-min"));
  EXPECT_THAT(f[0].message, HasSubstr("Sentencing Act 2020 s.334"));
  o.clear_expires_at();
  EXPECT_THAT(Refused(Issue(o, "1998-11-02")), IsEmpty());
}

TEST(CboTest, UnderEighteenOneToThreeYearsSection334) {
  asb::v1::Order o = MakeOrder(kCbo, "2026-05-20T11:00:00Z", "2027-05-20T00:00:00Z");
  Consult(&o, "yot", "2026-05-01T10:00:00Z", true);
  const std::string dob = "2010-06-01";  // 15
  EXPECT_THAT(Refused(Issue(o, dob)), IsEmpty());
  *o.mutable_expires_at() = ToTimestamp(At("2027-05-19T23:00:00Z"));
  EXPECT_THAT(Refused(Issue(o, dob)), ElementsAre("cbo-under-18-min"));
  *o.mutable_expires_at() = ToTimestamp(At("2029-05-20T00:00:00Z"));
  EXPECT_THAT(Refused(Issue(o, dob)), IsEmpty());
  *o.mutable_expires_at() = ToTimestamp(At("2029-05-21T00:00:00Z"));
  EXPECT_THAT(Refused(Issue(o, dob)), ElementsAre("cbo-under-18-max"));
  o.clear_expires_at();  // no indefinite order for a child
  EXPECT_THAT(Refused(Issue(o, dob)), ElementsAre("cbo-under-18-max"));
}

TEST(CboTest, TheYotsViewsBeforeApplyingForAnUnder18Section331_5) {
  asb::v1::Order o = MakeOrder(kCbo, "2026-05-20T11:00:00Z", "2028-05-20T00:00:00Z");
  EXPECT_THAT(Noticed(Issue(o, "2010-06-01")), ElementsAre("cbo-yot-views"));
  Consult(&o, "yot", "2026-05-01T10:00:00Z", false);  // asked, not answered
  EXPECT_THAT(FindingOf(Issue(o, "2010-06-01"), "cbo-yot-views")->message,
              HasSubstr("no views of yot"));
  Consult(&o, "yot", "2026-05-03T10:00:00Z", true);
  EXPECT_THAT(Noticed(Issue(o, "2010-06-01")), IsEmpty());
  EXPECT_THAT(
      Noticed(Issue(MakeOrder(kCbo, "2026-05-20T11:00:00Z", "2028-05-20T00:00:00Z"), "1990-01-01")),
      IsEmpty());
}

TEST(CboTest, OrdersBeforeTheSentencingCodeFollowThe2014Act) {
  asb::v1::Order o = MakeOrder(kCbo, "2018-05-20T11:00:00Z", "2022-05-20T00:00:00Z");
  const std::vector<Finding> f = Issue(o, "2004-01-01");  // 14, four years
  EXPECT_THAT(Refused(f), ElementsAre("cbo-2014-under-18-max"));
  EXPECT_THAT(FindingOf(f, "cbo-2014-under-18-max")->message, HasSubstr("2014 s.25(5)"));
}

std::vector<Deadline> ReviewsOf(const asb::v1::Order& o, const std::string& dob) {
  OrderFacts facts{&o, ParseDate(dob), "police"};
  std::vector<Deadline> out;
  for (Deadline& d : Shipped()->Deadlines(facts)) {
    if (d.context.rule_id() == "cbo-under-18-review") {
      out.push_back(std::move(d));
    }
  }
  return out;
}

absl::Time OverdueAt(const std::vector<Deadline>& reviews) {
  for (const Deadline& d : reviews) {
    if (d.kind == asb::v1::NOTICE_KIND_REVIEW_OVERDUE) {
      return d.fire_at;
    }
  }
  return absl::InfinitePast();
}

TEST(CboTest, AnUnder18sOrderIsReviewedEvery12MonthsSection337) {
  asb::v1::Order o = MakeOrder(kCbo, "2026-01-10T11:00:00Z", "2029-01-10T00:00:00Z");
  const std::string dob = "2011-06-01";  // 14 at issue; 17 at the end of the third period
  std::vector<Deadline> reviews = ReviewsOf(o, dob);
  ASSERT_EQ(reviews.size(), 3u);  // 14 days and 1 day before, and overdue
  EXPECT_EQ(OverdueAt(reviews), At("2027-01-10T11:00:00Z"));
  EXPECT_EQ(reviews[0].kind, asb::v1::NOTICE_KIND_REVIEW_DUE);
  EXPECT_EQ(reviews[0].fire_at, At("2026-12-27T11:00:00Z"));
  EXPECT_EQ(reviews[1].fire_at, At("2027-01-09T11:00:00Z"));
  // A review held in the period: the next period's end is due.
  asb::v1::Review* r = o.add_reviews();
  *r->mutable_held_at() = ToTimestamp(At("2026-12-15T10:00:00Z"));
  EXPECT_EQ(OverdueAt(ReviewsOf(o, dob)), At("2028-01-10T11:00:00Z"));
  // A variation starts a new period.
  o.clear_reviews();
  *o.mutable_varied_at() = ToTimestamp(At("2026-06-01T10:00:00Z"));
  EXPECT_EQ(OverdueAt(ReviewsOf(o, dob)), At("2027-06-01T10:00:00Z"));
  // 18 by the end of the period: no statutory review; nor for an adult.
  EXPECT_THAT(ReviewsOf(o, "2009-05-01"), IsEmpty());
  EXPECT_THAT(ReviewsOf(o, "1990-01-01"), IsEmpty());
  // An order ending before the period does not run to its end: none either.
  asb::v1::Order short_one = MakeOrder(kCbo, "2026-01-10T11:00:00Z", "2027-01-09T00:00:00Z");
  EXPECT_THAT(ReviewsOf(short_one, dob), IsEmpty());
}

// --- community protection (s.43)
// ------------------------------------------------------------------

TEST(CpnTest, AWrittenWarningFirstSection43_5) {
  asb::v1::Order cpn = MakeOrder(kCpn, "2026-07-25T10:00:00Z", "2027-07-25T00:00:00Z");
  EXPECT_THAT(Noticed(Issue(cpn, "1979-02-14")), ElementsAre("cpn-prior-warning"));
  Orders prior;
  asb::v1::Order cpw = MakeOrder(kCpw, "2026-07-08T10:00:00Z");
  cpw.set_order_id("W1");
  cpw.set_subject_person_id("SOMEONE-ELSE");
  *prior.Add() = cpw;
  EXPECT_THAT(Noticed(Issue(cpn, "1979-02-14", prior)), ElementsAre("cpn-prior-warning"));
  prior.Mutable(0)->set_subject_person_id("P1");
  EXPECT_THAT(Noticed(Issue(cpn, "1979-02-14", prior)), IsEmpty());
  // A warning given after the notice does not count.
  *prior.Mutable(0)->mutable_issued_at() = ToTimestamp(At("2026-07-26T10:00:00Z"));
  EXPECT_THAT(Noticed(Issue(cpn, "1979-02-14", prior)), ElementsAre("cpn-prior-warning"));
}

TEST(CpnTest, ToAPersonAged16OrOverSection43_1) {
  asb::v1::Order cpn = MakeOrder(kCpn, "2026-07-25T10:00:00Z", "2027-07-25T00:00:00Z");
  EXPECT_THAT(Refused(Issue(cpn, "2010-07-26")), ElementsAre("cpn-min-age"));
  EXPECT_THAT(Refused(Issue(cpn, "2010-07-25")), IsEmpty());
  // To a body (no person): no age to check.
  cpn.clear_subject_person_id();
  EXPECT_THAT(Refused(Issue(cpn, "")), IsEmpty());
}

// --- ABCs and generic deadlines
// -------------------------------------------------------------------

TEST(AbcTest, AReviewDateByLocalPracticeWhenNoneIsGiven) {
  asb::v1::Order abc = MakeOrder(kAbc, "2026-06-10T15:00:00Z", "2026-12-10T00:00:00Z");
  const std::vector<Finding> f = Issue(abc, "2010-05-06");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].kind, asb::v1::NOTICE_KIND_REVIEW_DATE_DEFAULTED);
  EXPECT_EQ(ToTime(f[0].context.deadline()), At("2026-09-10T15:00:00Z"));
  EXPECT_THAT(f[0].context.section(), HasSubstr("local practice"));
  *abc.mutable_review_at() = ToTimestamp(At("2026-09-01T00:00:00Z"));
  EXPECT_THAT(Issue(abc, "2010-05-06"), IsEmpty());
}

TEST(DeadlinesTest, ExpiryAndReviewRemindersThenEscalation) {
  asb::v1::Order abc = MakeOrder(kAbc, "2026-06-10T15:00:00Z", "2026-12-10T00:00:00Z");
  *abc.mutable_review_at() = ToTimestamp(At("2026-09-10T00:00:00Z"));
  OrderFacts facts{&abc, std::nullopt, "council"};
  std::vector<Deadline> d = Shipped()->Deadlines(facts);
  ASSERT_EQ(d.size(), 4u);
  EXPECT_TRUE(d[0].expiry);
  EXPECT_EQ(d[0].fire_at, At("2026-12-10T00:00:00Z"));
  EXPECT_EQ(d[1].fire_at, At("2026-08-27T00:00:00Z"));  // 14 days before
  EXPECT_EQ(d[2].fire_at, At("2026-09-09T00:00:00Z"));  // 1 day before
  EXPECT_EQ(d[3].kind, asb::v1::NOTICE_KIND_REVIEW_OVERDUE);
  EXPECT_THAT(d[3].recipients, ElementsAre("council"));
  // The overdue notice raised (it is on the order): escalated 7 days on to the coordinator.
  asb::v1::StatutoryNotice* n = abc.add_notices();
  n->set_notice_id(d[3].name);
  n->set_kind(asb::v1::NOTICE_KIND_REVIEW_OVERDUE);
  *n->mutable_context() = d[3].context;
  for (const Deadline& r : {d[1], d[2]}) {
    asb::v1::StatutoryNotice* reminder = abc.add_notices();
    reminder->set_notice_id(r.name);
    reminder->set_kind(asb::v1::NOTICE_KIND_REVIEW_DUE);
  }
  d = Shipped()->Deadlines(facts);
  ASSERT_EQ(d.size(), 2u);
  EXPECT_TRUE(d[0].expiry);
  EXPECT_EQ(d[1].kind, asb::v1::NOTICE_KIND_ESCALATION);
  EXPECT_EQ(d[1].fire_at, At("2026-09-17T00:00:00Z"));
  EXPECT_THAT(d[1].recipients, ElementsAre("partnership"));
  EXPECT_EQ(d[1].escalates, n->notice_id());
  // The review held: nothing is overdue any more, so nothing escalates.
  abc.clear_review_at();
  d = Shipped()->Deadlines(facts);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_TRUE(d[0].expiry);
  // Discharged: no deadline at all.
  abc.set_status(asb::v1::ORDER_STATUS_DISCHARGED);
  EXPECT_THAT(Shipped()->Deadlines(facts), IsEmpty());
}

TEST(DeadlinesTest, AConsultationStillMissingBeforeAListedHearing) {
  asb::v1::Order ci;
  ci.set_order_id("CI1");
  ci.set_type(kInjunction);
  ci.set_status(asb::v1::ORDER_STATUS_PROPOSED);
  ci.set_subject_person_id("P1");
  asb::v1::Hearing* h = ci.add_hearings();
  h->set_hearing_id("H1");
  *h->mutable_listed_for() = ToTimestamp(At("2026-05-20T10:00:00Z"));
  OrderFacts child{&ci, ParseDate("2010-01-01"), "council"};
  std::vector<Deadline> d = Shipped()->Deadlines(child);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].kind, asb::v1::NOTICE_KIND_CONSULTATION_MISSING);
  EXPECT_EQ(d[0].fire_at, At("2026-05-13T10:00:00Z"));
  EXPECT_THAT(d[0].context.due(), HasSubstr("yot"));
  OrderFacts adult{&ci, ParseDate("1990-01-01"), "council"};
  EXPECT_THAT(Shipped()->Deadlines(adult), IsEmpty());
  Consult(&ci, "yot", "2026-05-01T10:00:00Z", false);
  EXPECT_THAT(Shipped()->Deadlines(child), IsEmpty());
}

// --- the table's own checks
// ------------------------------------------------------------------------

class RulesFileTest : public ::testing::Test {
 protected:
  absl::Status Load(const std::string& yaml) {
    const std::string path = dir_.Sub("rules.yaml");
    std::ofstream(path) << yaml;
    return StatutoryRules::LoadFile(path, kAgencies).status();
  }
  asb::testing::TempDir dir_;
};

constexpr char kHead[] = "name: t\nversion: \"1\"\nrules:\n";

TEST_F(RulesFileTest, AnUnknownOrderTypeIsNamedWithItsLine) {
  EXPECT_THAT(
      Load(std::string(kHead) + "  - id: r1\n"
                                "    order_type: ORDER_TYPE_DISPERSAL\n"
                                "    section: s\n    effective_from: \"2014-10-20\"\n"
                                "    enforcement: ENFORCEMENT_HARD\n    min_subject_age: 10\n"),
      StatusIsWith(absl::StatusCode::kInvalidArgument,
                   "rules.yaml:5: rules[0].order_type: unknown order type "
                   "'ORDER_TYPE_DISPERSAL'"));
}

TEST_F(RulesFileTest, ANegativeDurationIsNamedWithItsLine) {
  EXPECT_THAT(
      Load(std::string(kHead) + "  - id: r1\n    order_type: ORDER_TYPE_DISPERSAL_DIRECTION\n"
                                "    section: s\n    effective_from: \"2014-10-20\"\n"
                                "    enforcement: ENFORCEMENT_HARD\n"
                                "    max_duration: { period: \"-48 hours\" }\n"),
      StatusIsWith(absl::StatusCode::kInvalidArgument,
                   "rules.yaml:9: rules[0].max_duration.period: '-48 hours': a negative "
                   "duration"));
}

TEST_F(RulesFileTest, AnUnknownAgencyIsNamedWithItsLine) {
  const absl::Status s = Load(
      "name: t\nversion: \"1\"\n"
      "reminders:\n  escalate_after: \"7 days\"\n  escalation_agency: coordinator\n"
      "rules:\n"
      "  - id: r1\n    order_type: ORDER_TYPE_CIVIL_INJUNCTION\n"
      "    section: s\n    effective_from: \"2015-03-23\"\n"
      "    enforcement: ENFORCEMENT_SOFT\n"
      "    consultation: { consultees: [yot, youth-team] }\n");
  EXPECT_THAT(s, StatusIsWith(absl::StatusCode::kInvalidArgument,
                              "rules.yaml:5: reminders.escalation_agency: unknown agency "
                              "'coordinator'"));
  EXPECT_THAT(s, StatusIsWith(absl::StatusCode::kInvalidArgument,
                              "rules.yaml:12: rules[0].consultation.consultees[1]: unknown agency "
                              "'youth-team'"));
}

TEST_F(RulesFileTest, EveryOtherMistakeIsReportedToo) {
  const absl::Status s = Load(
      "name: t\n"
      "rules:\n"
      "  - id: Bad Id\n    order_type: ORDER_TYPE_CLOSURE_NOTICE\n"
      "    effective_from: \"2014-13-01\"\n"
      "    enforcement: ENFORCEMENT_HARD\n"
      "    hearing_within: { period: \"48 hours\" }\n"
      "  - id: r2\n    order_type: ORDER_TYPE_CLOSURE_NOTICE\n    section: s\n"
      "    effective_from: \"2014-10-20\"\n    enforcement: ENFORCEMENT_SOFT\n");
  EXPECT_THAT(s, StatusIsWith(absl::StatusCode::kInvalidArgument, "version: required"));
  EXPECT_THAT(s, StatusIsWith(absl::StatusCode::kInvalidArgument, "rules[0].id: required"));
  EXPECT_THAT(s, StatusIsWith(absl::StatusCode::kInvalidArgument, "rules[0].section: required"));
  EXPECT_THAT(s, StatusIsWith(absl::StatusCode::kInvalidArgument,
                              "rules[0].effective_from: '2014-13-01' is not a date"));
  EXPECT_THAT(s, StatusIsWith(absl::StatusCode::kInvalidArgument,
                              "hearing_within is a deadline the clock keeps: SOFT"));
  EXPECT_THAT(s, StatusIsWith(absl::StatusCode::kInvalidArgument, "rules[1]: no check"));
}

TEST_F(RulesFileTest, UnknownFieldsAreRefused) {
  EXPECT_THAT(Load("name: t\nversion: \"1\"\nrulez: []\n"),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "rulez"));
}

TEST(RulesTest, TheEmptyTableChecksNothingButStillExpiresAndReviews) {
  auto empty = StatutoryRules::Empty();
  EXPECT_EQ(empty->version(), "none");
  asb::v1::Order o = MakeOrder(kDispersal, "2026-04-12T20:00:00Z", "2026-04-20T20:00:00Z");
  *o.mutable_review_at() = ToTimestamp(At("2026-04-15T00:00:00Z"));
  asb::v1::CaseEvent e;
  *e.mutable_order_issued()->mutable_order() = o;
  OrderFacts facts{&o, std::nullopt, "police"};
  EXPECT_THAT(empty->Check(e, nullptr, facts, {}), IsEmpty());
  std::vector<Deadline> d = empty->Deadlines(facts);
  ASSERT_EQ(d.size(), 2u);  // the end, and the review date (no reminders before it)
  EXPECT_TRUE(d[0].expiry);
  EXPECT_EQ(d[1].kind, asb::v1::NOTICE_KIND_REVIEW_OVERDUE);
}

}  // namespace
}  // namespace asb::orders
