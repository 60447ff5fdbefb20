#pragma once

// The ISP engine. A Policy is loaded once from the ISP file, checked against the Case schema,
// compiled into per-agency plans, and then applied (by protobuf reflection) to produce each
// agency's redacted view of a case. Immutable after load: share it via shared_ptr and swap the
// pointer on reload (SIGHUP). Thread-safe for concurrent Apply calls.

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "asb/config/v1/isp.pb.h"
#include "asb/v1/case.pb.h"
#include "asb/v1/disclosure.pb.h"
#include "asb/v1/types.pb.h"
#include "common/config/config.h"

namespace asb::policy {

// What is being shared: the event that changed the case (UNSPECIFIED for a query).
struct EventContext {
  asb::v1::EventType event_type = asb::v1::EVENT_TYPE_UNSPECIFIED;
  asb::v1::OrderType order_type = asb::v1::ORDER_TYPE_UNSPECIFIED;
};

class Policy {
 public:
  // Loads, checks and compiles an ISP file (YAML/JSON). The pseudonymisation key file named in
  // it is resolved relative to the ISP file's directory if not absolute. Errors are
  // kInvalidArgument listing every problem with file and line ("isp.yaml:42: rules[3].fields[1]
  // .path: no field 'people.adress' in asb.v1.Case"), or kNotFound for a missing file.
  static absl::StatusOr<std::shared_ptr<const Policy>> LoadFile(const std::string& path);

  // The same from an already parsed ISP; `key` is the raw pseudonymisation key (>= 32 bytes).
  // `lines` (may be null) maps config paths to lines for error messages.
  static absl::StatusOr<std::shared_ptr<const Policy>> Compile(const asb::config::v1::Isp& isp,
                                                               const std::string& key,
                                                               const std::string& file_name,
                                                               const config::SourceMap* lines);

  // The content hash: hex SHA-256 of the ISP's deterministic serialisation and the key id.
  const std::string& version() const;
  const asb::config::v1::Isp& isp() const;

  // What `asbctl policy check` warns about without refusing the ISP, each "file:line: path:
  // sentence": a rule that shows free text (summary, risk notes, descriptions, order conditions,
  // vulnerability notes) to an agency whose plan withholds person fields (pseudonymises, redacts
  // or generalises identity, sees no one's name, or covers only some people), where the grant
  // gives no `reason`.
  const std::vector<std::string>& warnings() const;
  // The same findings where the grant states a `reason`: reviewed sharing, for the record.
  const std::vector<std::string>& reviewed() const;

  // Decides what `agency` may see of `c` when sharing `context`. Returns false (and leaves `out`
  // untouched) if no rule of that agency matches — the agency may not see this case at all (a
  // match of DENY-only rules counts as no match).
  //
  // Semantics, per field: the actions of every matching rule's grants on the field or an
  // enclosing path apply; DENY wins, else the most revealing of SHOW > GENERALISE >
  // PSEUDONYMISE > REDACT. GENERALISE: date_of_birth -> age_band (age as of c.updated_at, or now
  // if unset); Address -> postcode_district only; Location -> lsoa_code, lsoa_name, ward and
  // district only; a Timestamp -> UTC midnight; a `postcode` string -> its outward code in
  // postcode_district.
  // PSEUDONYMISE: "ps_" + hex(HMAC-SHA256(key, path + ":" + value))[:24]. REDACT: left out, path
  // listed once in redacted_paths if the case has a value there. Condition.person_roles limits
  // that rule's people.* grants to people with those roles; with subject_under_18 it also limits
  // the age test to those roles. Rule.people limits them to the people its selector covers, and
  // an order with a subject is covered by such a rule only if it selects the subject. A
  // confidential person (Person.confidential) is covered only for the case's lead agency. Source
  // conditions limit a rule's grants to facts (people, incidents, orders, breaches; the case's own
  // fields count as the opener's) from the agencies they allow. Free-text fields take only SHOW,
  // GENERALISE or PSEUDONYMISE grants naming them (an enclosing REDACT or DENY still applies).
  // People with nothing granted are left out of view.people.
  // fields: one FieldDecision per path some matching rule names (deciding rule = first in file
  // order with the winning action there or on an enclosing path); justifications: each matching
  // rule with a non-DENY grant, in file order. Thread-safe.
  // Otherwise fills out->view, redacted_paths, justifications, fields, isp_version and
  // subject_keys (the caller fills agency, case_id, event_seq, event_type, order fields and
  // decided_at). Default deny: any field no matching rule grants is absent from the view.
  // A reused `out` need not be cleared first: the view is cleared in place (keeping its
  // allocations, which makes reuse the fast way to call this in a loop).
  bool Apply(const std::string& agency, const asb::v1::Case& c, const EventContext& context,
             asb::v1::Disclosure* out) const;

  // The same decision written straight to the wire, the fast way to share: appends to *out the
  // serialised asb.v1.Disclosure fields Apply() fills (view, redacted_paths, justifications,
  // fields, isp_version, subject_keys), without building the view as a message. Parsing the
  // appended bytes gives exactly the Disclosure Apply() builds. The caller adds its own fields
  // (agency, case_id, event_seq, …) by appending a serialised Disclosure holding only those:
  // protobuf concatenation merges. Returns false (and appends nothing) when Apply() would.
  bool ApplyEncoded(const std::string& agency, const asb::v1::Case& c, const EventContext& context,
                    std::string* out) const;

  // Whether `agency` may see anything of order `order_id` of `c` when sharing `context`: some
  // matching rule that covers the order (its source; for a rule that selects people, its
  // subject) grants a field of it. False for an order the case does not have. asb-sharing
  // discloses an order event only to agencies for which this holds: an agency that may not see
  // the order learns nothing of the event, not even the order's id and type. Thread-safe.
  bool ShowsOrder(const std::string& agency, const asb::v1::Case& c, const EventContext& context,
                  const std::string& order_id) const;

  // Why each field of a case reaches (or not) an agency: the unredacted decision, for people
  // (asbctl policy explain / policy test). Slow (per-field strings); not for the hot path.
  struct FieldExplanation {
    std::string path;         // indexed: "people[1].address.postcode"
    std::string schema_path;  // "people.address.postcode"
    // "shown", "pseudonymised", "generalised", "redacted", "withheld" (default deny) or
    // "denied" (an explicit DENY).
    std::string outcome;
    // The deciding rule (first in file order with the winning action on this path or an
    // enclosing one); empty for default deny.
    std::string rule_id;
    // A sentence when the outcome needs one, e.g. "no rule of this agency matches the case".
    std::string note;
  };
  struct Explanation {
    bool visible = false;                    // what Apply() returns
    std::vector<std::string> matched_rules;  // every matching rule of the agency, file order
    std::vector<FieldExplanation> fields;    // every field the case has, in schema order
  };
  // kNotFound for an agency the ISP does not name.
  absl::StatusOr<Explanation> Explain(const std::string& agency, const asb::v1::Case& c,
                                      const EventContext& context) const;

  // Notification rules that fire for this event: (rule id, agency) pairs. The caller still
  // needs Apply() to decide whether each agency may see the case.
  struct Notification {
    std::string rule_id;
    std::string agency;
  };
  std::vector<Notification> NotificationsFor(const EventContext& context) const;

  // The pseudonymous key of a data subject: "sk_" + hex(HMAC-SHA256(key, person_id))[:32].
  std::string SubjectKey(const std::string& person_id) const;

  // Agency ids in file order.
  std::vector<std::string> agencies() const;

  struct Impl;
  explicit Policy(std::unique_ptr<Impl> impl);
  ~Policy();

 private:
  std::unique_ptr<Impl> impl_;
};

// The policy a daemon holds (swapped whole on reload), held for one request or event: kUnavailable
// "no information sharing protocol loaded" while there is none.
inline absl::StatusOr<std::shared_ptr<const Policy>> InForce(std::shared_ptr<const Policy> policy) {
  if (policy == nullptr) {
    return absl::UnavailableError("no information sharing protocol loaded");
  }
  return policy;
}

}  // namespace asb::policy
