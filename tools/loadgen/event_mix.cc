#include "tools/loadgen/event_mix.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/timestamp.pb.h"

namespace asb::loadgen {
namespace {

using asb::v1::CaseEvent;

void SetTime(absl::Time t, google::protobuf::Timestamp* ts) {
  ts->set_seconds(absl::ToUnixSeconds(t));
  ts->set_nanos(0);
}

void SetLocation(const Place& p, asb::v1::Location* loc) {
  loc->set_latitude(p.latitude);
  loc->set_longitude(p.longitude);
  loc->set_description(p.description);
  loc->set_lsoa_code(p.lsoa_code);
  loc->set_ward(p.ward);
}

const char* kGiven[] = {"Alex", "Sam", "Jordan", "Casey", "Robin", "Jamie", "Morgan", "Riley"};
const char* kFamily[] = {"Testwood", "Example", "Sampleton", "Dummyford", "Fictionby", "Placeholt"};
const char* kStreets[] = {"Hollingwood Crescent", "Mansfield Road", "Chatsworth Road",
                          "Newbold Road",         "Sheffield Road", "Old Road"};
const asb::v1::OrderType kOrderTypes[] = {
    asb::v1::ORDER_TYPE_ACCEPTABLE_BEHAVIOUR_CONTRACT,
    asb::v1::ORDER_TYPE_CIVIL_INJUNCTION,
    asb::v1::ORDER_TYPE_CRIMINAL_BEHAVIOUR_ORDER,
    asb::v1::ORDER_TYPE_COMMUNITY_PROTECTION_WARNING,
    asb::v1::ORDER_TYPE_COMMUNITY_PROTECTION_NOTICE,
    asb::v1::ORDER_TYPE_PUBLIC_SPACES_PROTECTION_ORDER,
    asb::v1::ORDER_TYPE_CLOSURE_NOTICE,
    asb::v1::ORDER_TYPE_CLOSURE_ORDER,
    asb::v1::ORDER_TYPE_DISPERSAL_DIRECTION,
};

}  // namespace

std::vector<Place> LoadPlaces(const std::string& dir, std::size_t max_places) {
  std::vector<Place> chesterfield, others;
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    return {};
  }
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.path().extension() == ".csv") {
      files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  for (const auto& file : files) {
    std::ifstream in(file);
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line) && chesterfield.size() < max_places) {
      if (line.find('"') != std::string::npos) {
        continue;  // quoted fields: rare, not worth a CSV parser here
      }
      std::vector<std::string> f = absl::StrSplit(line, ',');
      // Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,...
      if (f.size() < 9 || f[4].empty() || f[5].empty() || f[7].size() != 9) {
        continue;
      }
      Place p;
      try {
        p.longitude = std::stod(f[4]);
        p.latitude = std::stod(f[5]);
      } catch (...) {
        continue;
      }
      p.description = f[6];
      p.lsoa_code = f[7];
      p.ward = f[8];
      if (p.ward.rfind("Chesterfield", 0) == 0) {
        chesterfield.push_back(std::move(p));
      } else if (others.size() < max_places) {
        others.push_back(std::move(p));
      }
    }
  }
  return chesterfield.empty() ? others : chesterfield;
}

EventMix::EventMix(std::vector<Place> places, std::string run_id, int stream, uint32_t seed,
                   EventMixOptions options)
    : places_(std::move(places)),
      run_id_(std::move(run_id)),
      options_(options),
      stream_(stream),
      rng_(seed) {
  if (places_.empty()) {
    places_.push_back(Place{53.2571, -1.4072, "On or near Hollingwood Crescent", "E01019381",
                            "Chesterfield 002A"});
    places_.push_back(
        Place{53.2350, -1.4210, "On or near Chatsworth Road", "E01019418", "Chesterfield 012C"});
  }
}

const Place& EventMix::RandomPlace() {
  return places_[std::uniform_int_distribution<std::size_t>(0, places_.size() - 1)(rng_)];
}

asb::v1::CaseEvent EventMix::Next(absl::Time now) {
  if (next_ >= queue_.size()) {
    queue_.clear();
    next_ = 0;
    NewCase(now);
  }
  return std::move(queue_[next_++]);
}

void EventMix::NewCase(absl::Time now) {
  ++case_no_;
  const std::string case_id = absl::StrCat("LG-", run_id_, "-", stream_, "-", case_no_);
  const Place& place = RandomPlace();
  auto pick = [&](int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); };
  const absl::Time start = now - absl::Hours(24 * 30);
  int step = 0;
  auto event = [&]() -> CaseEvent& {
    CaseEvent& e = queue_.emplace_back();
    e.set_source_event_id(absl::StrCat("lg-", run_id_, "-", stream_, "-", ++event_no_));
    e.set_case_id(case_id);
    SetTime(start + absl::Hours(24) * (++step), e.mutable_occurred_at());
    return e;
  };
  const auto category = static_cast<asb::v1::NsirCategory>(1 + pick(3));
  const bool fire = pick(5) == 0, tenancy = pick(2) == 0;

  {
    auto* o = event().mutable_case_opened();
    o->set_nsir_category(category);
    o->set_title(absl::StrCat("Repeated ASB near ", place.description.substr(std::min<size_t>(
                                                        11, place.description.size()))));
    o->set_summary("Load-generator case: repeated nuisance reported by neighbours.");
    o->set_lead_agency("community-safety");
    o->set_lead_officer("ASB Officer (synthetic)");
    SetLocation(place, o->mutable_location());
    o->mutable_flags()->set_fire_risk(fire);
    o->mutable_flags()->set_council_tenancy(tenancy);
  }
  const int incidents = 1 + pick(3);
  for (int i = 0; i < incidents; ++i) {
    CaseEvent& e = event();
    auto* inc = e.mutable_incident_reported()->mutable_incident();
    inc->set_incident_id(absl::StrCat("INC-", run_id_, "-", stream_, "-", event_no_));
    *inc->mutable_occurred_at() = e.occurred_at();
    inc->set_category(category);
    inc->set_description("Shouting and door-banging late at night (synthetic).");
    SetLocation(RandomPlace(), inc->mutable_location());
    inc->set_reported_by(pick(2) == 0 ? "police" : "community-safety");
  }
  const std::string victim = absl::StrCat("PV-", case_id);
  const std::string perp = absl::StrCat("PP-", case_id);
  // The order this case gets: one of each type in turn.
  const asb::v1::OrderType type = kOrderTypes[(order_no_ + 1) % 9];
  for (int i = 0; i < 2; ++i) {
    auto* p = event().mutable_person_linked()->mutable_person();
    p->set_person_id(i == 0 ? victim : perp);
    p->set_role(i == 0 ? asb::v1::PERSON_ROLE_VICTIM : asb::v1::PERSON_ROLE_PERPETRATOR);
    p->set_given_name(kGiven[pick(8)]);
    p->set_family_name(kFamily[pick(6)]);
    // Ages from 12 to 85: some cases involve children (safeguarding rules); a CPN's subject is
    // 16 or over (ASBCPA 2014 s.43(1)).
    const int min_age = i == 1 && type == asb::v1::ORDER_TYPE_COMMUNITY_PROTECTION_NOTICE ? 17 : 12;
    const int year = 2026 - min_age - pick(86 - min_age);
    p->set_date_of_birth(absl::StrCat(year, "-0", 1 + pick(9), "-1", pick(10)));
    auto* a = p->mutable_address();
    a->set_line1(absl::StrCat(1 + pick(120), " ", kStreets[pick(6)]));
    a->set_town("Chesterfield");
    a->set_postcode(absl::StrCat("S4", pick(5), " ", 1 + pick(9), "ZZ"));
    p->set_tenure(tenancy ? asb::v1::TENURE_COUNCIL_TENANT : asb::v1::TENURE_PRIVATE_TENANT);
    p->set_vulnerable(i == 0 && pick(3) == 0);
    p->set_phone(absl::StrCat("07700 900", 100 + pick(900)));
  }
  event().mutable_risk_assessed()->set_level(static_cast<asb::v1::RiskLevel>(1 + pick(3)));

  // The order, with a term its statute allows, then what happens to it.
  const std::string order_id = absl::StrCat("ORD-", run_id_, "-", stream_, "-", ++order_no_);
  const bool hours_long =
      type == asb::v1::ORDER_TYPE_DISPERSAL_DIRECTION || type == asb::v1::ORDER_TYPE_CLOSURE_NOTICE;
  const bool fuse_allowed = !hours_long && type != asb::v1::ORDER_TYPE_CRIMINAL_BEHAVIOUR_ORDER &&
                            type != asb::v1::ORDER_TYPE_COMMUNITY_PROTECTION_WARNING;
  const bool short_fuse =
      options_.short_fuse_every != 0 && fuse_allowed && order_no_ % options_.short_fuse_every == 0;
  absl::Time issued;
  {
    CaseEvent& e = event();
    issued = absl::FromUnixSeconds(e.occurred_at().seconds());
    auto* o = e.mutable_order_issued()->mutable_order();
    o->set_order_id(order_id);
    o->set_type(type);
    if (type != asb::v1::ORDER_TYPE_PUBLIC_SPACES_PROTECTION_ORDER &&
        type != asb::v1::ORDER_TYPE_CLOSURE_ORDER) {
      o->set_subject_person_id(perp);
    }
    o->set_issued_by(hours_long || pick(2) == 0 ? "police" : "community-safety");
    *o->mutable_issued_at() = e.occurred_at();
    absl::Duration term = absl::ZeroDuration();
    switch (type) {
      case asb::v1::ORDER_TYPE_DISPERSAL_DIRECTION:
        term = absl::Hours(48);  // s.35(4)
        break;
      case asb::v1::ORDER_TYPE_CLOSURE_NOTICE:
        term = absl::Hours(24);  // s.77(1)
        break;
      case asb::v1::ORDER_TYPE_CLOSURE_ORDER:
        term = absl::Hours(24 * 88);  // within 3 months (s.80(6))
        o->set_premises_licensed(pick(4) == 0);
        break;
      case asb::v1::ORDER_TYPE_PUBLIC_SPACES_PROTECTION_ORDER:
        term = absl::Hours(24 * 1095);  // within 3 years (s.60)
        break;
      case asb::v1::ORDER_TYPE_CRIMINAL_BEHAVIOUR_ORDER:
        term = absl::Hours(24 * 731);  // 2 years: at least an adult's minimum, at most 3 (s.334)
        break;
      case asb::v1::ORDER_TYPE_CIVIL_INJUNCTION:
      case asb::v1::ORDER_TYPE_COMMUNITY_PROTECTION_NOTICE:
      case asb::v1::ORDER_TYPE_ACCEPTABLE_BEHAVIOUR_CONTRACT:
        term = absl::Hours(24 * 365);  // within 12 months (s.1(6) for an under-18)
        break;
      default:
        break;  // a warning has no term
    }
    if (hours_long) {
      auto* auth = o->add_authorisations();
      auth->set_rank(asb::v1::AUTHORISING_RANK_INSPECTOR);  // s.34(1), s.76(1)
      auth->set_officer("Insp. (synthetic)");
    }
    if (short_fuse) {
      SetTime(now + absl::Seconds(1 + pick(8)), o->mutable_expires_at());
      SetTime(now + absl::Seconds(1 + pick(6)), o->mutable_review_at());
    } else if (term > absl::ZeroDuration()) {
      SetTime(issued + term, o->mutable_expires_at());
      if (!hours_long) {
        SetTime(issued + absl::Hours(24 * 90), o->mutable_review_at());
      }
    }
    o->set_conditions("Not to enter the named street; not to contact the victim (synthetic).");
    o->set_court("Chesterfield Magistrates' Court");
    SetLocation(place, o->mutable_area());
  }
  if (pick(2) == 0) {
    CaseEvent& e = event();
    e.mutable_order_breached()->set_order_id(order_id);
    // While the order was in force (an order of hours has ended by the next day).
    SetTime(issued + absl::Hours(1),
            e.mutable_order_breached()->mutable_breach()->mutable_occurred_at());
    e.mutable_order_breached()->mutable_breach()->set_description("Seen in the excluded area.");
  }
  // Only an order still in force is varied or discharged.
  if (hours_long || short_fuse) {
    return;
  }
  if (pick(3) == 0) {
    auto* v = event().mutable_order_varied();
    v->set_order_id(order_id);
    v->set_conditions("Varied: curfew 10pm-7am added (synthetic).");
  }
  if (pick(4) == 0) {
    auto* d = event().mutable_order_discharged();
    d->set_order_id(order_id);
    d->set_reason("Behaviour improved; discharged on review.");
  }
}

}  // namespace asb::loadgen
