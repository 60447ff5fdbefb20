#pragma once

// The statutory rules table as the hub applies it (config/statutory/rules.yaml, schema
// asb.config.v1.StatutoryRules): loaded and checked once (every mistake named with its file and
// line, like the ISP), then asked two questions, both pure:
//  - Check: what the rules say about an order event about to be accepted — a HARD rule broken
//    (the event is refused, the message citing the rule and section), or notices to raise (a SOFT
//    rule not met, an agency to inform, a review date to default);
//  - Deadlines: which deadlines the hub's clock must keep for an order in its current state
//    (its end, its reviews, a hearing, a consultation before a listed hearing, escalations of
//    overdue items), each with its statutory context.
// Immutable once loaded; share it (std::shared_ptr) and swap it on reload.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "asb/config/v1/statutory_rules.pb.h"
#include "asb/v1/case.pb.h"
#include "asb/v1/events.pb.h"
#include "asb/v1/statutory.pb.h"
#include "common/config/config.h"
#include "common/orders/lifecycle.h"
#include "common/orders/period.h"

namespace asb::orders {

// What the rules say about one event.
struct Finding {
  // A HARD rule is broken: the event must be refused with `message`.
  bool refuse = false;
  // Otherwise the notice to raise: COMPLIANCE, INFORM or REVIEW_DATE_DEFAULTED.
  asb::v1::NoticeKind kind = asb::v1::NOTICE_KIND_COMPLIANCE;
  // The event field concerned, e.g. "order_issued.order.expires_at".
  std::string path;
  // What is wrong or due, citing the rule and section; never a personal value.
  std::string message;
  // The rule, section, effective date, (deadline,) what is due, rules version.
  asb::v1::StatutoryContext context;
  // Who the notice goes to.
  std::vector<std::string> recipients;
};

// One deadline the hub's clock keeps for an order.
struct Deadline {
  // Unique within the order and deterministic (the same deadline always has the same name): the
  // timer's name and, for notices, the notice id, e.g. "review_overdue/review-date/1767225600".
  std::string name;
  // The order's end: the hub records it as expired (an OrderExpired, no notice).
  bool expiry = false;
  // Otherwise the notice raised.
  asb::v1::NoticeKind kind = asb::v1::NOTICE_KIND_UNSPECIFIED;
  // When the clock fires it (a reminder fires before its deadline).
  absl::Time fire_at;
  // Its rule, section, deadline and what is due.
  asb::v1::StatutoryContext context;
  // Who the notice goes to.
  std::vector<std::string> recipients;
  // ESCALATION: the notice escalated.
  std::string escalates;
};

// An order and what the rules need to know about it.
struct OrderFacts {
  // The order (REQUIRES: not null).
  const asb::v1::Order* order = nullptr;
  // Its subject's date of birth, if the hub knows it.
  std::optional<absl::CivilDay> subject_dob;
  // The agency its notices go to.
  std::string issuing_agency;
};

class StatutoryRules {
 public:
  // Loads and checks a rules file. `agencies` are the ISP's agency ids: consultees, the
  // escalation agency and informed agencies must be among them (or be bodies the table
  // declares). Errors: kNotFound (no file), kInvalidArgument listing every problem with file and
  // line ("rules.yaml:40: rules[3].order_type: unknown order type 'ORDER_TYPE_DISPERSAL'").
  static absl::StatusOr<std::shared_ptr<const StatutoryRules>> LoadFile(
      const std::string& path, const std::vector<std::string>& agencies);
  // The same checks on a parsed table; `lines` (may be null) gives lines for `file`.
  static absl::StatusOr<std::shared_ptr<const StatutoryRules>> FromConfig(
      const asb::config::v1::StatutoryRules& config, const std::string& file,
      const config::SourceMap* lines, const std::vector<std::string>& agencies);
  // An empty table: no rules; orders still expire, and reviews fall due on their dates.
  static std::shared_ptr<const StatutoryRules> Empty();

  ~StatutoryRules();

  // "<table version>/<first 12 hex digits of the content's SHA-256>", or "none" when empty.
  const std::string& version() const { return version_; }
  const asb::config::v1::StatutoryRules& config() const { return config_; }
  std::size_t rule_count() const;

  // What the rules say about `event` (an order event of the case, already applied by the
  // lifecycle): `before` is the order before it (nullptr: none), `after` the order after it, and
  // `case_orders` the case's orders before it (for an order that must precede another). Only
  // OrderIssued and OrderVaried are checked; other events give nothing.
  std::vector<Finding> Check(const asb::v1::CaseEvent& event, const asb::v1::Order* before,
                             const OrderFacts& after, const Orders& case_orders) const;

  // The deadlines the clock must keep for the order now: those it has not raised a notice for
  // yet (Order.notices), and its end if it is in force.
  std::vector<Deadline> Deadlines(const OrderFacts& facts) const;

  // The words for an order type, e.g. "closure notice".
  static std::string TypeWords(asb::v1::OrderType type);

  struct Compiled;

 private:
  StatutoryRules();

  asb::config::v1::StatutoryRules config_;
  std::string version_;
  std::unique_ptr<const Compiled> compiled_;
};

}  // namespace asb::orders
